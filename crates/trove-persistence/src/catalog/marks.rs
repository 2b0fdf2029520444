//! The units of work of the byte protocols (design, sections 1 and 3): the two halves of a
//! permanent deletion (`begin_purge`, `finish_purge`, `abort_purge`) and of a replace
//! (`begin_replace`, `commit_replace`, `abort_replace`), and `update_artifact` for metadata
//! and real-key placement marks.
//!
//! Every mark is compare-and-set, under the family's lock: it is set only on an unmarked row
//! (holding the content the writer read), and settled only by whoever names exactly that mark.
//! So a concurrent operation fails cleanly with `Conflict` instead of resurrecting, overwriting
//! or half-finishing another's work.

use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, Set,
};
use trove_domain::{Artifact, ArtifactUpdate, BranchId, ContentUpdate, Error, Pending, Result, StoragePolicy, Uid};

use super::artifacts::{ARTIFACTS, Artifacts, stems_of};
use super::codec::{decode_pending, encode_pending, encode_placement, pending_name, set_content};
use super::collections::check_not_in_collections;
use super::locks::LockScope;
use super::moves::{SoftDeletable, check_purgeable};
use super::queries::{family_head_by_key, fetch_by_uids, fetch_one, missing};
use super::{CHUNK, SeaCatalog, distinct, uid_list};
use crate::entity::artifact::{self, PURGING};
use crate::error::DbResultExt;

// ----- purge -----

/// `Catalog::begin_purge`.
/// With `only_on`, records not on that branch (or gone) are skipped and returned as such;
/// without it, a missing record fails the whole batch.
pub(super) async fn begin_purge(
    cat: &SeaCatalog,
    uids: &[Uid],
    policy: StoragePolicy,
    only_on: Option<BranchId>,
) -> Result<(Vec<Artifact>, Vec<Uid>)> {
    let uids = distinct(uids);
    if uids.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let txn = cat.begin_write().await?;
    cat.lock(&txn, uids.iter().map(Artifacts::lock)).await?;
    let mut before = fetch_by_uids(&txn, &uids, true).await?;
    let (uids, skipped): (Vec<Uid>, Vec<Uid>) = match only_on {
        None => {
            if let Some(uid) = uids.iter().find(|u| !before.contains_key(*u)) {
                return Err(missing(uid));
            }
            (uids, Vec::new())
        }
        Some(branch) => uids.into_iter().partition(|u| before.get(u).is_some_and(|a| a.branch == branch)),
    };
    if uids.is_empty() {
        return Ok((Vec::new(), skipped));
    }
    // Members of any collection (any branch) are protected; checked under the family locks
    // that `create_collection` also takes for its members.
    check_not_in_collections(&txn, &uids).await?;
    let mut out = Vec::with_capacity(uids.len());
    for uid in &uids {
        let a = before.remove(uid).ok_or_else(|| missing(uid))?;
        // Another operation's bytes are in flight: deleting them now could leave its row
        // without bytes, or its finish could resurrect a purged row.
        if let Some(p) = a.pending.as_ref().filter(|p| !matches!(p, Pending::Purging { .. })) {
            return Err(Error::conflict(format!(
                "cannot delete {} permanently while {} is in progress; retry once it has finished, or run \
                 `trove fsck --repair` if it was interrupted",
                a.label(),
                pending_name(Some(p))
            )));
        }
        check_purgeable((a.state(), a.label()))?;
        out.push(a);
    }
    let (op, pending) = encode_pending(Some(&Pending::Purging { policy }))?;
    let now = cat.clock.now();
    for chunk in uids.chunks(CHUNK) {
        let stmt = Query::update()
            .table(artifact::Entity)
            .value(artifact::Column::PendingOp, op.clone())
            .value(artifact::Column::Pending, pending.clone())
            .value(artifact::Column::IsLatest, false)
            .value(artifact::Column::UpdatedAt, now)
            .and_where(artifact::Column::Uid.is_in(uid_list(chunk)))
            .to_owned();
        txn.execute(&stmt).await.ctx(format_args!("mark {} artifacts as being purged", chunk.len()))?;
    }
    ARTIFACTS.recompute_heads(&txn, &stems_of(&uids)).await?;
    txn.commit().await.ctx("commit the purge marks")?;
    Ok((out, skipped))
}

/// `Catalog::finish_purge`.
pub(super) async fn finish_purge(cat: &SeaCatalog, uids: &[Uid]) -> Result<u64> {
    let uids = distinct(uids);
    if uids.is_empty() {
        return Ok(0);
    }
    let txn = cat.begin_write().await?;
    cat.lock(&txn, uids.iter().map(Artifacts::lock)).await?;
    let mut n = 0;
    for chunk in uids.chunks(CHUNK) {
        let stmt = Query::delete()
            .from_table(artifact::Entity)
            .and_where(artifact::Column::Uid.is_in(uid_list(chunk)))
            .and_where(artifact::Column::PendingOp.eq(PURGING))
            .to_owned();
        n += txn.execute(&stmt).await.ctx(format_args!("delete {} purged artifacts", chunk.len()))?.rows_affected();
    }
    txn.commit().await.ctx("commit the purge")?;
    Ok(n)
}

/// `Catalog::abort_purge`.
pub(super) async fn abort_purge(cat: &SeaCatalog, uids: &[Uid]) -> Result<()> {
    let uids = distinct(uids);
    if uids.is_empty() {
        return Ok(());
    }
    let txn = cat.begin_write().await?;
    cat.lock(&txn, uids.iter().map(Artifacts::lock)).await?;
    let now = cat.clock.now();
    for chunk in uids.chunks(CHUNK) {
        let stmt = Query::update()
            .table(artifact::Entity)
            .value(artifact::Column::PendingOp, Option::<String>::None)
            .value(artifact::Column::Pending, Option::<String>::None)
            .value(artifact::Column::UpdatedAt, now)
            .and_where(artifact::Column::Uid.is_in(uid_list(chunk)))
            .and_where(artifact::Column::PendingOp.eq(PURGING))
            .to_owned();
        txn.execute(&stmt).await.ctx(format_args!("clear the purge mark of {} artifacts", chunk.len()))?;
    }
    ARTIFACTS.recompute_heads(&txn, &stems_of(&uids)).await?;
    txn.commit().await.ctx("commit the aborted purge")?;
    Ok(())
}

// ----- replace -----

/// The new content a replace marker carries; any other marker is a caller's mistake.
fn replacing<'a>(uid: &Uid, marker: &'a Pending) -> Result<&'a ContentUpdate> {
    match marker {
        Pending::Replacing { new, .. } => Ok(new),
        other => Err(Error::invalid_input(format!(
            "a replace of artifact {uid} needs a replacing marker, not {}; nothing was changed",
            pending_name(Some(other))
        ))),
    }
}

/// `Catalog::begin_replace`.
pub(super) async fn begin_replace(
    cat: &SeaCatalog,
    uid: &Uid,
    expected_hash: &str,
    staged: &Pending,
) -> Result<Artifact> {
    replacing(uid, staged)?;
    let (txn, row) = cat.row_for_update(uid).await?;
    expect_mark(&row, None)?;
    if row.hash != expected_hash {
        return Err(stale_hash(uid, &row.hash, expected_hash));
    }
    let mut am = row.into_active_model();
    set_mark(&mut am, Some(staged))?;
    cat.save_row(txn, uid, am).await
}

/// `Catalog::commit_replace`.
pub(super) async fn commit_replace(cat: &SeaCatalog, uid: &Uid, marker: &Pending) -> Result<Artifact> {
    let new = replacing(uid, marker)?;
    // A rename (new suffix) takes the new key's lock too, as `create_artifact` does, and checks
    // in this transaction that no other family took the key meanwhile: two families must
    // never hold one key on main. The row's location never changes, so it is read first to
    // name the lock; all locks are then taken at once, in the global order.
    let renamed_to = match &new.key {
        Some(k) => {
            let current = fetch_one(&cat.db, uid).await?;
            (current.key.as_ref() != Some(k)).then(|| (current.storage, k.clone()))
        }
        None => None,
    };
    let txn = cat.begin_write().await?;
    let mut scopes = vec![Artifacts::lock(uid)];
    if let Some((storage, key)) = &renamed_to {
        scopes.push(LockScope::ArtifactKey(*storage, key.clone()));
    }
    cat.lock(&txn, scopes).await?;
    let row = artifact::Entity::find()
        .filter(artifact::Column::Uid.eq(uid.as_str()))
        .one(&txn)
        .await
        .ctx(format_args!("read artifact {uid}"))?
        .ok_or_else(|| missing(uid))?;
    expect_mark(&row, Some(marker))?;
    if let Some((storage, key)) = &renamed_to
        && let Some(other) = family_head_by_key(&txn, *storage, key).await?
        && other.stem() != uid.stem()
    {
        return Err(Error::new(
            trove_domain::ErrorKind::PathOccupied,
            format!(
                "cannot rename {uid} to '{key}': the key now belongs to another artifact ({}); the replace is \
                 rolled back, choose another suffix or key",
                other.uid
            ),
        ));
    }
    let mut am = row.into_active_model();
    set_content(&mut am, new)?;
    set_mark(&mut am, None)?;
    cat.save_row(txn, uid, am).await
}

/// `Catalog::abort_replace`.
pub(super) async fn abort_replace(cat: &SeaCatalog, uid: &Uid, marker: &Pending) -> Result<Artifact> {
    replacing(uid, marker)?;
    let (txn, row) = cat.row_for_update(uid).await?;
    expect_mark(&row, Some(marker))?;
    let mut am = row.into_active_model();
    set_mark(&mut am, None)?;
    cat.save_row(txn, uid, am).await
}

// ----- metadata and placement marks -----

/// `Catalog::update_artifact`.
pub(super) async fn update_artifact(cat: &SeaCatalog, uid: &Uid, update: &ArtifactUpdate) -> Result<Artifact> {
    if let Some(Some(p @ (Pending::Replacing { .. } | Pending::Purging { .. }))) = &update.pending {
        return Err(Error::invalid_input(format!(
            "update_artifact sets placement marks only, not {} (artifact {uid}): use {}; nothing was changed",
            pending_name(Some(p)),
            protocol_of(p)
        )));
    }
    let (txn, row) = cat.row_for_update(uid).await?;
    if let Some(expected) = &update.if_pending {
        expect_mark(&row, expected.as_ref())?;
    }
    if let Some(hash) = &update.if_hash
        && &row.hash != hash
    {
        return Err(stale_hash(uid, &row.hash, hash));
    }
    if let Some(None) = &update.pending
        && let Some(p @ (Pending::Replacing { .. } | Pending::Purging { .. })) = decode_pending(&row)?
    {
        return Err(Error::conflict(format!(
            "artifact {uid} is marked {}, which only {} settles; nothing was changed",
            pending_name(Some(&p)),
            protocol_of(&p)
        )));
    }
    let mut am = row.into_active_model();
    if let Some(p) = &update.placement {
        let (kind, real_path) = encode_placement(p);
        am.placement = Set(kind.to_owned());
        am.real_path = Set(real_path);
    }
    if let Some(p) = &update.pending {
        set_mark(&mut am, p.as_ref())?;
    }
    if let Some(d) = &update.description {
        am.description = Set(d.clone());
    }
    if let Some(t) = &update.version_tag {
        am.version_tag = Set(t.clone());
    }
    cat.save_row(txn, uid, am).await
}

/// The units of work that own a byte protocol's mark, for messages.
fn protocol_of(p: &Pending) -> &'static str {
    match p {
        Pending::Purging { .. } => "begin_purge/finish_purge/abort_purge",
        Pending::Replacing { .. } => "begin_replace/commit_replace/abort_replace",
        Pending::PlacingRealKey { .. } => "update_artifact",
    }
}

// ----- the shared steps -----

impl SeaCatalog {
    /// Begin a transaction, lock the record's family and read its row, purging or not.
    /// NotFound if there is none.
    async fn row_for_update(&self, uid: &Uid) -> Result<(DatabaseTransaction, artifact::Model)> {
        let txn = self.begin_write().await?;
        self.lock(&txn, [Artifacts::lock(uid)]).await?;
        let row = artifact::Entity::find()
            .filter(artifact::Column::Uid.eq(uid.as_str()))
            .one(&txn)
            .await
            .ctx(format_args!("read artifact {uid}"))?
            .ok_or_else(|| missing(uid))?;
        Ok((txn, row))
    }

    /// Write the changed row (stamping `updated_at`), read it back, commit.
    async fn save_row(&self, txn: DatabaseTransaction, uid: &Uid, mut am: artifact::ActiveModel) -> Result<Artifact> {
        am.updated_at = Set(self.clock.now());
        am.update(&txn).await.ctx(format_args!("update artifact {uid}"))?;
        let updated = fetch_one(&txn, uid).await?;
        txn.commit().await.ctx(format_args!("commit the update of artifact {uid}"))?;
        Ok(updated)
    }
}

/// Conflict unless the row's mark is exactly `expected` (`None`: unmarked).
fn expect_mark(row: &artifact::Model, expected: Option<&Pending>) -> Result<()> {
    let current = decode_pending(row)?;
    if current.as_ref() == expected {
        return Ok(());
    }
    Err(Error::conflict(format!(
        "artifact {} changed concurrently: its unfinished operation is {}, not {}; nothing was changed, reload and \
         retry",
        row.uid,
        pending_name(current.as_ref()),
        pending_name(expected)
    )))
}

fn stale_hash(uid: &Uid, current: &str, expected: &str) -> Error {
    Error::conflict(format!(
        "artifact {uid} changed concurrently: its content is now {current}, not {expected}; nothing was changed, \
         reload and retry"
    ))
}

fn set_mark(am: &mut artifact::ActiveModel, mark: Option<&Pending>) -> Result<()> {
    let (op, json) = encode_pending(mark)?;
    am.pending_op = Set(op);
    am.pending = Set(json);
    Ok(())
}
