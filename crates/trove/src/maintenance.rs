//! Repair (`fsck`) and garbage collection (`gc`): spec 1, section 4, invariants 5 and 6.

use std::collections::HashSet;
use std::time::Duration;

use trove_domain::key::MANAGED_DIR;
use trove_domain::ports::{ObjectMeta, ObjectStore};
use trove_domain::{
    Artifact, ArtifactQuery, ArtifactUpdate, BranchSelection, ContentHash, Error, Pending, Placement, Result, StorageId,
};

use crate::outcome::{FsckFinding, GcItem, GcKind, GcPlan, GcReport};

/// How an interrupted placement is settled (see [`Trove::placement_decision`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlacementSettle {
    /// The bytes are at the target: point the record there.
    Finish,
    /// Copy the complete managed copy to the target, then point the record there.
    Redo,
    /// Keep the record on its managed copy.
    RollBack,
    /// Neither copy is complete.
    Stuck,
}
use crate::{EMBEDDED_DB, STORAGE_MARKER, Trove, local};

impl Trove {
    /// Find records whose bytes are missing or differ, and markers left by interrupted
    /// operations; with [`FsckOptions::repair`], finish or roll back each interrupted operation
    /// ([`FsckFinding::repaired`] says which were settled). Re-hashes content with
    /// [`FsckOptions::verify_hashes`] (otherwise sizes are compared).
    pub async fn fsck(&self, opts: &FsckOptions) -> Result<Vec<FsckFinding>> {
        let FsckOptions { repair, verify_hashes } = *opts;
        let mut findings = Vec::new();
        for a in self.catalog().pending_artifacts().await? {
            findings.push(self.fsck_pending(&a, repair).await?);
        }
        let all = self
            .catalog()
            .artifacts(&ArtifactQuery { branch: BranchSelection::All, include_pending: false, ..Default::default() })
            .await?;
        for a in all.iter().filter(|a| a.pending.is_none() && crate::folders::owns_its_bytes(a, &all)) {
            if let Some(problem) = self.check_bytes(a, verify_hashes).await? {
                findings.push(FsckFinding {
                    uid: a.uid.clone(),
                    problem,
                    action: "none: restore the bytes from a backup, or delete the record with --storage keep".into(),
                    repaired: false,
                });
            }
        }
        Ok(findings)
    }

    /// `None` if the record's bytes exist with matching size (and hash, if asked).
    async fn check_bytes(&self, a: &Artifact, verify_hashes: bool) -> Result<Option<String>> {
        self.check_bytes_at(a, &a.storage_key(), verify_hashes).await
    }

    /// [`Self::check_bytes`] for the record's content at another storage key.
    async fn check_bytes_at(&self, a: &Artifact, key: &str, verify_hashes: bool) -> Result<Option<String>> {
        let store = self.store(a.storage)?;
        let key = key.to_owned();
        let path =
            if a.is_folder() { store.store.display_path(&format!("{key}/")) } else { store.store.display_path(&key) };
        if a.is_folder() {
            let files = store.store.list(&format!("{key}/")).await?;
            if files.is_empty() {
                return Ok(Some(format!("bytes missing: nothing at {path}")));
            }
            let size: u64 = files.iter().map(|f| f.size).sum();
            if size != a.size || files.len() as u64 != a.n_files.unwrap_or(0) {
                return Ok(Some(format!(
                    "folder differs: {} files, {size} bytes at {path}; the record says {} files, {} bytes",
                    files.len(),
                    a.n_files.unwrap_or(0),
                    a.size
                )));
            }
            if verify_hashes {
                let (h, _) = local::hash_stored_folder(store.store.as_ref(), &key).await?;
                if h.hash != a.hash {
                    return Ok(Some(format!(
                        "hash differs at {path}: {} in storage, {} in the record",
                        h.hash, a.hash
                    )));
                }
            }
            return Ok(None);
        }
        match store.store.stat(&key).await? {
            None => Ok(Some(format!("bytes missing: nothing at {path}"))),
            Some(m) if m.size != a.size => {
                Ok(Some(format!("size differs at {path}: {} bytes in storage, {} in the record", m.size, a.size)))
            }
            Some(_) if verify_hashes => {
                let h = local::hash_stored_file(store.store.as_ref(), &key).await?;
                Ok((h.hash != a.hash)
                    .then(|| format!("hash differs at {path}: {} in storage, {} in the record", h.hash, a.hash)))
            }
            Some(_) => Ok(None),
        }
    }

    async fn fsck_pending(&self, a: &Artifact, repair: bool) -> Result<FsckFinding> {
        let store = self.store(a.storage)?;
        let mut f = FsckFinding { uid: a.uid.clone(), problem: String::new(), action: String::new(), repaired: false };
        match &a.pending {
            Some(Pending::Purging { policy }) => {
                // Finished as asked: the policy recorded with the mark decides about the bytes.
                f.problem = format!("a permanent deletion (storage policy {policy:?}) was interrupted").to_lowercase();
                let owner = a.bytes_owner(self.manages(&store.location));
                let decision = trove_domain::lifecycle::purge_decision(owner, *policy, &store.location.root)?;
                f.action = match decision {
                    trove_domain::lifecycle::PurgeDecision::Delete => "finished: the bytes and the record are deleted",
                    trove_domain::lifecycle::PurgeDecision::Keep(_) => {
                        "finished: the record is deleted and its bytes are kept, as the policy says"
                    }
                }
                .into();
                if repair {
                    self.purge_bytes(a, decision).await?;
                    self.catalog().finish_purge(std::slice::from_ref(&a.uid)).await?;
                    f.repaired = true;
                }
            }
            Some(mark @ Pending::PlacingRealKey { managed_key, target }) => {
                let shared = matches!(target, Some(t) if a.key.as_ref().is_none_or(|k| k.as_str() != t));
                f.problem = if shared {
                    "moving a new version into its shared store was interrupted".into()
                } else {
                    "moving bytes to a real key was interrupted".into()
                };
                let (action, settle) = self.placement_decision(a, managed_key, target.as_deref(), shared).await?;
                f.action = action.into();
                if repair {
                    self.settle_placement(a, mark, managed_key, target.as_deref(), settle).await?;
                    f.repaired = settle != PlacementSettle::Stuck;
                }
            }
            Some(Pending::Replacing { .. }) => {
                // Settled from what the bytes say (see replace.rs): finish, roll back, or redo.
                f.problem = "a replace was interrupted".into();
                let decision = self.replace_decision(a).await?;
                f.action = decision.describe().into();
                if repair && decision != crate::replace::Settle::Stuck {
                    self.settle_replace(a, decision).await?;
                    f.repaired = true;
                }
            }
            None => {}
        }
        if !repair {
            f.action = format!("would be {}", f.action);
        }
        Ok(f)
    }

    /// How to settle an interrupted placement, from what the bytes say: roll forward when the
    /// bytes are already at the target, or when the complete managed copy can still take it
    /// (the record is its family's newest version and nothing else owns the target); else roll
    /// back to the managed copy; stuck when neither copy is complete.
    async fn placement_decision(
        &self,
        a: &Artifact,
        managed_key: &str,
        target: Option<&str>,
        shared: bool,
    ) -> Result<(&'static str, PlacementSettle)> {
        let target = target.map(str::to_owned).or_else(|| a.key.as_ref().map(|k| k.as_str().to_owned()));
        let managed_ok = self.check_bytes_at(a, managed_key, true).await?.is_none();
        let Some(target) = target else {
            return Ok(if managed_ok {
                ("rolled back: the record keeps its bytes in the managed area", PlacementSettle::RollBack)
            } else {
                ("none: the bytes are missing; restore them from a backup", PlacementSettle::Stuck)
            });
        };
        if !managed_ok {
            return Ok(if self.check_bytes_at(a, &target, true).await?.is_none() {
                ("finished: the bytes had already moved, so the record now points at them", PlacementSettle::Finish)
            } else {
                ("none: neither copy of the bytes is complete; restore them from a backup", PlacementSettle::Stuck)
            });
        }
        let taken_by_other = if shared {
            false
        } else {
            let store = self.store(a.storage)?;
            self.catalog()
                .artifacts(&ArtifactQuery {
                    branch: BranchSelection::All,
                    storage: Some(store.location.id),
                    key: Some(target.clone()),
                    include_pending: true,
                    ..Default::default()
                })
                .await?
                .iter()
                .any(|o| o.uid != a.uid && o.storage_key() == target)
        };
        Ok(if a.is_latest && !taken_by_other {
            ("finished: the complete managed copy was moved into place", PlacementSettle::Redo)
        } else {
            ("rolled back: the record keeps its bytes in the managed area (a virtual key)", PlacementSettle::RollBack)
        })
    }

    async fn settle_placement(
        &self,
        a: &Artifact,
        mark: &Pending,
        managed_key: &str,
        target: Option<&str>,
        settle: PlacementSettle,
    ) -> Result<()> {
        let store = self.store(a.storage)?;
        let target = target.map(str::to_owned).or_else(|| a.key.as_ref().map(|k| k.as_str().to_owned()));
        let placed = |t: &str| match (&a.key, t) {
            (Some(k), t) if k.as_str() == t => Placement::RealKey,
            (_, t) => Placement::SharedStore { store_key: t.to_owned() },
        };
        let (placement, finish) = match (settle, &target) {
            (PlacementSettle::Stuck, _) => return Ok(()),
            (PlacementSettle::RollBack, _) | (_, None) => (Placement::Managed, false),
            (PlacementSettle::Redo, Some(t)) => {
                if a.is_folder() {
                    store.store.delete_prefix(&format!("{t}/")).await?;
                    local::copy_artifact_bytes(store.store.as_ref(), managed_key, t, true).await?;
                } else {
                    local::copy_artifact_bytes(store.store.as_ref(), managed_key, t, false).await?;
                }
                (placed(t), true)
            }
            (PlacementSettle::Finish, Some(t)) => (placed(t), false),
        };
        self.catalog()
            .update_artifact(
                &a.uid,
                &ArtifactUpdate {
                    placement: Some(placement),
                    pending: Some(None),
                    if_pending: Some(Some(mark.clone())),
                    ..Default::default()
                },
            )
            .await?;
        if finish {
            let _ = local::remove_written(
                store.store.as_ref(),
                &local::Written {
                    key: managed_key.to_owned(),
                    content: ContentHash { hash: a.hash.clone(), hash_type: a.hash_type.clone(), size: a.size },
                    n_files: a.n_files,
                },
            )
            .await;
        }
        Ok(())
    }

    /// Plan a garbage collection (spec 1, section 4, invariant 5): objects in the managed area
    /// (`.trove/`) of this instance's storage locations that no record references, and debris
    /// of interrupted writes anywhere in them (temporary files a killed process left, see
    /// [`trove_domain::ports::ObjectStore::leftovers`]), older than the grace period. Nothing
    /// is removed: show the plan, then [`Trove::apply_gc`] removes exactly what it lists. Bytes
    /// of a record on any branch, or of an operation in progress, are never in a plan.
    ///
    /// A save writes its bytes before its row commits, so a grace period shorter than
    /// [`MIN_GC_GRACE`] could delete the bytes of a save in progress; it is refused unless
    /// [`GcOptions::allow_short_grace`] says no other process is writing.
    pub async fn plan_gc(&self, opts: &GcOptions) -> Result<GcPlan> {
        if opts.grace < MIN_GC_GRACE && !opts.allow_short_grace {
            return Err(Error::invalid_input(format!(
                "a grace period of {}s is shorter than the minimum of {}s, which protects the bytes of saves in \
                 progress; use a longer one, or (when no other process is writing) allow a short one explicitly \
                 (`trove gc --allow-short-grace`)",
                opts.grace.as_secs(),
                MIN_GC_GRACE.as_secs()
            )));
        }
        let cutoff = self.clock().now() - chrono::Duration::from_std(opts.grace).unwrap_or(chrono::Duration::MAX);
        let refs = self.referenced_keys().await?;
        let mut items = Vec::new();
        for loc in self.storages() {
            if !self.manages(&loc) {
                continue;
            }
            let store = &self.store(loc.id)?.store;
            let young = |o: &ObjectMeta| o.last_modified.is_some_and(|t| t > cutoff);
            for obj in store.list(&format!("{MANAGED_DIR}/")).await? {
                if is_instance_file(&obj.key) || refs.covers(loc.id, &obj.key) || young(&obj) {
                    continue;
                }
                items.push(GcItem::new(store.as_ref(), loc.id, obj, GcKind::Orphan));
            }
            for obj in store.leftovers("").await? {
                if !young(&obj) {
                    items.push(GcItem::new(store.as_ref(), loc.id, obj, GcKind::Leftover));
                }
            }
        }
        Ok(GcPlan { items, grace: opts.grace })
    }

    /// Remove exactly what `plan` lists (after the user saw it), re-checking each orphan
    /// against the catalog first: an object a record has come to reference since the plan
    /// (a save that committed meanwhile) is skipped and reported, never removed.
    pub async fn apply_gc(&self, plan: &GcPlan) -> Result<GcReport> {
        let refs = self.referenced_keys().await?;
        let mut report = GcReport::default();
        for item in &plan.items {
            let store = &self.store(item.storage)?.store;
            let removed = match item.kind {
                GcKind::Orphan if refs.covers(item.storage, &item.key) => {
                    report.skipped.push(item.path.clone());
                    continue;
                }
                GcKind::Orphan => store.delete(&item.key).await?,
                GcKind::Leftover => store.delete_leftover(&item.key).await?,
            };
            if removed {
                report.bytes += item.size;
                report.removed.push(item.path.clone());
            }
        }
        Ok(report)
    }

    /// Every storage key a record (any branch, any pending operation) references, including the
    /// extra keys of operations in progress (a placement's managed copy, a replace's staging).
    async fn referenced_keys(&self) -> Result<References> {
        let mut refs = References::default();
        let mut rows = self
            .catalog()
            .artifacts(&ArtifactQuery { branch: BranchSelection::All, include_pending: true, ..Default::default() })
            .await?;
        rows.extend(self.catalog().pending_artifacts().await?);
        for a in &rows {
            let extra = match &a.pending {
                Some(Pending::PlacingRealKey { managed_key, .. }) => Some(managed_key.clone()),
                Some(Pending::Replacing { staged_key, .. }) => Some(staged_key.clone()),
                _ => None,
            };
            for k in std::iter::once(a.storage_key()).chain(extra) {
                if a.is_folder() {
                    refs.prefixes.push((a.storage, format!("{k}/")));
                } else {
                    refs.files.insert((a.storage, k));
                }
            }
        }
        Ok(refs)
    }
}

/// Options of [`Trove::fsck`]: by default, report what is wrong and what a repair would do,
/// comparing sizes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FsckOptions {
    /// Finish or roll back each interrupted operation (default: only say what would be done).
    pub repair: bool,
    /// Re-hash stored content and compare it with each record's hash (default: compare sizes).
    pub verify_hashes: bool,
}

impl FsckOptions {
    /// Apply the repairs (see the field).
    pub fn repair(mut self) -> Self {
        self.repair = true;
        self
    }

    /// Re-hash content (see the field).
    pub fn verify_hashes(mut self) -> Self {
        self.verify_hashes = true;
        self
    }
}

/// The shortest grace period `gc` accepts without [`GcOptions::allow_short_grace`].
pub const MIN_GC_GRACE: Duration = Duration::from_secs(5 * 60);

/// Options of [`Trove::plan_gc`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcOptions {
    /// Leave objects younger than this alone (default: one hour).
    pub grace: Duration,
    /// Accept a grace period below [`MIN_GC_GRACE`]: only safe when no other process is
    /// writing to the instance (a save in progress has bytes but no row yet).
    pub allow_short_grace: bool,
}

impl Default for GcOptions {
    fn default() -> Self {
        GcOptions { grace: Duration::from_secs(3600), allow_short_grace: false }
    }
}

impl GcOptions {
    /// Collect objects older than `grace`.
    pub fn grace(grace: Duration) -> Self {
        GcOptions { grace, ..Self::default() }
    }

    /// Allow a grace period below [`MIN_GC_GRACE`] (see the field).
    pub fn allow_short_grace(mut self) -> Self {
        self.allow_short_grace = true;
        self
    }
}

#[derive(Debug, Default)]
struct References {
    files: HashSet<(StorageId, String)>,
    prefixes: Vec<(StorageId, String)>,
}

impl References {
    fn covers(&self, storage: StorageId, key: &str) -> bool {
        self.files.contains(&(storage, key.to_owned()))
            || self.prefixes.iter().any(|(s, p)| *s == storage && key.starts_with(p.as_str()))
    }
}

/// Files of the instance itself in a managed area: the marker and the embedded catalog (and,
/// for an instance in a bucket, its write lease and writer mode).
fn is_instance_file(key: &str) -> bool {
    let name = &key[MANAGED_DIR.len() + 1..];
    name == STORAGE_MARKER || name.starts_with(EMBEDDED_DB) || crate::bucket_catalog::is_instance_file(key)
}

impl GcItem {
    fn new(store: &dyn ObjectStore, storage: StorageId, obj: ObjectMeta, kind: GcKind) -> GcItem {
        GcItem { storage, path: store.display_path(&obj.key), key: obj.key, size: obj.size, kind }
    }
}
