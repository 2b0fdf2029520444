//! Lookups and listings. Default views show `main` only (spec 1, section 5); lookups by uid or
//! stem find a record on any branch, so trashed records can be inspected and restored.

use trove_domain::{Artifact, ArtifactQuery, BranchId, BranchSelection, Error, Locator, Order, Result};

use crate::Trove;

impl Trove {
    /// Find one artifact: by full uid (that version, any branch), by 16-character stem (the
    /// family's head on main, else its newest version anywhere), or by key (the head on main).
    pub async fn get(&self, locator: &str) -> Result<Artifact> {
        let loc = Locator::parse(locator);
        let found = match &loc {
            Locator::Uid(uid) => self.catalog().artifact(uid).await?,
            Locator::Stem(stem) => {
                let family = self
                    .catalog()
                    .artifacts(
                        &ArtifactQuery::new().stem(stem.clone()).branch(BranchSelection::All).order(Order::Version),
                    )
                    .await?;
                family.iter().find(|a| a.is_latest && a.branch == BranchId::MAIN).or_else(|| family.last()).cloned()
            }
            Locator::Key(key) => {
                let heads = self.catalog().artifacts(&ArtifactQuery::new().key(key.clone()).latest_only()).await?;
                heads.into_iter().max_by_key(|a| a.created_at)
            }
        };
        found.ok_or_else(|| {
            let hint = match loc {
                Locator::Key(_) => "keys are looked up on main; a trashed or archived artifact is found by its uid (`trove ls --branch all`)",
                _ => "list every branch with `trove ls --branch all`",
            };
            Error::not_found(format!("no artifact with {loc}: {hint}"))
        })
    }

    /// Find one artifact like [`Trove::get`], but resolve a key on the given branches: the
    /// latest version on main first, then on archive, then in the trash (for commands that act
    /// on archived or trashed records, such as restore or permanent deletion).
    pub async fn get_in(&self, locator: &str, branches: BranchSelection) -> Result<Artifact> {
        let Locator::Key(key) = Locator::parse(locator) else {
            return self.get(locator).await;
        };
        let mut heads =
            self.catalog().artifacts(&ArtifactQuery::new().key(key.clone()).branch(branches).latest_only()).await?;
        heads.sort_by_key(|a| (branch_rank(a.branch), std::cmp::Reverse(a.created_at)));
        heads.into_iter().next().ok_or_else(|| {
            Error::not_found(format!(
                "no artifact with key '{key}' on any branch: list them with `trove ls --branch all`"
            ))
        })
    }

    /// Artifacts matching a query (default: `main` only).
    pub async fn list(&self, query: &ArtifactQuery) -> Result<Vec<Artifact>> {
        self.catalog().artifacts(query).await
    }

    /// How many artifacts match a query.
    pub async fn count(&self, query: &ArtifactQuery) -> Result<u64> {
        self.catalog().count_artifacts(query).await
    }

    /// Every version of the family of `locator`, oldest first, on the selected branches
    /// (default: main only, as every default view). A key is resolved on those branches too.
    pub async fn versions(&self, locator: &str, branch: BranchSelection) -> Result<Vec<Artifact>> {
        let a = self.get_in(locator, branch).await?;
        self.catalog().artifacts(&ArtifactQuery::new().stem(a.stem()).branch(branch).order(Order::Version)).await
    }
}

/// The order in which a key found on several branches is resolved: main, then any other live
/// branch, then archive, then the trash.
pub(crate) fn branch_rank(b: BranchId) -> u8 {
    match b {
        BranchId::MAIN => 0,
        BranchId::ARCHIVE => 2,
        BranchId::TRASH => 3,
        _ => 1,
    }
}

/// `rows` in the order of `wanted`, each once, and the wanted ids that no row has.
pub(crate) fn in_order<'w, T: Clone, K: PartialEq>(
    wanted: &'w [K],
    rows: &[T],
    id: impl Fn(&T) -> &K,
) -> (Vec<T>, Vec<&'w K>) {
    let mut found: Vec<T> = Vec::with_capacity(wanted.len());
    let mut missing = Vec::new();
    for w in wanted {
        match rows.iter().find(|r| id(r) == w) {
            Some(r) if !found.iter().any(|f| id(f) == w) => found.push(r.clone()),
            Some(_) => {}
            None => missing.push(w),
        }
    }
    (found, missing)
}
