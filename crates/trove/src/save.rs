//! Saving artifacts: from a local file, a local folder, or bytes in memory.
//!
//! The order of bytes and rows (design, section 3): bytes go to the fresh managed key
//! `.trove/<uid><suffix>`, which no row points at, while they are hashed (one pass); then the
//! row is committed. A real key is placed afterwards with a marked row, so that at every step
//! each unmarked row matches its bytes and a crash leaves at worst unreferenced garbage.

use trove_domain::key::{check_key_suffix, managed_storage_key};
use trove_domain::{
    Artifact, ArtifactQuery, ArtifactUpdate, BranchId, BranchSelection, ContentHash, Error, ErrorKind, Key,
    NewArtifact, Operation, Pending, Placement, Result, Uid,
};

use crate::local::{self, Written};
use crate::outcome::SaveOutcome;
use crate::source::{Inspected, Source};
use crate::{Store, Trove};

/// How long a save keeps retrying after losing races to concurrent writers (a real-key
/// placement of the same key in another process, a busy catalog) before it gives up.
const RETRY_BUDGET: std::time::Duration = std::time::Duration::from_secs(60);

/// Exponential backoff with jitter, capped at half a second, so racing writers spread out.
fn backoff(attempt: u32) -> std::time::Duration {
    let base = 5u64 << attempt.min(7);
    let jitter = rand::random::<u64>() % (base / 2 + 1);
    std::time::Duration::from_millis((base + jitter).min(500))
}

/// A uid this writer owns, and the family head it follows (if any).
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    pub(crate) uid: Uid,
    pub(crate) head: Option<Artifact>,
}

/// Options of a save. One of `key` or `description` is required.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SaveOptions {
    /// The key (a relative `/`-separated path).
    pub key: Option<String>,
    /// A description.
    pub description: Option<String>,
    /// Free-text kind (`dataset`, `model`...).
    pub kind: Option<String>,
    /// Store the bytes at the key itself (a real key) rather than in the managed area.
    /// `None` follows the instance setting.
    pub real_key: Option<bool>,
    /// Create a new artifact even when identical content exists.
    pub allow_duplicate: bool,
    /// The version this one revises (for keyless families; with a key it must be the head).
    pub revises: Option<Uid>,
    /// A label for this version, unique within the family.
    pub version_tag: Option<String>,
    /// The artifact's `otype` (set by [`Trove::save_as`] from its [`crate::Format`]).
    pub otype: Option<String>,
    /// Rows (observations) of tabular content (set by [`Trove::save_as`]).
    pub n_observations: Option<u64>,
    /// For folders: keep every version of the family in one shared store (the reference's
    /// default for folders): a new version overwrites it, reading an older version is an
    /// error, and permanently deleting the newest version deletes the whole family. New
    /// versions of a family that already has a shared store join it whatever this says.
    pub shared_store: bool,
    /// The storage location to write to: its root (as `trove storage ls` shows it) or uid.
    /// `None` is the instance's default location.
    pub storage: Option<String>,
}

impl SaveOptions {
    /// Save under `key`.
    pub fn key(key: impl Into<String>) -> Self {
        SaveOptions { key: Some(key.into()), ..Self::default() }
    }

    /// Save with only a description.
    pub fn description(d: impl Into<String>) -> Self {
        SaveOptions { description: Some(d.into()), ..Self::default() }
    }

    /// Add a description.
    pub fn with_description(mut self, d: impl Into<String>) -> Self {
        self.description = Some(d.into());
        self
    }

    /// Store at the key itself.
    pub fn real_key(mut self) -> Self {
        self.real_key = Some(true);
        self
    }

    /// Write to this storage location (root or uid) instead of the default one.
    pub fn in_storage(mut self, root_or_uid: impl Into<String>) -> Self {
        self.storage = Some(root_or_uid.into());
        self
    }

    /// Allow a duplicate of existing content.
    pub fn allow_duplicate(mut self) -> Self {
        self.allow_duplicate = true;
        self
    }

    /// Keep the folder's versions in one shared store (see [`SaveOptions::shared_store`]).
    pub fn shared_store(mut self) -> Self {
        self.shared_store = true;
        self
    }
}

/// What [`Trove::prepare_save`] decided: register a path in place, or write owned bytes.
pub(crate) enum Prepared<'t> {
    /// The path is inside a registered storage location (relative path `rel`).
    InPlace { store: &'t Store, rel: String, key: Option<Key>, suffix: String, is_folder: bool },
    /// Bytes are written to a managed key this writer owns.
    Owned { store: &'t Store, is_folder: bool, plan: Plan },
}

/// Everything decided before bytes move.
pub(crate) struct Plan {
    pub(crate) key: Option<Key>,
    pub(crate) suffix: String,
    pub(crate) real: bool,
    pub(crate) otype: Option<String>,
    pub(crate) n_observations: Option<u64>,
}

impl Trove {
    /// Save a file, folder, or bytes as an artifact, in the default storage location.
    ///
    /// * identical content (any key, any branch but trash) returns [`SaveOutcome::Existing`]
    ///   unless `allow_duplicate`;
    /// * identical content under the same key in the trash comes back:
    ///   [`SaveOutcome::RestoredFromTrash`];
    /// * a key that exists (not in the trash) gets the next version: [`SaveOutcome::NewVersion`];
    /// * a path already inside the storage root is registered in place, without copying;
    /// * a folder with [`SaveOptions::shared_store`] (or a new version of a shared-store family)
    ///   keeps its files in the family's shared store.
    ///
    /// After a save to cloud storage, the local source seeds the cache (see [`Trove::cache`]).
    pub async fn save(&self, source: impl Into<Source>, opts: SaveOptions) -> Result<SaveOutcome> {
        let source = source.into();
        let seed = match &source {
            Source::Path(p) => Some(p.clone()),
            _ => None,
        };
        let outcome = self.save_maybe_shared(source, opts).await?;
        self.notify_saved(&outcome);
        if let (Some(p), SaveOutcome::Created { .. } | SaveOutcome::NewVersion { .. }) = (&seed, &outcome) {
            self.seed_cache(p, outcome.artifact()).await;
        }
        Ok(outcome)
    }

    /// Save without the shared-store handling (which wraps this; see `folders.rs`).
    pub(crate) async fn save_plain(&self, source: Source, opts: SaveOptions) -> Result<SaveOutcome> {
        match self.prepare_save(&source, &opts).await? {
            Prepared::InPlace { store, rel, key, suffix, is_folder } => {
                // Already inside a registered location: registered in place, no bytes written.
                self.register_in_place(store, &rel, key, suffix, is_folder, &opts).await
            }
            Prepared::Owned { store, is_folder, plan } => {
                self.save_owned(store, &source, is_folder, &plan, &opts).await
            }
        }
    }

    /// Everything a save checks and decides before any byte moves (shared with the bulk save).
    pub(crate) async fn prepare_save(&self, source: &Source, opts: &SaveOptions) -> Result<Prepared<'_>> {
        if opts.key.is_none() && opts.description.is_none() {
            return Err(Error::invalid_input(
                "an artifact needs a key or a description: pass --key PATH or --description TEXT",
            ));
        }
        let key = opts.key.as_deref().map(Key::parse).transpose()?;
        if let Some(tag) = &opts.version_tag
            && tag.trim().is_empty()
        {
            return Err(Error::invalid_input("a version tag cannot be empty; omit it or give text"));
        }
        let store = self.target_store(opts.storage.as_deref())?;
        let inspected = source.inspect(key.as_ref(), || key.as_ref().map(Key::suffix).unwrap_or_default())?;
        let Inspected { suffix, is_folder, .. } = inspected;
        if let Some(k) = &key {
            check_key_suffix(k, &suffix)?;
        }
        if let Some(p) = source.path()
            && let Some((in_store, rel)) = self.local_location_of(&crate::source::resolve(p)?)?
        {
            return Ok(Prepared::InPlace { store: in_store, rel, key, suffix, is_folder });
        }
        self.check_manages(&store.location)?;
        let real = key.is_some() && opts.real_key.unwrap_or(!self.instance().keys_virtual);
        let otype = inspected.otype.or_else(|| opts.otype.clone());
        let n_observations = inspected.n_observations.or(opts.n_observations);
        Ok(Prepared::Owned { store, is_folder, plan: Plan { key, suffix, real, otype, n_observations } })
    }

    /// The byte protocol of a save (design, section 3). The bytes go to the managed key of a uid
    /// this writer owns (a fresh family stem, or a version index reserved in the catalog), so no
    /// concurrent writer can write to, keep or delete them; they are written and hashed once.
    /// A lost race (another writer created the key's family first, identical content committed
    /// meanwhile, a busy catalog) is retried with the same bytes: moved to a newly owned uid if
    /// the family changed, never rewritten, never shared. On failure only this writer's own
    /// bytes are removed.
    async fn save_owned(
        &self,
        store: &Store,
        source: &Source,
        is_folder: bool,
        plan: &Plan,
        opts: &SaveOptions,
    ) -> Result<SaveOutcome> {
        let claim = self.claim_uid(store, plan, opts, None).await?;
        let managed_key = managed_storage_key(&claim.uid, &plan.suffix);
        let written = match source.write_to(store.store.as_ref(), &managed_key, is_folder, self.progress()).await {
            Ok(w) => w,
            Err(e) => {
                // Nothing is left at the managed key: give the reserved version back.
                self.release_claim(&claim).await;
                return Err(e);
            }
        };
        self.commit_owned(store, is_folder, plan, opts, claim, written).await
    }

    /// The second half of [`Trove::save_owned`] (also where a bulk save sends an item its
    /// batch could not commit): commit the row for bytes already written under the uid this
    /// writer owns, retrying lost races; on failure only these bytes are removed.
    pub(crate) async fn commit_owned(
        &self,
        store: &Store,
        is_folder: bool,
        plan: &Plan,
        opts: &SaveOptions,
        mut claim: Claim,
        mut written: Written,
    ) -> Result<SaveOutcome> {
        let started = std::time::Instant::now();
        let mut attempt: u32 = 0;
        loop {
            let committed = self.commit_save(store, &written, plan, opts, claim.head.clone(), claim.uid.clone()).await;
            let err = match committed {
                Ok(outcome @ (SaveOutcome::Existing { .. } | SaveOutcome::RestoredFromTrash { .. })) => {
                    // No record took the uid (its bytes are already removed): give it back.
                    self.release_claim(&claim).await;
                    return Ok(outcome);
                }
                Ok(outcome) => return self.place_if_real(store, outcome, plan, &written).await,
                Err(e) => e,
            };
            let lost_race = err.is_retryable() || (err.kind() == ErrorKind::StaleRevises && opts.revises.is_none());
            let retry = if lost_race && started.elapsed() < RETRY_BUDGET {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
                self.claim_uid(store, plan, opts, Some(&claim)).await
            } else {
                Err(err)
            };
            match retry {
                Ok(next) if next.uid == claim.uid => claim = next,
                Ok(next) => {
                    // The key's family changed: the bytes follow the uid this writer now owns.
                    let to = managed_storage_key(&next.uid, &plan.suffix);
                    let moved = local::move_artifact_bytes(store.store.as_ref(), &written.key, &to, is_folder).await;
                    if let Err(e) = moved {
                        self.discard_written(store, &claim, &written).await;
                        let _ =
                            local::remove_written(store.store.as_ref(), &Written { key: to, ..written.clone() }).await;
                        return Err(e);
                    }
                    written.key = to;
                    self.release_claim(&claim).await;
                    claim = next;
                }
                Err(e) => {
                    self.discard_written(store, &claim, &written).await;
                    return Err(e);
                }
            }
        }
    }

    /// Remove bytes this save wrote, unless a row with its uid made it in after all (a commit
    /// whose reply was lost). The uid is this writer's own, so no other writer's row can point
    /// at these bytes.
    pub(crate) async fn discard_written(&self, store: &Store, claim: &Claim, written: &Written) {
        if !matches!(self.catalog().artifact(&claim.uid).await, Ok(Some(_)))
            && local::remove_written(store.store.as_ref(), written).await.is_ok()
        {
            self.release_claim(claim).await;
        }
    }

    /// Give a reserved version index back, so a save that created no record leaves no gap in
    /// the family's version numbers (best effort: a gap is harmless, a reused suffix is not,
    /// and the catalog only releases an unconsumed reservation).
    pub(crate) async fn release_claim(&self, claim: &Claim) {
        if claim.uid.version_index() > 0 {
            let _ = self.catalog().release_version(&claim.uid.stem(), claim.uid.version_index()).await;
        }
    }

    /// The uid a save writes under, owned by this writer: the next version of the key's family
    /// (or of `revises`), reserved in the catalog, or a fresh family. After a lost race
    /// (`previous`), the previous claim is kept while the key still belongs to its family.
    async fn claim_uid(
        &self,
        store: &Store,
        plan: &Plan,
        opts: &SaveOptions,
        previous: Option<&Claim>,
    ) -> Result<Claim> {
        let catalog = self.catalog();
        let head = match (&plan.key, &opts.revises) {
            (Some(k), _) => catalog.family_head_by_key(store.location.id, k).await?,
            (None, Some(r)) => Some(catalog.artifact(r).await?.ok_or_else(|| {
                Error::not_found(format!(
                    "cannot revise {r}: no such artifact; check the uid with `trove ls --branch all`"
                ))
            })?),
            (None, None) => None,
        };
        if let (Some(r), Some(h)) = (&opts.revises, &head)
            && &h.uid != r
        {
            return Err(Error::new(
                ErrorKind::StaleRevises,
                format!("cannot revise {r}: the head of its family is now {}; revise that version instead", h.uid),
            ));
        }
        if let Some(prev) = previous {
            let same_family = match &head {
                Some(h) => prev.uid.version_index() > 0 && h.stem() == prev.uid.stem(),
                None => true,
            };
            if same_family {
                return Ok(Claim { uid: prev.uid.clone(), head: head.or_else(|| prev.head.clone()) });
            }
        }
        let uid = match &head {
            Some(h) => h.stem().uid(catalog.reserve_version(&h.stem()).await?)?,
            None => Uid::new_family(),
        };
        Ok(Claim { uid, head })
    }

    /// A real-key save's second half: move the committed (marked) record's bytes onto the key.
    /// On failure the record is rolled back to a valid state, its bytes in the managed area.
    async fn place_if_real(
        &self,
        store: &Store,
        outcome: SaveOutcome,
        plan: &Plan,
        written: &Written,
    ) -> Result<SaveOutcome> {
        let needs_placing = plan.real
            && matches!(outcome, SaveOutcome::Created { .. } | SaveOutcome::NewVersion { .. })
            && outcome.artifact().pending.is_some();
        if !needs_placing {
            return Ok(outcome);
        }
        let artifact = outcome.artifact().clone();
        let mark = artifact.pending.clone();
        // The key's previous occupant may be changing under a concurrent replace or purge (its
        // row's preconditions then fail): a transient conflict, so the placement is retried
        // from a fresh read of this record, which keeps its mark (and so the key) meanwhile.
        let started = std::time::Instant::now();
        let mut attempt = 0;
        let mut current = artifact.clone();
        let placed = loop {
            match self.place_real_key(store, current.clone(), written).await {
                Ok(a) => break Ok(a),
                Err(e) if (e.is_retryable() || e.kind() == ErrorKind::NotFound) && started.elapsed() < RETRY_BUDGET => {
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                    match self.catalog().artifact(&artifact.uid).await {
                        Ok(Some(fresh)) if fresh.pending == mark => current = fresh,
                        _ => break Err(e),
                    }
                }
                Err(e) => break Err(e),
            }
        };
        let placed = match placed {
            Ok(a) => a,
            Err(e) => {
                let _ = self
                    .catalog()
                    .update_artifact(
                        &artifact.uid,
                        &ArtifactUpdate { pending: Some(None), if_pending: Some(mark), ..Default::default() },
                    )
                    .await;
                return Err(Error::new(
                    e.kind(),
                    format!(
                        "saved {} but could not move its bytes to the real key: {e}; the artifact keeps them in the \
                         managed area",
                        artifact.label()
                    ),
                )
                .with_source(e));
            }
        };
        Ok(match outcome {
            SaveOutcome::NewVersion { previous, .. } => SaveOutcome::NewVersion { artifact: placed, previous },
            _ => SaveOutcome::Created { artifact: placed },
        })
    }

    /// Dedup, then insert the row. On any outcome other than a new row the written bytes are
    /// removed before returning.
    async fn commit_save(
        &self,
        store: &Store,
        written: &Written,
        plan: &Plan,
        opts: &SaveOptions,
        head: Option<Artifact>,
        uid: Uid,
    ) -> Result<SaveOutcome> {
        let catalog = self.catalog();
        let content = written.content.clone();
        // Empty files skip de-duplication (spec 2, section 5), as do deliberate duplicates.
        let dedup_exempt = opts.allow_duplicate || content.size == 0;
        if !dedup_exempt {
            let existing = catalog
                .artifacts(&ArtifactQuery {
                    branch: BranchSelection::All,
                    exclude_trash: true,
                    hash: Some(content.hash.clone()),
                    order: trove_domain::Order::Version,
                    ..ArtifactQuery::default()
                })
                .await?;
            let best = existing
                .iter()
                .find(|a| a.key == plan.key && a.is_latest && a.branch == BranchId::MAIN)
                .or_else(|| existing.iter().find(|a| a.key == plan.key))
                .or_else(|| existing.first());
            if let Some(found) = best {
                local::remove_written(store.store.as_ref(), written).await?;
                return Ok(SaveOutcome::Existing { artifact: found.clone() });
            }
            if let Some(k) = &plan.key {
                let trashed = catalog
                    .artifacts(
                        &ArtifactQuery::new()
                            .branch(BranchSelection::Only(BranchId::TRASH))
                            .key(k.as_str())
                            .hash(content.hash.clone())
                            .order(trove_domain::Order::Version),
                    )
                    .await?;
                if let Some(t) = trashed.last() {
                    let moved = catalog
                        .apply_transition(std::slice::from_ref(&t.uid), Operation::SaveIdentical)
                        .await
                        .map_err(|e| match e.kind() {
                            // Purged (or restored) by another process since the lookup: a lost
                            // race, so the save is retried and decides again.
                            ErrorKind::NotFound | ErrorKind::InvalidTransition => Error::conflict(format!(
                                "{} changed while this save restored it from the trash: {}",
                                t.label(),
                                e.message()
                            )),
                            _ => e,
                        })?;
                    local::remove_written(store.store.as_ref(), written).await?;
                    let artifact = moved.into_iter().next().map(|m| m.artifact).unwrap_or_else(|| t.clone());
                    return Ok(SaveOutcome::RestoredFromTrash { artifact });
                }
            }
        }
        // Only now that the save will create a row: a real key's path must be free (or hold an
        // older version of this family). De-duplication and restore-from-trash come first.
        if plan.real {
            self.check_real_key_free(store, plan.key.as_ref().expect("real keys have a key"), &uid).await?;
        }
        let managed_key = written.key.clone();
        let new = NewArtifact {
            uid,
            key: plan.key.clone(),
            description: opts.description.clone(),
            suffix: plan.suffix.clone(),
            kind: opts.kind.clone(),
            otype: plan.otype.clone(),
            content,
            n_files: written.n_files,
            n_observations: plan.n_observations,
            version_tag: opts.version_tag.clone(),
            storage: store.location.id,
            placement: Placement::Managed,
            created_by: self.user_id().await?,
            revises: head.as_ref().map(|h| h.uid.clone()),
            strict_revises: opts.revises.is_some(),
            pending: plan.real.then(|| Pending::PlacingRealKey {
                managed_key,
                target: plan.key.as_ref().map(|k| k.as_str().to_owned()),
            }),
            dedup_exempt,
            created_at: self.clock().now(),
        };
        let artifact = catalog.create_artifact(&new).await?;
        Ok(match head {
            Some(h) => SaveOutcome::NewVersion { artifact, previous: h.uid },
            None => SaveOutcome::Created { artifact },
        })
    }

    /// Refuse a real key whose path holds bytes that no version of this family owns.
    async fn check_real_key_free(&self, store: &Store, key: &Key, uid: &Uid) -> Result<()> {
        let occupied = if let Some(local) = store.store.local_path(key.as_str()) {
            tokio::fs::symlink_metadata(&local).await.is_ok()
        } else {
            store.store.stat(key.as_str()).await?.is_some() || !store.store.list(&format!("{key}/")).await?.is_empty()
        };
        if !occupied {
            return Ok(());
        }
        // The path's owner, from one snapshot of the key's rows: the record whose bytes are
        // there, or the one whose placement is moving its bytes there right now (the previous
        // occupant may already point at its managed copy).
        let rows = self.rows_with_key(store, key).await?;
        let key_family = self.catalog().family_head_by_key(store.location.id, key).await?.map(|h| h.stem());
        let owner = rows.iter().find(|a| a.storage_key() == key.as_str()).or_else(|| {
            rows.iter().find(|a| {
                matches!(&a.pending, Some(Pending::PlacingRealKey { target, .. })
                    if target.as_deref().is_none_or(|t| t == key.as_str()))
            })
        });
        match owner {
            Some(o) if o.stem() == uid.stem() => Ok(()),
            // The key's family, created by a concurrent writer after this save chose a new
            // family: a lost race, retried as that family's next version. (Another live family
            // holding the path while the key's head is elsewhere is no race: the path is taken.)
            Some(o) if key_family.as_ref() == Some(&o.stem()) => Err(Error::new(
                ErrorKind::StaleRevises,
                format!("key '{key}' now belongs to family {}: save again to add a version to it", o.stem()),
            )),
            Some(o) => Err(Error::new(
                ErrorKind::PathOccupied,
                format!(
                    "{} already holds the bytes of {}: choose another key, or save without --real-key",
                    store.store.display_path(key.as_str()),
                    o.label()
                ),
            )),
            None => Err(Error::new(
                ErrorKind::PathOccupied,
                format!(
                    "a file already exists at {} and belongs to no artifact: register it in place, or choose another key",
                    store.store.display_path(key.as_str())
                ),
            )),
        }
    }

    /// Every record (any branch, pending ones included) with this key in this location.
    async fn rows_with_key(&self, store: &Store, key: &Key) -> Result<Vec<Artifact>> {
        self.catalog()
            .artifacts(&ArtifactQuery {
                branch: BranchSelection::All,
                key: Some(key.as_str().to_owned()),
                storage: Some(store.location.id),
                include_pending: true,
                ..ArtifactQuery::default()
            })
            .await
    }

    /// The record whose bytes sit at a real key's path, if any.
    async fn real_key_occupant(&self, store: &Store, key: &Key) -> Result<Option<Artifact>> {
        Ok(self.rows_with_key(store, key).await?.into_iter().find(|a| a.storage_key() == key.as_str()))
    }

    /// Move a freshly saved real-key artifact's bytes from the managed area to its key. The
    /// previous occupant of the path (an older version) first gets a copy of its bytes in the
    /// managed area and its row updated, so every version stays readable (spec 2, section 3).
    /// Only one placement per key is in flight at a time (the catalog refuses a second marked
    /// row for the key), and only the family's newest version takes the key: a version that
    /// commits after a newer one keeps its bytes in the managed area.
    async fn place_real_key(&self, store: &Store, artifact: Artifact, written: &Written) -> Result<Artifact> {
        let key = artifact.key.clone().expect("real keys have a key");
        let from = written.key.clone();
        let mark = artifact.pending.clone();
        if !artifact.is_latest {
            return self
                .catalog()
                .update_artifact(
                    &artifact.uid,
                    &ArtifactUpdate { pending: Some(None), if_pending: Some(mark), ..Default::default() },
                )
                .await;
        }
        if let Some(occupant) = self.real_key_occupant(store, &key).await?
            && occupant.uid != artifact.uid
        {
            let target = managed_storage_key(&occupant.uid, &occupant.suffix);
            local::copy_artifact_bytes(store.store.as_ref(), key.as_str(), &target, occupant.is_folder()).await?;
            self.catalog()
                .update_artifact(
                    &occupant.uid,
                    &ArtifactUpdate {
                        placement: Some(Placement::Managed),
                        if_pending: Some(None),
                        if_hash: Some(occupant.hash.clone()),
                        ..Default::default()
                    },
                )
                .await?;
        }
        local::move_artifact_bytes(store.store.as_ref(), &from, key.as_str(), artifact.is_folder()).await?;
        self.catalog()
            .update_artifact(
                &artifact.uid,
                &ArtifactUpdate {
                    placement: Some(Placement::RealKey),
                    pending: Some(None),
                    if_pending: Some(mark),
                    ..Default::default()
                },
            )
            .await
    }

    /// Register a file or folder already inside the storage root, without copying. With no
    /// key, the key is its relative path (a real key); with another key, the key is virtual
    /// and the real path is remembered. The hash comes from the server's metadata where that
    /// is exact (an S3 single-part ETag, GCS's md5), else from reading the bytes.
    pub(crate) async fn register_in_place(
        &self,
        store: &Store,
        rel_str: &str,
        key: Option<Key>,
        suffix: String,
        is_folder: bool,
        opts: &SaveOptions,
    ) -> Result<SaveOutcome> {
        let rel_key = Key::parse(rel_str).map_err(|e| {
            Error::new(ErrorKind::InvalidKey, format!("cannot register {rel_str} in place: {}", e.message()))
        })?;
        crate::source::check_in_place(store.store.as_ref(), rel_key.as_str())?;
        let (key, placement) = match key {
            None => (rel_key.clone(), Placement::RealKey),
            Some(k) if k == rel_key => (k, Placement::RealKey),
            Some(k) => (k, Placement::InPlace { real_path: rel_key.as_str().to_owned() }),
        };
        if let Some(existing) = self.real_key_occupant(store, &rel_key).await? {
            return Ok(SaveOutcome::Existing { artifact: existing });
        }
        let in_place = self
            .catalog()
            .artifacts(
                &ArtifactQuery {
                    branch: BranchSelection::All,
                    storage: Some(store.location.id),
                    ..ArtifactQuery::default()
                }
                .key(key.as_str()),
            )
            .await?;
        if let Some(a) = in_place.into_iter().find(|a| a.storage_key() == rel_key.as_str()) {
            return Ok(SaveOutcome::Existing { artifact: a });
        }
        let (content, n_files): (ContentHash, Option<u64>) = if is_folder {
            let (c, n) = local::hash_stored_folder_fast(store.store.as_ref(), rel_key.as_str()).await?;
            (c, Some(n))
        } else {
            (local::hash_stored_file_fast(store.store.as_ref(), rel_key.as_str()).await?, None)
        };
        let head = self.catalog().family_head_by_key(store.location.id, &key).await?;
        let uid = match &head {
            Some(h) => h.stem().uid(self.catalog().reserve_version(&h.stem()).await?)?,
            None => Uid::new_family(),
        };
        let new = NewArtifact {
            uid,
            key: Some(key),
            description: opts.description.clone(),
            suffix,
            kind: opts.kind.clone(),
            otype: None,
            content,
            n_files,
            n_observations: None,
            version_tag: opts.version_tag.clone(),
            storage: store.location.id,
            placement,
            created_by: self.user_id().await?,
            revises: head.as_ref().map(|h| h.uid.clone()),
            strict_revises: false,
            pending: None,
            // Registered in place: no de-duplication lookup (spec 2, section 5).
            dedup_exempt: true,
            created_at: self.clock().now(),
        };
        let artifact = self.catalog().create_artifact(&new).await?;
        Ok(match head {
            Some(h) => SaveOutcome::NewVersion { artifact, previous: h.uid },
            None => SaveOutcome::Created { artifact },
        })
    }
}
