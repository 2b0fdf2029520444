//! The reference walk-through and the lifecycle rules of spec 1 and spec 2, on the embedded
//! default (SQLite + local storage), as a user of the library sees them. After each step, the
//! invariants and the bytes behind every record are checked (`Fixture::check`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use trove::domain::ports::ObjectStore;
use trove::{
    ArtifactQuery, BranchId, BranchSelection, ErrorKind, HashType, InitOptions, KeepReason, SaveOptions, SaveOutcome,
    StoragePolicy, Transition, Trove,
};
mod common;

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    inputs: PathBuf,
    trove: Trove,
    /// The test's own handle on the storage root, to read the bytes independently.
    store: Arc<dyn ObjectStore>,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let inputs = dir.path().join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    let trove = Trove::init(InitOptions { user: Some("tester".into()), ..InitOptions::local(&root) }).await.unwrap();
    let store = trove::open_store(root.to_str().unwrap()).await.unwrap();
    Fixture { _dir: dir, root, inputs, trove, store }
}

impl Fixture {
    /// After a step: every record's bytes exist and hash to what it records, the row
    /// invariants hold, and every record reads back through the façade.
    async fn check(&self) {
        common::check_bytes(&self.trove, &self.store).await;
    }

    fn file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.inputs.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, content).unwrap();
        p
    }

    /// Every object in the managed area except the catalog and the marker.
    fn managed_objects(&self) -> Vec<String> {
        let mut out: Vec<String> = trove_testkit::files::file_paths(&self.root.join(".trove"))
            .into_iter()
            .map(|p| format!(".trove/{p}"))
            .collect();
        out.retain(|p| !p.starts_with(".trove/trove.db") && p != ".trove/storage.json");
        out
    }

    async fn main_uids(&self) -> Vec<String> {
        self.trove.list(&ArtifactQuery::new()).await.unwrap().into_iter().map(|a| a.uid.to_string()).collect()
    }
}

const IRIS: &str = "sepal_length,species\n5.1,setosa\n7.0,versicolor\n";
const IRIS2: &str = "sepal_length,species\n5.1,setosa\n7.0,versicolor\n6.3,virginica\n";

#[tokio::test]
async fn reference_walkthrough() {
    let f = fixture().await;
    let csv = f.file("iris.csv", IRIS);
    let saved = f.trove.save(csv.as_path(), SaveOptions::key("datasets/iris.csv")).await.unwrap();
    f.check().await;
    assert_eq!(saved.name(), "created");
    let a = saved.into_artifact();
    assert_eq!(a.key.as_ref().unwrap().as_str(), "datasets/iris.csv");
    assert_eq!(a.suffix, ".csv");
    assert_eq!(a.uid.version_suffix(), "0000");
    assert!(a.is_latest);
    assert_eq!(a.branch, BranchId::MAIN);
    assert_eq!(a.size, IRIS.len() as u64);
    assert_eq!(a.hash_type, HashType::Md5);
    assert_eq!(a.created_by, "tester");
    let bytes = PathBuf::from(f.trove.path(&a).unwrap());
    assert_eq!(bytes, f.root.join(format!(".trove/{}.csv", a.uid)), "virtual key: bytes in the managed area");
    assert_eq!(std::fs::read_to_string(&bytes).unwrap(), IRIS);
    assert_eq!(f.main_uids().await, vec![a.uid.to_string()]);

    // delete -> gone from ls, visible in the trash, bytes still in storage
    let moved = f.trove.delete(&a.uid).await.unwrap();
    f.check().await;
    assert_eq!(moved.transition, Transition::Move { from: BranchId::MAIN, to: BranchId::TRASH });
    assert!(f.main_uids().await.is_empty());
    let trash = f.trove.list(&ArtifactQuery::new().branch(BranchSelection::Only(BranchId::TRASH))).await.unwrap();
    assert_eq!(trash.len(), 1);
    assert_eq!(trash[0].trashed_from, Some(BranchId::MAIN));
    assert!(bytes.is_file());
    // lookup by uid finds it on any branch and says where
    assert_eq!(f.trove.get(a.uid.as_str()).await.unwrap().branch, BranchId::TRASH);
    // lookup by key shows main only
    assert_eq!(f.trove.get("datasets/iris.csv").await.unwrap_err().kind(), ErrorKind::NotFound);

    // restore -> back
    f.trove.restore(std::slice::from_ref(&a.uid)).await.unwrap();
    f.check().await;
    assert_eq!(f.main_uids().await, vec![a.uid.to_string()]);

    // archive -> hidden; restore -> back
    f.trove.archive(std::slice::from_ref(&a.uid)).await.unwrap();
    f.check().await;
    assert!(f.main_uids().await.is_empty());
    let archived = f.trove.list(&ArtifactQuery::new().branch(BranchSelection::Only(BranchId::ARCHIVE))).await.unwrap();
    assert_eq!(archived.len(), 1);
    f.trove.restore(std::slice::from_ref(&a.uid)).await.unwrap();
    f.check().await;
    assert_eq!(f.main_uids().await, vec![a.uid.to_string()]);

    // delete twice -> the second is a typed error that says how to delete permanently
    f.trove.delete(&a.uid).await.unwrap();
    f.check().await;
    let err = f.trove.delete(&a.uid).await.unwrap_err();
    f.check().await;
    assert_eq!(err.kind(), ErrorKind::AlreadyInTrash);
    assert!(err.message().contains("permanent"), "{err}");
    assert_eq!(f.trove.get(a.uid.as_str()).await.unwrap().branch, BranchId::TRASH, "nothing changed");

    // permanent -> record gone, managed bytes gone
    let report = f.trove.delete_permanently(std::slice::from_ref(&a.uid), StoragePolicy::Auto).await.unwrap();
    f.check().await;
    assert_eq!(report.removed_paths().collect::<Vec<_>>(), vec![bytes.to_str().unwrap()]);
    assert_eq!(f.trove.get(a.uid.as_str()).await.unwrap_err().kind(), ErrorKind::NotFound);
    assert!(!bytes.exists());
    assert!(f.managed_objects().is_empty(), "{:?}", f.managed_objects());
    let all = f.trove.list(&ArtifactQuery::new().branch(BranchSelection::All)).await.unwrap();
    assert!(all.is_empty());

    // a real-key artifact deleted permanently with auto keeps its file and says where
    let real = f.trove.save(csv.as_path(), SaveOptions::key("real/iris.csv").real_key()).await.unwrap().into_artifact();
    f.check().await;
    let real_path = f.root.join("real/iris.csv");
    assert_eq!(PathBuf::from(f.trove.path(&real).unwrap()), real_path);
    assert_eq!(std::fs::read_to_string(&real_path).unwrap(), IRIS);
    let report = f.trove.delete_permanently(std::slice::from_ref(&real.uid), StoragePolicy::Auto).await.unwrap();
    f.check().await;
    let kept: Vec<_> = report.kept_paths().collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].path, real_path.to_str().unwrap());
    assert_eq!(kept[0].reason, KeepReason::UserVisiblePath);
    assert!(real_path.is_file());
    assert_eq!(report.removed_paths().count(), 0);
}

#[tokio::test]
async fn dedup_versions_and_heads() {
    let f = fixture().await;
    let csv = f.file("iris.csv", IRIS);
    let v0 = f.trove.save(csv.as_path(), SaveOptions::key("iris.csv")).await.unwrap().into_artifact();
    f.check().await;
    let objects = f.managed_objects();

    // identical content twice -> the existing artifact, said so, nothing new stored
    for key in ["iris.csv", "other/name.csv"] {
        let again = f.trove.save(csv.as_path(), SaveOptions::key(key)).await.unwrap();
        f.check().await;
        assert!(matches!(&again, SaveOutcome::Existing { artifact } if artifact.uid == v0.uid), "{again:?}");
    }
    assert_eq!(f.managed_objects(), objects);

    // changed content under the same key -> version 0001, is_latest moves
    f.file("iris.csv", IRIS2);
    let out = f.trove.save(csv.as_path(), SaveOptions::key("iris.csv")).await.unwrap();
    f.check().await;
    let SaveOutcome::NewVersion { artifact: v1, previous } = out else { panic!("{out:?}") };
    assert_eq!(previous, v0.uid);
    assert_eq!(v1.uid.stem(), v0.uid.stem());
    assert_eq!(v1.uid.version_suffix(), "0001");
    assert!(v1.is_latest);
    assert!(!f.trove.get(v0.uid.as_str()).await.unwrap().is_latest);
    assert_eq!(f.trove.get("iris.csv").await.unwrap().uid, v1.uid);

    // trashing the latest promotes the previous one
    f.trove.trash(std::slice::from_ref(&v1.uid)).await.unwrap();
    f.check().await;
    assert!(f.trove.get(v0.uid.as_str()).await.unwrap().is_latest);
    assert_eq!(f.trove.get("iris.csv").await.unwrap().uid, v0.uid);
    // the trashed version is the head of its family in the trash
    assert!(f.trove.get(v1.uid.as_str()).await.unwrap().is_latest);

    // restoring recomputes the head: v1 is the newest on main again
    f.trove.restore(std::slice::from_ref(&v1.uid)).await.unwrap();
    f.check().await;
    let versions = f.trove.versions("iris.csv", BranchSelection::Default).await.unwrap();
    let heads: Vec<_> = versions.iter().filter(|a| a.is_latest).map(|a| a.uid.clone()).collect();
    assert_eq!(heads, vec![v1.uid.clone()]);
    assert_eq!(versions.len(), 2);

    // suffixes follow the family maximum over all branches, trash included
    f.trove.trash(std::slice::from_ref(&v1.uid)).await.unwrap();
    f.check().await;
    f.file("iris.csv", "sepal_length,species\n1,x\n");
    let v2 = f.trove.save(csv.as_path(), SaveOptions::key("iris.csv")).await.unwrap().into_artifact();
    f.check().await;
    assert_eq!(v2.uid.version_suffix(), "0002");

    // allow_duplicate creates a new artifact on purpose
    let dup = f.trove.save(csv.as_path(), SaveOptions::key("copy.csv").allow_duplicate()).await.unwrap();
    f.check().await;
    assert_eq!(dup.name(), "created");
    assert_ne!(dup.artifact().uid.stem(), v2.uid.stem());
}

#[tokio::test]
async fn identical_content_in_the_trash_comes_back() {
    let f = fixture().await;
    let csv = f.file("iris.csv", IRIS);
    let a = f.trove.save(csv.as_path(), SaveOptions::key("iris.csv")).await.unwrap().into_artifact();
    f.check().await;
    f.trove.delete(&a.uid).await.unwrap();
    f.check().await;
    let out = f.trove.save(csv.as_path(), SaveOptions::key("iris.csv")).await.unwrap();
    f.check().await;
    assert!(
        matches!(&out, SaveOutcome::RestoredFromTrash { artifact } if artifact.uid == a.uid && artifact.branch == BranchId::MAIN),
        "{out:?}"
    );
    assert_eq!(f.main_uids().await, vec![a.uid.to_string()]);
    assert_eq!(f.managed_objects().len(), 1);
}

#[tokio::test]
async fn restore_goes_back_where_it_came_from() {
    let f = fixture().await;
    let a = f.trove.save(f.file("a.csv", IRIS).as_path(), SaveOptions::key("a.csv")).await.unwrap().into_artifact();
    f.check().await;
    f.trove.archive(std::slice::from_ref(&a.uid)).await.unwrap();
    f.check().await;
    f.trove.trash(std::slice::from_ref(&a.uid)).await.unwrap();
    f.check().await;
    let t = f.trove.get(a.uid.as_str()).await.unwrap();
    assert_eq!((t.branch, t.trashed_from), (BranchId::TRASH, Some(BranchId::ARCHIVE)));
    let moved = f.trove.restore(std::slice::from_ref(&a.uid)).await.unwrap();
    f.check().await;
    assert_eq!(moved[0].artifact.branch, BranchId::ARCHIVE);
    assert_eq!(moved[0].artifact.trashed_from, None);
    // restoring a live record on main is a no-op, not an error
    f.trove.restore(std::slice::from_ref(&a.uid)).await.unwrap();
    f.check().await;
    let moved = f.trove.restore(std::slice::from_ref(&a.uid)).await.unwrap();
    f.check().await;
    assert!(matches!(moved[0].transition, Transition::NoOp { .. }));
    // archiving something in the trash is refused with a hint
    f.trove.trash(std::slice::from_ref(&a.uid)).await.unwrap();
    f.check().await;
    let err = f.trove.archive(std::slice::from_ref(&a.uid)).await.unwrap_err();
    f.check().await;
    assert_eq!(err.kind(), ErrorKind::InvalidTransition);
    assert!(err.message().contains("restore"));
}

#[tokio::test]
async fn bulk_operations_are_all_or_nothing() {
    let f = fixture().await;
    let mut uids = Vec::new();
    for i in 0..50 {
        let p = f.file(&format!("f{i}.txt"), &format!("content {i}"));
        uids.push(
            f.trove.save(p.as_path(), SaveOptions::key(format!("bulk/f{i}.txt"))).await.unwrap().into_artifact().uid,
        );
    }
    f.check().await;
    let moved = f.trove.trash(&uids[..40]).await.unwrap();
    f.check().await;
    assert_eq!(moved.len(), 40);
    assert_eq!(f.main_uids().await.len(), 10);
    // a batch with one record already in the trash changes nothing
    let err = f.trove.trash(&uids[35..45]).await.unwrap_err();
    f.check().await;
    assert_eq!(err.kind(), ErrorKind::AlreadyInTrash);
    assert_eq!(f.main_uids().await.len(), 10);
    let restored = f.trove.restore(&uids).await.unwrap();
    f.check().await;
    assert_eq!(restored.len(), 50);
    assert_eq!(f.main_uids().await.len(), 50);
    let report = f.trove.delete_permanently(&uids[..25], StoragePolicy::Auto).await.unwrap();
    f.check().await;
    assert_eq!(report.removed_paths().count(), 25);
    assert_eq!(f.main_uids().await.len(), 25);
    assert_eq!(f.managed_objects().len(), 25);
}

#[tokio::test]
async fn storage_policies() {
    let f = fixture().await;
    let p = f.file("x.csv", IRIS);
    // keep: the managed bytes stay (and are then an orphan for gc)
    let a = f.trove.save(p.as_path(), SaveOptions::key("x.csv")).await.unwrap().into_artifact();
    f.check().await;
    let path = f.trove.path(&a).unwrap();
    let r = f.trove.delete_permanently(std::slice::from_ref(&a.uid), StoragePolicy::Keep).await.unwrap();
    f.check().await;
    assert_eq!(r.kept_paths().next().unwrap().reason, KeepReason::PolicyKeep);
    assert!(Path::new(&path).is_file());
    let no_grace = trove::GcOptions::grace(std::time::Duration::ZERO).allow_short_grace();
    let plan = f.trove.plan_gc(&no_grace).await.unwrap();
    f.check().await;
    assert_eq!(plan.items.iter().map(|i| i.path.clone()).collect::<Vec<_>>(), vec![path.clone()]);
    assert!(Path::new(&path).is_file(), "planning removes nothing");
    let gc = f.trove.apply_gc(&plan).await.unwrap();
    f.check().await;
    assert_eq!(gc.removed, vec![path.clone()]);
    assert!(!Path::new(&path).exists());
    let err = f.trove.plan_gc(&trove::GcOptions::grace(std::time::Duration::ZERO)).await.unwrap_err();
    assert_eq!(err.kind(), trove::ErrorKind::InvalidInput, "a grace under the minimum needs an explicit opt-in");
    // delete: a real key's file goes too
    let r = f.trove.save(p.as_path(), SaveOptions::key("real.csv").real_key()).await.unwrap().into_artifact();
    f.check().await;
    let rp = f.root.join("real.csv");
    assert!(rp.is_file());
    let rep = f.trove.delete_permanently(std::slice::from_ref(&r.uid), StoragePolicy::Delete).await.unwrap();
    f.check().await;
    assert_eq!(rep.removed_paths().collect::<Vec<_>>(), vec![rp.to_str().unwrap()]);
    assert!(!rp.exists());
    // bytes already missing from storage: the deletion succeeds and says so
    let m = f.trove.save(p.as_path(), SaveOptions::key("m.csv")).await.unwrap().into_artifact();
    f.check().await;
    std::fs::remove_file(f.trove.path(&m).unwrap()).unwrap();
    let findings = f.trove.fsck(&trove::FsckOptions::default()).await.unwrap();
    assert_eq!(findings.len(), 1);
    assert!(findings[0].problem.contains("missing"));
    let findings = f.trove.fsck(&trove::FsckOptions::default().repair()).await.unwrap();
    assert!(findings.len() == 1 && !findings[0].repaired, "no repair brings missing bytes back: {findings:?}");
    let rep = f.trove.delete_permanently(std::slice::from_ref(&m.uid), StoragePolicy::Auto).await.unwrap();
    f.check().await;
    assert_eq!(rep.purged[0].missing_paths.len(), 1);
    assert!(f.trove.fsck(&trove::FsckOptions::default().verify_hashes()).await.unwrap().is_empty());
}

#[tokio::test]
async fn real_keys_keep_every_version_readable() {
    let f = fixture().await;
    let p = f.file("model.csv", IRIS);
    let v0 = f.trove.save(p.as_path(), SaveOptions::key("models/m.csv").real_key()).await.unwrap().into_artifact();
    f.check().await;
    f.file("model.csv", IRIS2);
    let v1 = f.trove.save(p.as_path(), SaveOptions::key("models/m.csv").real_key()).await.unwrap().into_artifact();
    f.check().await;
    assert_eq!(v1.uid.version_suffix(), "0001");
    let real = f.root.join("models/m.csv");
    assert_eq!(std::fs::read_to_string(&real).unwrap(), IRIS2, "the real path holds the latest version");
    let v0 = f.trove.get(v0.uid.as_str()).await.unwrap();
    let v0_path = f.trove.path(&v0).unwrap();
    assert_eq!(v0_path, f.root.join(format!(".trove/{}.csv", v0.uid)).to_str().unwrap());
    assert_eq!(std::fs::read_to_string(&v0_path).unwrap(), IRIS, "the previous version moved into the managed area");
    assert_eq!(f.trove.load_bytes(&v0).await.unwrap(), IRIS.as_bytes());
    assert!(f.trove.fsck(&trove::FsckOptions::default().verify_hashes()).await.unwrap().is_empty());
    // an untracked file at a real key is refused; nothing is overwritten
    std::fs::create_dir_all(f.root.join("untracked")).unwrap();
    std::fs::write(f.root.join("untracked/x.csv"), "mine").unwrap();
    let err =
        f.trove.save(p.as_path(), SaveOptions::key("untracked/x.csv").real_key().allow_duplicate()).await.unwrap_err();
    f.check().await;
    assert_eq!(err.kind(), ErrorKind::PathOccupied);
    assert!(err.message().contains("belongs to no artifact"), "{err}");
    assert_eq!(std::fs::read_to_string(f.root.join("untracked/x.csv")).unwrap(), "mine");
}

#[tokio::test]
async fn folders() {
    let f = fixture().await;
    f.file("ds/a.txt", "aaa");
    f.file("ds/sub/b.txt", "bb");
    let dir = f.inputs.join("ds");
    let a = f.trove.save(dir.as_path(), SaveOptions::key("datasets/ds")).await.unwrap().into_artifact();
    f.check().await;
    assert_eq!(a.n_files, Some(2));
    assert_eq!(a.size, 5);
    assert_eq!(a.hash_type, HashType::Md5Tree);
    let stored = PathBuf::from(f.trove.path(&a).unwrap().trim_end_matches('/'));
    assert_eq!(std::fs::read_to_string(stored.join("sub/b.txt")).unwrap(), "bb");
    // renaming a file inside changes the hash (names count)
    std::fs::rename(dir.join("a.txt"), dir.join("c.txt")).unwrap();
    let v1 = f.trove.save(dir.as_path(), SaveOptions::key("datasets/ds")).await.unwrap();
    f.check().await;
    assert_eq!(v1.name(), "new_version");
    assert_ne!(v1.artifact().hash, a.hash);
    assert!(stored.join("a.txt").is_file(), "each folder version has its own store");
    f.trove.delete_permanently(&[a.uid.clone(), v1.artifact().uid.clone()], StoragePolicy::Auto).await.unwrap();
    f.check().await;
    assert!(f.managed_objects().is_empty(), "{:?}", f.managed_objects());
    // an empty folder is refused
    std::fs::create_dir_all(f.inputs.join("empty")).unwrap();
    let err = f.trove.save(f.inputs.join("empty").as_path(), SaveOptions::key("e")).await.unwrap_err();
    f.check().await;
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn bytes_and_in_place_registration() {
    let f = fixture().await;
    let b = f.trove.save(b"hello".to_vec(), SaveOptions::key("notes/hello.txt")).await.unwrap().into_artifact();
    f.check().await;
    assert_eq!(b.suffix, ".txt");
    assert_eq!(f.trove.load_bytes(&b).await.unwrap(), &b"hello"[..]);
    // a file already inside the storage root is registered where it is, not copied
    std::fs::create_dir_all(f.root.join("raw")).unwrap();
    std::fs::write(f.root.join("raw/obs.csv"), IRIS).unwrap();
    let before = f.managed_objects();
    let r = f
        .trove
        .save(f.root.join("raw/obs.csv").as_path(), SaveOptions::description("observations"))
        .await
        .unwrap()
        .into_artifact();
    f.check().await;
    assert_eq!(r.key.as_ref().unwrap().as_str(), "raw/obs.csv");
    assert_eq!(f.trove.path(&r).unwrap(), f.root.join("raw/obs.csv").to_str().unwrap());
    assert_eq!(f.managed_objects(), before, "no copy");
    let rep = f.trove.delete_permanently(std::slice::from_ref(&r.uid), StoragePolicy::Auto).await.unwrap();
    f.check().await;
    assert_eq!(rep.kept_paths().count(), 1);
    assert!(f.root.join("raw/obs.csv").is_file());
}

/// Bad input: each a typed error naming the problem and the fix; nothing is written.
#[tokio::test]
async fn bad_input_is_a_typed_error_and_writes_nothing() {
    let f = fixture().await;
    let csv = f.file("iris.csv", IRIS);
    let missing = f.inputs.join("nope.csv");
    let cases: Vec<(&str, SaveOptions, PathBuf, ErrorKind, &str)> = vec![
        ("escaping key", SaveOptions::key("../x.csv"), csv.clone(), ErrorKind::InvalidKey, "'..'"),
        ("absolute key", SaveOptions::key("/x.csv"), csv.clone(), ErrorKind::InvalidKey, "leading '/'"),
        ("managed prefix", SaveOptions::key(".trove/x.csv"), csv.clone(), ErrorKind::InvalidKey, ".trove"),
        (
            "suffix mismatch",
            SaveOptions::key("x.txt"),
            csv.clone(),
            ErrorKind::InvalidKey,
            "does not match the file's suffix '.csv'",
        ),
        (
            "no key, no description",
            SaveOptions::default(),
            csv.clone(),
            ErrorKind::InvalidInput,
            "key or a description",
        ),
        ("missing file", SaveOptions::key("x.csv"), missing.clone(), ErrorKind::SourceNotFound, "check the path"),
    ];
    for (what, opts, path, kind, needle) in cases {
        let err = f.trove.save(path.as_path(), opts).await.unwrap_err();
        f.check().await;
        assert_eq!(err.kind(), kind, "{what}: {err}");
        assert!(err.message().contains(needle), "{what}: {err}");
    }
    assert!(f.managed_objects().is_empty());
    assert_eq!(f.trove.count(&ArtifactQuery::new().branch(BranchSelection::All)).await.unwrap(), 0);

    let unknown = trove::Uid::parse("AAAAAAAAAAAAAAAA0000").unwrap();
    for err in [
        f.trove.trash(std::slice::from_ref(&unknown)).await.unwrap_err(),
        f.trove.restore(std::slice::from_ref(&unknown)).await.unwrap_err(),
        f.trove.delete_permanently(std::slice::from_ref(&unknown), StoragePolicy::Auto).await.unwrap_err(),
        f.trove.get("AAAAAAAAAAAAAAAA0000").await.unwrap_err(),
        f.trove.get("no/such/key.csv").await.unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert!(err.message().contains("trove ls"), "{err}");
    }
    // a batch mixing a known and an unknown uid changes nothing
    let a = f.trove.save(csv.as_path(), SaveOptions::key("iris.csv")).await.unwrap().into_artifact();
    f.check().await;
    assert!(f.trove.trash(&[a.uid.clone(), unknown]).await.is_err());
    f.check().await;
    assert_eq!(f.trove.get(a.uid.as_str()).await.unwrap().branch, BranchId::MAIN);
}

#[tokio::test]
async fn empty_trash_respects_the_cutoff_and_deletes_exactly_its_plan() {
    let f = fixture().await;
    let a = f.trove.save(f.file("a.csv", "1").as_path(), SaveOptions::key("a.csv")).await.unwrap().into_artifact();
    let b = f.trove.save(f.file("b.csv", "2").as_path(), SaveOptions::key("b.csv")).await.unwrap().into_artifact();
    f.trove.trash(&[a.uid.clone(), b.uid.clone()]).await.unwrap();
    f.check().await;
    let hour = trove::EmptyTrashOptions::older_than(std::time::Duration::from_secs(3600));
    assert!(f.trove.plan_empty_trash(&hour).await.unwrap().is_empty(), "nothing was trashed more than an hour ago");
    let plan = f.trove.plan_empty_trash(&trove::EmptyTrashOptions::default()).await.unwrap();
    f.check().await;
    assert_eq!(plan.items.len(), 2);
    let all = ArtifactQuery::new().branch(BranchSelection::All);
    assert_eq!(f.trove.count(&all).await.unwrap(), 2, "a plan deletes nothing");
    // Trashed after the plan: not in it, so it stays. Restored after the plan: skipped.
    let c = f.trove.save(f.file("c.csv", "3").as_path(), SaveOptions::key("c.csv")).await.unwrap().into_artifact();
    f.trove.trash(std::slice::from_ref(&c.uid)).await.unwrap();
    f.trove.restore(std::slice::from_ref(&b.uid)).await.unwrap();
    let a_bytes = f.trove.path(&a).unwrap();
    let done = f.trove.apply_empty_trash(&plan).await.unwrap();
    f.check().await;
    let purged: Vec<_> = done.purge.purged.iter().map(|p| p.artifact.uid.clone()).collect();
    assert_eq!(purged, vec![a.uid.clone()]);
    assert_eq!(done.skipped, vec![b.uid.clone()]);
    assert!(!Path::new(&a_bytes).exists(), "its bytes went with it");
    assert_eq!(f.trove.get(b.uid.as_str()).await.unwrap().branch, BranchId::MAIN);
    assert_eq!(f.trove.get(c.uid.as_str()).await.unwrap().branch, BranchId::TRASH);
    assert_eq!(f.trove.load_bytes(&b).await.unwrap(), &b"2"[..]);
}

#[tokio::test]
async fn reopening_sees_the_same_instance() {
    let f = fixture().await;
    let a = f.trove.save(f.file("a.csv", IRIS).as_path(), SaveOptions::key("a.csv")).await.unwrap().into_artifact();
    f.check().await;
    let again = Trove::open(f.root.to_str().unwrap()).await.unwrap();
    assert_eq!(again.instance().uid, f.trove.instance().uid);
    assert_eq!(again.get("a.csv").await.unwrap().uid, a.uid);
    // a second init on the same root is refused with a hint
    let err = Trove::init(InitOptions::local(&f.root)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Instance);
    assert!(err.message().contains("--instance"), "{err}");
    let marker: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.root.join(".trove/storage.json")).unwrap()).unwrap();
    assert_eq!(marker["instance_uid"], f.trove.instance().uid.as_str());
    // opening a folder with no instance says how to create one
    let err = Trove::open(f.inputs.to_str().unwrap()).await.unwrap_err();
    assert!(err.message().contains("trove init"), "{err}");
}

/// The byte check itself: bytes crossed between two records, changed in a folder, or missing
/// are each reported, naming the record; put back, the check passes.
#[tokio::test]
async fn the_byte_check_sees_crossed_changed_and_missing_bytes() {
    let f = fixture().await;
    let a = f.trove.save(b"aaaa".to_vec(), SaveOptions::key("a.txt")).await.unwrap().into_artifact();
    let b = f.trove.save(b"bbbb".to_vec(), SaveOptions::key("b.txt")).await.unwrap().into_artifact();
    f.file("ds/x.txt", "x");
    let d = f.trove.save(f.inputs.join("ds").as_path(), SaveOptions::key("ds")).await.unwrap().into_artifact();
    let checked = common::check_bytes(&f.trove, &f.store).await;
    assert_eq!((checked.records, checked.records_with_bytes, checked.objects_read), (3, 3, 3));
    let all = f.trove.list(&ArtifactQuery::new().branch(BranchSelection::All)).await.unwrap();
    let stores = common::stores_of(&f.trove, &f.store).await;
    let (pa, pb) = (f.trove.path(&a).unwrap(), f.trove.path(&b).unwrap());
    let px = PathBuf::from(f.trove.path(&d).unwrap()).join("x.txt");
    // (what, record, what the check says, file, its bytes while broken (`None`: removed), its bytes)
    let cases = [
        ("crossed", &a.uid, "differ", PathBuf::from(&pa), Some("bbbb"), "aaaa"),
        ("missing", &b.uid, "missing", PathBuf::from(&pb), None, "bbbb"),
        ("changed in a folder", &d.uid, "differ", px, Some("y"), "x"),
    ];
    for (what, uid, needle, path, broken, good) in cases {
        match broken {
            Some(bytes) => std::fs::write(&path, bytes).unwrap(),
            None => std::fs::remove_file(&path).unwrap(),
        }
        let v = trove_testkit::invariants::check_records(&all, &stores).await.unwrap_err();
        assert_eq!(v.0.len(), 1, "{what}: {v}");
        assert!(v.0[0].contains(uid.as_str()) && v.0[0].contains(needle), "{what}: {v}");
        std::fs::write(&path, good).unwrap();
        f.check().await;
    }
}

/// Two live families under one key (a trashed real-key family restored after a new family took
/// the key): a real-key save is refused at once because the path belongs to the other family
/// (it used to retry for a minute, taking this for a lost race).
#[tokio::test]
async fn a_real_key_held_by_another_live_family_is_refused() {
    let f = fixture().await;
    let old = f.trove.save(f.file("b.txt", "one").as_path(), SaveOptions::key("b.txt").real_key()).await.unwrap();
    let old = old.into_artifact();
    f.trove.trash(std::slice::from_ref(&old.uid)).await.unwrap();
    let new = f.trove.save(f.file("b.txt", "two").as_path(), SaveOptions::key("b.txt")).await.unwrap().into_artifact();
    assert_ne!(new.stem(), old.stem(), "a new family took the key");
    f.trove.restore(std::slice::from_ref(&old.uid)).await.unwrap();
    let err = f.trove.save(f.file("b.txt", "three").as_path(), SaveOptions::key("b.txt").real_key()).await.unwrap_err();
    assert_eq!(err.kind(), trove::ErrorKind::PathOccupied, "{err}");
    common::check_bytes(&f.trove, &f.store).await;
}
