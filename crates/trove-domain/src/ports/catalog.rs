use async_trait::async_trait;

use crate::entity::{
    Artifact, ArtifactQuery, ArtifactUpdate, Instance, InstanceInit, NewArtifact, NewStorage, StorageId,
    StorageLocation, TransitionResult, User,
};
use crate::error::Result;
use crate::ids::{Stem, Uid};
use crate::key::Key;
use crate::lifecycle::Operation;

/// The catalog port. Every method is one unit of work: it either commits entirely or changes
/// nothing. Implementations map driver failures to [`crate::ErrorKind::Catalog`], unique
/// constraint races to [`crate::ErrorKind::Conflict`] (the façade retries those).
///
/// Guarantees every implementation keeps, checked by `trove-testkit`'s conformance suite:
/// * after every call, each version family has exactly one `is_latest` record per branch that
///   holds any of its (non-purging) versions, and it is the one with the highest version index;
/// * records marked [`crate::Pending::Purging`] are invisible to every query;
/// * version indexes are unique per family (a unique constraint, not luck);
/// * transitions are validated with [`crate::lifecycle::transition`] for every record, and a
///   batch with any invalid record changes nothing.
#[async_trait]
pub trait Catalog: Send + Sync + std::fmt::Debug {
    /// `"sqlite"`, `"postgresql"`, ...
    fn backend(&self) -> &'static str;

    // ----- instance, storage locations, users -----

    /// Create the instance: its row, the fixed branches (if not seeded by migrations), the
    /// first storage location (made default) and the first user. Errors with
    /// [`crate::ErrorKind::Instance`] if the catalog already holds an instance.
    async fn init_instance(&self, init: &InstanceInit) -> Result<Instance>;

    /// The instance, or `None` if the catalog is empty.
    async fn instance(&self) -> Result<Option<Instance>>;

    /// Register another storage location.
    async fn add_storage(&self, new: &NewStorage) -> Result<StorageLocation>;

    /// Every registered storage location.
    async fn storages(&self) -> Result<Vec<StorageLocation>>;

    /// The user with this handle, created if missing.
    async fn ensure_user(&self, handle: &str) -> Result<User>;

    // ----- queries -----

    /// The record with this uid on any branch; `None` if missing or being purged.
    async fn artifact(&self, uid: &Uid) -> Result<Option<Artifact>>;

    /// Records matching the query.
    async fn artifacts(&self, query: &ArtifactQuery) -> Result<Vec<Artifact>>;

    /// How many records match the query (ignoring limit and offset).
    async fn count_artifacts(&self, query: &ArtifactQuery) -> Result<u64>;

    /// The highest version index of a family over all branches, trash and purging rows
    /// included; `None` if the family has no rows.
    async fn max_version(&self, stem: &Stem) -> Result<Option<u32>>;

    /// The family a new artifact with this key joins: the head of the newest non-trashed,
    /// non-purging family holding `key` in `storage` (main preferred over archive).
    async fn family_head_by_key(&self, storage: StorageId, key: &Key) -> Result<Option<Artifact>>;

    // ----- units of work -----

    /// Insert a record. In the same transaction: if `new.key` is set, the family head for the
    /// key (as [`Catalog::family_head_by_key`]) must equal `new.revises`, else
    /// [`crate::ErrorKind::StaleRevises`] (a concurrent writer won); if `new.revises` is set,
    /// `new.uid` must be in its family with version index = family maximum + 1, else
    /// [`crate::ErrorKind::Conflict`]; the family's head on main is demoted and the new record,
    /// which lands on main, becomes `is_latest`.
    async fn create_artifact(&self, new: &NewArtifact) -> Result<Artifact>;

    /// Apply a branch operation ([`Operation::Trash`], [`Operation::Archive`],
    /// [`Operation::Restore`], [`Operation::SaveIdentical`]) to every uid, set-based, in one
    /// transaction. Each record's result comes from [`crate::lifecycle::transition`]; if any
    /// uid is missing or its transition is an error, nothing changes and that error is
    /// returned. Heads are recomputed for every touched family on every touched branch.
    /// Trashing records the branch it came from and when; restoring clears it.
    async fn apply_transition(&self, uids: &[Uid], op: Operation) -> Result<Vec<TransitionResult>>;

    /// First half of permanent deletion: mark the records [`crate::Pending::Purging`] (hiding
    /// them) and recompute heads. Records already marked purging are accepted again (retry).
    /// Returns the records as they were. Missing uids are a [`crate::ErrorKind::NotFound`]
    /// error and nothing is marked.
    async fn begin_purge(&self, uids: &[Uid]) -> Result<Vec<Artifact>>;

    /// Second half: delete the rows of records marked purging. Returns how many went.
    async fn finish_purge(&self, uids: &[Uid]) -> Result<u64>;

    /// Clear the purging mark (the bytes were not touched), recomputing heads.
    async fn abort_purge(&self, uids: &[Uid]) -> Result<()>;

    /// Update one record. Errors with NotFound if it is missing.
    async fn update_artifact(&self, uid: &Uid, update: &ArtifactUpdate) -> Result<Artifact>;

    /// Every record with a pending marker (for `fsck`), purging ones included.
    async fn pending_artifacts(&self) -> Result<Vec<Artifact>>;
}
