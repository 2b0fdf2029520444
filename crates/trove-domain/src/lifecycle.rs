//! The record lifecycle as a pure transition function (spec 1, sections 2 and 3).
//!
//! [`transition`] implements the table of spec 1 section 2: a state and an operation give the
//! new state and the storage effect, or a typed error. Catalog implementations call it per
//! record to validate a batch and compute destinations, so the table lives in exactly one place.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::branch::BranchId;
use crate::error::{Error, ErrorKind, Result};

/// The lifecycle state of a soft-deletable record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordState {
    /// Not in the catalog yet.
    Unsaved,
    /// On `main` or a user branch (id >= 1).
    Live(BranchId),
    /// On `archive`.
    Archived,
    /// In the trash; `from` is the branch it was trashed from, if known.
    Trashed {
        /// Where it came from (restored there).
        from: Option<BranchId>,
    },
    /// Deleted permanently.
    Gone,
}

impl RecordState {
    /// The state of a saved record on `branch` (with the branch it was trashed from, if any).
    pub fn of(branch: BranchId, trashed_from: Option<BranchId>) -> RecordState {
        match branch {
            BranchId::TRASH => RecordState::Trashed { from: trashed_from },
            BranchId::ARCHIVE => RecordState::Archived,
            b => RecordState::Live(b),
        }
    }

    /// The branch a saved record in this state is on.
    pub fn branch(self) -> Option<BranchId> {
        match self {
            RecordState::Live(b) => Some(b),
            RecordState::Archived => Some(BranchId::ARCHIVE),
            RecordState::Trashed { .. } => Some(BranchId::TRASH),
            RecordState::Unsaved | RecordState::Gone => None,
        }
    }
}

/// A lifecycle operation on one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Operation {
    /// `delete()`: move to the trash.
    Trash,
    /// `delete_permanently(storage)`: remove the record; bytes per the storage policy.
    DeletePermanently,
    /// `restore()`: back from trash (to where it came from) or archive (to main).
    Restore,
    /// `archive()`: move a live record to the archive.
    Archive,
    /// Saving new content identical to this record's, under the same key.
    SaveIdentical,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Trash => "trash",
            Operation::DeletePermanently => "delete permanently",
            Operation::Restore => "restore",
            Operation::Archive => "archive",
            Operation::SaveIdentical => "save identical content",
        })
    }
}

/// What an allowed operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Transition {
    /// The record moves to another branch; no storage effect. Heads of the family are
    /// recomputed on both branches.
    Move {
        /// The branch it leaves.
        from: BranchId,
        /// The branch it lands on.
        to: BranchId,
    },
    /// Nothing changes (restore of a live record, delete of an unsaved one...).
    NoOp {
        /// Why nothing happened.
        reason: NoOpReason,
    },
    /// The record is removed; bytes per [`purge_decision`].
    Purge,
}

/// Why a transition changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoOpReason {
    /// The record was never saved.
    Unsaved,
    /// It is already live (restore on main).
    AlreadyLive,
    /// It is already archived.
    AlreadyArchived,
    /// Identical content already exists on a live or archived branch.
    AlreadyExists,
}

impl fmt::Display for NoOpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NoOpReason::Unsaved => "the record is not saved, so there is nothing to delete",
            NoOpReason::AlreadyLive => "the record is already live",
            NoOpReason::AlreadyArchived => "the record is already archived",
            NoOpReason::AlreadyExists => "identical content already exists",
        })
    }
}

/// The lifecycle table. `what` names the record in error messages (e.g. "artifact 3x...0000").
pub fn transition(state: RecordState, op: Operation, what: &str) -> Result<Transition> {
    use Operation as O;
    use RecordState as S;
    match (state, op) {
        // 11: gone records are not found, whatever the operation.
        (S::Gone, _) => Err(Error::not_found(format!("{what} does not exist (it was deleted permanently)"))),
        // 1: deleting an unsaved record does nothing, and says so.
        (S::Unsaved, O::Trash | O::DeletePermanently) => Ok(Transition::NoOp { reason: NoOpReason::Unsaved }),
        (S::Unsaved, _) => {
            Err(Error::new(ErrorKind::InvalidTransition, format!("cannot {op} {what}: it is not saved; save it first")))
        }
        // 2: trash a live or archived record.
        (S::Live(from), O::Trash) => Ok(Transition::Move { from, to: BranchId::TRASH }),
        (S::Archived, O::Trash) => Ok(Transition::Move { from: BranchId::ARCHIVE, to: BranchId::TRASH }),
        // 3: the library never deletes permanently by accident.
        (S::Trashed { .. }, O::Trash) => Err(Error::new(
            ErrorKind::AlreadyInTrash,
            format!(
                "{what} is already in the trash; to delete it for good, delete it permanently \
                 (`trove delete --permanent`, or `delete_permanently` in the library)"
            ),
        )),
        // 4, 5: permanent deletion from any saved state.
        (S::Live(_) | S::Archived | S::Trashed { .. }, O::DeletePermanently) => Ok(Transition::Purge),
        // 6: restore from trash to where it came from (main if unknown).
        (S::Trashed { from }, O::Restore | O::SaveIdentical) => Ok(Transition::Move {
            from: BranchId::TRASH,
            to: from.filter(|b| *b != BranchId::TRASH).unwrap_or(BranchId::MAIN),
        }),
        // 7: restore from archive to main.
        (S::Archived, O::Restore) => Ok(Transition::Move { from: BranchId::ARCHIVE, to: BranchId::MAIN }),
        // 8: archive a live record.
        (S::Live(from), O::Archive) => Ok(Transition::Move { from, to: BranchId::ARCHIVE }),
        (S::Archived, O::Archive) => Ok(Transition::NoOp { reason: NoOpReason::AlreadyArchived }),
        (S::Trashed { .. }, O::Archive) => Err(Error::new(
            ErrorKind::InvalidTransition,
            format!("cannot archive {what}: it is in the trash; restore it first (`trove restore`)"),
        )),
        // 9: restoring a live record is a no-op, not an error.
        (S::Live(_), O::Restore) => Ok(Transition::NoOp { reason: NoOpReason::AlreadyLive }),
        // 10 (live/archived side): identical content is the existing record.
        (S::Live(_) | S::Archived, O::SaveIdentical) => Ok(Transition::NoOp { reason: NoOpReason::AlreadyExists }),
    }
}

/// What to do with an artifact's bytes when it is deleted permanently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoragePolicy {
    /// Delete managed bytes; keep bytes at a user-visible path and report it.
    #[default]
    Auto,
    /// Always keep the bytes.
    Keep,
    /// Always delete the bytes (error where this instance does not manage the storage).
    Delete,
}

impl StoragePolicy {
    /// Parse `auto`, `keep` or `delete`.
    pub fn parse(s: &str) -> Result<StoragePolicy> {
        match s {
            "auto" => Ok(StoragePolicy::Auto),
            "keep" => Ok(StoragePolicy::Keep),
            "delete" => Ok(StoragePolicy::Delete),
            _ => Err(Error::invalid_input(format!("unknown storage policy '{s}': use auto, keep or delete"))),
        }
    }
}

/// Who owns the path an artifact's bytes live at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BytesOwner {
    /// The managed area (`.trove/<uid><suffix>`): no key or a virtual key.
    Managed,
    /// A user-visible path: a real key, or registered in place.
    UserPath,
    /// A storage location this instance does not manage.
    Foreign,
}

/// Why bytes are kept on permanent deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepReason {
    /// The policy was `keep`.
    PolicyKeep,
    /// `auto` keeps bytes at a user-visible path.
    UserVisiblePath,
    /// `auto` keeps bytes in storage this instance does not manage.
    NotManaged,
}

/// The storage effect of permanent deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PurgeDecision {
    /// Delete the bytes.
    Delete,
    /// Keep them, for this reason.
    Keep(KeepReason),
}

/// Spec 1, section 3: what permanent deletion does with the bytes. `storage` names the
/// location in the error when `delete` is asked for bytes this instance does not manage.
pub fn purge_decision(owner: BytesOwner, policy: StoragePolicy, storage: &str) -> Result<PurgeDecision> {
    use BytesOwner as B;
    use StoragePolicy as P;
    match (owner, policy) {
        (_, P::Keep) => Ok(PurgeDecision::Keep(KeepReason::PolicyKeep)),
        (B::Managed, _) => Ok(PurgeDecision::Delete),
        (B::UserPath, P::Auto) => Ok(PurgeDecision::Keep(KeepReason::UserVisiblePath)),
        (B::UserPath, P::Delete) => Ok(PurgeDecision::Delete),
        (B::Foreign, P::Auto) => Ok(PurgeDecision::Keep(KeepReason::NotManaged)),
        (B::Foreign, P::Delete) => Err(Error::new(
            ErrorKind::NotManaged,
            format!(
                "cannot delete bytes in {storage}: this instance does not manage that storage location; \
                 use --storage keep, or delete them from the managing instance"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIN: RecordState = RecordState::Live(BranchId::MAIN);

    #[test]
    fn the_table() {
        use Operation as O;
        use RecordState as S;
        let trashed_from_archive = S::Trashed { from: Some(BranchId::ARCHIVE) };
        let rows: Vec<(S, O, std::result::Result<Transition, ErrorKind>)> = vec![
            (S::Unsaved, O::Trash, Ok(Transition::NoOp { reason: NoOpReason::Unsaved })),
            (MAIN, O::Trash, Ok(Transition::Move { from: BranchId::MAIN, to: BranchId::TRASH })),
            (S::Archived, O::Trash, Ok(Transition::Move { from: BranchId::ARCHIVE, to: BranchId::TRASH })),
            (S::Trashed { from: None }, O::Trash, Err(ErrorKind::AlreadyInTrash)),
            (MAIN, O::DeletePermanently, Ok(Transition::Purge)),
            (S::Trashed { from: None }, O::DeletePermanently, Ok(Transition::Purge)),
            (S::Trashed { from: None }, O::Restore, Ok(Transition::Move { from: BranchId::TRASH, to: BranchId::MAIN })),
            (trashed_from_archive, O::Restore, Ok(Transition::Move { from: BranchId::TRASH, to: BranchId::ARCHIVE })),
            (S::Archived, O::Restore, Ok(Transition::Move { from: BranchId::ARCHIVE, to: BranchId::MAIN })),
            (MAIN, O::Archive, Ok(Transition::Move { from: BranchId::MAIN, to: BranchId::ARCHIVE })),
            (MAIN, O::Restore, Ok(Transition::NoOp { reason: NoOpReason::AlreadyLive })),
            (
                S::Trashed { from: Some(BranchId::MAIN) },
                O::SaveIdentical,
                Ok(Transition::Move { from: BranchId::TRASH, to: BranchId::MAIN }),
            ),
            (S::Gone, O::Restore, Err(ErrorKind::NotFound)),
            (S::Trashed { from: None }, O::Archive, Err(ErrorKind::InvalidTransition)),
        ];
        for (state, op, want) in rows {
            let got = transition(state, op, "artifact X").map_err(|e| e.kind());
            assert_eq!(got, want, "{state:?} {op:?}");
        }
    }

    #[test]
    fn already_in_trash_says_how_to_delete_permanently() {
        let err = transition(RecordState::Trashed { from: None }, Operation::Trash, "artifact X").unwrap_err();
        assert!(err.message().contains("--permanent"));
    }

    #[test]
    fn purge_policy_table() {
        use BytesOwner as B;
        use StoragePolicy as P;
        assert_eq!(purge_decision(B::Managed, P::Auto, "s").unwrap(), PurgeDecision::Delete);
        assert_eq!(purge_decision(B::Managed, P::Keep, "s").unwrap(), PurgeDecision::Keep(KeepReason::PolicyKeep));
        assert_eq!(
            purge_decision(B::UserPath, P::Auto, "s").unwrap(),
            PurgeDecision::Keep(KeepReason::UserVisiblePath)
        );
        assert_eq!(purge_decision(B::UserPath, P::Delete, "s").unwrap(), PurgeDecision::Delete);
        assert_eq!(purge_decision(B::Foreign, P::Auto, "s").unwrap(), PurgeDecision::Keep(KeepReason::NotManaged));
        assert_eq!(purge_decision(B::Foreign, P::Delete, "s").unwrap_err().kind(), ErrorKind::NotManaged);
    }
}
