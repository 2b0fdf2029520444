//! Bulk work: many saves in one call ([`Trove::save_many`]) and lifecycle operations on
//! everything a query matches ([`Trove::trash_matching`] and friends).
//!
//! A bulk save keeps every rule of a single save (design, section 3): each item's bytes go to
//! the managed key of a uid this writer owns (a fresh family, or a version index reserved in the
//! catalog) before any row points at them; identical content is found and not stored twice;
//! rows commit only after their bytes; on failure only this writer's own bytes are removed.
//! What changes is the cost: the keys' families and the de-duplication are looked up with one
//! query per few hundred items, the bytes move in parallel (bounded), and the rows of all
//! plain items commit in one transaction ([`trove_domain::ports::Catalog::create_artifacts`]).
//! An item the batch cannot decide on its own (a lost race, identical content in the trash or
//! earlier in the same batch) goes through the single save's commit loop with the bytes it
//! already wrote; an item a plain batch does not cover (folders, real keys, `revises`,
//! shared stores, paths inside a storage location, a key repeated in the batch) is saved by
//! [`Trove::save`] after the batch, in order.

use std::collections::{HashMap, HashSet};

use futures::StreamExt;
use trove_domain::key::managed_storage_key;
use trove_domain::{
    Artifact, ArtifactQuery, BranchId, BranchSelection, Error, Key, NewArtifact, Order, Placement, Result, StorageId,
    Uid,
};

use crate::local::{self, Written};
use crate::outcome::{Moved, PurgeReport, SaveOutcome};
use crate::query::branch_rank;
use crate::save::{Claim, Plan, Prepared, SaveOptions};
use crate::source::Source;
use crate::{Store, Trove};

/// Byte transfers a bulk save runs at once.
const TRANSFERS: usize = 8;

/// Values per set-based lookup (well below the catalogs' bind-parameter limits).
const LOOKUP_CHUNK: usize = 1000;

/// One item of [`Trove::save_many`]: what to save and how, exactly as for [`Trove::save`].
#[derive(Debug, Clone)]
pub struct SaveItem {
    /// The file, folder, bytes or record batches.
    pub source: Source,
    /// The options of this item's save.
    pub opts: SaveOptions,
}

impl SaveItem {
    /// An item.
    pub fn new(source: impl Into<Source>, opts: SaveOptions) -> Self {
        SaveItem { source: source.into(), opts }
    }
}

/// An item of the plain batch, from preparation to its row.
struct Planned<'t> {
    idx: usize,
    store: &'t Store,
    plan: Plan,
    claim: Claim,
    written: Option<Written>,
}

impl Trove {
    /// Save many sources in one call. Returns one result per item, in the order given: the
    /// item's [`SaveOutcome`] (as [`Trove::save`] would have returned it), or the error that
    /// item met. A failing item changes nothing (no row, none of its bytes, no version number
    /// used) and does not stop the others.
    ///
    /// Items under the same key are saved in the order given (the later ones become new
    /// versions); identical content within the batch is stored once (the later items return
    /// [`SaveOutcome::Existing`]).
    pub async fn save_many(&self, items: Vec<SaveItem>) -> Vec<Result<SaveOutcome>> {
        let mut results: Vec<Option<Result<SaveOutcome>>> = (0..items.len()).map(|_| None).collect();
        let mut later: Vec<usize> = Vec::new();
        let mut batch: Vec<Planned<'_>> = Vec::new();
        let mut seen_keys: HashSet<(StorageId, Key)> = HashSet::new();
        for (idx, item) in items.iter().enumerate() {
            if item.opts.shared_store || item.opts.revises.is_some() {
                later.push(idx);
                continue;
            }
            match self.prepare_save(&item.source, &item.opts).await {
                Err(e) => results[idx] = Some(Err(e)),
                Ok(Prepared::Owned { store, is_folder: false, plan }) if !plan.real => {
                    let fresh = plan.key.as_ref().is_none_or(|k| seen_keys.insert((store.location.id, k.clone())));
                    if fresh {
                        let claim = Claim { uid: Uid::new_family(), head: None };
                        batch.push(Planned { idx, store, plan, claim, written: None });
                    } else {
                        later.push(idx);
                    }
                }
                Ok(_) => later.push(idx),
            }
        }

        // The families the keys already have: new versions reserve their index first.
        match self.heads_by_key(&batch).await {
            Ok(heads) => {
                let mut kept = Vec::with_capacity(batch.len());
                for mut p in batch {
                    let head = p.plan.key.as_ref().and_then(|k| heads.get(&(p.store.location.id, k.clone())));
                    if let Some(h) = head {
                        match self.catalog().reserve_version(&h.stem()).await.and_then(|i| h.stem().uid(i)) {
                            Ok(uid) => p.claim = Claim { uid, head: Some(h.clone()) },
                            Err(e) => {
                                results[p.idx] = Some(Err(e));
                                continue;
                            }
                        }
                    }
                    kept.push(p);
                }
                batch = kept;
            }
            Err(_) => {
                // The lookup failed as a whole: every item is saved on its own instead.
                later.extend(batch.drain(..).map(|p| p.idx));
                later.sort_unstable();
            }
        }

        // The bytes, in parallel: each to the managed key of its own uid.
        let progress = self.progress();
        let writes = futures::stream::iter(batch.iter().map(|p| {
            let key = managed_storage_key(&p.claim.uid, &p.plan.suffix);
            let source = &items[p.idx].source;
            async move { source.write_to(p.store.store.as_ref(), &key, false, progress).await }
        }))
        .buffered(TRANSFERS)
        .collect::<Vec<_>>()
        .await;
        let mut kept = Vec::with_capacity(batch.len());
        for (mut p, w) in batch.into_iter().zip(writes) {
            match w {
                Ok(w) => {
                    p.written = Some(w);
                    kept.push(p);
                }
                Err(e) => {
                    self.release_claim(&p.claim).await;
                    results[p.idx] = Some(Err(e));
                }
            }
        }
        let batch = kept;

        // De-duplication, set-based; items it cannot settle alone go through the commit loop.
        let (batch, deferred) = self.dedup_batch(batch, &items, &mut results).await;
        let deferred = self.commit_batch(batch, &items, &mut results).await.into_iter().chain(deferred);
        let mut deferred: Vec<Planned<'_>> = deferred.collect();
        deferred.sort_by_key(|p| p.idx);
        for p in deferred {
            let opts = &items[p.idx].opts;
            let written = p.written.expect("written before the commit");
            let out = self.commit_owned(p.store, false, &p.plan, opts, p.claim, written).await;
            results[p.idx] = Some(out);
        }
        for (idx, r) in results.iter().enumerate() {
            if let Some(Ok(outcome)) = r {
                self.notify_saved(outcome);
                if let (Source::Path(path), SaveOutcome::Created { .. } | SaveOutcome::NewVersion { .. }) =
                    (&items[idx].source, outcome)
                {
                    self.seed_cache(path, outcome.artifact()).await;
                }
            }
        }
        for idx in later {
            let item = &items[idx];
            results[idx] = Some(self.save(item.source.clone(), item.opts.clone()).await);
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::catalog("internal error: a bulk save item was not decided"))))
            .collect()
    }

    /// The head of each key's family (as `Catalog::family_head_by_key` finds it), for every
    /// keyed item, with one query per chunk of keys.
    async fn heads_by_key(&self, batch: &[Planned<'_>]) -> Result<HashMap<(StorageId, Key), Artifact>> {
        let keys: Vec<String> =
            batch.iter().filter_map(|p| p.plan.key.as_ref().map(|k| k.as_str().to_owned())).collect();
        let mut heads: HashMap<(StorageId, Key), Artifact> = HashMap::new();
        for chunk in keys.chunks(LOOKUP_CHUNK) {
            let rows = self
                .catalog()
                .artifacts(&ArtifactQuery {
                    branch: BranchSelection::All,
                    exclude_trash: true,
                    keys: Some(chunk.to_vec()),
                    latest_only: true,
                    include_pending: true,
                    order: Order::Version,
                    ..ArtifactQuery::default()
                })
                .await?;
            for a in rows {
                let Some(k) = a.key.clone() else { continue };
                let better = |old: &Artifact| {
                    (branch_rank(a.branch), std::cmp::Reverse(a.created_at))
                        < (branch_rank(old.branch), std::cmp::Reverse(old.created_at))
                };
                match heads.get(&(a.storage, k.clone())) {
                    Some(old) if !better(old) => {}
                    _ => {
                        heads.insert((a.storage, k), a);
                    }
                }
            }
        }
        Ok(heads)
    }

    /// Settle the items whose content already exists (returned as [`SaveOutcome::Existing`],
    /// their bytes removed), and set aside those the commit loop must decide: content in the
    /// trash under the same key (it comes back), content equal to an earlier item of the batch.
    async fn dedup_batch<'t>(
        &self,
        batch: Vec<Planned<'t>>,
        items: &[SaveItem],
        results: &mut [Option<Result<SaveOutcome>>],
    ) -> (Vec<Planned<'t>>, Vec<Planned<'t>>) {
        let exempt = |p: &Planned<'_>| {
            items[p.idx].opts.allow_duplicate || p.written.as_ref().is_none_or(|w| w.content.size == 0)
        };
        let hashes: Vec<String> = batch
            .iter()
            .filter(|p| !exempt(p))
            .filter_map(|p| p.written.as_ref().map(|w| w.content.hash.clone()))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut live: HashMap<String, Vec<Artifact>> = HashMap::new();
        let mut trashed: HashSet<(Option<Key>, String)> = HashSet::new();
        for chunk in hashes.chunks(LOOKUP_CHUNK) {
            let found = self
                .catalog()
                .artifacts(&ArtifactQuery {
                    branch: BranchSelection::All,
                    hashes: Some(chunk.to_vec()),
                    order: Order::Version,
                    ..ArtifactQuery::default()
                })
                .await;
            let Ok(found) = found else {
                // The lookup failed: every item is decided by the commit loop instead.
                return (Vec::new(), batch);
            };
            for a in found {
                if a.branch == BranchId::TRASH {
                    trashed.insert((a.key.clone(), a.hash.clone()));
                } else {
                    live.entry(a.hash.clone()).or_default().push(a);
                }
            }
        }
        let mut keep = Vec::with_capacity(batch.len());
        let mut deferred = Vec::new();
        let mut in_batch: HashSet<String> = HashSet::new();
        for p in batch {
            if exempt(&p) {
                keep.push(p);
                continue;
            }
            let written = p.written.as_ref().expect("written");
            let hash = &written.content.hash;
            // The same choice as a single save: this key's head on main, else this key, else
            // the oldest family.
            let best = live.get(hash).and_then(|existing| {
                existing
                    .iter()
                    .find(|a| a.key == p.plan.key && a.is_latest && a.branch == BranchId::MAIN)
                    .or_else(|| existing.iter().find(|a| a.key == p.plan.key))
                    .or_else(|| existing.first())
            });
            if let Some(found) = best {
                results[p.idx] = Some(match local::remove_written(p.store.store.as_ref(), written).await {
                    Ok(()) => {
                        self.release_claim(&p.claim).await;
                        Ok(SaveOutcome::Existing { artifact: found.clone() })
                    }
                    Err(e) => Err(e),
                });
                continue;
            }
            let in_trash = p.plan.key.is_some() && trashed.contains(&(p.plan.key.clone(), hash.clone()));
            if in_trash || !in_batch.insert(hash.clone()) {
                deferred.push(p);
            } else {
                keep.push(p);
            }
        }
        (keep, deferred)
    }

    /// Commit the rows of the plain batch in one transaction. Returns the items the commit loop
    /// must decide instead (the batch lost a race, or the catalog refused it): their bytes are
    /// still in place under their own uids.
    async fn commit_batch<'t>(
        &self,
        batch: Vec<Planned<'t>>,
        items: &[SaveItem],
        results: &mut [Option<Result<SaveOutcome>>],
    ) -> Vec<Planned<'t>> {
        if batch.is_empty() {
            return batch;
        }
        let created_by = match self.user_id().await {
            Ok(u) => u,
            Err(_) => return batch,
        };
        let now = self.clock().now();
        let news: Vec<NewArtifact> = batch
            .iter()
            .map(|p| {
                let opts = &items[p.idx].opts;
                let written = p.written.as_ref().expect("written");
                NewArtifact {
                    uid: p.claim.uid.clone(),
                    key: p.plan.key.clone(),
                    description: opts.description.clone(),
                    suffix: p.plan.suffix.clone(),
                    kind: opts.kind.clone(),
                    otype: p.plan.otype.clone(),
                    content: written.content.clone(),
                    n_files: written.n_files,
                    n_observations: p.plan.n_observations,
                    version_tag: opts.version_tag.clone(),
                    storage: p.store.location.id,
                    placement: Placement::Managed,
                    created_by,
                    revises: p.claim.head.as_ref().map(|h| h.uid.clone()),
                    strict_revises: false,
                    pending: None,
                    dedup_exempt: opts.allow_duplicate || written.content.size == 0,
                    created_at: now,
                }
            })
            .collect();
        let created = match self.catalog().create_artifacts(&news).await {
            Ok(rows) => rows,
            Err(_) => {
                // All or nothing; but a commit whose reply was lost may have landed: its rows
                // point at these bytes, which must then stay.
                let uids: Vec<Uid> = news.iter().map(|n| n.uid.clone()).collect();
                let landed = self
                    .catalog()
                    .artifacts(&ArtifactQuery { branch: BranchSelection::All, uids: Some(uids), ..Default::default() })
                    .await;
                match landed {
                    Ok(rows) if rows.len() == news.len() => rows,
                    _ => return batch,
                }
            }
        };
        let mut by_uid: HashMap<Uid, Artifact> = created.into_iter().map(|a| (a.uid.clone(), a)).collect();
        for p in batch {
            let outcome = match (by_uid.remove(&p.claim.uid), p.claim.head) {
                (Some(artifact), Some(h)) => Ok(SaveOutcome::NewVersion { artifact, previous: h.uid }),
                (Some(artifact), None) => Ok(SaveOutcome::Created { artifact }),
                (None, _) => Err(Error::catalog(format!("the catalog did not return the new record {}", p.claim.uid))),
            };
            results[p.idx] = Some(outcome);
        }
        Vec::new()
    }

    /// Move to the trash every record the query matches (resolved in one query; see
    /// [`Trove::matching`]), in one transaction. Nothing matching is not an error (empty list).
    pub async fn trash_matching(&self, query: &ArtifactQuery) -> Result<Vec<Moved>> {
        let uids = self.matching_uids(query).await?;
        self.trash(&uids).await
    }

    /// Restore every record the query matches (see [`Trove::restore`]).
    pub async fn restore_matching(&self, query: &ArtifactQuery) -> Result<Vec<Moved>> {
        let uids = self.matching_uids(query).await?;
        self.restore(&uids).await
    }

    /// Archive every record the query matches (see [`Trove::archive`]).
    pub async fn archive_matching(&self, query: &ArtifactQuery) -> Result<Vec<Moved>> {
        let uids = self.matching_uids(query).await?;
        self.archive(&uids).await
    }

    /// Delete permanently every record the query matches (see [`Trove::delete_permanently`]).
    pub async fn delete_permanently_matching(
        &self,
        query: &ArtifactQuery,
        policy: trove_domain::StoragePolicy,
    ) -> Result<PurgeReport> {
        let uids = self.matching_uids(query).await?;
        self.delete_permanently(&uids, policy).await
    }

    /// Every record a bulk operation on `query` acts on, in one query: every version (not
    /// only heads, unless the query asks), records another operation has marked included (the
    /// operation then refuses them with a typed conflict rather than skipping them silently).
    /// An empty query (no key prefix, label, key, uids, hash or stem) is refused: it would
    /// select a whole branch by accident.
    pub async fn matching(&self, query: &ArtifactQuery) -> Result<Vec<Artifact>> {
        let narrowed = query.key_prefix.as_deref().is_some_and(|p| !p.is_empty())
            || query.labels.as_ref().is_some_and(|l| !l.is_empty())
            || query.key.is_some()
            || query.keys.is_some()
            || query.uids.is_some()
            || query.hash.is_some()
            || query.hashes.is_some()
            || query.stem.is_some()
            || query.branch != BranchSelection::Default;
        if !narrowed {
            return Err(Error::invalid_input(
                "a bulk operation needs a selection: a key prefix, a label or a branch (say --branch main to mean \
                 everything on main)",
            ));
        }
        self.catalog()
            .artifacts(&ArtifactQuery {
                include_pending: true,
                limit: None,
                offset: None,
                after: None,
                ..query.clone()
            })
            .await
    }

    async fn matching_uids(&self, query: &ArtifactQuery) -> Result<Vec<Uid>> {
        Ok(self.matching(query).await?.into_iter().map(|a| a.uid).collect())
    }
}

impl Trove {
    /// Save every regular file below the local folder `dir` as its own artifact (one
    /// [`Trove::save_many`] call), keyed by `key_prefix` and the file's path relative to `dir`
    /// (`/`-separated; a prefix not ending in `/` gets one). `opts` applies to every file (its
    /// key is ignored). A link or special file anywhere below `dir` is refused before anything
    /// is written, as a folder save refuses it. Returns each file's relative path and result,
    /// in path order.
    pub async fn save_each(
        &self,
        dir: &std::path::Path,
        key_prefix: Option<&str>,
        opts: SaveOptions,
    ) -> Result<Vec<(String, Result<SaveOutcome>)>> {
        let meta = std::fs::metadata(dir).map_err(|e| Error::io(format!("cannot read {}", dir.display()), e))?;
        if !meta.is_dir() {
            return Err(Error::invalid_input(format!(
                "{} is not a folder: --each saves the files of a folder; save a file without it",
                dir.display()
            )));
        }
        let files = crate::source::walk_folder(dir)?;
        let prefix = match key_prefix.filter(|p| !p.is_empty()) {
            Some(p) if p.ends_with('/') => p.to_owned(),
            Some(p) => format!("{p}/"),
            None => String::new(),
        };
        let items: Vec<SaveItem> = files
            .iter()
            .map(|f| {
                let key = format!("{prefix}{}", f.rel.replace('\\', "/"));
                SaveItem::new(f.path.clone(), SaveOptions { key: Some(key), ..opts.clone() })
            })
            .collect();
        let results = self.save_many(items).await;
        Ok(files.into_iter().map(|f| f.rel).zip(results).collect())
    }
}
