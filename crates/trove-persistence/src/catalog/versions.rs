//! Version numbers: per-family high-water marks (suffixes are never reused, even after
//! permanent deletion; spec 1 section 4 invariant 4) and the reservations that make a writer
//! own its uid before its row commits (migration m0005).

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use trove_domain::{Error, Result, Stem};

use super::SeaCatalog;
use super::artifacts::ARTIFACTS;
use super::locks::LockScope;
use super::moves::Table;
use crate::entity::links::family_version;
use crate::error::{DbResultExt, corrupt};

/// Reserved version indexes (migration m0005), consumed by `create_artifact`.
const RESERVATION: &str = "version_reservation";

/// `family_version.record` of artifact families.
pub(super) const ARTIFACT_FAMILY: &str = "artifact";
/// `family_version.record` of collection families.
pub(super) const COLLECTION_FAMILY: &str = "collection";

/// The high-water mark of a family, if one was recorded.
async fn high_water<C: ConnectionTrait>(c: &C, record: &str, stem: &Stem) -> Result<Option<u32>> {
    let row = family_version::Entity::find()
        .filter(family_version::Column::Record.eq(record))
        .filter(family_version::Column::Stem.eq(stem.as_str()))
        .one(c)
        .await
        .ctx(format_args!("read the version high-water mark of family {stem}"))?;
    row.map(|r| u32::try_from(r.max_version).map_err(|_| corrupt("version high-water mark", r.max_version))).transpose()
}

/// Set a family's high-water mark to `index` (the caller checked that nothing above it was
/// ever handed out). Portable upsert: `INSERT … ON CONFLICT (record, stem) DO UPDATE`.
pub(super) async fn set_high_water<C: ConnectionTrait>(c: &C, record: &str, stem: &Stem, index: i32) -> Result<()> {
    let stmt = Query::insert()
        .into_table(family_version::Entity)
        .columns([family_version::Column::Record, family_version::Column::Stem, family_version::Column::MaxVersion])
        .values_panic([record.into(), stem.as_str().into(), index.into()])
        .on_conflict(
            OnConflict::columns([family_version::Column::Record, family_version::Column::Stem])
                .update_column(family_version::Column::MaxVersion)
                .to_owned(),
        )
        .to_owned();
    c.execute(&stmt).await.ctx(format_args!("raise the version high-water mark of family {stem}"))?;
    Ok(())
}

impl<E: EntityTrait> Table<E> {
    /// The highest version index a family has ever had: its rows (any branch, purging ones
    /// too) and its high-water mark, so versions deleted permanently still count. `None` if the
    /// family never existed (or the table has no families).
    pub(super) async fn max_version<C: ConnectionTrait>(&self, c: &C, stem: &Stem) -> Result<Option<u32>> {
        let Some(f) = &self.family else { return Ok(None) };
        let stmt = Query::select()
            .expr(Func::max(Expr::col(f.version_index)))
            .from(self.entity)
            .and_where(f.stem.eq(stem.as_str()))
            .to_owned();
        let row = c.query_one(&stmt).await.ctx(format_args!("read the highest version of family {stem}"))?;
        let max: Option<i32> = match row {
            Some(row) => row.try_get_by_index(0).ctx("read the highest version")?,
            None => None,
        };
        let rows = max.map(|m| u32::try_from(m).map_err(|_| corrupt("version index", m))).transpose()?;
        Ok(match (rows, high_water(c, f.record, stem).await?) {
            (Some(x), Some(y)) => Some(Ord::max(x, y)),
            (x, y) => x.or(y),
        })
    }
}

/// `Catalog::reserve_version`.
pub(super) async fn reserve_version(cat: &SeaCatalog, stem: &Stem) -> Result<u32> {
    let txn = cat.begin_write().await?;
    cat.lock(&txn, [LockScope::ArtifactStem(stem.clone())]).await?;
    let max = ARTIFACTS.max_version(&txn, stem).await?.ok_or_else(|| {
        Error::not_found(format!("family {stem} does not exist, so it has no next version to reserve"))
    })?;
    let next = max + 1;
    let index = i32::try_from(next)
        .map_err(|_| Error::invalid_input(format!("family {stem} has run out of version numbers")))?;
    set_high_water(&txn, ARTIFACT_FAMILY, stem, index).await?;
    let reserve = Query::insert()
        .into_table(Alias::new(RESERVATION))
        .columns([Alias::new("stem"), Alias::new("version_index")])
        .values_panic([stem.as_str().into(), i64::from(next).into()])
        .to_owned();
    txn.execute(&reserve).await.ctx(format_args!("reserve version {next} of family {stem}"))?;
    txn.commit().await.ctx(format_args!("commit the reservation of version {next} of family {stem}"))?;
    Ok(next)
}

/// `Catalog::release_version`.
pub(super) async fn release_version(cat: &SeaCatalog, stem: &Stem, index: u32) -> Result<()> {
    let txn = cat.begin_write().await?;
    cat.lock(&txn, [LockScope::ArtifactStem(stem.clone())]).await?;
    let released = txn
        .execute(&consume_reservation(stem, index))
        .await
        .ctx(format_args!("release version {index} of family {stem}"))?;
    let mark = high_water(&txn, ARTIFACT_FAMILY, stem).await?;
    if released.rows_affected() == 1 && mark == Some(index) && index > 0 {
        let below = i32::try_from(index - 1).map_err(|_| corrupt("version index", index))?;
        set_high_water(&txn, ARTIFACT_FAMILY, stem, below).await?;
    }
    txn.commit().await.ctx(format_args!("commit the release of version {index} of family {stem}"))?;
    Ok(())
}

/// Delete the reservation of `index` (one row, or none if it was never made or is consumed).
pub(super) fn consume_reservation(stem: &Stem, index: u32) -> sea_orm::sea_query::DeleteStatement {
    Query::delete()
        .from_table(Alias::new(RESERVATION))
        .and_where(Expr::col(Alias::new("stem")).eq(stem.as_str()))
        .and_where(Expr::col(Alias::new("version_index")).eq(i64::from(index)))
        .to_owned()
}
