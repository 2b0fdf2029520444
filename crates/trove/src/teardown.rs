//! Deleting a whole instance (spec 2, section 1): `trove instance delete`.
//!
//! The order: the artifacts' bytes the storage policy selects go first, then the catalog, then
//! the markers of the storage locations this instance manages (and, for the embedded default,
//! the SQLite file). An interruption part-way leaves an instance that a second
//! `delete_instance` finishes (bytes already gone are reported as missing).

use serde::Serialize;
use trove_domain::lifecycle::PurgeDecision;
use trove_domain::{ArtifactQuery, BranchSelection, Error, ErrorKind, Result, StoragePolicy};

use crate::outcome::{KeptPath, Purged};
use crate::storage::marker_key;
use crate::{Trove, wiring};

/// Options of [`Trove::delete_instance`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeleteInstanceOptions {
    /// Delete the instance although it still holds artifacts (on any branch).
    pub force: bool,
    /// What happens to those artifacts' bytes (default: keep them; they are listed).
    pub storage: StoragePolicy,
}

impl Default for DeleteInstanceOptions {
    fn default() -> Self {
        DeleteInstanceOptions { force: false, storage: StoragePolicy::Keep }
    }
}

/// What [`Trove::delete_instance`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InstanceDeletion {
    /// The instance's uid.
    pub instance_uid: String,
    /// One entry per artifact the instance held: paths deleted, kept (and why), missing.
    pub artifacts: Vec<Purged>,
    /// Files of the instance itself removed: the markers, the embedded catalog.
    pub removed_files: Vec<String>,
}

impl Trove {
    /// Delete this instance: its catalog (tables dropped; the embedded SQLite file removed)
    /// and the markers of the storage locations it manages. While it still holds artifacts
    /// (any branch, the trash included) this is refused ([`ErrorKind::Protected`]) unless
    /// `force`; with `force` the artifacts' bytes follow `opts.storage` (keep by default, and
    /// every path is listed either way). Bytes in locations another instance manages are
    /// never deleted. The handle is consumed: nothing can use the instance afterwards.
    pub async fn delete_instance(self, opts: &DeleteInstanceOptions) -> Result<InstanceDeletion> {
        let mut records = self
            .catalog()
            .artifacts(&ArtifactQuery { branch: BranchSelection::All, include_pending: true, ..Default::default() })
            .await?;
        records.extend(
            self.catalog()
                .pending_artifacts()
                .await?
                .into_iter()
                .filter(|p| matches!(p.pending, Some(trove_domain::Pending::Purging { .. }))),
        );
        if !records.is_empty() && !opts.force {
            return Err(Error::new(
                ErrorKind::Protected,
                format!(
                    "instance '{}' still holds {} artifact(s) (on any branch, the trash included): delete them \
                     first, or pass --force to delete the instance anyway (their bytes are kept and listed, or \
                     deleted with --storage delete)",
                    self.instance().name,
                    records.len()
                ),
            ));
        }
        let mut deletion = InstanceDeletion { instance_uid: self.instance().uid.clone(), ..Default::default() };
        for a in &records {
            let store = self.store(a.storage)?;
            let decision = match trove_domain::lifecycle::purge_decision(
                a.bytes_owner(self.manages(&store.location)),
                opts.storage,
                &store.location.root,
            ) {
                Ok(d) => d,
                // Another instance's bytes stay, whatever the policy says.
                Err(e) if e.kind() == ErrorKind::NotManaged => {
                    PurgeDecision::Keep(trove_domain::lifecycle::KeepReason::NotManaged)
                }
                Err(e) => return Err(e),
            };
            deletion.artifacts.push(self.purge_bytes(a, decision).await?);
        }
        self.catalog().destroy().await?;
        for loc in self.storages() {
            if !self.manages(&loc) {
                continue;
            }
            let store = &self.store(loc.id)?.store;
            if store.delete(&marker_key()).await? {
                deletion.removed_files.push(store.display_path(&marker_key()));
            }
            if let Some(root) = store.local_path("") {
                let db = wiring::embedded_db_path(&root);
                // The embedded default: the instance was opened from this root, so its catalog is
                // the SQLite file inside it.
                if std::path::Path::new(self.location()) == root.as_path() {
                    for suffix in ["", "-wal", "-shm"] {
                        let mut f = db.clone().into_os_string();
                        f.push(suffix);
                        let f = std::path::PathBuf::from(f);
                        if std::fs::remove_file(&f).is_ok() {
                            deletion.removed_files.push(f.display().to_string());
                        }
                    }
                }
                // The managed area goes if nothing is left in it (kept bytes keep it).
                let _ = std::fs::remove_dir(root.join(trove_domain::key::MANAGED_DIR));
            }
        }
        Ok(deletion)
    }
}

impl InstanceDeletion {
    /// Every artifact path kept, with why.
    pub fn kept_paths(&self) -> impl Iterator<Item = &KeptPath> {
        self.artifacts.iter().flat_map(|p| p.kept_paths.iter())
    }

    /// Every artifact path deleted.
    pub fn removed_paths(&self) -> impl Iterator<Item = &str> {
        self.artifacts.iter().flat_map(|p| p.removed_paths.iter().map(String::as_str))
    }
}
