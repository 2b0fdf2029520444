//! Branches: `main` (1), `archive` (0), `trash` (-1), and user branches (>= 2).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A branch id. The three fixed branches exist in every instance from init.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BranchId(pub i64);

impl BranchId {
    /// `main`: everything new lands here; visible by default.
    pub const MAIN: BranchId = BranchId(1);
    /// `archive`: kept, out of the way; hidden by default.
    pub const ARCHIVE: BranchId = BranchId(0);
    /// `trash`: scheduled for deletion, restorable; hidden by default.
    pub const TRASH: BranchId = BranchId(-1);

    /// The fixed branches, with their names, as seeded at init.
    pub const FIXED: [(BranchId, &'static str, &'static str); 3] = [
        (BranchId::TRASH, "trash", "scheduled for deletion, restorable"),
        (BranchId::ARCHIVE, "archive", "kept, but out of the way"),
        (BranchId::MAIN, "main", "the default; everything new lands here"),
    ];

    /// Parse a branch name (`main`, `archive`, `trash`) or id.
    pub fn parse(s: &str) -> Result<BranchId> {
        match s {
            "main" => Ok(BranchId::MAIN),
            "archive" => Ok(BranchId::ARCHIVE),
            "trash" => Ok(BranchId::TRASH),
            _ => s.parse::<i64>().ok().filter(|id| *id >= -1).map(BranchId).ok_or_else(|| {
                Error::invalid_input(format!("unknown branch '{s}': use main, archive, trash, or a branch id"))
            }),
        }
    }

    /// The name of a fixed branch, or `branch-<id>` for a user branch.
    pub fn name(self) -> String {
        match self {
            BranchId::MAIN => "main".into(),
            BranchId::ARCHIVE => "archive".into(),
            BranchId::TRASH => "trash".into(),
            BranchId(id) => format!("branch-{id}"),
        }
    }

    /// Whether records on this branch are live (main or a user branch).
    pub fn is_live(self) -> bool {
        self.0 >= 1
    }
}

impl fmt::Display for BranchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Which branches a query looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum BranchSelection {
    /// The default view: `main` only; trash and archive hidden.
    #[default]
    Default,
    /// Exactly this branch.
    Only(BranchId),
    /// Every branch.
    All,
}

impl BranchSelection {
    /// Parse `main`, `archive`, `trash`, `all`, or a branch id.
    pub fn parse(s: &str) -> Result<BranchSelection> {
        if s == "all" {
            return Ok(BranchSelection::All);
        }
        BranchId::parse(s).map(BranchSelection::Only).map_err(|_| {
            Error::invalid_input(format!("unknown branch '{s}': use main, archive, trash, all, or a branch id"))
        })
    }

    /// Whether a record on `branch` is selected.
    pub fn contains(self, branch: BranchId) -> bool {
        match self {
            BranchSelection::Default => branch == BranchId::MAIN,
            BranchSelection::Only(b) => b == branch,
            BranchSelection::All => true,
        }
    }

    /// The branch ids selected, or `None` for all.
    pub fn ids(self) -> Option<Vec<BranchId>> {
        match self {
            BranchSelection::Default => Some(vec![BranchId::MAIN]),
            BranchSelection::Only(b) => Some(vec![b]),
            BranchSelection::All => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names() {
        assert_eq!(BranchId::parse("trash").unwrap(), BranchId::TRASH);
        assert_eq!(BranchId::parse("7").unwrap(), BranchId(7));
        assert!(BranchId::parse("-2").is_err());
        assert!(BranchId::parse("bogus").unwrap_err().message().contains("main, archive, trash"));
        assert_eq!(BranchSelection::parse("all").unwrap(), BranchSelection::All);
        assert!(!BranchSelection::Default.contains(BranchId::TRASH));
        assert!(!BranchSelection::Default.contains(BranchId::ARCHIVE));
    }
}
