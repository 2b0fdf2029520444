//! Shared-store folders (spec 2, section 5; opt-in with [`crate::SaveOptions::shared_store`]).
//!
//! By default each folder version has its own files, so every version stays readable. A
//! shared-store family keeps one store for all versions, as the reference does for folders:
//!
//! * the store is the managed key of the version that created it, `.trove/<that uid><suffix>`,
//!   recorded in each member's placement ([`Placement::SharedStore`]), so no extra column is
//!   needed and a member's `storage_key()` is the store;
//! * a new version overwrites the store: its files are first written to its own managed key
//!   (as any save), the row is committed, then the files move into the store (marked, so an
//!   interruption rolls back to a valid version with its own files);
//! * the store holds the content of the member with the highest version index (its *owner*);
//!   reading any other member is a [`ErrorKind::NotFound`] error naming the owner;
//! * permanently deleting the owner deletes the whole family and its store, and the purge
//!   report lists the other versions that went with it; permanently deleting an older member
//!   deletes only its row.

use std::collections::{HashMap, HashSet};

use trove_domain::{
    Artifact, ArtifactQuery, ArtifactUpdate, BranchSelection, Error, ErrorKind, Key, Order, Pending, Placement, Result,
    Uid,
};

use crate::outcome::SaveOutcome;
use crate::save::SaveOptions;
use crate::source::Source;
use crate::{Trove, local};

/// How a permanent deletion touches shared-store families.
#[derive(Debug, Default)]
pub(crate) struct SharedPurge {
    /// Owners being purged, with the other members deleted along with them.
    pub(crate) families: HashMap<Uid, Vec<Uid>>,
    /// Members whose rows go but whose (overwritten) store belongs to another version.
    pub(crate) rows_only: HashSet<Uid>,
}

fn store_key_of(a: &Artifact) -> Option<&str> {
    match &a.placement {
        Placement::SharedStore { store_key } => Some(store_key),
        _ => None,
    }
}

impl Trove {
    /// `save`, with shared-store folders handled around the plain save.
    pub(crate) async fn save_maybe_shared(&self, source: Source, opts: SaveOptions) -> Result<SaveOutcome> {
        let is_folder = match &source {
            Source::Path(p) => tokio::fs::metadata(p).await.map(|m| m.is_dir()).unwrap_or(false),
            _ => false,
        };
        let joins = match (is_folder, opts.key.as_deref().map(Key::parse)) {
            (true, Some(Ok(k))) => self
                .catalog()
                .family_head_by_key(self.target_store(opts.storage.as_deref())?.location.id, &k)
                .await?
                .and_then(|h| store_key_of(&h).map(str::to_owned)),
            _ => None,
        };
        if opts.shared_store && !is_folder {
            return Err(Error::invalid_input(
                "a shared store is for folders: save this file without --shared-store (each file version keeps its \
                 own bytes)",
            ));
        }
        if !opts.shared_store && joins.is_none() {
            return self.save_plain(source, opts).await;
        }
        if opts.real_key == Some(true) {
            return Err(Error::invalid_input(
                "a shared-store folder keeps its files in the managed area: drop --real-key, or drop --shared-store",
            ));
        }
        let mut plain = SaveOptions { shared_store: false, real_key: Some(false), ..opts };
        let mut outcome = self.save_plain(source.clone(), plain.clone()).await?;
        if let SaveOutcome::Existing { artifact } = &outcome
            && self.stale_shared_owner(artifact).await?.is_some()
        {
            // Identical to a version whose files were overwritten: that one cannot be read, so
            // store the content again.
            plain.allow_duplicate = true;
            outcome = self.save_plain(source, plain).await?;
        }
        match outcome {
            SaveOutcome::Created { artifact } if artifact.placement == Placement::Managed => {
                let store_key = artifact.storage_key();
                let artifact = self.set_placement(&artifact.uid, Placement::SharedStore { store_key }).await?;
                Ok(SaveOutcome::Created { artifact })
            }
            SaveOutcome::NewVersion { artifact, previous } if artifact.placement == Placement::Managed => {
                let artifact = match joins {
                    Some(store_key) => self.move_into_shared_store(artifact, store_key).await?,
                    None => {
                        let store_key = artifact.storage_key();
                        self.set_placement(&artifact.uid, Placement::SharedStore { store_key }).await?
                    }
                };
                Ok(SaveOutcome::NewVersion { artifact, previous })
            }
            other => Ok(other),
        }
    }

    async fn set_placement(&self, uid: &Uid, placement: Placement) -> Result<Artifact> {
        self.catalog().update_artifact(uid, &ArtifactUpdate { placement: Some(placement), ..Default::default() }).await
    }

    /// Overwrite the family's store with a new version's files (now at its own managed key).
    async fn move_into_shared_store(&self, a: Artifact, store_key: String) -> Result<Artifact> {
        let store = self.store(a.storage)?;
        let s = store.store.as_ref();
        let own = a.storage_key();
        // Marked like a real-key placement: fsck rolls it back to a valid version with its own
        // files. The mark is exclusive per key (the catalog allows one placement in flight), so
        // concurrent versions fill the store one at a time, and only the newest one does: an
        // older version that gets here late keeps its own copy instead of overwriting newer files.
        let pending = Pending::PlacingRealKey { managed_key: own.clone(), target: Some(store_key.clone()) };
        let marked = self
            .catalog()
            .update_artifact(
                &a.uid,
                &ArtifactUpdate { pending: Some(Some(pending.clone())), if_pending: Some(None), ..Default::default() },
            )
            .await?;
        if !marked.is_latest {
            return self
                .catalog()
                .update_artifact(
                    &a.uid,
                    &ArtifactUpdate { pending: Some(None), if_pending: Some(Some(pending)), ..Default::default() },
                )
                .await;
        }
        let moved = async {
            s.delete_prefix(&format!("{store_key}/")).await?;
            local::copy_artifact_bytes(s, &own, &store_key, true).await?;
            self.catalog()
                .update_artifact(
                    &a.uid,
                    &ArtifactUpdate {
                        placement: Some(Placement::SharedStore { store_key: store_key.clone() }),
                        pending: Some(None),
                        if_pending: Some(Some(pending.clone())),
                        ..Default::default()
                    },
                )
                .await
        }
        .await;
        match moved {
            Ok(updated) => {
                let _ = s.delete_prefix(&format!("{own}/")).await;
                Ok(updated)
            }
            Err(e) => {
                let _ = self
                    .catalog()
                    .update_artifact(
                        &a.uid,
                        &ArtifactUpdate { pending: Some(None), if_pending: Some(Some(pending)), ..Default::default() },
                    )
                    .await;
                Err(Error::new(
                    e.kind(),
                    format!(
                        "saved {} but could not move its files into the shared store {}: {e}; the version keeps its \
                         own copy in the managed area",
                        a.label(),
                        s.display_path(&format!("{store_key}/"))
                    ),
                )
                .with_source(e))
            }
        }
    }

    /// The members of `a`'s shared store (any branch), oldest first; empty if it has none.
    async fn shared_store_members(&self, a: &Artifact) -> Result<Vec<Artifact>> {
        let Some(store_key) = store_key_of(a) else { return Ok(Vec::new()) };
        let family = self
            .catalog()
            .artifacts(&ArtifactQuery {
                branch: BranchSelection::All,
                stem: Some(a.stem()),
                include_pending: true,
                order: Order::Version,
                ..ArtifactQuery::default()
            })
            .await?;
        Ok(family.into_iter().filter(|m| store_key_of(m) == Some(store_key)).collect())
    }

    /// For an older member of a shared store: the member whose content the store holds.
    async fn stale_shared_owner(&self, a: &Artifact) -> Result<Option<Artifact>> {
        let members = self.shared_store_members(a).await?;
        Ok(members.into_iter().max_by_key(Artifact::version_index).filter(|o| o.uid != a.uid))
    }

    /// Check that an artifact's content can be read: an older version of a shared-store folder
    /// cannot (its files were overwritten by a newer version), and says which version can.
    pub async fn check_readable(&self, a: &Artifact) -> Result<()> {
        if let Some(owner) = self.stale_shared_owner(a).await? {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "{} is an older version of a shared-store folder: its files were overwritten by version {} \
                     (shared-store folders keep only the newest content); read that version instead",
                    a.label(),
                    owner.uid
                ),
            ));
        }
        Ok(())
    }

    /// Replacing an older member of a shared store would overwrite the newest version's files.
    pub(crate) async fn check_shared_store_replace(&self, a: &Artifact) -> Result<()> {
        if let Some(owner) = self.stale_shared_owner(a).await? {
            return Err(Error::invalid_input(format!(
                "{} is an older version of a shared-store folder whose files now belong to version {}: replace that \
                 version instead",
                a.label(),
                owner.uid
            )));
        }
        Ok(())
    }

    /// Expand a permanent deletion: the newest member of a shared store takes the whole family
    /// with it; older members lose only their rows.
    pub(crate) async fn expand_shared_purge(&self, artifacts: Vec<Artifact>) -> Result<(Vec<Artifact>, SharedPurge)> {
        let mut out = Vec::with_capacity(artifacts.len());
        let mut plan = SharedPurge::default();
        let mut seen: HashSet<Uid> = artifacts.iter().map(|a| a.uid.clone()).collect();
        let mut extra = Vec::new();
        for a in artifacts {
            let members = self.shared_store_members(&a).await?;
            let owner = members.iter().max_by_key(|m| m.version_index()).map(|m| m.uid.clone());
            match owner {
                Some(o) if o == a.uid => {
                    let others: Vec<Uid> = members.iter().filter(|m| m.uid != a.uid).map(|m| m.uid.clone()).collect();
                    for m in members.into_iter().filter(|m| m.uid != a.uid) {
                        plan.rows_only.insert(m.uid.clone());
                        if seen.insert(m.uid.clone()) {
                            extra.push(m);
                        }
                    }
                    plan.families.insert(a.uid.clone(), others);
                }
                Some(_) => {
                    plan.rows_only.insert(a.uid.clone());
                }
                None => {}
            }
            out.push(a);
        }
        out.extend(extra);
        Ok((out, plan))
    }
}

/// Whether a record's bytes are its own to check: false for older members of a shared store
/// (given every record of the catalog, or at least of its family).
pub(crate) fn owns_its_bytes(a: &Artifact, all: &[Artifact]) -> bool {
    let Some(store_key) = store_key_of(a) else { return true };
    !all.iter()
        .any(|o| o.stem() == a.stem() && store_key_of(o) == Some(store_key) && o.version_index() > a.version_index())
}
