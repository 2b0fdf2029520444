//! Collections and labels (spec 1, section 6): the other soft-deletable records.
//!
//! A [`Collection`] is an ordered set of artifacts with its own uid (16-character stem +
//! 4-character version, like an artifact), optional key, description, versions and a hash over
//! its members' hashes ([`collection_hash`], order-independent). Membership rows are link rows:
//! deleting a collection permanently deletes them, never the artifacts, and an artifact that
//! belongs to any collection cannot be deleted permanently.
//!
//! A [`Label`] is a named tag attached to artifacts and collections ([`Labeled`]). Labels are
//! soft-deletable too; a label still attached cannot be deleted permanently.

use chrono::{DateTime, Utc};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use crate::branch::{BranchId, BranchSelection};
use crate::entity::UserId;
use crate::error::{Error, Result};
use crate::hash::b64;
use crate::ids::{Stem, Uid};
use crate::lifecycle::{RecordState, Transition};

/// Longest collection key, in bytes (as artifact keys).
pub const MAX_COLLECTION_KEY_BYTES: usize = 1024;
/// Longest label name, in bytes.
pub const MAX_LABEL_NAME_BYTES: usize = 255;

/// The hash of a collection: URL-safe base64 (22 characters, no padding) of the MD5 of its
/// members' content hashes, sorted, each followed by `"\n"`. Sorting makes it independent of the
/// members' order; duplicates (two members with equal content) count twice. An empty
/// collection hashes the empty string.
pub fn collection_hash<'a>(member_hashes: impl IntoIterator<Item = &'a str>) -> String {
    let mut hashes: Vec<&str> = member_hashes.into_iter().collect();
    hashes.sort_unstable();
    let mut h = Md5::new();
    for m in hashes {
        h.update(m.as_bytes());
        h.update(b"\n");
    }
    b64(&h.finalize())
}

fn check_text(what: &str, s: &str, max: usize) -> Result<()> {
    if s.trim().is_empty() {
        return Err(Error::invalid_input(format!("a {what} cannot be empty; give some text")));
    }
    if s.len() > max {
        return Err(Error::invalid_input(format!(
            "the {what} '{}…' is {} bytes long, the limit is {max}; shorten it",
            s.chars().take(20).collect::<String>(),
            s.len()
        )));
    }
    if s.chars().any(char::is_control) {
        return Err(Error::invalid_input(format!("the {what} {s:?} contains control characters; remove them")));
    }
    if s.trim() != s {
        return Err(Error::invalid_input(format!("the {what} {s:?} starts or ends with whitespace; remove it")));
    }
    Ok(())
}

/// Check a collection key: non-empty, at most 1024 bytes, no control characters, no leading or
/// trailing whitespace. Collection keys are names, not storage paths: they have no suffix.
pub fn validate_collection_key(key: &str) -> Result<()> {
    check_text("collection key", key, MAX_COLLECTION_KEY_BYTES)
}

/// Check a label name: non-empty, at most 255 bytes, no control characters, no leading or
/// trailing whitespace.
pub fn validate_label_name(name: &str) -> Result<()> {
    check_text("label name", name, MAX_LABEL_NAME_BYTES)
}

/// The [`crate::ErrorKind::Protected`] error for artifacts that belong to collections and so
/// cannot be deleted permanently. `memberships` pairs each artifact uid with a description of
/// one collection holding it (e.g. `collection 'runs' (uid) on main`); an artifact may repeat.
pub fn in_collections_error(memberships: &[(Uid, String)]) -> Error {
    let mut by_artifact: Vec<(&Uid, Vec<&str>)> = Vec::new();
    for (a, c) in memberships {
        match by_artifact.iter_mut().find(|(x, _)| *x == a) {
            Some((_, cs)) => cs.push(c),
            None => by_artifact.push((a, vec![c])),
        }
    }
    let parts: Vec<String> =
        by_artifact.iter().map(|(a, cs)| format!("artifact {a} belongs to {}", cs.join(", "))).collect();
    Error::new(
        crate::ErrorKind::Protected,
        format!(
            "cannot delete permanently: {}; delete those collections permanently first (`trove collection delete --permanent`), or trash the artifact instead. Nothing was deleted",
            parts.join("; ")
        ),
    )
}

/// A collection record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collection {
    /// 20-character uid: 16-character family stem + 4-character version.
    pub uid: Uid,
    /// Optional name; versions of a collection share it.
    pub key: Option<String>,
    /// Optional text.
    pub description: Option<String>,
    /// [`collection_hash`] over the members' content hashes.
    pub hash: String,
    /// The member artifacts, in order.
    pub members: Vec<Uid>,
    /// Head of its family on its branch.
    pub is_latest: bool,
    /// The branch it is on.
    pub branch: BranchId,
    /// For trashed records: the branch it was trashed from.
    pub trashed_from: Option<BranchId>,
    /// When it last changed branch.
    pub branch_changed_at: Option<DateTime<Utc>>,
    /// Handle of the user who created it.
    pub created_by: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Collection {
    /// The family stem.
    pub fn stem(&self) -> Stem {
        self.uid.stem()
    }

    /// The version index.
    pub fn version_index(&self) -> u32 {
        self.uid.version_index()
    }

    /// Its lifecycle state.
    pub fn state(&self) -> RecordState {
        RecordState::of(self.branch, self.trashed_from)
    }

    /// A one-line name for messages: key or description, and uid.
    pub fn label(&self) -> String {
        match (&self.key, &self.description) {
            (Some(k), _) => format!("collection '{k}' ({})", self.uid),
            (None, Some(d)) => format!("collection \"{d}\" ({})", self.uid),
            (None, None) => format!("collection {}", self.uid),
        }
    }
}

/// A new collection row, as the façade hands it to
/// [`crate::ports::Catalog::create_collection`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCollection {
    /// The proposed uid: a fresh stem with version 0 for a new family, or the family's stem
    /// with the next version index when `revises` is set.
    pub uid: Uid,
    /// Key (validated with [`validate_collection_key`]).
    pub key: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Members, in order, without repeats.
    pub members: Vec<Uid>,
    /// [`collection_hash`] over the members' hashes.
    pub hash: String,
    /// Creating user.
    pub created_by: UserId,
    /// The head this version follows (`None` starts a new family).
    pub revises: Option<Uid>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// One filter value for listing collections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionQuery {
    /// Branches to look at; default `main` only.
    pub branch: BranchSelection,
    /// Only these uids.
    pub uids: Option<Vec<Uid>>,
    /// Only this family.
    pub stem: Option<Stem>,
    /// Exact key.
    pub key: Option<String>,
    /// Only heads (`is_latest`).
    pub latest_only: bool,
    /// Only collections holding at least one of these artifacts.
    pub containing: Option<Vec<Uid>>,
    /// Only collections carrying every one of these labels (by name, on any branch).
    pub labels: Option<Vec<String>>,
    /// At most this many (newest first).
    pub limit: Option<u64>,
}

/// Something a label can be attached to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", content = "uid", rename_all = "snake_case")]
pub enum Labeled {
    /// An artifact.
    Artifact(Uid),
    /// A collection.
    Collection(Uid),
}

/// A label record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// Unique name.
    pub name: String,
    /// Optional text.
    pub description: Option<String>,
    /// The branch it is on.
    pub branch: BranchId,
    /// For trashed labels: the branch it was trashed from.
    pub trashed_from: Option<BranchId>,
    /// When it last changed branch.
    pub branch_changed_at: Option<DateTime<Utc>>,
    /// Artifacts it is attached to (any branch).
    pub n_artifacts: u64,
    /// Collections it is attached to (any branch).
    pub n_collections: u64,
    /// Handle of the user who created it.
    pub created_by: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Label {
    /// Its lifecycle state.
    pub fn state(&self) -> RecordState {
        RecordState::of(self.branch, self.trashed_from)
    }

    /// A one-line name for messages.
    pub fn label(&self) -> String {
        format!("label '{}'", self.name)
    }
}

/// A new label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewLabel {
    /// Unique name (validated with [`validate_label_name`]).
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Creating user.
    pub created_by: UserId,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// One filter value for listing labels.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelQuery {
    /// Branches to look at; default `main` only.
    pub branch: BranchSelection,
    /// Only these names.
    pub names: Option<Vec<String>>,
    /// Only labels attached to this record.
    pub attached_to: Option<Labeled>,
}

/// What a lifecycle transition did to one collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionTransitionResult {
    /// The collection after the transition.
    pub collection: Collection,
    /// What happened.
    pub transition: Transition,
}

/// What a lifecycle transition did to one label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelTransitionResult {
    /// The label after the transition.
    pub label: Label,
    /// What happened.
    pub transition: Transition,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_hash_is_order_independent() {
        let a = collection_hash(["DMF1ucDxtqgxw5niaXcmYQ", "kutf_uauL-w61xx3dTFXjw"]);
        let b = collection_hash(["kutf_uauL-w61xx3dTFXjw", "DMF1ucDxtqgxw5niaXcmYQ"]);
        assert_eq!(a, b);
        assert_eq!(a.len(), 22);
        assert_ne!(a, collection_hash(["DMF1ucDxtqgxw5niaXcmYQ"]));
        assert_ne!(
            collection_hash(["DMF1ucDxtqgxw5niaXcmYQ"]),
            collection_hash(["DMF1ucDxtqgxw5niaXcmYQ", "DMF1ucDxtqgxw5niaXcmYQ"]),
            "duplicates count"
        );
        // The definition, spelled out: MD5 of "h1\nh2\n" over the sorted hashes.
        assert_eq!(collection_hash(["b", "a"]), b64(&Md5::digest(b"a\nb\n")));
        assert_eq!(collection_hash([]), b64(&Md5::digest(b"")));
    }

    #[test]
    fn names_are_checked() {
        assert!(validate_label_name("qc-passed").is_ok());
        assert!(validate_label_name("").is_err());
        assert!(validate_label_name(" x").is_err());
        assert!(validate_label_name("a\nb").is_err());
        assert!(validate_label_name(&"x".repeat(256)).is_err());
        assert!(validate_collection_key("runs/2024 batch").is_ok());
        assert!(validate_collection_key("  ").is_err());
    }
}
