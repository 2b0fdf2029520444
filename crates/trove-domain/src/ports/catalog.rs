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
///   batch with any invalid record changes nothing;
/// * the marks of the byte protocols are compare-and-set: a unit of work marks only an unmarked
///   record and settles only the mark it is given, else [`crate::ErrorKind::Conflict`]; a
///   record's content changes only through [`Catalog::commit_replace`].
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

    /// Delete the instance's catalog: every table of Trove's schema is dropped, so the
    /// database (or file) is as it was before the first connect. Callers delete the artifacts'
    /// bytes they mean to delete first; nothing can be recovered afterwards.
    async fn destroy(&self) -> Result<()>;

    /// Unregister a storage location. Refused with [`crate::ErrorKind::Protected`] while any
    /// artifact (any branch, the trash and records being deleted included) lives there, and
    /// with [`crate::ErrorKind::InvalidTransition`] for the instance's default location; a
    /// missing id is [`crate::ErrorKind::NotFound`]. Returns the location as it was.
    async fn remove_storage(&self, id: StorageId) -> Result<StorageLocation>;

    /// Every registered storage location.
    async fn storages(&self) -> Result<Vec<StorageLocation>>;

    /// Make a registered storage location the instance's default for writes. Errors with
    /// [`crate::ErrorKind::NotFound`] if no location has this id, and with
    /// [`crate::ErrorKind::Instance`] if the catalog holds no instance. Idempotent.
    async fn set_default_storage(&self, id: StorageId) -> Result<Instance>;

    /// The user with this handle, created if missing.
    async fn ensure_user(&self, handle: &str) -> Result<User>;

    // ----- queries -----

    /// The record with this uid on any branch; `None` if missing or being purged.
    async fn artifact(&self, uid: &Uid) -> Result<Option<Artifact>>;

    /// Records matching the query.
    async fn artifacts(&self, query: &ArtifactQuery) -> Result<Vec<Artifact>>;

    /// How many records match the query (ignoring limit and offset).
    async fn count_artifacts(&self, query: &ArtifactQuery) -> Result<u64>;

    /// The highest version index a family has ever had: over all branches, trash and purging
    /// rows included, and versions deleted permanently too (a per-family high-water mark, so a
    /// suffix is never reused; spec 1 section 4 invariant 4). `None` if the family never existed.
    async fn max_version(&self, stem: &Stem) -> Result<Option<u32>>;

    /// The family a new artifact with this key joins: the head of the newest non-trashed,
    /// non-purging family holding `key` in `storage` (main preferred over archive).
    async fn family_head_by_key(&self, storage: StorageId, key: &Key) -> Result<Option<Artifact>>;

    // ----- units of work -----

    /// Reserve the next version index of an existing family: atomically raise the family's
    /// high-water mark past every version it has ever had and return the new index. No other
    /// call ever returns the same index for this family, so a writer owns the uid
    /// `stem.uid(index)` (and the object key derived from it) from now on, whether or not it
    /// ever commits a record with it: an unused index stays a gap and is never reused.
    /// [`crate::ErrorKind::NotFound`] if the family never existed.
    async fn reserve_version(&self, stem: &Stem) -> Result<u32>;

    /// Give back a reservation that no record used (the save found identical content, or
    /// failed, and removed its bytes first). If it is still the family's highest index, the
    /// high-water mark goes back down, so a lost save leaves no gap in the version numbers;
    /// otherwise the index stays a gap. A reservation already consumed by
    /// [`Catalog::create_artifact`], or never made, is left alone (`Ok`).
    async fn release_version(&self, stem: &Stem, index: u32) -> Result<()>;

    /// Insert a record. In the same transaction:
    /// * version index 0 starts a family: the stem must never have existed, else
    ///   [`crate::ErrorKind::Conflict`]; with a key, the key must have no family (as
    ///   [`Catalog::family_head_by_key`]), else [`crate::ErrorKind::StaleRevises`] (a concurrent
    ///   writer created one first: join it);
    /// * a higher index joins the family: the index must have been reserved with
    ///   [`Catalog::reserve_version`] and be unused, else [`crate::ErrorKind::Conflict`]; with a
    ///   key, the key's family must be this one (or the key must have none), else
    ///   [`crate::ErrorKind::StaleRevises`]; with `strict_revises`, `revises` must still be the
    ///   family's head (the key's head, or the head on main without a key), else
    ///   [`crate::ErrorKind::StaleRevises`];
    /// * the record lands on main, and the family's heads are recomputed: the new record is
    ///   `is_latest` unless a concurrent writer already committed a higher version.
    async fn create_artifact(&self, new: &NewArtifact) -> Result<Artifact>;

    /// Insert many records in one transaction (a bulk save), all or none: every record is
    /// checked exactly as [`Catalog::create_artifact`] checks one (in order, each seeing the
    /// ones before it), and if any check fails nothing is inserted and that record's error is
    /// returned (its message names it). Returns the records as committed, in the order given.
    /// Set-based: the checks and inserts cost a constant number of statements per few hundred
    /// records, not several per record.
    async fn create_artifacts(&self, new: &[NewArtifact]) -> Result<Vec<Artifact>>;

    /// Apply a branch operation ([`Operation::Trash`], [`Operation::Archive`],
    /// [`Operation::Restore`], [`Operation::SaveIdentical`]) to every uid, set-based, in one
    /// transaction. Each record's result comes from [`crate::lifecycle::transition`]; if any
    /// uid is missing or its transition is an error, nothing changes and that error is
    /// returned. Heads are recomputed for every touched family on every touched branch.
    /// Trashing records the branch it came from and when; restoring clears it.
    async fn apply_transition(&self, uids: &[Uid], op: Operation) -> Result<Vec<TransitionResult>>;

    /// First half of permanent deletion: mark the records [`crate::Pending::Purging`] with the
    /// storage policy (hiding them) and recompute heads. Records already marked purging are
    /// accepted again (retry; the new policy is recorded). Returns the records as they were.
    /// Missing uids are a [`crate::ErrorKind::NotFound`] error and nothing is marked. A record
    /// that another operation has marked (a replace, a real-key placement) is
    /// [`crate::ErrorKind::Conflict`] and nothing is marked. A record that belongs to any
    /// collection (any branch) is [`crate::ErrorKind::Protected`], with a message naming the
    /// collections, and nothing is marked: the check runs inside the marking transaction, so it
    /// holds under concurrency.
    async fn begin_purge(&self, uids: &[Uid], policy: crate::StoragePolicy) -> Result<Vec<Artifact>>;

    /// [`Catalog::begin_purge`] of only those records that are on `branch` when the marks are
    /// set: a record restored (or moved) since the caller listed it, or already gone, is
    /// skipped, not an error. Returns the records marked, as they were, and the uids skipped.
    /// Used to empty the trash without ever deleting a record someone has just restored.
    async fn begin_purge_on(
        &self,
        uids: &[Uid],
        policy: crate::StoragePolicy,
        branch: crate::BranchId,
    ) -> Result<(Vec<Artifact>, Vec<Uid>)>;

    /// Second half: delete the rows of records marked purging (and their label links). Returns
    /// how many went. The family's version high-water mark stays.
    async fn finish_purge(&self, uids: &[Uid]) -> Result<u64>;

    /// Clear the purging mark (the bytes were not touched), recomputing heads.
    async fn abort_purge(&self, uids: &[Uid]) -> Result<()>;

    /// First half of a replace (design, section 3): mark the record with `staged`, a
    /// [`crate::Pending::Replacing`] naming the staged bytes, the new content and where it goes.
    /// Only an unmarked record whose content hash is still `expected_hash` is marked; otherwise
    /// [`crate::ErrorKind::Conflict`] (a concurrent replace, purge or placement got there first)
    /// and nothing changes. The record keeps describing its old content until
    /// [`Catalog::commit_replace`]. A missing uid is [`crate::ErrorKind::NotFound`]; a `staged`
    /// marker of another kind is [`crate::ErrorKind::InvalidInput`]. Returns the marked record.
    async fn begin_replace(&self, uid: &Uid, expected_hash: &str, staged: &crate::Pending) -> Result<Artifact>;

    /// Second half: the record takes the new content recorded in `marker` (suffix, key,
    /// placement, size, hash, counts) and the mark clears, in one transaction, only if the record
    /// still carries exactly `marker`; otherwise [`crate::ErrorKind::Conflict`] and nothing
    /// changes. Replaced content is exempt from de-duplication (it is in place, spec 2 section
    /// 6), so it may equal another record's content under the same key. Uid, version, branch and
    /// heads do not change. Returns the record as committed.
    async fn commit_replace(&self, uid: &Uid, marker: &crate::Pending) -> Result<Artifact>;

    /// Roll a replace back: clear the mark, leaving the old content, only if the record still
    /// carries exactly `marker`; otherwise [`crate::ErrorKind::Conflict`] and nothing changes.
    async fn abort_replace(&self, uid: &Uid, marker: &crate::Pending) -> Result<Artifact>;

    /// Update one record's metadata, placement or placement mark. Errors with NotFound if it is
    /// missing, and with [`crate::ErrorKind::Conflict`] (changing nothing) if a precondition of
    /// the update (`if_pending`, `if_hash`) does not hold. The marks of the byte protocols are
    /// left to their units of work: setting a [`crate::Pending::Replacing`] or
    /// [`crate::Pending::Purging`] mark is [`crate::ErrorKind::InvalidInput`], and clearing one
    /// is [`crate::ErrorKind::Conflict`].
    async fn update_artifact(&self, uid: &Uid, update: &ArtifactUpdate) -> Result<Artifact>;

    /// Every record with a pending marker (for `fsck`), purging ones included.
    async fn pending_artifacts(&self) -> Result<Vec<Artifact>>;

    // ----- collections (spec 1, section 6) -----
    //
    // Collections and labels have default implementations that answer
    // [`crate::ErrorKind::Unsupported`], so a catalog written before them still compiles; such a
    // catalog can never hold a membership, so `begin_purge` needs no protection check there.
    // Guarantees (checked by the conformance suite): the head invariant and never-reused
    // version indexes hold for collection families as for artifact families; transitions are
    // validated with [`crate::lifecycle::transition`] per record and a batch with any invalid
    // record changes nothing; no collection or label operation ever changes an artifact row.

    /// Insert a collection and its membership rows (positions in `new.members` order). In the
    /// same transaction: with a key, the head of the newest non-trashed family holding the key
    /// (main preferred) must equal `new.revises`, else [`crate::ErrorKind::StaleRevises`]; the
    /// version index must follow the family's high-water mark (else
    /// [`crate::ErrorKind::Conflict`]); every member must exist and not be being purged
    /// ([`crate::ErrorKind::NotFound`] naming them) and appear once
    /// ([`crate::ErrorKind::InvalidInput`]); the family's head on main is demoted and the new
    /// collection lands on main as head. Member families are locked, so a concurrent
    /// [`Catalog::begin_purge`] of a member either sees the membership or makes the member
    /// invisible first.
    async fn create_collection(&self, new: &crate::NewCollection) -> Result<crate::Collection> {
        let _ = new;
        Err(unsupported("collections"))
    }

    /// Collections matching the query, newest first, each with its members in order.
    async fn collections(&self, query: &crate::CollectionQuery) -> Result<Vec<crate::Collection>> {
        let _ = query;
        Err(unsupported("collections"))
    }

    /// The head of the newest non-trashed collection family holding `key` (main preferred over
    /// user branches over the archive).
    async fn collection_head_by_key(&self, key: &str) -> Result<Option<crate::Collection>> {
        let _ = key;
        Err(unsupported("collections"))
    }

    /// The high-water mark of a collection family's version index (never goes down, even when
    /// versions are deleted permanently); `None` if the family never existed.
    async fn max_collection_version(&self, stem: &Stem) -> Result<Option<u32>> {
        let _ = stem;
        Err(unsupported("collections"))
    }

    /// [`Catalog::apply_transition`] for collections: set-based, one transaction, heads
    /// recomputed, trash remembers the origin. Member artifacts are never touched.
    async fn apply_collection_transition(
        &self,
        uids: &[Uid],
        op: Operation,
    ) -> Result<Vec<crate::CollectionTransitionResult>> {
        let _ = (uids, op);
        Err(unsupported("collections"))
    }

    /// Delete collections permanently, in one transaction: their membership and label link
    /// rows, then their rows; heads recomputed. Member artifacts are never touched. A missing
    /// uid is [`crate::ErrorKind::NotFound`] and nothing is deleted. Returns the collections
    /// as they were.
    async fn purge_collections(&self, uids: &[Uid]) -> Result<Vec<crate::Collection>> {
        let _ = uids;
        Err(unsupported("collections"))
    }

    // ----- labels -----

    /// Create a label on main. A name already taken (on any branch) is
    /// [`crate::ErrorKind::Conflict`].
    async fn create_label(&self, new: &crate::NewLabel) -> Result<crate::Label> {
        let _ = new;
        Err(unsupported("labels"))
    }

    /// Labels matching the query, by name.
    async fn labels(&self, query: &crate::LabelQuery) -> Result<Vec<crate::Label>> {
        let _ = query;
        Err(unsupported("labels"))
    }

    /// Attach a live label to records (any branch; idempotent). A missing or non-live label,
    /// or a missing target, is an error and nothing is attached. Returns how many links are new.
    async fn attach_label(&self, name: &str, targets: &[crate::Labeled]) -> Result<u64> {
        let _ = (name, targets);
        Err(unsupported("labels"))
    }

    /// Detach a label from records (missing links are ignored). Returns how many links went.
    async fn detach_label(&self, name: &str, targets: &[crate::Labeled]) -> Result<u64> {
        let _ = (name, targets);
        Err(unsupported("labels"))
    }

    /// [`Catalog::apply_transition`] for labels, by name. Links are never touched.
    async fn apply_label_transition(
        &self,
        names: &[String],
        op: Operation,
    ) -> Result<Vec<crate::LabelTransitionResult>> {
        let _ = (names, op);
        Err(unsupported("labels"))
    }

    /// Delete labels permanently. A label still attached to anything is
    /// [`crate::ErrorKind::Protected`] (the message says to detach it first); a missing one is
    /// [`crate::ErrorKind::NotFound`]; either way nothing is deleted. Returns them as they were.
    async fn purge_labels(&self, names: &[String]) -> Result<Vec<crate::Label>> {
        let _ = names;
        Err(unsupported("labels"))
    }
}

fn unsupported(what: &str) -> crate::Error {
    crate::Error::new(crate::ErrorKind::Unsupported, format!("this catalog backend does not support {what}"))
}
