//! A plain reference model of the record lifecycle (spec 1), of saving and replacing (spec 2,
//! sections 2-6) and of collection membership (spec 1, section 6), for state-machine tests of
//! the façade against real backends.
//!
//! The model knows nothing of uids, databases or object stores. Records are *slots* (indexes in
//! creation order, kept after a record is deleted permanently, so that tests can aim operations
//! at records that are gone); version families are indexes too; bytes live at abstract
//! [`Location`]s. A test maps slots to uids and locations to storage keys as the system under
//! test reports them.
//!
//! Every operation is an [`Op`]; [`Model::apply`] changes the state and returns what the system
//! must answer ([`Expect`]). An operation the model predicts to fail changes nothing.
//!
//! The lifecycle table is written out here again on purpose (not taken from
//! `trove_domain::lifecycle::transition`), so that a mistake in the domain's table shows up as a
//! difference instead of being shared by the test.
//!
//! # Extending
//! * a new operation: a variant of [`Op`], a branch of [`Model::apply`], and, if it answers
//!   something new, a variant of [`Expect`];
//! * collections are [`ModelCollection`]s in [`Model::collections`] (slots, like records);
//!   [`ModelRecord::collections`] lists the collections (any branch) holding a record, and
//!   permanent deletion of such a record fails with `Protected` (spec 1, section 6);
//! * replace ([`Op::Replace`]) changes [`ModelRecord::content`] and, on a suffix change, the
//!   record's suffix, key and [`Location`] (suffixes are per record: a family's versions may
//!   differ after a replace).
//!
//! The model is the spec: where Trove once differed (reused version suffixes, the real-key
//! check before de-duplication, refused duplicates under one key) it has been fixed, and the
//! switches that let the model follow those differences are gone.

use std::collections::{BTreeMap, BTreeSet};

use trove_domain::lifecycle::{KeepReason, NoOpReason, Transition};
use trove_domain::{BranchId, ErrorKind, StoragePolicy};

mod ops;

pub use ops::{CollectionExpect, Expect, Op, PurgeExpect, ReplaceExpect, SaveExpect, SaveRequest, TrashCutoff};

/// How an artifact's key was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    /// No key (a description only): bytes in the managed area.
    None,
    /// A virtual key (the default): bytes in the managed area, `.trove/<uid><suffix>`.
    Virtual,
    /// A real key: bytes at the key's own path.
    Real,
}

/// Where bytes live in the storage root, abstractly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Location {
    /// `.trove/<uid><suffix>` of the version `version` of family `family`.
    Managed {
        /// The family index.
        family: usize,
        /// The version index.
        version: u32,
        /// The suffix (`""` for none).
        suffix: String,
    },
    /// The user-visible path of a real key.
    Real(String),
}

/// One record of the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRecord {
    /// Its version family (index into [`Model::families`]).
    pub family: usize,
    /// Its version index (`0000` is 0).
    pub version: u32,
    /// Its key, if any.
    pub key: Option<String>,
    /// Its suffix (from the key when saved; a replace may change it).
    pub suffix: String,
    /// How its key was asked for.
    pub key_kind: KeyKind,
    /// Where its bytes are now (a real key's older versions move to the managed area).
    pub location: Location,
    /// Its content.
    pub content: Vec<u8>,
    /// Its branch; `None` once deleted permanently (state `Gone`).
    pub branch: Option<BranchId>,
    /// For a trashed record, the branch it came from.
    pub trashed_from: Option<BranchId>,
    /// Collections (slots into [`Model::collections`]) that hold it, on any branch; a
    /// collection deleted permanently is removed from the list.
    pub collections: Vec<usize>,
}

/// One collection of the model (spec 1, section 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelCollection {
    /// Its collection family (index into [`Model::collection_families`]).
    pub family: usize,
    /// Its version index.
    pub version: u32,
    /// Its key, if any.
    pub key: Option<String>,
    /// Its members (record slots), in order.
    pub members: Vec<usize>,
    /// Its branch; `None` once deleted permanently.
    pub branch: Option<BranchId>,
    /// For a trashed collection, the branch it came from.
    pub trashed_from: Option<BranchId>,
}

impl ModelCollection {
    /// Whether it still exists (on any branch).
    pub fn exists(&self) -> bool {
        self.branch.is_some()
    }
}

impl ModelRecord {
    /// Whether it still exists (on any branch).
    pub fn exists(&self) -> bool {
        self.branch.is_some()
    }
}

/// A version family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// The key its versions share, if any.
    pub key: Option<String>,
    /// The suffix of its first version (from the key; `""` without one). Later versions take
    /// theirs from their key, and a replace may change a record's: see [`ModelRecord::suffix`].
    pub suffix: String,
    /// The highest version index ever given out in it.
    pub max_version_ever: u32,
}

/// A collection version family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionFamily {
    /// The highest version index ever given out in it.
    pub max_version_ever: u32,
}

/// The whole modelled system: records, families, and the bytes in storage.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Model {
    /// Every record ever created, by slot.
    pub records: Vec<ModelRecord>,
    /// Every family ever created.
    pub families: Vec<Family>,
    /// Every object in the storage root (outside Trove's own catalog and marker files), with
    /// its content: records' bytes and bytes kept after permanent deletion.
    pub objects: BTreeMap<Location, Vec<u8>>,
    /// Every collection ever created, by slot.
    pub collections: Vec<ModelCollection>,
    /// Every collection family ever created.
    pub collection_families: Vec<CollectionFamily>,
}

fn distinct(slots: &[usize]) -> Vec<usize> {
    let mut seen = BTreeSet::new();
    slots.iter().copied().filter(|s| seen.insert(*s)).collect()
}

/// The suffix of a key's last segment: from its first dot (`a.csv.gz` -> `.csv.gz`).
pub fn key_suffix(key: &str) -> String {
    let name = key.rsplit('/').next().unwrap_or(key);
    match name.find('.') {
        Some(i) if i > 0 => name[i..].to_lowercase(),
        _ => String::new(),
    }
}

/// A key with its suffix `old` changed to `new` (`a.txt` -> `a.csv`), as a replace renames it.
pub fn key_with_suffix(key: &str, old: &str, new: &str) -> String {
    let base = if !old.is_empty() && key.to_lowercase().ends_with(old) { &key[..key.len() - old.len()] } else { key };
    format!("{base}{new}")
}

impl Model {
    /// An empty instance.
    pub fn new() -> Model {
        Model::default()
    }

    /// The record in `slot`, if that slot was ever filled.
    pub fn record(&self, slot: usize) -> Option<&ModelRecord> {
        self.records.get(slot)
    }

    /// Slots of records that still exist.
    pub fn existing(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.records.len()).filter(|s| self.records[*s].exists())
    }

    /// Slots of records on `branch`.
    pub fn on_branch(&self, branch: BranchId) -> Vec<usize> {
        self.existing().filter(|s| self.records[*s].branch == Some(branch)).collect()
    }

    /// What a default query shows (spec 1, section 5): main only.
    pub fn default_view(&self) -> Vec<usize> {
        self.on_branch(BranchId::MAIN)
    }

    /// Whether the record is the head of its family on its branch: the highest version there
    /// (spec 1, section 4, invariant 3).
    pub fn is_latest(&self, slot: usize) -> bool {
        let r = &self.records[slot];
        r.exists()
            && self
                .existing()
                .map(|s| &self.records[s])
                .filter(|o| o.family == r.family && o.branch == r.branch)
                .all(|o| o.version <= r.version)
    }

    /// What a lookup by key finds: the newest head on main holding the key.
    pub fn head_on_main_by_key(&self, key: &str) -> Option<usize> {
        self.existing()
            .filter(|s| {
                let r = &self.records[*s];
                r.key.as_deref() == Some(key) && r.branch == Some(BranchId::MAIN) && self.is_latest(*s)
            })
            .max()
    }

    /// The family a save under `key` joins: the newest head holding the key off the trash,
    /// main preferred over the archive.
    pub fn family_head_by_key(&self, key: &str) -> Option<usize> {
        let rank = |b: Option<BranchId>| if b == Some(BranchId::MAIN) { 0 } else { 1 };
        self.existing()
            .filter(|s| {
                let r = &self.records[*s];
                r.key.as_deref() == Some(key) && r.branch != Some(BranchId::TRASH) && self.is_latest(*s)
            })
            .min_by_key(|s| (rank(self.records[*s].branch), std::cmp::Reverse(*s)))
    }

    /// The version index the next save into `family` gets.
    /// Suffixes are never reused (spec 1 §4, invariant 4): one past the highest ever given.
    pub fn next_version(&self, family: usize) -> u32 {
        self.families[family].max_version_ever + 1
    }

    /// Apply an operation; returns what the system must answer.
    pub fn apply(&mut self, op: &Op) -> Expect {
        match op {
            Op::Save(req) => match self.save(req) {
                Ok(e) => Expect::Saved(e),
                Err(k) => Expect::Failed(k),
            },
            Op::Delete(slot) => self.branch_op(std::slice::from_ref(slot), BranchOp::Trash),
            Op::Trash(slots) => self.branch_op(slots, BranchOp::Trash),
            Op::Restore(slots) => self.branch_op(slots, BranchOp::Restore),
            Op::Archive(slots) => self.branch_op(slots, BranchOp::Archive),
            Op::DeletePermanently(slots, policy) => match self.delete_permanently(slots, *policy) {
                Ok(p) => Expect::Purged(p),
                Err(k) => Expect::Failed(k),
            },
            Op::EmptyTrash { cutoff, dry_run } => {
                let doomed = match cutoff {
                    TrashCutoff::Everything => self.on_branch(BranchId::TRASH),
                    TrashCutoff::LongAgo => Vec::new(),
                };
                let purged = if *dry_run || doomed.is_empty() {
                    Vec::new()
                } else {
                    // One protected record (a collection member) refuses the whole batch.
                    match self.delete_permanently(&doomed, StoragePolicy::Auto) {
                        Ok(p) => p,
                        Err(k) => return Expect::Failed(k),
                    }
                };
                Expect::EmptiedTrash { doomed, purged }
            }
            Op::Replace { slot, content, suffix } => match self.replace(*slot, content, suffix) {
                Ok(e) => Expect::Replaced(e),
                Err(k) => Expect::Failed(k),
            },
            Op::CreateCollection { members, key } => match self.create_collection(members, key.as_deref()) {
                Ok(e) => Expect::Collection(e),
                Err(k) => Expect::Failed(k),
            },
            Op::TrashCollections(slots) => self.collection_op(slots, BranchOp::Trash),
            Op::RestoreCollections(slots) => self.collection_op(slots, BranchOp::Restore),
            Op::DeleteCollectionsPermanently(slots) => {
                let slots = distinct(slots);
                if slots.iter().any(|c| !self.collections.get(*c).is_some_and(ModelCollection::exists)) {
                    return Expect::Failed(ErrorKind::NotFound);
                }
                for c in &slots {
                    let col = &mut self.collections[*c];
                    col.branch = None;
                    col.trashed_from = None;
                    for m in col.members.clone() {
                        self.records[m].collections.retain(|x| x != c);
                    }
                }
                Expect::CollectionsPurged(slots)
            }
        }
    }

    /// Slots of collections that still exist.
    pub fn existing_collections(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.collections.len()).filter(|c| self.collections[*c].exists())
    }

    /// Whether the collection is the head of its family on its branch.
    pub fn is_latest_collection(&self, slot: usize) -> bool {
        let c = &self.collections[slot];
        c.exists()
            && self
                .existing_collections()
                .map(|o| &self.collections[o])
                .filter(|o| o.family == c.family && o.branch == c.branch)
                .all(|o| o.version <= c.version)
    }

    /// The collection a create under `key` follows: the newest head holding the key off the
    /// trash, main first.
    pub fn collection_head_by_key(&self, key: &str) -> Option<usize> {
        let rank = |b: Option<BranchId>| match b {
            Some(BranchId::MAIN) => 0,
            Some(BranchId::ARCHIVE) => 2,
            _ => 1,
        };
        self.existing_collections()
            .filter(|c| {
                let col = &self.collections[*c];
                col.key.as_deref() == Some(key) && col.branch != Some(BranchId::TRASH) && self.is_latest_collection(*c)
            })
            .min_by_key(|c| (rank(self.collections[*c].branch), std::cmp::Reverse(*c)))
    }

    /// Whether the record in `slot` belongs to any collection (any branch).
    pub fn is_protected(&self, slot: usize) -> bool {
        self.records.get(slot).is_some_and(|r| !r.collections.is_empty())
    }

    /// The location of the record in `slot` if it were at `suffix` and `key`.
    fn location_after(&self, slot: usize, key: Option<&str>, suffix: &str) -> Location {
        let r = &self.records[slot];
        match (&r.location, key) {
            (Location::Real(_), Some(k)) => Location::Real(k.to_owned()),
            _ => Location::Managed { family: r.family, version: r.version, suffix: suffix.to_owned() },
        }
    }

    /// Spec 2 §6, in the façade's order: not found; on a suffix change, a target path that
    /// holds something, then a renamed key that another family uses, on any branch (both
    /// `PathOccupied`, the same kind the commit gives when the key is taken meanwhile); identical content (`Unchanged`, even with another suffix);
    /// else the content, and on a suffix change the key and the bytes' place, change. Any
    /// branch: a trashed or archived record is replaced where it is.
    fn replace(&mut self, slot: usize, content: &[u8], suffix: &str) -> Result<ReplaceExpect, ErrorKind> {
        let r = self.records.get(slot).filter(|r| r.exists()).ok_or(ErrorKind::NotFound)?;
        let changed = r.suffix != suffix;
        let new_key = match (&r.key, changed) {
            (Some(k), true) => Some(key_with_suffix(k, &r.suffix, suffix)),
            (k, _) => k.clone(),
        };
        let target = self.location_after(slot, new_key.as_deref(), suffix);
        if target != r.location && self.objects.contains_key(&target) {
            return Err(ErrorKind::PathOccupied);
        }
        if changed
            && new_key.is_some()
            && self.existing().any(|o| self.records[o].key == new_key && self.records[o].family != r.family)
        {
            return Err(ErrorKind::PathOccupied);
        }
        if r.content == content {
            return Ok(ReplaceExpect::Unchanged { slot });
        }
        let old = r.location.clone();
        let renamed = match (&r.key, &new_key) {
            (Some(a), Some(b)) if a != b => Some((a.clone(), b.clone())),
            _ => None,
        };
        self.objects.remove(&old);
        self.objects.insert(target.clone(), content.to_vec());
        let r = &mut self.records[slot];
        r.content = content.to_vec();
        r.suffix = suffix.to_owned();
        r.key = new_key;
        r.location = target.clone();
        Ok(ReplaceExpect::Replaced { slot, renamed, moved: (old != target).then_some((old, target)) })
    }

    fn create_collection(&mut self, members: &[usize], key: Option<&str>) -> Result<CollectionExpect, ErrorKind> {
        if members.iter().any(|m| !self.records.get(*m).is_some_and(ModelRecord::exists)) {
            return Err(ErrorKind::NotFound);
        }
        if distinct(members).len() != members.len() {
            return Err(ErrorKind::InvalidInput);
        }
        let head = key.and_then(|k| self.collection_head_by_key(k));
        if let Some(h) = head
            && self.collections[h].members == members
        {
            return Ok(CollectionExpect::Existing { slot: h });
        }
        let (family, version) = match head {
            Some(h) => {
                let family = self.collections[h].family;
                (family, self.collection_families[family].max_version_ever + 1)
            }
            None => {
                self.collection_families.push(CollectionFamily { max_version_ever: 0 });
                (self.collection_families.len() - 1, 0)
            }
        };
        let f = &mut self.collection_families[family];
        f.max_version_ever = f.max_version_ever.max(version);
        let slot = self.collections.len();
        for m in members {
            self.records[*m].collections.push(slot);
        }
        self.collections.push(ModelCollection {
            family,
            version,
            key: key.map(str::to_owned),
            members: members.to_vec(),
            branch: Some(BranchId::MAIN),
            trashed_from: None,
        });
        Ok(match head {
            Some(previous) => CollectionExpect::NewVersion { slot, previous },
            None => CollectionExpect::Created { slot },
        })
    }

    /// The branch table of spec 1, section 2, for collections (the same rows as records).
    fn collection_op(&mut self, slots: &[usize], op: BranchOp) -> Expect {
        let slots = distinct(slots);
        let mut out = Vec::with_capacity(slots.len());
        for c in &slots {
            let Some(col) = self.collections.get(*c) else { return Expect::Failed(ErrorKind::NotFound) };
            match transition_of(col.branch, col.trashed_from, op) {
                Ok(t) => out.push((*c, t)),
                Err(k) => return Expect::Failed(k),
            }
        }
        for (c, t) in &out {
            if let Transition::Move { from, to } = t {
                let col = &mut self.collections[*c];
                col.branch = Some(*to);
                col.trashed_from = (*to == BranchId::TRASH).then_some(*from);
            }
        }
        Expect::CollectionsMoved(out)
    }

    /// Whether the model can predict the outcome of `op` (see [`SaveExpect::Undetermined`]).
    pub fn is_determined(&self, op: &Op) -> bool {
        match op {
            Op::Save(req) => !matches!(self.clone().save(req), Ok(SaveExpect::Undetermined)),
            _ => true,
        }
    }

    /// Spec 2 §3: a real key's path must be free, or hold the bytes of the family the save joins.
    fn check_real_key(&self, key: &str, head: Option<usize>) -> Result<(), ErrorKind> {
        if !self.objects.contains_key(&Location::Real(key.to_owned())) {
            return Ok(());
        }
        let owner = self.existing().find(|s| self.records[*s].location == Location::Real(key.to_owned()));
        match (owner, head) {
            (Some(o), Some(h)) if self.records[o].family == self.records[h].family => Ok(()),
            _ => Err(ErrorKind::PathOccupied),
        }
    }

    fn save(&mut self, req: &SaveRequest) -> Result<SaveExpect, ErrorKind> {
        let real = req.key.is_some() && req.real;
        let head = req.key.as_deref().and_then(|k| self.family_head_by_key(k));
        // The bytes are written first to the managed key of the uid the save would take. That
        // only matters if an earlier record with the same uid left kept bytes there.
        let suffix = req.key.as_deref().map(key_suffix).unwrap_or_default();
        let written = head.map(|h| {
            let family = self.records[h].family;
            Location::Managed { family, version: self.next_version(family), suffix: suffix.clone() }
        });
        if !req.allow_duplicate && !req.content.is_empty() {
            let existing: Vec<usize> = self
                .existing()
                .filter(|s| {
                    let r = &self.records[*s];
                    r.content == req.content && r.branch != Some(BranchId::TRASH)
                })
                .collect();
            if !existing.is_empty() {
                let same_key: Vec<usize> =
                    existing.iter().copied().filter(|s| self.records[*s].key == req.key).collect();
                let heads_on_main: Vec<usize> = same_key
                    .iter()
                    .copied()
                    .filter(|s| self.records[*s].branch == Some(BranchId::MAIN) && self.is_latest(*s))
                    .collect();
                let candidates = [heads_on_main, same_key, existing].into_iter().find(|c| !c.is_empty());
                if let Some(w) = &written {
                    self.objects.remove(w);
                }
                return Ok(SaveExpect::Existing { candidates: candidates.expect("not empty") });
            }
            if let Some(key) = &req.key {
                let trashed: Vec<usize> = self
                    .on_branch(BranchId::TRASH)
                    .into_iter()
                    .filter(|s| self.records[*s].key.as_ref() == Some(key) && self.records[*s].content == req.content)
                    .collect();
                let families: BTreeSet<usize> = trashed.iter().map(|s| self.records[*s].family).collect();
                if families.len() > 1 {
                    return Ok(SaveExpect::Undetermined);
                }
                if let Some(slot) = trashed.into_iter().max_by_key(|s| self.records[*s].version) {
                    self.move_records(&[slot], BranchOp::Restore);
                    if let Some(w) = &written {
                        self.objects.remove(w);
                    }
                    return Ok(SaveExpect::RestoredFromTrash { slot });
                }
            }
        }
        // De-duplication (and bringing identical content back from the trash) comes first
        // (spec 1 row 10, spec 2 §5); only then must a real key's path be free or the family's.
        if real {
            self.check_real_key(req.key.as_deref().expect("real keys have a key"), head)?;
        }
        let (family, version) = match head {
            Some(h) => {
                let family = self.records[h].family;
                (family, self.next_version(family))
            }
            None => {
                self.families.push(Family { key: req.key.clone(), suffix: suffix.clone(), max_version_ever: 0 });
                (self.families.len() - 1, 0)
            }
        };
        let f = &mut self.families[family];
        f.max_version_ever = f.max_version_ever.max(version);
        let slot = self.records.len();
        let mut location = Location::Managed { family, version, suffix: suffix.clone() };
        self.objects.insert(location.clone(), req.content.clone());
        if real {
            let path = Location::Real(req.key.clone().expect("real keys have a key"));
            // Spec 2 §3: the previous occupant of the path keeps its bytes, in the managed area.
            let occupant = self.existing().find(|s| self.records[*s].location == path);
            if let Some(occupant) = occupant {
                let o = &mut self.records[occupant];
                o.location = Location::Managed { family: o.family, version: o.version, suffix: o.suffix.clone() };
                self.objects.insert(o.location.clone(), o.content.clone());
            }
            self.objects.remove(&location);
            self.objects.insert(path.clone(), req.content.clone());
            location = path;
        }
        self.records.push(ModelRecord {
            family,
            version,
            key: req.key.clone(),
            suffix,
            key_kind: req.key_kind(),
            location,
            content: req.content.clone(),
            branch: Some(BranchId::MAIN),
            trashed_from: None,
            collections: Vec::new(),
        });
        Ok(match head {
            Some(previous) => SaveExpect::NewVersion { slot, previous },
            None => SaveExpect::Created { slot },
        })
    }

    /// Spec 1, section 2, the table: what `op` does to the record in `slot`.
    fn transition(&self, slot: usize, op: BranchOp) -> Result<Transition, ErrorKind> {
        let r = self.records.get(slot).ok_or(ErrorKind::NotFound)?;
        transition_of(r.branch, r.trashed_from, op)
    }

    fn branch_op(&mut self, slots: &[usize], op: BranchOp) -> Expect {
        let slots = distinct(slots);
        let mut out = Vec::with_capacity(slots.len());
        for s in &slots {
            match self.transition(*s, op) {
                Ok(t) => out.push((*s, t)),
                Err(k) => return Expect::Failed(k),
            }
        }
        self.move_records(&slots, op);
        Expect::Moved(out)
    }

    /// Move records (already validated); heads follow from [`Model::is_latest`].
    fn move_records(&mut self, slots: &[usize], op: BranchOp) {
        for s in slots {
            if let Ok(Transition::Move { from, to }) = self.transition(*s, op) {
                let r = &mut self.records[*s];
                r.branch = Some(to);
                r.trashed_from = (to == BranchId::TRASH).then_some(from);
            }
        }
    }

    /// Spec 1 rows 4 and 5, with the storage policy of section 3.
    fn delete_permanently(&mut self, slots: &[usize], policy: StoragePolicy) -> Result<Vec<PurgeExpect>, ErrorKind> {
        let slots = distinct(slots);
        if slots.iter().any(|s| !self.records.get(*s).is_some_and(ModelRecord::exists)) {
            return Err(ErrorKind::NotFound);
        }
        // Spec 1 §6: a member of any collection, on any branch, is protected.
        if slots.iter().any(|s| self.is_protected(*s)) {
            return Err(ErrorKind::Protected);
        }
        let mut out = Vec::with_capacity(slots.len());
        for s in slots {
            let r = &mut self.records[s];
            let user_path = matches!(r.location, Location::Real(_));
            let kept = match (policy, user_path) {
                (StoragePolicy::Keep, _) => Some(KeepReason::PolicyKeep),
                (StoragePolicy::Auto, true) => Some(KeepReason::UserVisiblePath),
                _ => None,
            };
            let missing = kept.is_none() && self.objects.remove(&r.location).is_none();
            r.branch = None;
            r.trashed_from = None;
            out.push(PurgeExpect { slot: s, location: r.location.clone(), kept, missing });
        }
        Ok(out)
    }
}

/// Spec 1, section 2, the table: what `op` does to a record (or collection) on `branch`.
fn transition_of(
    branch: Option<BranchId>,
    trashed_from: Option<BranchId>,
    op: BranchOp,
) -> Result<Transition, ErrorKind> {
    let Some(branch) = branch else { return Err(ErrorKind::NotFound) }; // row 11
    let (trash, archive, main) = (BranchId::TRASH, BranchId::ARCHIVE, BranchId::MAIN);
    Ok(match (op, branch) {
        (BranchOp::Trash, b) if b == trash => return Err(ErrorKind::AlreadyInTrash), // row 3
        (BranchOp::Trash, from) => Transition::Move { from, to: trash },             // row 2
        (BranchOp::Restore, b) if b == trash => {
            Transition::Move { from: trash, to: trashed_from.filter(|f| *f != trash).unwrap_or(main) } // row 6
        }
        (BranchOp::Restore, b) if b == archive => Transition::Move { from: archive, to: main }, // row 7
        (BranchOp::Restore, _) => Transition::NoOp { reason: NoOpReason::AlreadyLive },         // row 9
        (BranchOp::Archive, b) if b == trash => return Err(ErrorKind::InvalidTransition),
        (BranchOp::Archive, b) if b == archive => Transition::NoOp { reason: NoOpReason::AlreadyArchived },
        (BranchOp::Archive, from) => Transition::Move { from, to: archive }, // row 8
    })
}

/// The branch operations of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BranchOp {
    Trash,
    Restore,
    Archive,
}

#[cfg(test)]
mod tests;
