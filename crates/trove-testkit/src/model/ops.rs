//! The operations a state-machine test applies ([`Op`]) and what the model expects the
//! system to answer ([`Expect`]). Re-exported from [`crate::model`].

use super::*;

/// A save request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveRequest {
    /// The content (bytes in memory).
    pub content: Vec<u8>,
    /// The key; `None` saves with a description only.
    pub key: Option<String>,
    /// Store at the key itself (ignored without a key).
    pub real: bool,
    /// Create a duplicate of existing content on purpose.
    pub allow_duplicate: bool,
}

impl SaveRequest {
    /// The kind of key this request asks for.
    pub fn key_kind(&self) -> KeyKind {
        match (&self.key, self.real) {
            (None, _) => KeyKind::None,
            (Some(_), false) => KeyKind::Virtual,
            (Some(_), true) => KeyKind::Real,
        }
    }
}

/// Which trashed records `empty_trash` considers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrashCutoff {
    /// `older_than = None`: the whole trash.
    Everything,
    /// A cut-off long before any record was trashed: nothing.
    LongAgo,
}

/// An operation on the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `save(bytes, options)`.
    Save(SaveRequest),
    /// `delete(uid)`: the single-record library call, which only ever trashes.
    Delete(usize),
    /// `trash(uids)`.
    Trash(Vec<usize>),
    /// `restore(uids)`.
    Restore(Vec<usize>),
    /// `archive(uids)`.
    Archive(Vec<usize>),
    /// `delete_permanently(uids, policy)`.
    DeletePermanently(Vec<usize>, StoragePolicy),
    /// `empty_trash(older_than, dry_run)`.
    EmptyTrash {
        /// Which trashed records qualify.
        cutoff: TrashCutoff,
        /// Only list them.
        dry_run: bool,
    },
    /// `replace(uid, source)` with a local file of this content and suffix (spec 2, section 6).
    Replace {
        /// The record replaced.
        slot: usize,
        /// The new content.
        content: Vec<u8>,
        /// The source file's suffix (`""` for none).
        suffix: String,
    },
    /// `create_collection(members, key or description)`.
    CreateCollection {
        /// Member record slots, in order (a slot twice is refused).
        members: Vec<usize>,
        /// The collection key; `None` gives a description only (always a new collection).
        key: Option<String>,
    },
    /// `trash_collections(uids)`.
    TrashCollections(Vec<usize>),
    /// `restore_collections(uids)`.
    RestoreCollections(Vec<usize>),
    /// `delete_collections_permanently(uids)`.
    DeleteCollectionsPermanently(Vec<usize>),
}

impl Op {
    /// The record slots the operation names.
    pub fn record_slots(&self) -> Vec<usize> {
        match self {
            Op::Save(_) | Op::EmptyTrash { .. } => Vec::new(),
            Op::Delete(s) | Op::Replace { slot: s, .. } => vec![*s],
            Op::Trash(v) | Op::Restore(v) | Op::Archive(v) | Op::DeletePermanently(v, _) => v.clone(),
            Op::CreateCollection { members, .. } => members.clone(),
            Op::TrashCollections(_) | Op::RestoreCollections(_) | Op::DeleteCollectionsPermanently(_) => Vec::new(),
        }
    }

    /// The collection slots the operation names.
    pub fn collection_slots(&self) -> Vec<usize> {
        match self {
            Op::TrashCollections(v) | Op::RestoreCollections(v) | Op::DeleteCollectionsPermanently(v) => v.clone(),
            _ => Vec::new(),
        }
    }
}

/// What a replace must answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplaceExpect {
    /// The content (and maybe suffix, key and location) of `slot` changed.
    Replaced {
        /// The record.
        slot: usize,
        /// The key's rename (from, to) on a suffix change of a record with a key.
        renamed: Option<(String, String)>,
        /// On a suffix change: where the bytes were (removed) and where they are now.
        moved: Option<(Location, Location)>,
    },
    /// The content was identical: nothing changed.
    Unchanged {
        /// The record.
        slot: usize,
    },
}

/// What `create_collection` must answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectionExpect {
    /// A new collection family; the new collection is `slot`.
    Created {
        /// The new collection.
        slot: usize,
    },
    /// The next version `slot` of the family whose head was `previous`.
    NewVersion {
        /// The new collection.
        slot: usize,
        /// The head it follows.
        previous: usize,
    },
    /// The key's head already holds these members in this order: nothing changes.
    Existing {
        /// The head.
        slot: usize,
    },
}

/// What a save must answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveExpect {
    /// A new family; the new record is `slot`.
    Created {
        /// The new record.
        slot: usize,
    },
    /// The next version `slot` of the family whose head was `previous`.
    NewVersion {
        /// The new record.
        slot: usize,
        /// The head it follows.
        previous: usize,
    },
    /// Identical content exists: the answer is one of `candidates` (which one depends on uid
    /// order, which the model does not know), and nothing changes.
    Existing {
        /// Acceptable answers.
        candidates: Vec<usize>,
    },
    /// Identical content under the same key was in the trash and came back.
    RestoredFromTrash {
        /// The record restored.
        slot: usize,
    },
    /// Several trashed records of different families qualify to come back, and which one does
    /// depends on uid order: the model cannot predict it (tests avoid this request).
    Undetermined,
}

/// What permanent deletion must do to one record's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeExpect {
    /// The record.
    pub slot: usize,
    /// Where its bytes were.
    pub location: Location,
    /// `None`: deleted; `Some(reason)`: kept.
    pub kept: Option<KeepReason>,
    /// Whether the bytes were already missing (reported as such).
    pub missing: bool,
}

/// What the system must answer to an [`Op`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// A save's outcome.
    Saved(SaveExpect),
    /// Each record of a branch operation (in request order, duplicates removed) and what
    /// happened to it.
    Moved(Vec<(usize, Transition)>),
    /// Each record deleted permanently (request order, duplicates removed).
    Purged(Vec<PurgeExpect>),
    /// `empty_trash`: the records that qualified (in slot order) and what was deleted.
    EmptiedTrash {
        /// The records in the trash that qualified.
        doomed: Vec<usize>,
        /// What was deleted (empty on a dry run).
        purged: Vec<PurgeExpect>,
    },
    /// A replace's outcome.
    Replaced(ReplaceExpect),
    /// A collection create's outcome.
    Collection(CollectionExpect),
    /// Each collection of a branch operation (request order, duplicates removed) and what
    /// happened to it.
    CollectionsMoved(Vec<(usize, Transition)>),
    /// The collections deleted permanently (request order, duplicates removed).
    CollectionsPurged(Vec<usize>),
    /// A typed error; nothing changed.
    Failed(ErrorKind),
}
