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

    /// Resolve many locators at once, like [`Trove::get_in`] each, in order: all uids with
    /// one query, all keys with one query (stems, rare, one query each). Every locator that
    /// finds nothing is named in one NotFound error.
    pub async fn get_many_in(&self, locators: &[String], branches: BranchSelection) -> Result<Vec<Artifact>> {
        let parsed: Vec<Locator> = locators.iter().map(|l| Locator::parse(l)).collect();
        let mut uids = Vec::new();
        let mut keys = Vec::new();
        for l in &parsed {
            match l {
                Locator::Uid(u) => uids.push(u.clone()),
                Locator::Key(k) => keys.push(k.clone()),
                Locator::Stem(_) => {}
            }
        }
        let mut by_uid = std::collections::HashMap::new();
        for chunk in uids.chunks(1000) {
            let rows = self
                .catalog()
                .artifacts(&ArtifactQuery {
                    branch: BranchSelection::All,
                    uids: Some(chunk.to_vec()),
                    include_pending: true,
                    ..ArtifactQuery::default()
                })
                .await?;
            by_uid.extend(rows.into_iter().map(|a| (a.uid.clone(), a)));
        }
        let mut by_key: std::collections::HashMap<String, Artifact> = std::collections::HashMap::new();
        for chunk in keys.chunks(1000) {
            let rows = self
                .catalog()
                .artifacts(&ArtifactQuery {
                    branch: branches,
                    keys: Some(chunk.to_vec()),
                    latest_only: true,
                    ..ArtifactQuery::default()
                })
                .await?;
            for a in rows {
                let Some(k) = a.key.as_ref().map(|k| k.as_str().to_owned()) else { continue };
                let rank = |x: &Artifact| (branch_rank(x.branch), std::cmp::Reverse(x.created_at));
                if by_key.get(&k).is_none_or(|old| rank(&a) < rank(old)) {
                    by_key.insert(k, a);
                }
            }
        }
        let mut out = Vec::with_capacity(parsed.len());
        let mut missing = Vec::new();
        for (text, l) in locators.iter().zip(&parsed) {
            let found = match l {
                Locator::Uid(u) => by_uid.get(u).cloned(),
                Locator::Key(k) => by_key.get(k).cloned(),
                Locator::Stem(_) => self.get_in(text, branches).await.ok(),
            };
            match found {
                Some(a) => out.push(a),
                None => missing.push(text.as_str()),
            }
        }
        if !missing.is_empty() {
            return Err(Error::not_found(format!(
                "no artifact with {}: list every branch with `trove ls --branch all`",
                missing.join(", ")
            )));
        }
        Ok(out)
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

/// `rows` in the order of `wanted`, each once, and the wanted ids that no row has (hashed:
/// linear in the number of ids, not quadratic).
pub(crate) fn in_order<'w, T: Clone, K: Eq + std::hash::Hash>(
    wanted: &'w [K],
    rows: &[T],
    id: impl Fn(&T) -> &K,
) -> (Vec<T>, Vec<&'w K>) {
    let by_id: std::collections::HashMap<&K, &T> = rows.iter().map(|r| (id(r), r)).collect();
    let mut seen = std::collections::HashSet::with_capacity(wanted.len());
    let mut found: Vec<T> = Vec::with_capacity(wanted.len());
    let mut missing = Vec::new();
    for w in wanted {
        match by_id.get(w) {
            Some(r) if seen.insert(w) => found.push((*r).clone()),
            Some(_) => {}
            None => missing.push(w),
        }
    }
    (found, missing)
}
