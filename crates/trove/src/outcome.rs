//! Typed outcomes of the façade's operations. The CLI turns these into tables and JSON.

use serde::Serialize;
use trove_domain::lifecycle::{KeepReason, Transition};
use trove_domain::{Artifact, Uid};

/// What `save` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SaveOutcome {
    /// A new artifact (a new family).
    Created {
        /// The new record.
        artifact: Artifact,
    },
    /// Identical content already existed (any key, any branch but trash): nothing was written.
    Existing {
        /// The existing record.
        artifact: Artifact,
    },
    /// The key already existed: this is a new version of its family, `is_latest` unless a
    /// concurrent save committed a higher version first (each save owns its version number;
    /// numbers a lost race gave back may be skipped).
    NewVersion {
        /// The new version.
        artifact: Artifact,
        /// The family's head when this save started (under concurrent saves, possibly not the
        /// version just below this one).
        previous: Uid,
    },
    /// Identical content under the same key was in the trash: it came back.
    RestoredFromTrash {
        /// The restored record.
        artifact: Artifact,
    },
}

impl SaveOutcome {
    /// The artifact saved, found, or restored.
    pub fn artifact(&self) -> &Artifact {
        match self {
            SaveOutcome::Created { artifact }
            | SaveOutcome::Existing { artifact }
            | SaveOutcome::NewVersion { artifact, .. }
            | SaveOutcome::RestoredFromTrash { artifact } => artifact,
        }
    }

    /// Take the artifact.
    pub fn into_artifact(self) -> Artifact {
        match self {
            SaveOutcome::Created { artifact }
            | SaveOutcome::Existing { artifact }
            | SaveOutcome::NewVersion { artifact, .. }
            | SaveOutcome::RestoredFromTrash { artifact } => artifact,
        }
    }

    /// A stable snake_case name: `created`, `existing`, `new_version`, `restored_from_trash`.
    pub fn name(&self) -> &'static str {
        match self {
            SaveOutcome::Created { .. } => "created",
            SaveOutcome::Existing { .. } => "existing",
            SaveOutcome::NewVersion { .. } => "new_version",
            SaveOutcome::RestoredFromTrash { .. } => "restored_from_trash",
        }
    }

    /// One sentence for people.
    pub fn describe(&self) -> String {
        match self {
            SaveOutcome::Created { artifact } => format!("saved {}", artifact.label()),
            SaveOutcome::Existing { artifact } => {
                format!("identical content already exists as {}; nothing new was stored", artifact.label())
            }
            SaveOutcome::NewVersion { artifact, previous } => {
                format!("saved {} as a new version of {previous}", artifact.label())
            }
            SaveOutcome::RestoredFromTrash { artifact } => {
                format!("identical content was in the trash: restored {}", artifact.label())
            }
        }
    }
}

/// What a branch operation (trash, restore, archive) did to one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Moved {
    /// The record after the operation.
    pub artifact: Artifact,
    /// What happened to it.
    pub transition: Transition,
}

/// What happened to one artifact deleted permanently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Purged {
    /// The record as it was before deletion.
    pub artifact: Artifact,
    /// Paths whose bytes were deleted.
    pub removed_paths: Vec<String>,
    /// Paths whose bytes remain, with why.
    pub kept_paths: Vec<KeptPath>,
    /// Paths that were to be deleted but were already missing from storage.
    pub missing_paths: Vec<String>,
    /// For the newest version of a shared-store folder: the family's other versions, deleted
    /// with it because they shared its files (empty otherwise).
    pub shared_store_family: Vec<Uid>,
}

/// A path left in place by permanent deletion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeptPath {
    /// The path (absolute local path or object URL).
    pub path: String,
    /// Why it was kept.
    pub reason: KeepReason,
}

/// The result of a permanent deletion of one or more artifacts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    /// One entry per artifact.
    pub purged: Vec<Purged>,
}

impl PurgeReport {
    /// Every path deleted.
    pub fn removed_paths(&self) -> impl Iterator<Item = &str> {
        self.purged.iter().flat_map(|p| p.removed_paths.iter().map(String::as_str))
    }

    /// Every path kept.
    pub fn kept_paths(&self) -> impl Iterator<Item = &KeptPath> {
        self.purged.iter().flat_map(|p| p.kept_paths.iter())
    }
}

/// How `delete` resolves a set of records (artifacts, collections or labels): which go to the
/// trash and which are there already, so a caller can ask before deleting the latter for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletePlan<T = Artifact> {
    /// Live or archived records: `trash` moves them.
    pub to_trash: Vec<T>,
    /// Records already in the trash: only a permanent deletion removes them.
    pub already_in_trash: Vec<T>,
}

impl<T> Default for DeletePlan<T> {
    fn default() -> Self {
        DeletePlan { to_trash: Vec::new(), already_in_trash: Vec::new() }
    }
}

impl<T> DeletePlan<T> {
    /// Sort records by whether `in_trash` says they are in the trash already.
    pub(crate) fn split(records: impl IntoIterator<Item = T>, in_trash: impl Fn(&T) -> bool) -> Self {
        let (already_in_trash, to_trash) = records.into_iter().partition(|r| in_trash(r));
        DeletePlan { to_trash, already_in_trash }
    }
}

/// One finding of `fsck`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FsckFinding {
    /// The record concerned.
    pub uid: Uid,
    /// What was found.
    pub problem: String,
    /// What was done about it (or would be, in a dry run).
    pub action: String,
    /// Whether this run settled it (never without [`crate::FsckOptions::repair`]; not for what
    /// no repair can fix, such as bytes missing from storage).
    #[serde(skip)]
    pub repaired: bool,
}

/// What [`crate::Trove::plan_empty_trash`] found: shown to the user, then applied as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TrashPlan {
    /// The records to delete permanently: in the trash since before the cut-off.
    pub items: Vec<Artifact>,
    /// The cut-off by the instance's clock (`None`: the whole trash).
    pub cutoff: Option<chrono::DateTime<chrono::Utc>>,
}

impl TrashPlan {
    /// Whether there is nothing to delete.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// What [`crate::Trove::apply_empty_trash`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EmptyTrashReport {
    /// The records deleted permanently, and their bytes.
    pub purge: PurgeReport,
    /// Planned records left alone because they had left the trash since the plan was made
    /// (restored, or deleted by another process).
    pub skipped: Vec<Uid>,
}

/// What [`crate::Trove::plan_gc`] found: shown to the user, then applied as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GcPlan {
    /// Everything the plan would remove.
    pub items: Vec<GcItem>,
    /// The grace period it was planned with.
    pub grace: std::time::Duration,
}

impl GcPlan {
    /// Bytes the plan would free.
    pub fn bytes(&self) -> u64 {
        self.items.iter().map(|i| i.size).sum()
    }

    /// Whether there is nothing to remove.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// One object a garbage collection removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GcItem {
    /// The storage location holding it.
    #[serde(skip)]
    pub storage: trove_domain::StorageId,
    /// Its key inside the location.
    #[serde(skip)]
    pub key: String,
    /// Its path (absolute local path or object URL).
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Why it is garbage.
    pub kind: GcKind,
}

/// Why an object is garbage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GcKind {
    /// In the managed area and referenced by no record.
    Orphan,
    /// A temporary file an interrupted write left behind.
    Leftover,
}

/// What [`crate::Trove::apply_gc`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    /// Paths removed.
    pub removed: Vec<String>,
    /// Bytes freed.
    pub bytes: u64,
    /// Planned paths left alone because a record references them now (a save committed after
    /// the plan was made).
    pub skipped: Vec<String>,
}
