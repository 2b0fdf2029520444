//! Replace: swap an artifact's content in place (spec 2, section 6): same uid, same version,
//! same record; size, hash, file count and row count recomputed; a suffix change renames the
//! key's suffix and moves the bytes.
//!
//! The protocol (design, section 3), crash-safe at every step:
//! 1. the new bytes are written (and hashed) to `.trove/staging/<op id>/<uid><suffix>`;
//! 2. the row is marked `Replacing { staged_key, new, target_key }` (`Catalog::begin_replace`);
//! 3. the staged bytes are moved into place: renamed over the target where the backend renames
//!    atomically, else copied over it (folders: copied file by file, then files that are not
//!    part of the new content removed);
//! 4. the new metadata is committed and the mark cleared in one unit of work
//!    (`Catalog::commit_replace`; a roll-back is `Catalog::abort_replace`);
//! 5. the old object (suffix change) and the staging copy are deleted.
//!
//! A failure before step 4 is settled at once, or later by `fsck --repair`, by looking at the
//! bytes: if the target holds the new content the replace is finished; if the old content is
//! still intact it is rolled back; otherwise the complete staged copy is moved in again. Until
//! step 4 commits, the record keeps describing the old content and pointing at it.

use std::path::Path;

use serde::Serialize;
use trove_domain::key::{MANAGED_DIR, storage_key};
use trove_domain::ports::ObjectStore;
use trove_domain::{
    Artifact, ArtifactQuery, BranchSelection, ContentUpdate, Error, ErrorKind, Key, Pending, Placement, Result, Uid,
};

use crate::local;
use crate::source::{Inspected, Source};
use crate::{Store, Trove};

/// What `replace` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReplaceOutcome {
    /// The content was replaced; the record (same uid and version) describes the new content.
    Replaced {
        /// The record after the replace.
        artifact: Artifact,
        /// The key's rename on a suffix change (`iris.csv` to `iris.data`), if any.
        renamed: Option<Renamed>,
        /// The storage path's move on a suffix change (absolute path or object URL), if any.
        moved: Option<Renamed>,
        /// Paths of old bytes deleted (the old object after a suffix change).
        removed_paths: Vec<String>,
        /// Paths that should have been deleted after the commit but could not be (the record is
        /// already correct; remove them by hand, or let `trove gc` find those in `.trove/`).
        left_behind: Vec<String>,
    },
    /// The new content equals the current content: nothing changed.
    Unchanged {
        /// The record, as it was.
        artifact: Artifact,
    },
}

/// A rename: from, to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Renamed {
    /// The old name.
    pub from: String,
    /// The new name.
    pub to: String,
}

impl ReplaceOutcome {
    /// The record after the operation.
    pub fn artifact(&self) -> &Artifact {
        match self {
            ReplaceOutcome::Replaced { artifact, .. } | ReplaceOutcome::Unchanged { artifact } => artifact,
        }
    }

    /// Take the record.
    pub fn into_artifact(self) -> Artifact {
        match self {
            ReplaceOutcome::Replaced { artifact, .. } | ReplaceOutcome::Unchanged { artifact } => artifact,
        }
    }

    /// `replaced` or `unchanged`.
    pub fn name(&self) -> &'static str {
        match self {
            ReplaceOutcome::Replaced { .. } => "replaced",
            ReplaceOutcome::Unchanged { .. } => "unchanged",
        }
    }

    /// One sentence for people.
    pub fn describe(&self) -> String {
        match self {
            ReplaceOutcome::Unchanged { artifact } => {
                format!("the new content equals the content of {}: nothing changed", artifact.label())
            }
            ReplaceOutcome::Replaced { artifact, renamed, removed_paths, .. } => {
                let mut s = format!("replaced the content of {}", artifact.label());
                if let Some(r) = renamed {
                    s.push_str(&format!("; renamed '{}' to '{}'", r.from, r.to));
                }
                if !removed_paths.is_empty() {
                    s.push_str(&format!("; removed {}", removed_paths.join(", ")));
                }
                s
            }
        }
    }
}

/// How an interrupted replace is settled, decided from the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settle {
    /// The target holds the new content: commit the new metadata.
    Finish,
    /// The old content is intact: clear the mark and drop the staged copy.
    RollBack,
    /// The target was partly overwritten; the staged copy is complete: move it in again, commit.
    Redo,
    /// Neither old nor new content is complete anywhere.
    Stuck,
}

impl Settle {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Settle::Finish => "finished: the new content is in place, so the record now describes it",
            Settle::RollBack => "rolled back: the old content is intact and stays; the staged copy is removed",
            Settle::Redo => "finished from the staged copy: the old content was partly overwritten",
            Settle::Stuck => "none: neither the old nor the new content is complete; restore the bytes from a backup",
        }
    }
}

/// What the replace protocol needs from the marked row.
struct Marked<'a> {
    mark: &'a Pending,
    staged_key: &'a str,
    new: &'a ContentUpdate,
    target_key: &'a str,
}

fn marked(a: &Artifact) -> Option<Marked<'_>> {
    match &a.pending {
        Some(mark @ Pending::Replacing { staged_key, new, target_key }) => {
            Some(Marked { mark, staged_key, new, target_key })
        }
        _ => None,
    }
}

impl Trove {
    /// Replace an artifact's content (spec 2, section 6): same uid, same version, same record.
    ///
    /// * the source is a local file or folder outside every registered storage location, bytes
    ///   in memory, or (feature `dataframe`) record batches written as Parquet;
    /// * a folder cannot replace a file, nor a file a folder;
    /// * content equal to the current content is [`ReplaceOutcome::Unchanged`];
    /// * a new suffix renames the key's suffix (and an in-place registration's real path) and
    ///   moves the bytes; the old object is deleted after the commit;
    /// * new content equal to *another* artifact's is fine (no de-duplication: it is in place);
    /// * crash-safe: until the new metadata commits, the record describes and points at the old
    ///   content; a failure is settled at once or by `trove fsck --repair`.
    pub async fn replace(&self, locator: &str, source: impl Into<Source>) -> Result<ReplaceOutcome> {
        let source = source.into();
        let a = self.get(locator).await?;
        if let Some(p) = &a.pending {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "{} has an unfinished operation ({}); run `trove fsck --repair`, then replace again",
                    a.label(),
                    pending_name(p)
                ),
            ));
        }
        let store = self.store(a.storage)?;
        self.check_manages(&store.location)?;
        self.check_shared_store_replace(&a).await?;
        let Inspected { suffix, is_folder, n_observations: rows, .. } = self.inspect_source(&source, &a)?;
        if is_folder != a.is_folder() {
            return Err(if a.is_folder() {
                Error::invalid_input(format!(
                    "{} is a folder and cannot be replaced with a file: give a folder",
                    a.label()
                ))
            } else {
                Error::invalid_input(format!(
                    "{} is a file and cannot be replaced with a folder: give a file, or save the folder as a new \
                     artifact",
                    a.label()
                ))
            });
        }

        // Where the new content goes.
        let suffix_changed = suffix != a.suffix;
        let new_key = match (&a.key, suffix_changed) {
            (Some(k), true) => Some(k.with_suffix(&a.suffix, &suffix)?),
            (k, _) => k.clone(),
        };
        let new_placement = match (&a.placement, suffix_changed) {
            (Placement::InPlace { real_path }, true) => Placement::InPlace {
                real_path: Key::parse(real_path)?.with_suffix(&a.suffix, &suffix)?.as_str().to_owned(),
            },
            (p, _) => p.clone(),
        };
        let old_key = a.storage_key();
        let target_key = storage_key(&a.uid, new_key.as_ref(), &suffix, &new_placement);
        if target_key != old_key {
            self.check_target_free(store, &target_key, is_folder).await?;
        }
        if let (Some(k), true) = (&new_key, suffix_changed) {
            self.check_key_unclaimed(&a, k).await?;
        }

        // 1. Stage.
        let op = Uid::new_family();
        let staged_key = format!("{MANAGED_DIR}/staging/{}/{}{}", &op.as_str()[..16], a.uid, suffix);
        let written = match source.write_to(store.store.as_ref(), &staged_key, is_folder, self.progress()).await {
            Ok(w) => w,
            Err(e) => {
                let _ = remove_staging(store.store.as_ref(), &staged_key).await;
                return Err(e);
            }
        };
        if written.content.hash == a.hash && written.content.hash_type == a.hash_type && written.content.size == a.size
        {
            let _ = remove_staging(store.store.as_ref(), &staged_key).await;
            return Ok(ReplaceOutcome::Unchanged { artifact: a });
        }
        let n_observations = match rows {
            Some(n) => Some(n),
            None => crate::source::stored_rows(store.store.clone(), &written, &suffix).await,
        };
        let new = ContentUpdate {
            suffix: suffix.clone(),
            key: new_key.clone(),
            placement: new_placement,
            size: written.content.size,
            hash: written.content.hash.clone(),
            hash_type: written.content.hash_type,
            n_files: written.n_files,
            n_observations,
        };

        // 2. Mark.
        let pending = Pending::Replacing { staged_key: staged_key.clone(), new, target_key: target_key.clone() };
        // Only an unmarked row whose content is still what this replace read: a concurrent
        // replace or purge makes this one fail cleanly instead.
        let marked_row = match self.catalog().begin_replace(&a.uid, &a.hash, &pending).await {
            Ok(r) => r,
            Err(e) => {
                // If the mark did land after all, fsck rolls it back: the old bytes are untouched.
                let _ = remove_staging(store.store.as_ref(), &staged_key).await;
                return Err(e);
            }
        };

        // 3. Move into place; on failure, settle from what the bytes say.
        if let Err(e) = move_staged(store.store.as_ref(), &staged_key, &target_key, is_folder).await {
            let settled = match self.replace_decision(&marked_row).await {
                Ok(d) => self.settle_replace(&marked_row, d).await.map(|a| (d, a)),
                Err(e2) => Err(e2),
            };
            return match settled {
                Ok((Settle::RollBack, _)) => Err(Error::new(
                    e.kind(),
                    format!(
                        "could not replace the content of {}: {e}. Nothing changed: the old content and record are \
                         intact; try again",
                        a.label()
                    ),
                )
                .with_source(e)),
                Ok((_, updated)) => Ok(self.replaced(store, &a, updated, &old_key, &target_key, Vec::new())),
                Err(e2) => Err(Error::new(
                    e.kind(),
                    format!(
                        "could not replace the content of {}: {e} ({e2}). The record still describes the old \
                         content and is marked; run `trove fsck --repair` to finish or roll back",
                        a.label()
                    ),
                )
                .with_source(e)),
            };
        }

        // 4. Commit.
        let committed = self.catalog().commit_replace(&a.uid, &pending).await;
        if let Err(e) = &committed
            && e.kind() == ErrorKind::PathOccupied
            && target_key != old_key
        {
            // Another family took the new key meanwhile: the old content is still in place at
            // its own key, so the replace is rolled back whole.
            let _ = self.settle_replace(&marked_row, Settle::RollBack).await;
            return Err(Error::new(
                ErrorKind::PathOccupied,
                format!("could not replace the content of {}: {}; nothing changed", a.label(), e.message()),
            ));
        }
        let updated = committed.map_err(|e| {
            Error::new(
                e.kind(),
                format!(
                    "the new content of {} is in place but the record could not be updated: {e}. Run `trove fsck \
                         --repair` to finish",
                    a.label()
                ),
            )
            .with_source(e)
        })?;

        // 5. Clean up.
        let left_behind = self.cleanup_replace(store, &a, &staged_key, &old_key, &target_key).await;
        Ok(self.replaced(store, &a, updated, &old_key, &target_key, left_behind))
    }

    fn replaced(
        &self,
        store: &Store,
        old: &Artifact,
        artifact: Artifact,
        old_key: &str,
        target_key: &str,
        left_behind: Vec<String>,
    ) -> ReplaceOutcome {
        let renamed = match (&old.key, &artifact.key) {
            (Some(a), Some(b)) if a != b => Some(Renamed { from: a.to_string(), to: b.to_string() }),
            _ => None,
        };
        let display = |k: &str| {
            if old.is_folder() { store.store.display_path(&format!("{k}/")) } else { store.store.display_path(k) }
        };
        let moved = (old_key != target_key).then(|| Renamed { from: display(old_key), to: display(target_key) });
        let removed_paths = if old_key != target_key && !left_behind.contains(&display(old_key)) {
            vec![display(old_key)]
        } else {
            Vec::new()
        };
        ReplaceOutcome::Replaced { artifact, renamed, moved, removed_paths, left_behind }
    }

    /// Suffix, folder-ness and (for DataFrames) rows of a replace source; checks that a path
    /// lies outside every registered storage location.
    fn inspect_source(&self, source: &Source, a: &Artifact) -> Result<Inspected> {
        let inspected = source.inspect(a.key.as_ref(), || a.suffix.clone())?;
        if let Some(p) = source.path() {
            self.check_outside_storages(p)?;
        }
        Ok(inspected)
    }

    /// A replace source must not lie inside any registered storage location.
    fn check_outside_storages(&self, p: &Path) -> Result<()> {
        let abs = crate::normalize_root(p)?;
        let canonical = std::fs::canonicalize(p).ok();
        for loc in self.storages() {
            let Ok(store) = self.store(loc.id) else { continue };
            let Some(root) = store.store.local_path("") else { continue };
            let root_canonical = std::fs::canonicalize(&root).ok();
            let inside = abs.starts_with(&root)
                || matches!((&canonical, &root_canonical), (Some(c), Some(r)) if c.starts_with(r));
            if inside {
                return Err(Error::invalid_input(format!(
                    "can only replace with a local path outside every storage location: {} is inside the storage \
                     location {}; copy it elsewhere first (or save it in place as a new artifact)",
                    p.display(),
                    loc.root
                )));
            }
        }
        Ok(())
    }

    /// A suffix change moves bytes to a new path: refuse one that already holds something.
    async fn check_target_free(&self, store: &Store, target: &str, folder: bool) -> Result<()> {
        let occupied = store.store.stat(target).await?.is_some()
            || (folder && !store.store.list(&format!("{target}/")).await?.is_empty());
        if occupied {
            return Err(Error::new(
                ErrorKind::PathOccupied,
                format!(
                    "the new suffix moves the bytes to {}, which already exists: move that away first, or keep the \
                     suffix",
                    store.store.display_path(target)
                ),
            ));
        }
        Ok(())
    }

    /// A suffix change renames the key: refuse a key another family already uses here.
    async fn check_key_unclaimed(&self, a: &Artifact, key: &Key) -> Result<()> {
        let others = self
            .catalog()
            .artifacts(&ArtifactQuery {
                branch: BranchSelection::All,
                key: Some(key.as_str().to_owned()),
                storage: Some(a.storage),
                include_pending: true,
                ..ArtifactQuery::default()
            })
            .await?;
        if let Some(o) = others.iter().find(|o| o.stem() != a.stem()) {
            return Err(Error::new(
                ErrorKind::PathOccupied,
                format!(
                    "the new suffix renames the key to '{key}', which {} already uses: replace with a file whose \
                     suffix is '{}', or rename that artifact first; nothing changed",
                    o.label(),
                    a.suffix
                ),
            ));
        }
        Ok(())
    }

    /// Decide how to settle an interrupted replace of `a` (a row marked `Replacing`).
    pub(crate) async fn replace_decision(&self, a: &Artifact) -> Result<Settle> {
        let m = marked(a).ok_or_else(|| Error::invalid_input(format!("{} is not being replaced", a.label())))?;
        let store = self.store(a.storage)?.store.as_ref();
        let folder = a.is_folder();
        let old_intact = || async {
            Ok::<_, Error>(content_hash_at(store, &a.storage_key(), folder).await?.as_deref() == Some(a.hash.as_str()))
        };
        // A rename whose new key another family took meanwhile can never commit: roll back.
        if let Some(k) = m.new.key.as_ref().filter(|k| Some(*k) != a.key.as_ref())
            && let Some(other) = self.catalog().family_head_by_key(a.storage, k).await?
            && other.stem() != a.stem()
            && old_intact().await?
        {
            return Ok(Settle::RollBack);
        }
        if content_hash_at(store, m.target_key, folder).await?.as_deref() == Some(m.new.hash.as_str()) {
            return Ok(Settle::Finish);
        }
        if content_hash_at(store, &a.storage_key(), folder).await?.as_deref() == Some(a.hash.as_str()) {
            return Ok(Settle::RollBack);
        }
        if content_hash_at(store, m.staged_key, folder).await?.as_deref() == Some(m.new.hash.as_str()) {
            return Ok(Settle::Redo);
        }
        Ok(Settle::Stuck)
    }

    /// Carry out a decision of [`Trove::replace_decision`]; returns the record afterwards.
    pub(crate) async fn settle_replace(&self, a: &Artifact, decision: Settle) -> Result<Artifact> {
        let m = marked(a).ok_or_else(|| Error::invalid_input(format!("{} is not being replaced", a.label())))?;
        let store = self.store(a.storage)?;
        let folder = a.is_folder();
        let old_key = a.storage_key();
        match decision {
            Settle::Stuck => Err(Error::new(
                ErrorKind::Integrity,
                format!(
                    "cannot finish or roll back the replace of {}: neither the old nor the new content is complete in \
                     storage; restore the bytes from a backup",
                    a.label()
                ),
            )),
            Settle::RollBack => {
                let updated = self.catalog().abort_replace(&a.uid, m.mark).await?;
                if m.target_key != old_key {
                    remove_quietly(store.store.as_ref(), m.target_key, folder).await;
                }
                let _ = remove_staging(store.store.as_ref(), m.staged_key).await;
                Ok(updated)
            }
            Settle::Finish | Settle::Redo => {
                if decision == Settle::Redo {
                    move_staged(store.store.as_ref(), m.staged_key, m.target_key, folder).await?;
                }
                let updated = self.catalog().commit_replace(&a.uid, m.mark).await?;
                let _ = self.cleanup_replace(store, a, m.staged_key, &old_key, m.target_key).await;
                Ok(updated)
            }
        }
    }

    /// After the commit: delete the old object (suffix change) and the staging copy. Returns
    /// the paths that could not be deleted.
    async fn cleanup_replace(
        &self,
        store: &Store,
        old: &Artifact,
        staged_key: &str,
        old_key: &str,
        target_key: &str,
    ) -> Vec<String> {
        let folder = old.is_folder();
        let mut left = Vec::new();
        if old_key != target_key && remove(store.store.as_ref(), old_key, folder).await.is_err() {
            left.push(if folder {
                store.store.display_path(&format!("{old_key}/"))
            } else {
                store.store.display_path(old_key)
            });
        }
        if remove_staging(store.store.as_ref(), staged_key).await.is_err() {
            left.push(store.store.display_path(staged_key));
        }
        left
    }
}

fn pending_name(p: &Pending) -> &'static str {
    match p {
        Pending::Purging { .. } => "a permanent deletion",
        Pending::PlacingRealKey { .. } => "a move to a real key",
        Pending::Replacing { .. } => "a replace",
    }
}

/// Move the staged content over the target. Files: an atomic rename where the backend has one
/// (the target holds the old or the new content, never a mix), else a copy over it (the staged
/// copy stays until the cleanup). Folders: copy every staged file over the target, then delete
/// target files that are not part of the new content; the staged copy stays complete until the
/// cleanup, so an interrupted move can always be redone from it.
async fn move_staged(store: &dyn ObjectStore, staged: &str, target: &str, folder: bool) -> Result<()> {
    if !folder {
        if store.capabilities().native_rename {
            return store.rename(staged, target).await;
        }
        return store.copy(staged, target).await;
    }
    let new_files = store.list(&format!("{staged}/")).await?;
    if new_files.is_empty() {
        return Err(Error::not_found(format!("the staged copy at {} is missing", store.display_path(staged))));
    }
    let rels: std::collections::HashSet<&str> = new_files.iter().map(|o| &o.key[staged.len() + 1..]).collect();
    for obj in &new_files {
        store.copy(&obj.key, &format!("{target}/{}", &obj.key[staged.len() + 1..])).await?;
    }
    for obj in store.list(&format!("{target}/")).await? {
        if !rels.contains(&obj.key[target.len() + 1..]) {
            store.delete(&obj.key).await?;
        }
    }
    Ok(())
}

/// The content hash at `key` (a file, or a folder prefix), or `None` if nothing is there.
async fn content_hash_at(store: &dyn ObjectStore, key: &str, folder: bool) -> Result<Option<String>> {
    if folder {
        if store.list(&format!("{key}/")).await?.is_empty() {
            return Ok(None);
        }
        return Ok(Some(local::hash_stored_folder(store, key).await?.0.hash));
    }
    if store.stat(key).await?.is_none() {
        return Ok(None);
    }
    match local::hash_stored_file(store, key).await {
        Ok(c) => Ok(Some(c.hash)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

async fn remove(store: &dyn ObjectStore, key: &str, folder: bool) -> Result<()> {
    if folder {
        store.delete_prefix(&format!("{key}/")).await?;
    } else {
        store.delete(key).await?;
    }
    Ok(())
}

/// Remove a replace's whole staging folder (`.trove/staging/<op id>/`), whether it holds a
/// file or a folder, so no empty folder is left behind either.
async fn remove_staging(store: &dyn ObjectStore, staged_key: &str) -> Result<u64> {
    match staged_key.rsplit_once('/') {
        Some((op_dir, _)) if op_dir.starts_with(&format!("{MANAGED_DIR}/staging/")) => {
            store.delete_prefix(&format!("{op_dir}/")).await
        }
        _ => Err(Error::invalid_input(format!("'{staged_key}' is not in a replace's staging folder"))),
    }
}

async fn remove_quietly(store: &dyn ObjectStore, key: &str, folder: bool) {
    let _ = remove(store, key, folder).await;
}
