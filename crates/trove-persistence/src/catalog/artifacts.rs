//! Artifact units of work: creating records (versions, keys, heads) and branch transitions.
//! The byte protocols' units of work (purge, replace, placement marks) are in `marks.rs`.

use std::collections::{BTreeSet, HashMap};

use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseTransaction, EntityTrait};
use trove_domain::lifecycle::RecordState;
use trove_domain::{Artifact, Error, ErrorKind, NewArtifact, Operation, Result, TransitionResult, Uid};

use super::codec::{new_artifact_row, version_index};
use super::locks::LockScope;
use super::moves::{Family, SoftDeletable, Table};
use super::queries::{self, family_head_by_key, fetch_one, main_head, missing};
use super::versions::{ARTIFACT_FAMILY, consume_reservation, set_high_water};
use super::{CHUNK, SeaCatalog};
use crate::entity::artifact;
use crate::error::DbResultExt;

/// The artifact table for the move executor: version families, and purge marks that hide rows.
pub(super) const ARTIFACTS: Table<artifact::Entity> = Table {
    entity: artifact::Entity,
    noun: "artifacts",
    key: artifact::Column::Uid,
    branch: artifact::Column::BranchId,
    trashed_from: artifact::Column::TrashedFrom,
    branch_changed_at: artifact::Column::BranchChangedAt,
    updated_at: artifact::Column::UpdatedAt,
    family: Some(Family {
        record: ARTIFACT_FAMILY,
        stem: artifact::Column::Stem,
        version_index: artifact::Column::VersionIndex,
        is_latest: artifact::Column::IsLatest,
    }),
    pending_op: Some(artifact::Column::PendingOp),
    purge_hint: "delete permanently with begin_purge/finish_purge",
};

/// Artifacts, by uid.
pub(super) struct Artifacts;

impl SoftDeletable for Artifacts {
    type Entity = artifact::Entity;
    type Key = Uid;
    type Record = Artifact;
    const TABLE: Table<artifact::Entity> = ARTIFACTS;

    fn key_text(uid: &Uid) -> String {
        uid.as_str().to_owned()
    }

    fn stem(uid: &Uid) -> Option<String> {
        Some(uid.stem().as_str().to_owned())
    }

    fn lock(uid: &Uid) -> LockScope {
        LockScope::ArtifactStem(uid.stem())
    }

    fn state(a: &Artifact) -> (RecordState, String) {
        (a.state(), a.label())
    }

    fn missing(uid: &Uid) -> Error {
        missing(uid)
    }

    async fn load(txn: &DatabaseTransaction, uids: &[Uid]) -> Result<HashMap<Uid, Artifact>> {
        queries::fetch_by_uids(txn, uids, false).await
    }
}

/// The family stems of these uids, as the text of their column.
pub(super) fn stems_of<'a>(uids: impl IntoIterator<Item = &'a Uid>) -> BTreeSet<String> {
    uids.into_iter().map(|u| u.stem().as_str().to_owned()).collect()
}

/// `Catalog::apply_transition`.
pub(super) async fn apply_transition(cat: &SeaCatalog, uids: &[Uid], op: Operation) -> Result<Vec<TransitionResult>> {
    let moved = cat.apply_branch_op::<Artifacts>(uids, op).await?;
    Ok(moved.into_iter().map(|(artifact, transition)| TransitionResult { artifact, transition }).collect())
}

/// `Catalog::create_artifact`.
pub(super) async fn create_artifact(cat: &SeaCatalog, new: &NewArtifact) -> Result<Artifact> {
    let stem = new.uid.stem();
    let txn = cat.begin_write().await?;
    let mut locks = vec![LockScope::ArtifactStem(stem.clone())];
    if let Some(key) = &new.key {
        locks.push(LockScope::ArtifactKey(new.storage, key.clone()));
    }
    cat.lock(&txn, locks).await?;
    check_new_version(&txn, new).await?;

    let index = new.uid.version_index();
    // A new family's first record is its head; a new version's head is recomputed below,
    // since a concurrent writer may have committed a higher version already.
    new_artifact_row(new, index == 0)?.insert(&txn).await.ctx(format_args!("insert artifact {}", new.uid))?;
    if index == 0 {
        set_high_water(&txn, ARTIFACT_FAMILY, &stem, version_index(&new.uid)?).await?;
    } else {
        ARTIFACTS.recompute_heads(&txn, &stems_of([&new.uid])).await?;
    }
    let created = fetch_one(&txn, &new.uid).await?;
    txn.commit().await.ctx(format_args!("commit artifact {}", new.uid))?;
    Ok(created)
}

/// The checks `create_artifact` makes before its insert (see the port's documentation): a new
/// family's stem and key are free; a new version's index was reserved (consumed here) and its
/// key and `revises` still hold.
async fn check_new_version<C: ConnectionTrait>(txn: &C, new: &NewArtifact) -> Result<()> {
    let stem = new.uid.stem();
    let index = new.uid.version_index();
    if let Some(rev) = &new.revises
        && rev.stem() != stem
        && index > 0
    {
        return Err(Error::conflict(format!(
            "new version {} does not follow {rev}: they belong to different families",
            new.uid
        )));
    }
    let stale = |found: Option<&Uid>, expected: &str| {
        let found = found.map_or("no family".to_owned(), |u| format!("head {u}"));
        Error::new(
            ErrorKind::StaleRevises,
            format!(
                "{} now has {found}, not {expected}: a concurrent writer saved first; reload and save again",
                new.key.as_ref().map_or(format!("family {stem}"), |k| format!("key '{k}'"))
            ),
        )
    };
    let key_head = match &new.key {
        Some(key) => family_head_by_key(txn, new.storage, key).await?,
        None => None,
    };
    if index == 0 {
        if ARTIFACTS.max_version(txn, &stem).await?.is_some() {
            return Err(Error::conflict(format!(
                "family {stem} already exists, so {} cannot start a new family; retry with a fresh uid",
                new.uid
            )));
        }
        if key_head.is_some() || new.revises.is_some() {
            let expected = new.revises.as_ref().map_or("no family".to_owned(), |u| format!("head {u}"));
            return Err(stale(key_head.as_ref().map(|h| &h.uid), &expected));
        }
        return Ok(());
    }
    // The index must be this writer's reservation, consumed here: no two writers ever commit
    // (or write bytes for) the same uid, and no purged index comes back.
    let consumed = txn
        .execute(&consume_reservation(&stem, index))
        .await
        .ctx(format_args!("consume the reservation of {}", new.uid))?;
    if consumed.rows_affected() != 1 {
        return Err(Error::conflict(format!(
            "version {} was not reserved for this writer (reserve it with reserve_version); retry",
            new.uid
        )));
    }
    if let Some(h) = &key_head
        && h.stem() != stem
    {
        return Err(stale(Some(&h.uid), &format!("a version of family {stem}")));
    }
    if new.strict_revises {
        let head = match &new.key {
            Some(_) => key_head,
            None => main_head(txn, &stem).await?,
        };
        let expected = new.revises.as_ref().map_or("no family".to_owned(), |u| format!("head {u}"));
        if head.as_ref().map(|h| &h.uid) != new.revises.as_ref() {
            return Err(stale(head.as_ref().map(|h| &h.uid), &expected));
        }
    }
    Ok(())
}

/// Rows per multi-row `INSERT` of artifacts: about 30 bind parameters each, well below both
/// backends' limits.
const INSERT_CHUNK: usize = 200;

/// `Catalog::create_artifacts`: one transaction, set-based. New families (version index 0)
/// are checked with one query per chunk for taken stems and one for taken keys; new versions
/// (rare in a bulk save) go through the per-record checks of `create_artifact`. Then one
/// multi-row insert per chunk, the new families' high-water marks in one statement per chunk,
/// and the heads of the joined families recomputed set-based.
pub(super) async fn create_artifacts(cat: &SeaCatalog, news: &[NewArtifact]) -> Result<Vec<Artifact>> {
    if news.is_empty() {
        return Ok(Vec::new());
    }
    check_batch_distinct(news)?;
    let txn = cat.begin_write().await?;
    let mut locks = Vec::with_capacity(news.len() * 2);
    for new in news {
        locks.push(LockScope::ArtifactStem(new.uid.stem()));
        if let Some(key) = &new.key {
            locks.push(LockScope::ArtifactKey(new.storage, key.clone()));
        }
    }
    cat.lock(&txn, locks).await?;

    let (fresh, joining): (Vec<&NewArtifact>, Vec<&NewArtifact>) =
        news.iter().partition(|n| n.uid.version_index() == 0);
    for chunk in fresh.chunks(CHUNK) {
        check_new_families(&txn, chunk).await?;
    }
    for new in &joining {
        check_new_version(&txn, new).await?;
    }
    for chunk in news.chunks(INSERT_CHUNK) {
        let rows = chunk.iter().map(|n| new_artifact_row(n, n.uid.version_index() == 0)).collect::<Result<Vec<_>>>()?;
        artifact::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await
            .ctx(format_args!("insert {} artifacts", chunk.len()))?;
    }
    for chunk in fresh.chunks(CHUNK) {
        set_high_waters(&txn, chunk).await?;
    }
    if !joining.is_empty() {
        ARTIFACTS.recompute_heads(&txn, &stems_of(joining.iter().map(|n| &n.uid))).await?;
    }
    let uids: Vec<Uid> = news.iter().map(|n| n.uid.clone()).collect();
    let mut created = queries::fetch_by_uids(&txn, &uids, true).await?;
    txn.commit().await.ctx(format_args!("commit {} artifacts", news.len()))?;
    uids.iter().map(|u| created.remove(u).ok_or_else(|| missing(u))).collect()
}

/// Records of one batch must have distinct uids, and distinct keys within a storage location
/// (a second record with the same key is a new version of the first: save it afterwards).
fn check_batch_distinct(news: &[NewArtifact]) -> Result<()> {
    let mut uids = std::collections::HashSet::with_capacity(news.len());
    let mut keys = std::collections::HashSet::with_capacity(news.len());
    for n in news {
        if !uids.insert(&n.uid) {
            return Err(Error::invalid_input(format!("{} appears twice in one batch of new artifacts", n.uid)));
        }
        if let Some(k) = &n.key
            && !keys.insert((n.storage, k))
        {
            return Err(Error::invalid_input(format!(
                "key '{k}' appears twice in one batch of new artifacts: the second is a new version of the first, \
                 so create it after the batch"
            )));
        }
    }
    Ok(())
}

/// The checks `create_artifact` makes for a new family, for many at once: no stem has ever
/// existed (rows or high-water marks), no key already has a family, and none revises anything.
async fn check_new_families<C: ConnectionTrait>(txn: &C, chunk: &[&NewArtifact]) -> Result<()> {
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};

    use crate::entity::links::family_version;

    if let Some(n) = chunk.iter().find(|n| n.revises.is_some()) {
        return Err(Error::new(
            ErrorKind::StaleRevises,
            format!("{} starts a new family, so it cannot revise {}", n.uid, n.revises.as_ref().expect("checked")),
        ));
    }
    let stems: Vec<String> = chunk.iter().map(|n| n.uid.stem().as_str().to_owned()).collect();
    let in_rows = Query::select()
        .column(artifact::Column::Stem)
        .from(artifact::Entity)
        .and_where(Expr::col(artifact::Column::Stem).is_in(stems.clone()))
        .limit(1)
        .to_owned();
    let in_marks = family_version::Entity::find()
        .filter(family_version::Column::Record.eq(super::versions::ARTIFACT_FAMILY))
        .filter(family_version::Column::Stem.is_in(stems))
        .limit(1)
        .all(txn)
        .await
        .ctx("check the new families' stems")?;
    let taken: Option<String> = match txn.query_one(&in_rows).await.ctx("check the new families' stems")? {
        Some(row) => Some(row.try_get_by_index(0).ctx("read a taken stem")?),
        None => in_marks.into_iter().next().map(|m| m.stem),
    };
    if let Some(stem) = taken {
        return Err(Error::conflict(format!(
            "family {stem} already exists, so a new artifact cannot start it; retry with a fresh uid"
        )));
    }
    let mut by_storage: HashMap<trove_domain::StorageId, Vec<String>> = HashMap::new();
    for n in chunk {
        if let Some(k) = &n.key {
            by_storage.entry(n.storage).or_default().push(k.as_str().to_owned());
        }
    }
    for (storage, keys) in by_storage {
        let heads = queries::fetch(
            txn,
            artifact::Entity::find().filter(
                sea_orm::Condition::all()
                    .add(artifact::Column::StorageId.eq(storage.0))
                    .add(artifact::Column::Key.is_in(keys))
                    .add(artifact::Column::BranchId.ne(trove_domain::BranchId::TRASH.0))
                    .add(artifact::Column::IsLatest.eq(true))
                    .add(queries::not_purging()),
            ),
        )
        .await?;
        if let Some(h) = heads.first() {
            let key = h.key.as_ref().map_or_else(String::new, |k| k.as_str().to_owned());
            return Err(Error::new(
                ErrorKind::StaleRevises,
                format!(
                    "key '{key}' now has head {}, not no family: a concurrent writer saved first; reload and save again",
                    h.uid
                ),
            ));
        }
    }
    Ok(())
}

/// The high-water marks of new families, one statement per chunk.
async fn set_high_waters<C: ConnectionTrait>(txn: &C, chunk: &[&NewArtifact]) -> Result<()> {
    use sea_orm::sea_query::{OnConflict, Query};

    use crate::entity::links::family_version;

    let mut stmt = Query::insert();
    stmt.into_table(family_version::Entity).columns([
        family_version::Column::Record,
        family_version::Column::Stem,
        family_version::Column::MaxVersion,
    ]);
    for n in chunk {
        stmt.values_panic([ARTIFACT_FAMILY.into(), n.uid.stem().as_str().into(), 0i32.into()]);
    }
    stmt.on_conflict(
        OnConflict::columns([family_version::Column::Record, family_version::Column::Stem])
            .update_column(family_version::Column::MaxVersion)
            .to_owned(),
    );
    txn.execute(&stmt).await.ctx("record the new families' version high-water marks")?;
    Ok(())
}
