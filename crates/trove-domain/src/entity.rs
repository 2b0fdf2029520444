//! Catalog records: instances, storage locations, users, artifacts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::branch::{BranchId, BranchSelection};
use crate::hash::{ContentHash, HashType};
use crate::ids::{Stem, Uid};
use crate::key::{Key, Placement, storage_key};
use crate::lifecycle::{BytesOwner, RecordState, StoragePolicy};

/// Catalog id of a storage location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StorageId(pub i64);

/// Catalog id of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub i64);

/// An instance: one catalog plus its storage locations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// 12-character base62 id, written into each managed root's marker.
    pub uid: String,
    /// A human name (defaults to the root folder's name).
    pub name: String,
    /// Whether new keys are virtual (bytes in the managed area; the default) or real.
    pub keys_virtual: bool,
    /// Where new artifacts are written.
    pub default_storage: Option<StorageId>,
    /// When the instance was created.
    pub created_at: DateTime<Utc>,
}

/// What `init` needs to create an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceInit {
    /// The new instance's uid.
    pub uid: String,
    /// Its name.
    pub name: String,
    /// Whether keys are virtual by default.
    pub keys_virtual: bool,
    /// The first (default) storage location.
    pub storage: NewStorage,
    /// The first user.
    pub user_handle: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A registered storage location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageLocation {
    /// Catalog id.
    pub id: StorageId,
    /// 12-character base62 id, written into the root's marker.
    pub uid: String,
    /// The root: an absolute normalised local path, `s3://bucket/prefix` or `gs://bucket/prefix`.
    pub root: String,
    /// Region, for cloud roots.
    pub region: Option<String>,
    /// Uid of the instance that manages the root (writes and byte deletion go through it).
    pub instance_uid: String,
    /// Non-secret settings (an S3 endpoint override, say). Never credentials.
    pub settings: serde_json::Value,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

/// A storage location to register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewStorage {
    /// Its uid.
    pub uid: String,
    /// Its root (see [`StorageLocation::root`]).
    pub root: String,
    /// Region, for cloud roots.
    pub region: Option<String>,
    /// The managing instance.
    pub instance_uid: String,
    /// Non-secret settings.
    pub settings: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A user recorded as `created_by`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Catalog id.
    pub id: UserId,
    /// Login-style handle.
    pub handle: String,
}

/// An operation that touches bytes and is not finished: the row records enough for `fsck`
/// to complete it or roll it back (design, section 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Pending {
    /// Being deleted permanently: hidden from every query; bytes being removed under this
    /// storage policy (recorded so that `fsck` finishes the deletion the user asked for).
    Purging {
        /// The policy the deletion was asked with (rows marked before it was recorded: auto).
        #[serde(default)]
        policy: StoragePolicy,
    },
    /// Bytes being moved from the record's own managed copy at `managed_key` to a user-visible
    /// place: its real key, or its family's shared store. Rolling back is always safe while the
    /// managed copy is complete: the record stays valid with a virtual key.
    PlacingRealKey {
        /// Where the bytes are now.
        managed_key: String,
        /// Where they go: the real key, or the shared store's key (`None` in marks written
        /// before this was recorded: the record's key).
        #[serde(default)]
        target: Option<String>,
    },
    /// Content being replaced (`Catalog::begin_replace`): the new bytes are staged at
    /// `staged_key`. Together with the row, which keeps describing and pointing at the old
    /// content until `Catalog::commit_replace`, this is everything `fsck` needs: finish (the new
    /// content is at `target_key`, or the complete staged copy can be moved there) or roll back
    /// (the old content is intact at the row's storage key).
    Replacing {
        /// Where the new bytes are staged.
        staged_key: String,
        /// The metadata the record takes once the bytes are in place.
        new: ContentUpdate,
        /// Where the new bytes go (differs from the current storage key on a suffix change).
        target_key: String,
    },
}

/// Content metadata that a replace changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentUpdate {
    /// New suffix.
    pub suffix: String,
    /// New key (a suffix change renames it).
    pub key: Option<Key>,
    /// New placement (a suffix change renames an in-place real path).
    pub placement: Placement,
    /// New size.
    pub size: u64,
    /// New hash.
    pub hash: String,
    /// New hash type.
    pub hash_type: HashType,
    /// New file count (folders).
    pub n_files: Option<u64>,
    /// New row count (tabular).
    pub n_observations: Option<u64>,
}

/// An artifact record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// 20-character uid: 16-character family stem + 4-character version.
    pub uid: Uid,
    /// Optional user path.
    pub key: Option<Key>,
    /// Optional text; one of key or description is set.
    pub description: Option<String>,
    /// Canonical suffix (`.csv`, `.ome.zarr`, or empty).
    pub suffix: String,
    /// Free text such as `dataset` or `model`.
    pub kind: Option<String>,
    /// `DataFrame` for tabular data.
    pub otype: Option<String>,
    /// Bytes (sum over files for folders).
    pub size: u64,
    /// Content hash, 22 characters.
    pub hash: String,
    /// How the hash was computed.
    pub hash_type: HashType,
    /// Number of files, for folders; `None` for files.
    pub n_files: Option<u64>,
    /// Rows, for tabular artifacts.
    pub n_observations: Option<u64>,
    /// Optional user label for the version, unique within the family.
    pub version_tag: Option<String>,
    /// Head of its family on its branch.
    pub is_latest: bool,
    /// The branch it is on.
    pub branch: BranchId,
    /// For trashed records: the branch it was trashed from.
    pub trashed_from: Option<BranchId>,
    /// When it last changed branch.
    pub branch_changed_at: Option<DateTime<Utc>>,
    /// The storage location holding its bytes.
    pub storage: StorageId,
    /// Where the bytes live relative to the key.
    pub placement: Placement,
    /// Handle of the user who created it.
    pub created_by: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// An unfinished byte-touching operation, if any.
    pub pending: Option<Pending>,
}

impl Artifact {
    /// The family stem.
    pub fn stem(&self) -> Stem {
        self.uid.stem()
    }

    /// The version index.
    pub fn version_index(&self) -> u32 {
        self.uid.version_index()
    }

    /// Whether this is a folder.
    pub fn is_folder(&self) -> bool {
        self.n_files.is_some()
    }

    /// The path of its bytes inside the storage root.
    pub fn storage_key(&self) -> String {
        storage_key(&self.uid, self.key.as_ref(), &self.suffix, &self.placement)
    }

    /// Its lifecycle state.
    pub fn state(&self) -> RecordState {
        RecordState::of(self.branch, self.trashed_from)
    }

    /// Who owns its bytes' path, given whether this instance manages its storage.
    pub fn bytes_owner(&self, managed_here: bool) -> BytesOwner {
        match (&self.placement, &self.key) {
            _ if !managed_here => BytesOwner::Foreign,
            (Placement::InPlace { .. }, _) | (Placement::RealKey, Some(_)) => BytesOwner::UserPath,
            _ => BytesOwner::Managed,
        }
    }

    /// A one-line name for messages: key or description, and uid.
    pub fn label(&self) -> String {
        match (&self.key, &self.description) {
            (Some(k), _) => format!("artifact '{k}' ({})", self.uid),
            (None, Some(d)) => format!("artifact \"{d}\" ({})", self.uid),
            (None, None) => format!("artifact {}", self.uid),
        }
    }
}

/// A new artifact row, as the façade hands it to [`crate::ports::Catalog::create_artifact`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewArtifact {
    /// The uid: a fresh stem with version 0 for a new family, or, for a new version, the
    /// family's stem with a version index this writer reserved with
    /// [`crate::ports::Catalog::reserve_version`] (so no other writer can choose the same uid,
    /// nor the object key derived from it).
    pub uid: Uid,
    /// Key.
    pub key: Option<Key>,
    /// Description.
    pub description: Option<String>,
    /// Suffix.
    pub suffix: String,
    /// Kind.
    pub kind: Option<String>,
    /// Otype.
    pub otype: Option<String>,
    /// Content hash, type and size.
    pub content: ContentHash,
    /// File count, for folders.
    pub n_files: Option<u64>,
    /// Row count, for tabular data.
    pub n_observations: Option<u64>,
    /// Version tag.
    pub version_tag: Option<String>,
    /// Storage location.
    pub storage: StorageId,
    /// Placement.
    pub placement: Placement,
    /// Creating user.
    pub created_by: UserId,
    /// The head this version follows (`None` starts a new family).
    pub revises: Option<Uid>,
    /// Whether `revises` must still be the family's head when the record commits (the user
    /// named it): a stale one is [`crate::ErrorKind::StaleRevises`]. Otherwise concurrent new
    /// versions of one family all commit, each under its own reserved version index.
    #[serde(default)]
    pub strict_revises: bool,
    /// Marker for an unfinished placement (real keys).
    pub pending: Option<Pending>,
    /// Saved without the de-duplication lookup (on purpose, empty content, or registered in
    /// place): such rows may repeat the content of another row under the same key, which the
    /// catalog otherwise refuses.
    #[serde(default)]
    pub dedup_exempt: bool,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A partial update of one artifact row: metadata, placement, and the placement mark
/// ([`Pending::PlacingRealKey`]). Content changes only through the replace units of work
/// (`Catalog::begin_replace`, `commit_replace`), and purge marks only through `begin_purge`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactUpdate {
    /// New placement.
    pub placement: Option<Placement>,
    /// New placement mark (`Some(None)` clears it). Only [`Pending::PlacingRealKey`] is set or
    /// cleared here.
    pub pending: Option<Option<Pending>>,
    /// New description.
    pub description: Option<Option<String>>,
    /// New version tag.
    pub version_tag: Option<Option<String>>,
    /// Precondition: apply only if the row's pending marker is exactly this (`Some(None)`:
    /// unmarked), else [`crate::ErrorKind::Conflict`] and nothing changes. Byte protocols use it
    /// so that a writer only ever sets a mark on an unmarked row and clears its own mark.
    pub if_pending: Option<Option<Pending>>,
    /// Precondition: apply only if the row's content hash is still this, else
    /// [`crate::ErrorKind::Conflict`] (a concurrent replace changed it).
    pub if_hash: Option<String>,
}

/// Sort order of query results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Order {
    /// Newest first (by creation time, then uid).
    #[default]
    NewestFirst,
    /// By key, then version.
    Key,
    /// By family, then version ascending.
    Version,
}

/// One filter value for listing, lookup and bulk selection (design, section 1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactQuery {
    /// Branches to look at; default `main` only.
    pub branch: BranchSelection,
    /// Exclude the trash even when `branch` is `All` (de-duplication looks everywhere but there).
    pub exclude_trash: bool,
    /// Only these uids.
    pub uids: Option<Vec<Uid>>,
    /// Only this family.
    pub stem: Option<Stem>,
    /// Exact key.
    pub key: Option<String>,
    /// Any of these exact keys (set-based lookup of many keys in one query).
    pub keys: Option<Vec<String>>,
    /// Key prefix (literal, not a pattern).
    pub key_prefix: Option<String>,
    /// Exact content hash.
    pub hash: Option<String>,
    /// Any of these content hashes (set-based de-duplication of many saves in one query).
    pub hashes: Option<Vec<String>>,
    /// Only this storage location.
    pub storage: Option<StorageId>,
    /// Only heads (`is_latest`).
    pub latest_only: bool,
    /// Only records that changed branch before this time (trash retention).
    pub branch_changed_before: Option<DateTime<Utc>>,
    /// Include records with a pending marker other than purging (purging rows are never listed).
    pub include_pending: bool,
    /// Only records carrying every one of these labels (by name; a label matches on any of its
    /// branches, since the query names it explicitly).
    pub labels: Option<Vec<String>>,
    /// Order.
    pub order: Order,
    /// At most this many.
    pub limit: Option<u64>,
    /// Skip this many. Prefer [`ArtifactQuery::after`] for paging: an offset makes the
    /// catalog read and discard every skipped row.
    pub offset: Option<u64>,
    /// Keyset paging: only records after this cursor in the query's order (the cursor of the
    /// last record of the previous page, [`Cursor::after`]). Pages never repeat or skip a
    /// record that exists throughout, whatever is added or removed meanwhile.
    pub after: Option<Cursor>,
}

/// A position in a listing, for keyset paging: the sort values of the last record of a page
/// (every order the catalog offers resumes from these). Opaque text for people and scripts
/// ([`Cursor::encode`], [`Cursor::parse`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The record's key.
    pub key: Option<String>,
    /// Its family.
    pub stem: String,
    /// Its version index.
    pub version_index: u32,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Its uid.
    pub uid: String,
}

impl Cursor {
    /// The position just after `a`.
    pub fn after(a: &Artifact) -> Cursor {
        Cursor {
            key: a.key.as_ref().map(|k| k.as_str().to_owned()),
            stem: a.stem().as_str().to_owned(),
            version_index: a.uid.version_index(),
            created_at: a.created_at,
            uid: a.uid.as_str().to_owned(),
        }
    }

    /// The cursor as URL-safe text (what `trove ls` prints and `--after` takes).
    pub fn encode(&self) -> String {
        use base64::Engine;
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// Read a cursor made by [`Cursor::encode`].
    pub fn parse(text: &str) -> crate::Result<Cursor> {
        use base64::Engine;
        let bad = || {
            crate::Error::invalid_input(format!(
                "'{text}' is not a listing cursor: pass the cursor a previous page printed (`next page: --after ...`)"
            ))
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| bad())?;
        serde_json::from_slice(&bytes).map_err(|_| bad())
    }
}

impl ArtifactQuery {
    /// The default view: main only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Select a branch selection.
    pub fn branch(mut self, b: BranchSelection) -> Self {
        self.branch = b;
        self
    }

    /// Exact key.
    pub fn key(mut self, k: impl Into<String>) -> Self {
        self.key = Some(k.into());
        self
    }

    /// Key prefix.
    pub fn key_prefix(mut self, p: impl Into<String>) -> Self {
        self.key_prefix = Some(p.into());
        self
    }

    /// Exact hash.
    pub fn hash(mut self, h: impl Into<String>) -> Self {
        self.hash = Some(h.into());
        self
    }

    /// One family.
    pub fn stem(mut self, s: Stem) -> Self {
        self.stem = Some(s);
        self
    }

    /// These uids.
    pub fn uids(mut self, uids: Vec<Uid>) -> Self {
        self.uids = Some(uids);
        self
    }

    /// Only records carrying this label (added to any labels asked for already).
    pub fn label(mut self, name: impl Into<String>) -> Self {
        self.labels.get_or_insert_with(Vec::new).push(name.into());
        self
    }

    /// Heads only.
    pub fn latest_only(mut self) -> Self {
        self.latest_only = true;
        self
    }

    /// Order.
    pub fn order(mut self, o: Order) -> Self {
        self.order = o;
        self
    }

    /// Limit.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Keyset paging: records after `cursor` (see [`ArtifactQuery::after`]).
    pub fn after(mut self, cursor: Cursor) -> Self {
        self.after = Some(cursor);
        self
    }
}

/// What a lifecycle transition did to one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionResult {
    /// The record after the transition.
    pub artifact: Artifact,
    /// What happened.
    pub transition: crate::lifecycle::Transition,
}
