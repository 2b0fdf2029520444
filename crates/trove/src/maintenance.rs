//! Repair (`fsck`) and garbage collection (`gc`): spec 1, section 4, invariants 5 and 6.

use std::collections::HashSet;
use std::time::Duration;

use trove_domain::key::MANAGED_DIR;
use trove_domain::{Artifact, ArtifactQuery, ArtifactUpdate, BranchSelection, Pending, Placement, Result};

use crate::outcome::{FsckFinding, GcReport};
use crate::{EMBEDDED_DB, STORAGE_MARKER, Trove, local};

impl Trove {
    /// Find records whose bytes are missing or differ, and markers left by interrupted
    /// operations; with `repair`, finish or roll back each interrupted operation. Re-hashes
    /// content when `verify_hashes` is set (otherwise sizes are compared).
    pub async fn fsck(&self, repair: bool, verify_hashes: bool) -> Result<Vec<FsckFinding>> {
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
                });
            }
        }
        Ok(findings)
    }

    /// `None` if the record's bytes exist with matching size (and hash, if asked).
    async fn check_bytes(&self, a: &Artifact, verify_hashes: bool) -> Result<Option<String>> {
        let store = self.store(a.storage)?;
        let key = a.storage_key();
        let path = self.path(a)?;
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
        let mut f = FsckFinding { uid: a.uid.clone(), problem: String::new(), action: String::new() };
        match &a.pending {
            Some(Pending::Purging) => {
                f.problem = "a permanent deletion was interrupted".into();
                let intact = self.check_bytes(a, false).await?.is_none();
                if intact {
                    f.action = "rolled back: the bytes are intact, so the record is restored where it was".into();
                    if repair {
                        self.catalog().abort_purge(std::slice::from_ref(&a.uid)).await?;
                    }
                } else {
                    f.action =
                        "finished: the bytes were partly or wholly deleted, so the rest and the record are removed"
                            .into();
                    if repair {
                        let key = a.storage_key();
                        if a.placement == Placement::Managed || a.key.is_none() {
                            if a.is_folder() {
                                store.store.delete_prefix(&format!("{key}/")).await?;
                            } else {
                                store.store.delete(&key).await?;
                            }
                        }
                        self.catalog().finish_purge(std::slice::from_ref(&a.uid)).await?;
                    }
                }
            }
            Some(Pending::PlacingRealKey { .. }) => {
                f.problem = "moving bytes to a real key was interrupted".into();
                f.action = "rolled back: the record keeps its bytes in the managed area (a virtual key)".into();
                if repair {
                    self.catalog()
                        .update_artifact(&a.uid, &ArtifactUpdate { pending: Some(None), ..Default::default() })
                        .await?;
                }
            }
            Some(Pending::Replacing { .. }) => {
                // Settled from what the bytes say (see replace.rs): finish, roll back, or redo.
                f.problem = "a replace was interrupted".into();
                let decision = self.replace_decision(a).await?;
                f.action = decision.describe().into();
                if repair && decision != crate::replace::Settle::Stuck {
                    self.settle_replace(a, decision).await?;
                }
            }
            None => {}
        }
        if !repair {
            f.action = format!("would be {}", f.action);
        }
        Ok(f)
    }

    /// Objects in the managed area (`.trove/`) of this instance's storage locations that no
    /// record references, and older than `grace` (a save in progress writes its bytes before
    /// its row). Removed unless `dry_run`. Bytes of a record on any branch are never orphans.
    pub async fn gc(&self, grace: Duration, dry_run: bool) -> Result<GcReport> {
        let mut referenced_files = HashSet::new();
        let mut referenced_prefixes = Vec::new();
        let mut rows = self
            .catalog()
            .artifacts(&ArtifactQuery { branch: BranchSelection::All, include_pending: true, ..Default::default() })
            .await?;
        rows.extend(self.catalog().pending_artifacts().await?);
        for a in &rows {
            let key = a.storage_key();
            let extra = match &a.pending {
                Some(Pending::PlacingRealKey { managed_key }) => Some(managed_key.clone()),
                Some(Pending::Replacing { staged_key, .. }) => Some(staged_key.clone()),
                _ => None,
            };
            for k in std::iter::once(key).chain(extra) {
                if a.is_folder() {
                    referenced_prefixes.push((a.storage, format!("{k}/")));
                } else {
                    referenced_files.insert((a.storage, k));
                }
            }
        }
        let cutoff = self.clock().now() - chrono::Duration::from_std(grace).unwrap_or_default();
        let mut report = GcReport { removed: !dry_run, ..Default::default() };
        for loc in self.storages() {
            if !self.manages(&loc) {
                continue;
            }
            let store = &self.store(loc.id)?.store;
            for obj in store.list(&format!("{MANAGED_DIR}/")).await? {
                let name = &obj.key[MANAGED_DIR.len() + 1..];
                if name == STORAGE_MARKER || name.starts_with(EMBEDDED_DB) {
                    continue;
                }
                if referenced_files.contains(&(loc.id, obj.key.clone()))
                    || referenced_prefixes.iter().any(|(s, p)| *s == loc.id && obj.key.starts_with(p.as_str()))
                {
                    continue;
                }
                if obj.last_modified.is_some_and(|t| t > cutoff) {
                    continue;
                }
                report.bytes += obj.size;
                report.orphans.push(store.display_path(&obj.key));
                if !dry_run {
                    store.delete(&obj.key).await?;
                }
            }
        }
        Ok(report)
    }
}
