//! Lifecycle operations: trash, restore, archive, permanent deletion, trash retention.
//!
//! Validation and destinations come from the pure table in `trove_domain::lifecycle`; the
//! catalog applies a whole batch set-based in one transaction, or nothing.

use trove_domain::lifecycle::{PurgeDecision, purge_decision};
use trove_domain::{
    Artifact, ArtifactQuery, BranchId, BranchSelection, Error, ErrorKind, Operation, Result, StoragePolicy, Uid,
};

use crate::Trove;
use crate::outcome::{DeletePlan, EmptyTrashReport, KeptPath, Moved, PurgeReport, Purged, TrashPlan};
use crate::query::in_order;

impl Trove {
    /// Move records to the trash (spec 1, row 2): hidden from default queries, restorable; if a
    /// record was its family's head, the newest remaining version on that branch becomes head.
    /// A record already in the trash is an [`ErrorKind::AlreadyInTrash`] error and nothing in
    /// the batch changes: deleting for good is [`Trove::delete_permanently`].
    pub async fn trash(&self, uids: &[Uid]) -> Result<Vec<Moved>> {
        self.branch_op(uids, Operation::Trash).await
    }

    /// Restore records: from the trash to the branch they came from, from the archive to main;
    /// live records are left as they are (a no-op, not an error). Heads are recomputed.
    pub async fn restore(&self, uids: &[Uid]) -> Result<Vec<Moved>> {
        self.branch_op(uids, Operation::Restore).await
    }

    /// Archive live records: kept, but hidden from default queries.
    pub async fn archive(&self, uids: &[Uid]) -> Result<Vec<Moved>> {
        self.branch_op(uids, Operation::Archive).await
    }

    async fn branch_op(&self, uids: &[Uid], op: Operation) -> Result<Vec<Moved>> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let results = self.catalog().apply_transition(uids, op).await.map_err(with_ls_hint)?;
        let moved: Vec<Moved> =
            results.into_iter().map(|r| Moved { artifact: r.artifact, transition: r.transition }).collect();
        self.notify_moved(&moved);
        Ok(moved)
    }

    /// Split records into those `trash` would move and those already in the trash, so a caller
    /// (the CLI) can ask before deleting the latter permanently.
    pub async fn plan_delete(&self, uids: &[Uid]) -> Result<DeletePlan> {
        let found = self.artifacts_by_uid(uids).await?;
        Ok(DeletePlan::split(found, |a| a.branch == BranchId::TRASH))
    }

    /// Every record with these uids, in order; a missing uid is a NotFound error naming it.
    pub async fn artifacts_by_uid(&self, uids: &[Uid]) -> Result<Vec<Artifact>> {
        // Records another operation has marked are found too (the catalog then refuses to
        // change them with a typed Conflict, not a misleading "no such artifact").
        let rows = self.rows_with_uids(uids).await?;
        let (out, missing) = in_order(uids, &rows, |a| &a.uid);
        if !missing.is_empty() {
            return Err(Error::not_found(format!(
                "no artifact with uid {}: check the uids with `trove ls --branch all`",
                missing.iter().map(|u| u.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(out)
    }

    /// The records with these uids on any branch, marked ones included, in chunks (a bulk
    /// selection can hold more uids than one statement can bind).
    pub(crate) async fn rows_with_uids(&self, uids: &[Uid]) -> Result<Vec<Artifact>> {
        let mut rows = Vec::with_capacity(uids.len());
        for chunk in uids.chunks(10_000) {
            rows.extend(
                self.catalog()
                    .artifacts(&ArtifactQuery {
                        branch: BranchSelection::All,
                        uids: Some(chunk.to_vec()),
                        include_pending: true,
                        ..Default::default()
                    })
                    .await?,
            );
        }
        Ok(rows)
    }

    /// Delete records permanently, from any branch (spec 1, rows 4 and 5), with the storage
    /// policy of spec 1 section 3. Crash-safe order: mark the rows as purging (hidden), delete
    /// the bytes the policy says to, then delete the rows. If deleting bytes fails, records
    /// whose bytes were untouched are unmarked (intact, retryable), the failing one stays
    /// marked for `fsck`, and the error says which. The report lists every path deleted and
    /// every path that remains.
    pub async fn delete_permanently(&self, uids: &[Uid], policy: StoragePolicy) -> Result<PurgeReport> {
        Ok(self.purge(uids, policy, None).await?.0)
    }

    /// [`Trove::delete_permanently`] of the records that are still in the trash when the
    /// deletion starts: one restored (or deleted) by someone else since the caller listed it is
    /// left alone and returned among the skipped uids. This is what "empty the trash" and
    /// "delete these trashed records for good" mean under concurrent users.
    pub async fn delete_permanently_from_trash(
        &self,
        uids: &[Uid],
        policy: StoragePolicy,
    ) -> Result<(PurgeReport, Vec<Uid>)> {
        self.purge(uids, policy, Some(BranchId::TRASH)).await
    }

    async fn purge(
        &self,
        uids: &[Uid],
        policy: StoragePolicy,
        only_on: Option<BranchId>,
    ) -> Result<(PurgeReport, Vec<Uid>)> {
        if uids.is_empty() {
            return Ok((PurgeReport::default(), Vec::new()));
        }
        let artifacts = match only_on {
            None => self.artifacts_by_uid(uids).await?,
            // Gone already: skipped below, like records that left the branch.
            Some(_) => self.rows_with_uids(uids).await?,
        };
        let gone = uids_missing_from(uids, &artifacts);
        // The newest version of a shared-store folder takes its whole family along.
        let (artifacts, shared) = self.expand_shared_purge(artifacts).await?;
        let expanded: Vec<Uid> = artifacts.iter().map(|a| a.uid.clone()).collect();
        let uids = &expanded[..];
        // Members of a collection are protected (checked again inside the catalog's transaction).
        self.check_not_in_collections(uids).await?;
        // A refused policy changes nothing: checked before anything is marked.
        for a in &artifacts {
            self.purge_decision_for(a, policy)?;
        }
        let (marked, mut skipped) = match only_on {
            None => (self.catalog().begin_purge(uids, policy).await.map_err(with_ls_hint)?, Vec::new()),
            Some(branch) => self.catalog().begin_purge_on(uids, policy, branch).await?,
        };
        for u in gone {
            if !skipped.contains(&u) {
                skipped.push(u);
            }
        }
        // The bytes go as the records were when marked (a concurrent placement may have moved
        // them since the first read).
        let artifacts: Vec<Artifact> = marked;
        let mut decisions = Vec::with_capacity(artifacts.len());
        for a in &artifacts {
            decisions.push(self.purge_decision_for(a, policy)?);
        }
        let mut report = PurgeReport::default();
        let mut done: Vec<Uid> = Vec::new();
        for (i, (a, decision)) in artifacts.iter().zip(&decisions).enumerate() {
            let purged = if shared.rows_only.contains(&a.uid) {
                // An older shared-store version: the store's files belong to the newest version.
                Ok(Purged {
                    artifact: a.clone(),
                    removed_paths: vec![],
                    kept_paths: vec![],
                    missing_paths: vec![],
                    shared_store_family: vec![],
                })
            } else {
                self.purge_bytes(a, *decision).await.map(|mut p| {
                    p.shared_store_family = shared.families.get(&a.uid).cloned().unwrap_or_default();
                    p
                })
            };
            match purged {
                Ok(p) => {
                    done.push(a.uid.clone());
                    report.purged.push(p);
                }
                Err(e) => {
                    let untouched: Vec<Uid> = artifacts[i + 1..].iter().map(|a| a.uid.clone()).collect();
                    let _ = self.catalog().abort_purge(&untouched).await;
                    if self.catalog().finish_purge(&done).await.is_ok() {
                        self.notify_purged(&done);
                    }
                    return Err(Error::new(
                        e.kind(),
                        format!(
                            "could not delete the bytes of {}: {e}. It is marked for deletion and hidden; run \
                             `trove fsck` (or delete it permanently again) to finish. {} other record(s) were left intact.",
                            a.label(),
                            untouched.len()
                        ),
                    )
                    .with_source(e));
                }
            }
        }
        self.catalog().finish_purge(&done).await?;
        self.notify_purged(&done);
        Ok((report, skipped))
    }

    /// What the storage policy does to one record's bytes.
    fn purge_decision_for(&self, a: &Artifact, policy: StoragePolicy) -> Result<PurgeDecision> {
        let store = self.store(a.storage)?;
        purge_decision(a.bytes_owner(self.manages(&store.location)), policy, &store.location.root)
    }

    pub(crate) async fn purge_bytes(&self, a: &Artifact, decision: PurgeDecision) -> Result<Purged> {
        let store = self.store(a.storage)?;
        let key = a.storage_key();
        let path =
            if a.is_folder() { store.store.display_path(&format!("{key}/")) } else { store.store.display_path(&key) };
        let mut p = Purged {
            artifact: a.clone(),
            removed_paths: vec![],
            kept_paths: vec![],
            missing_paths: vec![],
            shared_store_family: vec![],
        };
        match decision {
            PurgeDecision::Keep(reason) => p.kept_paths.push(KeptPath { path, reason }),
            PurgeDecision::Delete => {
                let existed = if a.is_folder() {
                    store.store.delete_prefix(&format!("{key}/")).await? > 0
                } else {
                    store.store.delete(&key).await?
                };
                if existed {
                    p.removed_paths.push(path);
                } else {
                    p.missing_paths.push(path);
                }
            }
        }
        Ok(p)
    }

    /// Plan trash retention: every record in the trash for longer than
    /// [`EmptyTrashOptions::older_than`] by the instance's clock (the whole trash without it).
    /// Nothing is deleted: show the plan, then [`Trove::apply_empty_trash`] deletes exactly
    /// what it lists.
    pub async fn plan_empty_trash(&self, opts: &EmptyTrashOptions) -> Result<TrashPlan> {
        let cutoff = opts
            .older_than
            .map(|d| self.clock().now() - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX));
        let items = self
            .catalog()
            .artifacts(&ArtifactQuery {
                branch: BranchSelection::Only(BranchId::TRASH),
                branch_changed_before: cutoff,
                ..Default::default()
            })
            .await?;
        Ok(TrashPlan { items, cutoff })
    }

    /// Delete permanently (storage policy `auto`) exactly the records `plan` lists that are
    /// still in the trash; one that has left it since the plan (restored, or deleted by another
    /// process) is skipped and reported, never deleted. A restore that commits between this
    /// check and the deletion's mark still loses to the deletion, as with
    /// [`Trove::delete_permanently`].
    pub async fn apply_empty_trash(&self, plan: &TrashPlan) -> Result<EmptyTrashReport> {
        let planned: Vec<Uid> = plan.items.iter().map(|a| a.uid.clone()).collect();
        if planned.is_empty() {
            return Ok(EmptyTrashReport::default());
        }
        let (purge, skipped) = self.delete_permanently_from_trash(&planned, StoragePolicy::Auto).await?;
        Ok(EmptyTrashReport { purge, skipped })
    }

    /// Trash one record. Deleting an artifact already in the trash is an error whose message
    /// says how to delete it permanently (the library never deletes permanently by surprise).
    pub async fn delete(&self, uid: &Uid) -> Result<Moved> {
        let mut moved = self.trash(std::slice::from_ref(uid)).await?;
        moved.pop().ok_or_else(|| Error::new(ErrorKind::NotFound, format!("no artifact with uid {uid}")))
    }
}

/// Options of [`Trove::plan_empty_trash`]: by default, the whole trash.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmptyTrashOptions {
    /// Only records trashed longer ago than this, by the instance's clock.
    pub older_than: Option<std::time::Duration>,
}

impl EmptyTrashOptions {
    /// Only records trashed longer ago than `older_than`.
    pub fn older_than(older_than: std::time::Duration) -> Self {
        EmptyTrashOptions { older_than: Some(older_than) }
    }
}

/// Point a not-found error at the listing that shows every branch.
fn with_ls_hint(e: Error) -> Error {
    if e.kind() == ErrorKind::NotFound && !e.message().contains("trove ls") {
        let msg = format!("{}; list every branch with `trove ls --branch all`", e.message());
        Error::new(ErrorKind::NotFound, msg).with_source(e)
    } else {
        e
    }
}

/// The requested uids that no longer exist.
fn uids_missing_from(uids: &[Uid], found: &[Artifact]) -> Vec<Uid> {
    let found: std::collections::HashSet<&Uid> = found.iter().map(|a| &a.uid).collect();
    uids.iter().filter(|u| !found.contains(u)).cloned().collect()
}
