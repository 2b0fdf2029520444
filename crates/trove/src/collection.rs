//! Collections (spec 1, section 6): ordered sets of artifacts with their own key, versions,
//! hash and lifecycle. Trashing, restoring or deleting a collection never touches its member
//! artifacts; an artifact in any collection cannot be deleted permanently.

use serde::Serialize;
use trove_domain::collection::{collection_hash, in_collections_error, validate_collection_key};
use trove_domain::{
    Artifact, BranchId, BranchSelection, Collection, CollectionQuery, Error, ErrorKind, Locator, NewCollection,
    Operation, Result, Transition, Uid,
};

use crate::Trove;
use crate::outcome::DeletePlan;
use crate::plugin::{Change, RecordRef};
use crate::query::{branch_rank, in_order};

/// How many times a create retries after losing a race to a concurrent writer.
const MAX_ATTEMPTS: u32 = 12;

/// Options of [`Trove::create_collection`]. One of `key` or `description` is required.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectionOptions {
    /// The key (a name; versions of a collection share it).
    pub key: Option<String>,
    /// A description.
    pub description: Option<String>,
}

impl CollectionOptions {
    /// A collection called `key`.
    pub fn key(key: impl Into<String>) -> Self {
        CollectionOptions { key: Some(key.into()), description: None }
    }

    /// Add a description.
    pub fn with_description(mut self, d: impl Into<String>) -> Self {
        self.description = Some(d.into());
        self
    }
}

/// What [`Trove::create_collection`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CollectionOutcome {
    /// A new collection family.
    Created {
        /// The new collection.
        collection: Collection,
    },
    /// The key existed: this is its next version, now the head.
    NewVersion {
        /// The new version.
        collection: Collection,
        /// The version it follows.
        previous: Uid,
    },
    /// The key's head already holds exactly these members in this order: nothing was written.
    Existing {
        /// The existing collection.
        collection: Collection,
    },
}

impl CollectionOutcome {
    /// The collection created or found.
    pub fn collection(&self) -> &Collection {
        match self {
            CollectionOutcome::Created { collection }
            | CollectionOutcome::NewVersion { collection, .. }
            | CollectionOutcome::Existing { collection } => collection,
        }
    }

    /// `created`, `new_version` or `existing`.
    pub fn name(&self) -> &'static str {
        match self {
            CollectionOutcome::Created { .. } => "created",
            CollectionOutcome::NewVersion { .. } => "new_version",
            CollectionOutcome::Existing { .. } => "existing",
        }
    }
}

/// What a branch operation did to one collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MovedCollection {
    /// The collection after the operation.
    pub collection: Collection,
    /// What happened.
    pub transition: Transition,
}

impl Trove {
    /// Create a collection of these artifacts, in this order (each once). With a key that
    /// already names a collection (not in the trash), this is its next version, unless the head
    /// already holds exactly these members ([`CollectionOutcome::Existing`]). Member artifacts
    /// may be on any branch; they are never changed.
    pub async fn create_collection(&self, members: &[Uid], opts: CollectionOptions) -> Result<CollectionOutcome> {
        if opts.key.is_none() && opts.description.is_none() {
            return Err(Error::invalid_input(
                "a collection needs a key or a description: pass a KEY or --description TEXT",
            ));
        }
        if let Some(k) = &opts.key {
            validate_collection_key(k)?;
        }
        let artifacts = self.artifacts_by_uid(members).await?;
        if artifacts.len() != members.len() {
            return Err(Error::invalid_input("an artifact is listed twice: a collection holds each artifact once"));
        }
        let hash = collection_hash(artifacts.iter().map(|a| a.hash.as_str()));
        let mut last_err = None;
        for attempt in 0..MAX_ATTEMPTS {
            match self.create_collection_attempt(members, &opts, &hash).await {
                Err(e) if e.is_retryable() || e.kind() == ErrorKind::StaleRevises => {
                    last_err = Some(e);
                    tokio::time::sleep(std::time::Duration::from_millis(5 << attempt.min(6))).await;
                }
                Ok(outcome) => {
                    if !matches!(outcome, CollectionOutcome::Existing { .. }) {
                        let record = RecordRef::Collection(outcome.collection().uid.clone());
                        self.notify(vec![(record, Change::Saved { outcome: outcome.name().to_owned() })]);
                    }
                    return Ok(outcome);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_err.expect("at least one attempt"))
    }

    async fn create_collection_attempt(
        &self,
        members: &[Uid],
        opts: &CollectionOptions,
        hash: &str,
    ) -> Result<CollectionOutcome> {
        let head = match &opts.key {
            Some(k) => self.catalog().collection_head_by_key(k).await?,
            None => None,
        };
        if let Some(h) = &head
            && h.members == members
        {
            return Ok(CollectionOutcome::Existing { collection: h.clone() });
        }
        let uid = match &head {
            Some(h) => {
                let max = self.catalog().max_collection_version(&h.stem()).await?.unwrap_or(0);
                h.stem().uid(max + 1)?
            }
            None => Uid::new_family(),
        };
        let new = NewCollection {
            uid,
            key: opts.key.clone(),
            description: opts.description.clone(),
            members: members.to_vec(),
            hash: hash.to_owned(),
            created_by: self.user_id().await?,
            revises: head.as_ref().map(|h| h.uid.clone()),
            created_at: self.clock().now(),
        };
        let collection = self.catalog().create_collection(&new).await?;
        Ok(match head {
            Some(h) => CollectionOutcome::NewVersion { collection, previous: h.uid },
            None => CollectionOutcome::Created { collection },
        })
    }

    /// Find one collection: by full uid (any branch), by 16-character stem (the family's head
    /// on main, else its newest version anywhere), or by key (the head on main).
    pub async fn collection(&self, locator: &str) -> Result<Collection> {
        let q = match Locator::parse(locator) {
            Locator::Uid(uid) => {
                CollectionQuery { branch: BranchSelection::All, uids: Some(vec![uid]), ..Default::default() }
            }
            Locator::Stem(stem) => {
                CollectionQuery { branch: BranchSelection::All, stem: Some(stem), ..Default::default() }
            }
            Locator::Key(key) => CollectionQuery { key: Some(key), latest_only: true, ..Default::default() },
        };
        let mut found = self.catalog().collections(&q).await?;
        found.sort_by_key(|c| (c.branch != BranchId::MAIN || !c.is_latest, std::cmp::Reverse(c.version_index())));
        found.into_iter().next().ok_or_else(|| {
            Error::not_found(format!("no collection '{locator}': list them with `trove collection ls --branch all`"))
        })
    }

    /// Find one collection like [`Trove::collection`], but resolve a key on the given branches:
    /// the head on main first, then on archive, then in the trash (for commands that act on
    /// archived or trashed collections, such as restore or permanent deletion).
    pub async fn collection_in(&self, locator: &str, branches: BranchSelection) -> Result<Collection> {
        let Locator::Key(key) = Locator::parse(locator) else {
            return self.collection(locator).await;
        };
        let q = CollectionQuery { branch: branches, key: Some(key.clone()), latest_only: true, ..Default::default() };
        let mut heads = self.catalog().collections(&q).await?;
        heads.sort_by_key(|c| (branch_rank(c.branch), std::cmp::Reverse(c.version_index())));
        heads.into_iter().next().ok_or_else(|| {
            Error::not_found(format!(
                "no collection '{key}' on any branch: list them with `trove collection ls --branch all`"
            ))
        })
    }

    /// Every collection with these uids (any branch), in order, each once; a missing uid is a
    /// NotFound error naming it.
    pub async fn collections_by_uid(&self, uids: &[Uid]) -> Result<Vec<Collection>> {
        let q = CollectionQuery { branch: BranchSelection::All, uids: Some(uids.to_vec()), ..Default::default() };
        let rows = self.catalog().collections(&q).await?;
        let (out, missing) = in_order(uids, &rows, |c| &c.uid);
        if !missing.is_empty() {
            return Err(Error::not_found(format!(
                "no collection with uid {}: list them with `trove collection ls --branch all`",
                missing.iter().map(|u| u.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(out)
    }

    /// Split collections into those [`Trove::trash_collections`] would move and those already
    /// in the trash, so a caller (the CLI) can ask before deleting the latter permanently.
    pub async fn plan_delete_collections(&self, uids: &[Uid]) -> Result<DeletePlan<Collection>> {
        let found = self.collections_by_uid(uids).await?;
        Ok(DeletePlan::split(found, |c| c.branch == BranchId::TRASH))
    }

    /// Collections matching a query (default: heads and non-heads on `main`).
    pub async fn collections(&self, query: &CollectionQuery) -> Result<Vec<Collection>> {
        self.catalog().collections(query).await
    }

    /// A collection's member artifacts, in order (any branch).
    pub async fn collection_members(&self, collection: &Collection) -> Result<Vec<Artifact>> {
        self.artifacts_by_uid(&collection.members).await
    }

    /// Collections (any branch) holding any of these artifacts.
    pub async fn collections_containing(&self, uids: &[Uid]) -> Result<Vec<Collection>> {
        let q = CollectionQuery { branch: BranchSelection::All, containing: Some(uids.to_vec()), ..Default::default() };
        self.catalog().collections(&q).await
    }

    /// Refuse (before anything changes) to delete permanently artifacts that belong to a
    /// collection; the catalog checks again inside its transaction.
    pub(crate) async fn check_not_in_collections(&self, uids: &[Uid]) -> Result<()> {
        let holding = self.collections_containing(uids).await?;
        let mut found = Vec::new();
        for uid in uids {
            for c in holding.iter().filter(|c| c.members.contains(uid)) {
                found.push((uid.clone(), format!("{} on {}", c.label(), c.branch)));
            }
        }
        if found.is_empty() { Ok(()) } else { Err(in_collections_error(&found)) }
    }

    /// Move collections to the trash (their artifacts stay where they are).
    pub async fn trash_collections(&self, uids: &[Uid]) -> Result<Vec<MovedCollection>> {
        self.collection_op(uids, Operation::Trash).await
    }

    /// Restore collections: from the trash to where they came from, from the archive to main.
    pub async fn restore_collections(&self, uids: &[Uid]) -> Result<Vec<MovedCollection>> {
        self.collection_op(uids, Operation::Restore).await
    }

    /// Archive collections.
    pub async fn archive_collections(&self, uids: &[Uid]) -> Result<Vec<MovedCollection>> {
        self.collection_op(uids, Operation::Archive).await
    }

    async fn collection_op(&self, uids: &[Uid], op: Operation) -> Result<Vec<MovedCollection>> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let results = self.catalog().apply_collection_transition(uids, op).await?;
        let moved: Vec<MovedCollection> = results
            .into_iter()
            .map(|r| MovedCollection { collection: r.collection, transition: r.transition })
            .collect();
        self.notify(
            moved
                .iter()
                .filter_map(|m| match m.transition {
                    Transition::Move { from, to } => {
                        Some((RecordRef::Collection(m.collection.uid.clone()), Change::Moved { from, to }))
                    }
                    _ => None,
                })
                .collect(),
        );
        Ok(moved)
    }

    /// Delete collections permanently, from any branch: their rows and membership rows go, in
    /// one transaction; their artifacts are never touched. Returns them as they were.
    pub async fn delete_collections_permanently(&self, uids: &[Uid]) -> Result<Vec<Collection>> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let gone = self.catalog().purge_collections(uids).await?;
        self.notify(gone.iter().map(|c| (RecordRef::Collection(c.uid.clone()), Change::Purged)).collect());
        Ok(gone)
    }
}
