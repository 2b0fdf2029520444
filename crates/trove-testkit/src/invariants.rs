//! Invariants of spec 1, section 4, checked on the system alone, from the catalog rows and the
//! bytes they point at: for tests that drive Trove (the state machine, the walk-throughs) and
//! call this after every step.
//!
//! * **Bytes** (invariant 1): every record that is not marked in-progress has bytes at its
//!   storage key, and they are *read* and hashed here (never taken from the server's ETag or
//!   md5): a file's size, hash and hash type (`md5`, or `md5-<parts>` over 50 MiB parts) and a
//!   folder's file count, total size and `md5-tree` hash must equal the record's. A version of a
//!   shared-store folder that a newer version of its family has overwritten is not checked
//!   (spec 2, section 5: only the newest is readable).
//! * **No crossed bytes**: two records never point at the same object (shared-store folders
//!   excepted), so deleting or replacing one cannot touch another's content.
//! * **Rows** (invariants 3 and 4): uids are unique (so version suffixes are unique per
//!   family), and each family has exactly one head per branch, its newest version there.
//!
//! Everything works on the ports ([`Catalog`], [`ObjectStore`]) and domain types, so it runs
//! against any backend; [`check_records`] takes rows already listed (e.g. through the façade).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use trove_domain::hash::{ContentHash, ContentHasher, FolderEntry, HashType, folder_hash};
use trove_domain::ports::{Catalog, ObjectStore};
use trove_domain::{Artifact, ArtifactQuery, BranchSelection, ErrorKind, Order, Placement, StorageId};

/// The object store of each storage location, by catalog id.
pub type Stores = BTreeMap<StorageId, Arc<dyn ObjectStore>>;

/// What a passing check looked at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checked {
    /// Rows checked (every branch, pending ones included for the row invariants).
    pub records: usize,
    /// Records whose bytes were read and hashed.
    pub records_with_bytes: usize,
    /// Objects read.
    pub objects_read: usize,
    /// Bytes read.
    pub bytes_read: u64,
}

/// The invariants that do not hold, one sentence each naming the record and what differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violations(pub Vec<String>);

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} invariant violation(s):", self.0.len())?;
        for v in &self.0 {
            write!(f, "\n  - {v}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Violations {}

/// [`check_records`] on every record of the catalog (all branches, pending ones included).
pub async fn check_catalog(catalog: &dyn Catalog, stores: &Stores) -> Result<Checked, Violations> {
    let query = ArtifactQuery {
        branch: BranchSelection::All,
        include_pending: true,
        order: Order::Version,
        ..ArtifactQuery::default()
    };
    let records = catalog.artifacts(&query).await.map_err(|e| Violations(vec![format!("cannot list records: {e}")]))?;
    check_records(&records, stores).await
}

/// Check the row invariants over `records` (which should be every record, all branches) and
/// read the bytes of each one that is not marked in-progress. Returns every violation found,
/// not only the first.
pub async fn check_records(records: &[Artifact], stores: &Stores) -> Result<Checked, Violations> {
    let mut v = row_violations(records);
    let mut checked = Checked { records: records.len(), ..Checked::default() };
    for a in records.iter().filter(|a| a.pending.is_none() && owns_its_bytes(a, records)) {
        let Some(store) = stores.get(&a.storage) else {
            v.push(format!("{}: its storage location {} is not among the stores checked", a.uid, a.storage.0));
            continue;
        };
        checked.records_with_bytes += 1;
        if let Err(problem) = check_bytes(a, store.as_ref(), &mut checked).await {
            v.push(format!("{} ({} on {}): {problem}", a.uid, what(a), a.branch.name()));
        }
    }
    if v.is_empty() { Ok(checked) } else { Err(Violations(v)) }
}

fn what(a: &Artifact) -> String {
    match (&a.key, &a.description) {
        (Some(k), _) => format!("key '{k}'"),
        (None, Some(d)) => format!("\"{d}\""),
        (None, None) => "no key".into(),
    }
}

/// Unique uids, one newest head per family per branch, and no two records on one object.
fn row_violations(records: &[Artifact]) -> Vec<String> {
    let mut v = Vec::new();
    let mut uids = BTreeSet::new();
    let mut families: BTreeMap<(String, i64), Vec<&Artifact>> = BTreeMap::new();
    let mut objects: BTreeMap<(StorageId, String), Vec<&Artifact>> = BTreeMap::new();
    for a in records {
        if !uids.insert(a.uid.to_string()) {
            v.push(format!(
                "{}: listed twice (version {} of family {} is not unique)",
                a.uid,
                a.uid.version_suffix(),
                a.stem()
            ));
        }
        families.entry((a.stem().to_string(), a.branch.0)).or_default().push(a);
        if !matches!(a.placement, Placement::SharedStore { .. }) {
            objects.entry((a.storage, a.storage_key())).or_default().push(a);
        }
    }
    for ((stem, branch), members) in &families {
        let heads: Vec<String> = members.iter().filter(|a| a.is_latest).map(|a| a.uid.to_string()).collect();
        let newest = members.iter().max_by_key(|a| a.version_index()).map(|a| a.uid.to_string());
        if heads.len() != 1 || heads.first() != newest.as_ref() {
            v.push(format!(
                "family {stem} on {}: heads {heads:?}, but exactly one, the newest version {}, must be",
                trove_domain::BranchId(*branch).name(),
                newest.unwrap_or_default()
            ));
        }
    }
    for ((_, key), sharing) in objects.iter().filter(|(_, s)| s.len() > 1) {
        let uids: Vec<String> = sharing.iter().map(|a| a.uid.to_string()).collect();
        v.push(format!("records {uids:?} all point at the object {key}: each record must own its bytes"));
    }
    v
}

/// Whether the record's bytes are its own to check: every record but an older version of a
/// shared-store folder (the newest version sharing the store owns its content).
pub fn owns_its_bytes(a: &Artifact, all: &[Artifact]) -> bool {
    let Placement::SharedStore { store_key } = &a.placement else { return true };
    !all.iter().any(|o| {
        o.stem() == a.stem()
            && matches!(&o.placement, Placement::SharedStore { store_key: k } if k == store_key)
            && o.version_index() > a.version_index()
    })
}

async fn check_bytes(a: &Artifact, store: &dyn ObjectStore, checked: &mut Checked) -> Result<(), String> {
    let key = a.storage_key();
    let at = store.display_path(&key);
    let (got, n_files) = if a.is_folder() {
        let files = store.list(&format!("{key}/")).await.map_err(|e| format!("cannot list {at}/: {e}"))?;
        if files.is_empty() {
            return Err(format!("bytes missing: no files below {at}/"));
        }
        let mut entries = Vec::with_capacity(files.len());
        for f in &files {
            let c = read_and_hash(store, &f.key, checked).await?;
            entries.push(FolderEntry { path: f.key[key.len() + 1..].to_owned(), hash: c.hash, size: c.size });
        }
        (folder_hash(&entries), Some(files.len() as u64))
    } else {
        (read_and_hash(store, &key, checked).await?, None)
    };
    let want = ContentHash { hash: a.hash.clone(), hash_type: a.hash_type.clone(), size: a.size };
    if got != want || n_files != a.n_files {
        return Err(format!(
            "the bytes at {at} differ from the record: stored {} ({}, {} bytes{}), recorded {} ({}, {} bytes{})",
            got.hash,
            got.hash_type,
            got.size,
            files_note(n_files),
            want.hash,
            want.hash_type,
            want.size,
            files_note(a.n_files)
        ));
    }
    if a.is_folder() != (a.hash_type == HashType::Md5Tree) {
        return Err(format!(
            "hash type {} does not fit a {}",
            a.hash_type,
            if a.is_folder() { "folder" } else { "file" }
        ));
    }
    Ok(())
}

fn files_note(n: Option<u64>) -> String {
    n.map(|n| format!(", {n} files")).unwrap_or_default()
}

/// Read an object through the port and hash it as Trove does (streaming, 50 MiB parts).
async fn read_and_hash(store: &dyn ObjectStore, key: &str, checked: &mut Checked) -> Result<ContentHash, String> {
    let at = store.display_path(key);
    let mut reader = store.reader(key, None).await.map_err(|e| match e.kind() {
        ErrorKind::NotFound => format!("bytes missing: nothing at {at}"),
        _ => format!("cannot read {at}: {e}"),
    })?;
    let mut hasher = ContentHasher::new();
    while let Some(chunk) = reader.chunk().await.map_err(|e| format!("cannot read {at}: {e}"))? {
        hasher.update(&chunk);
    }
    checked.objects_read += 1;
    checked.bytes_read += hasher.size();
    Ok(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use trove_domain::hash::hash_bytes;
    use trove_domain::{BranchId, Stem, Uid};

    fn record(uid: &Uid, content: &[u8], branch: BranchId, is_latest: bool) -> Artifact {
        let h = hash_bytes(content);
        Artifact {
            uid: uid.clone(),
            key: None,
            description: Some("d".into()),
            suffix: ".txt".into(),
            kind: None,
            otype: None,
            size: h.size,
            hash: h.hash,
            hash_type: h.hash_type,
            n_files: None,
            n_observations: None,
            version_tag: None,
            is_latest,
            branch,
            trashed_from: None,
            branch_changed_at: None,
            storage: StorageId(1),
            placement: Placement::Managed,
            created_by: "t".into(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            pending: None,
        }
    }

    #[test]
    fn heads_and_shared_objects() {
        let stem = Stem::parse("AAAAAAAAAAAAAAAA").unwrap();
        let (v0, v1) = (stem.uid(0).unwrap(), stem.uid(1).unwrap());
        let ok = [record(&v0, b"a", BranchId::MAIN, false), record(&v1, b"b", BranchId::MAIN, true)];
        assert!(row_violations(&ok).is_empty());
        let two_heads = [record(&v0, b"a", BranchId::MAIN, true), record(&v1, b"b", BranchId::MAIN, true)];
        assert_eq!(row_violations(&two_heads).len(), 1);
        let old_head = [record(&v0, b"a", BranchId::MAIN, true), record(&v1, b"b", BranchId::MAIN, false)];
        assert_eq!(row_violations(&old_head).len(), 1);
        let mut shared = ok.clone();
        for a in &mut shared {
            a.placement = Placement::InPlace { real_path: "x.txt".into() };
        }
        assert!(row_violations(&shared)[0].contains("x.txt"), "{:?}", row_violations(&shared));
    }
}
