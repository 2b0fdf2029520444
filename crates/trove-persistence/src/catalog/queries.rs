//! Reading artifacts: one condition per query value (design, section 1: listing, lookup and
//! bulk selection share one code path), the fetches every unit of work reads through, and the
//! label filter shared with collections.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order as SqlOrder, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};
use trove_domain::{
    Artifact, ArtifactQuery, BranchId, BranchSelection, Error, Key, Order, Result, Stem, StorageId, Uid,
};

use super::artifacts::ARTIFACTS;
use super::codec::to_artifact;
use super::{CHUNK, uid_list};
use crate::entity::artifact;
use crate::entity::links::artifact_label;
use crate::entity::{label, user};
use crate::error::{DbResultExt, corrupt};

/// Not being purged (purging rows are invisible to every query).
pub(super) fn not_purging() -> Condition {
    ARTIFACTS.visible(artifact::Entity)
}

/// A branch selection on `col`.
pub(super) fn branch_condition(branch: BranchSelection, col: impl ColumnTrait) -> Condition {
    match branch {
        BranchSelection::Default => Condition::all().add(col.eq(BranchId::MAIN.0)),
        BranchSelection::Only(b) => Condition::all().add(col.eq(b.0)),
        BranchSelection::All => Condition::all(),
    }
}

/// Main first, then user branches, then the archive: which head of a key wins.
pub(super) fn branch_rank(col: impl ColumnTrait) -> Expr {
    Expr::case(col.eq(BranchId::MAIN.0), 0).case(col.eq(BranchId::ARCHIVE.0), 2).finally(1).into()
}

/// Literal key-prefix match, on both backends: a `LIKE` with escaped wildcards narrows (and can
/// use an index where the collation allows), and an exact `substr` comparison makes it
/// case-sensitive on SQLite too (whose `LIKE` folds ASCII case).
fn key_prefix(prefix: &str) -> Condition {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '!' | '%' | '_') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    // `int`, not `bigint`: PostgreSQL has no substr(varchar, int, bigint).
    let n = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
    Condition::all()
        .add(Expr::col((artifact::Entity, artifact::Column::Key)).like(LikeExpr::new(pattern).escape('!')))
        .add(
            Expr::expr(Func::cust("substr").arg(Expr::col((artifact::Entity, artifact::Column::Key))).arg(1).arg(n))
                .eq(prefix),
        )
}

fn query_condition(q: &ArtifactQuery) -> Condition {
    let mut c = branch_condition(q.branch, artifact::Column::BranchId);
    if q.exclude_trash {
        c = c.add(artifact::Column::BranchId.ne(BranchId::TRASH.0));
    }
    if let Some(uids) = &q.uids {
        c = c.add(artifact::Column::Uid.is_in(uid_list(uids)));
    }
    if let Some(stem) = &q.stem {
        c = c.add(artifact::Column::Stem.eq(stem.as_str()));
    }
    if let Some(key) = &q.key {
        c = c.add(artifact::Column::Key.eq(key.as_str()));
    }
    if let Some(prefix) = q.key_prefix.as_deref().filter(|p| !p.is_empty()) {
        c = c.add(key_prefix(prefix));
    }
    if let Some(hash) = &q.hash {
        c = c.add(artifact::Column::Hash.eq(hash.as_str()));
    }
    if let Some(storage) = q.storage {
        c = c.add(artifact::Column::StorageId.eq(storage.0));
    }
    if q.latest_only {
        c = c.add(artifact::Column::IsLatest.eq(true));
    }
    if let Some(before) = q.branch_changed_before {
        c = c.add(artifact::Column::BranchChangedAt.lt(before));
    }
    if let Some(labels) = &q.labels {
        c = c.add(artifact_label_condition(labels));
    }
    if q.include_pending {
        c = c.add(not_purging());
    } else {
        c = c.add(artifact::Column::PendingOp.is_null());
    }
    c
}

/// `artifact.id IN (artifacts carrying label NAME)`, one per name (all must match).
fn artifact_label_condition(names: &[String]) -> Condition {
    let mut c = Condition::all();
    for name in names {
        let sub = Query::select()
            .column((artifact_label::Entity, artifact_label::Column::ArtifactId))
            .from(artifact_label::Entity)
            .inner_join(
                label::Entity,
                Expr::col((label::Entity, label::Column::Id))
                    .equals((artifact_label::Entity, artifact_label::Column::LabelId)),
            )
            .and_where(Expr::col((label::Entity, label::Column::Name)).eq(name.as_str()))
            .to_owned();
        c = c.add(Expr::col((artifact::Entity, artifact::Column::Id)).in_subquery(sub));
    }
    c
}

/// The records a select finds, with their creators.
pub(super) async fn fetch<C: ConnectionTrait>(c: &C, select: Select<artifact::Entity>) -> Result<Vec<Artifact>> {
    let rows = select.find_also_related(user::Entity).all(c).await.ctx("read artifacts")?;
    rows.into_iter().map(|(m, u)| to_artifact(m, u.map(|u| u.handle))).collect()
}

/// The records with these uids (chunked), by uid; purging ones only if `include_purging`.
pub(super) async fn fetch_by_uids<C: ConnectionTrait>(
    c: &C,
    uids: &[Uid],
    include_purging: bool,
) -> Result<HashMap<Uid, Artifact>> {
    let mut out = HashMap::with_capacity(uids.len());
    for chunk in uids.chunks(CHUNK) {
        let mut cond = Condition::all().add(artifact::Column::Uid.is_in(uid_list(chunk)));
        if !include_purging {
            cond = cond.add(not_purging());
        }
        for a in fetch(c, artifact::Entity::find().filter(cond)).await? {
            out.insert(a.uid.clone(), a);
        }
    }
    Ok(out)
}

/// The record with this uid, purging or not (units of work that read before they write).
pub(super) async fn fetch_one<C: ConnectionTrait>(c: &C, uid: &Uid) -> Result<Artifact> {
    fetch_by_uids(c, std::slice::from_ref(uid), true).await?.remove(uid).ok_or_else(|| missing(uid))
}

/// Row ids of visible (not purging) artifacts, by uid.
pub(super) async fn artifact_ids<C: ConnectionTrait>(c: &C, uids: &[Uid]) -> Result<HashMap<Uid, i64>> {
    let mut out = HashMap::with_capacity(uids.len());
    for chunk in uids.chunks(CHUNK) {
        let rows = artifact::Entity::find()
            .filter(Condition::all().add(artifact::Column::Uid.is_in(uid_list(chunk))).add(not_purging()))
            .all(c)
            .await
            .ctx("read member artifacts")?;
        for r in rows {
            out.insert(Uid::parse(&r.uid).map_err(|e| corrupt("artifact uid", e))?, r.id);
        }
    }
    Ok(out)
}

/// The head of the newest non-trashed, non-purging family holding `key` in `storage`.
pub(super) async fn family_head_by_key<C: ConnectionTrait>(
    c: &C,
    storage: StorageId,
    key: &Key,
) -> Result<Option<Artifact>> {
    let cond = Condition::all()
        .add(artifact::Column::StorageId.eq(storage.0))
        .add(artifact::Column::Key.eq(key.as_str()))
        .add(artifact::Column::BranchId.ne(BranchId::TRASH.0))
        .add(artifact::Column::IsLatest.eq(true))
        .add(not_purging());
    // Newest family first among equals.
    let select = artifact::Entity::find()
        .filter(cond)
        .order_by(branch_rank(artifact::Column::BranchId), SqlOrder::Asc)
        .order_by_desc(artifact::Column::CreatedAt)
        .order_by_desc(artifact::Column::Id)
        .limit(1);
    Ok(fetch(c, select).await?.into_iter().next())
}

/// The head of a family on main, if it has one there.
pub(super) async fn main_head<C: ConnectionTrait>(c: &C, stem: &Stem) -> Result<Option<Artifact>> {
    let cond = Condition::all()
        .add(artifact::Column::Stem.eq(stem.as_str()))
        .add(artifact::Column::BranchId.eq(BranchId::MAIN.0))
        .add(artifact::Column::IsLatest.eq(true))
        .add(not_purging());
    Ok(fetch(c, artifact::Entity::find().filter(cond)).await?.into_iter().next())
}

/// The record with this uid on any branch; `None` if missing or being purged.
pub(super) async fn artifact<C: ConnectionTrait>(c: &C, uid: &Uid) -> Result<Option<Artifact>> {
    let cond = Condition::all().add(artifact::Column::Uid.eq(uid.as_str())).add(not_purging());
    Ok(fetch(c, artifact::Entity::find().filter(cond)).await?.into_iter().next())
}

/// Records matching the query, in its order, limit and offset.
pub(super) async fn artifacts<C: ConnectionTrait>(c: &C, query: &ArtifactQuery) -> Result<Vec<Artifact>> {
    if query.uids.as_ref().is_some_and(|u| u.is_empty()) || query.limit == Some(0) {
        return Ok(Vec::new());
    }
    let mut select = artifact::Entity::find().filter(query_condition(query));
    select = match query.order {
        Order::NewestFirst => select.order_by_desc(artifact::Column::CreatedAt).order_by_desc(artifact::Column::Uid),
        // NULL keys last on both backends (SQLite sorts NULL first, PostgreSQL last).
        Order::Key => select
            .order_by(artifact::Column::Key.is_null(), SqlOrder::Asc)
            .order_by_asc(artifact::Column::Key)
            .order_by_asc(artifact::Column::Stem)
            .order_by_asc(artifact::Column::VersionIndex),
        Order::Version => select.order_by_asc(artifact::Column::Stem).order_by_asc(artifact::Column::VersionIndex),
    };
    if let Some(limit) = query.limit {
        select = select.limit(limit);
    }
    if let Some(offset) = query.offset {
        select = select.offset(offset);
    }
    fetch(c, select).await
}

/// How many records match the query (ignoring limit and offset).
pub(super) async fn count_artifacts<C: ConnectionTrait>(c: &C, query: &ArtifactQuery) -> Result<u64> {
    if query.uids.as_ref().is_some_and(|u| u.is_empty()) {
        return Ok(0);
    }
    artifact::Entity::find().filter(query_condition(query)).count(c).await.ctx("count artifacts")
}

/// Every record with a pending marker, purging ones included, oldest first.
pub(super) async fn pending_artifacts<C: ConnectionTrait>(c: &C) -> Result<Vec<Artifact>> {
    let select = artifact::Entity::find()
        .filter(artifact::Column::PendingOp.is_not_null())
        .order_by_asc(artifact::Column::CreatedAt)
        .order_by_asc(artifact::Column::Uid);
    fetch(c, select).await
}

pub(super) fn missing(uid: &Uid) -> Error {
    Error::not_found(format!(
        "artifact {uid} does not exist (it may have been deleted permanently); nothing was changed"
    ))
}
