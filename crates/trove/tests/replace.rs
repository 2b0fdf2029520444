//! Replace (spec 2, section 6), folders and shared-store folders (spec 2, section 5), on the
//! embedded default (SQLite + local disk), with crash safety checked under fault injection.

use std::path::PathBuf;
use std::sync::Arc;

use trove::domain::ports::ObjectStore;
use trove::{ErrorKind, HashType, InitOptions, Placement, ReplaceOutcome, SaveOptions, StoragePolicy, Trove};
use trove_storage::{FaultInjection, FaultOp, OpendalStore};

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    inputs: PathBuf,
    trove: Trove,
    faults: Arc<FaultInjection>,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let inputs = dir.path().join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    Trove::builder().user("tester").init(InitOptions::local(&root)).await.unwrap();
    // reopen with the store wrapped in fault injection
    let fs: Arc<dyn ObjectStore> = Arc::new(OpendalStore::fs(&root).unwrap());
    let faults = Arc::new(FaultInjection::new(fs));
    let trove =
        Trove::builder().store(faults.clone()).user("tester").location(root.to_str().unwrap()).open().await.unwrap();
    assert_eq!(trove.default_storage().root, faults.root(), "the wrapped store is used");
    Fixture { _dir: dir, root, inputs, trove, faults }
}

impl Fixture {
    fn file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.inputs.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    fn folder(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let p = self.inputs.join(name);
        let _ = std::fs::remove_dir_all(&p);
        for (rel, content) in files {
            let f = p.join(rel);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, content).unwrap();
        }
        p
    }

    /// Every stored file below the root, except the catalog and the marker.
    fn stored(&self) -> Vec<String> {
        let mut out = trove_testkit::files::file_paths(&self.root);
        out.retain(|p| !p.starts_with(".trove/trove.db") && p != ".trove/storage.json");
        out
    }
}

const IRIS: &str = "sepal_length,species\n5.1,setosa\n";
const IRIS2: &str = "sepal_length,species\n5.1,setosa\n6.3,virginica\n";

#[tokio::test]
async fn replace_a_file_under_a_virtual_key() {
    let f = fixture().await;
    let a = f.trove.save(f.file("iris.csv", IRIS).as_path(), SaveOptions::key("datasets/iris.csv")).await.unwrap();
    let a = a.into_artifact();

    // identical content: unchanged, nothing written
    let same = f.trove.replace(a.uid.as_str(), f.file("same.csv", IRIS).as_path()).await.unwrap();
    assert_eq!(same.name(), "unchanged");
    assert_eq!(f.stored(), vec![format!(".trove/{}.csv", a.uid)]);

    // new content, same suffix: same uid and version, recomputed metadata, bytes overwritten
    let out = f.trove.replace(&a.uid.to_string(), f.file("v2.csv", IRIS2).as_path()).await.unwrap();
    let ReplaceOutcome::Replaced { artifact: b, renamed, moved, removed_paths, left_behind } = out else {
        panic!("expected replaced")
    };
    assert_eq!(b.uid, a.uid);
    assert_eq!(b.key, a.key);
    assert_eq!(b.size, IRIS2.len() as u64);
    assert_ne!(b.hash, a.hash);
    assert_eq!(b.hash_type, HashType::Md5);
    assert!(b.pending.is_none());
    assert_eq!((renamed, moved, removed_paths, left_behind), (None, None, vec![], vec![]));
    assert_eq!(f.trove.load_bytes(&b).await.unwrap(), IRIS2.as_bytes());
    assert_eq!(f.stored(), vec![format!(".trove/{}.csv", a.uid)], "no staging copy is left");
    assert_eq!(f.trove.get(a.uid.as_str()).await.unwrap(), b);

    // suffix change: the key's suffix and the managed object's name change; the old object goes
    let out = f.trove.replace(a.uid.as_str(), f.file("iris.data", "5.1 setosa\n").as_path()).await.unwrap();
    let ReplaceOutcome::Replaced { artifact: c, renamed, removed_paths, .. } = out else { panic!("expected replaced") };
    assert_eq!(c.key.as_ref().unwrap().as_str(), "datasets/iris.data");
    assert_eq!(c.suffix, ".data");
    let renamed = renamed.unwrap();
    assert_eq!((renamed.from.as_str(), renamed.to.as_str()), ("datasets/iris.csv", "datasets/iris.data"));
    assert_eq!(removed_paths, vec![f.root.join(format!(".trove/{}.csv", a.uid)).to_string_lossy().into_owned()]);
    assert_eq!(f.stored(), vec![format!(".trove/{}.data", a.uid)]);
    assert_eq!(f.trove.load_bytes(&c).await.unwrap(), &b"5.1 setosa\n"[..]);

    // in-memory bytes keep the suffix
    let d = f.trove.replace(a.uid.as_str(), b"6.3 virginica\n".to_vec()).await.unwrap().into_artifact();
    assert_eq!(d.suffix, ".data");
    assert_eq!(f.trove.load_bytes(&d).await.unwrap(), &b"6.3 virginica\n"[..]);

    // new content equal to ANOTHER artifact's content is fine: it is in place, no de-duplication
    let other = f.trove.save(f.file("other.txt", "shared\n").as_path(), SaveOptions::key("other.txt")).await.unwrap();
    let e = f.trove.replace(a.uid.as_str(), f.file("dup.data", "shared\n").as_path()).await.unwrap();
    assert_eq!(e.name(), "replaced");
    assert_eq!(e.artifact().hash, other.artifact().hash);
    assert_eq!(e.artifact().uid, a.uid);
    assert!(f.trove.fsck(&trove::FsckOptions::default().verify_hashes()).await.unwrap().is_empty());
}

#[tokio::test]
async fn replace_refuses_bad_sources() {
    let f = fixture().await;
    let a =
        f.trove.save(f.file("iris.csv", IRIS).as_path(), SaveOptions::key("iris.csv")).await.unwrap().into_artifact();
    let dir = f.folder("d", &[("x.txt", "x")]);

    let e = f.trove.replace(a.uid.as_str(), dir.as_path()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("is a file and cannot be replaced with a folder"), "{e}");

    let e = f.trove.replace(a.uid.as_str(), f.inputs.join("missing.csv").as_path()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SourceNotFound);
    assert!(e.message().contains("missing.csv"), "{e}");

    let inside = f.root.join("inside.csv");
    std::fs::write(&inside, IRIS2).unwrap();
    let e = f.trove.replace(a.uid.as_str(), inside.as_path()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("can only replace with a local path outside every storage location"), "{e}");
    assert!(e.message().contains(&f.trove.default_storage().root), "names the location: {e}");

    let folder = f.trove.save(dir.as_path(), SaveOptions::key("d")).await.unwrap().into_artifact();
    let e = f.trove.replace(folder.uid.as_str(), f.file("y.txt", "y").as_path()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("is a folder and cannot be replaced with a file"), "{e}");

    let e = f.trove.replace("AAAAAAAAAAAAAAAA0000", f.file("z.csv", "z").as_path()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    // nothing changed
    assert_eq!(f.trove.get(a.uid.as_str()).await.unwrap(), a);
    assert_eq!(f.trove.load_bytes(&a).await.unwrap(), IRIS.as_bytes());
}

#[tokio::test]
async fn replace_real_key_and_in_place() {
    let f = fixture().await;
    // real key: overwritten at the key; a suffix change moves it
    let a = f
        .trove
        .save(f.file("iris.csv", IRIS).as_path(), SaveOptions::key("real/iris.csv").real_key())
        .await
        .unwrap()
        .into_artifact();
    assert_eq!(a.storage_key(), "real/iris.csv");
    let b = f.trove.replace(a.uid.as_str(), f.file("v2.csv", IRIS2).as_path()).await.unwrap().into_artifact();
    assert_eq!(std::fs::read_to_string(f.root.join("real/iris.csv")).unwrap(), IRIS2);
    assert_eq!(b.placement, Placement::RealKey);
    let c = f.trove.replace(a.uid.as_str(), f.file("iris.data", "d\n").as_path()).await.unwrap().into_artifact();
    assert_eq!(c.storage_key(), "real/iris.data");
    assert!(!f.root.join("real/iris.csv").exists());
    assert_eq!(std::fs::read_to_string(f.root.join("real/iris.data")).unwrap(), "d\n");

    // in place under a virtual key: both the key and the real path change suffix
    std::fs::create_dir_all(f.root.join("raw")).unwrap();
    std::fs::write(f.root.join("raw/iris.csv"), IRIS).unwrap();
    let p = f
        .trove
        .save(f.root.join("raw/iris.csv").as_path(), SaveOptions::key("iris_test.csv"))
        .await
        .unwrap()
        .into_artifact();
    assert_eq!(p.placement, Placement::InPlace { real_path: "raw/iris.csv".into() });
    let out = f.trove.replace(p.uid.as_str(), f.file("test.data", "t\n").as_path()).await.unwrap();
    let q = out.artifact();
    assert_eq!(q.key.as_ref().unwrap().as_str(), "iris_test.data");
    assert_eq!(q.placement, Placement::InPlace { real_path: "raw/iris.data".into() });
    assert!(!f.root.join("raw/iris.csv").exists());
    assert_eq!(std::fs::read_to_string(f.root.join("raw/iris.data")).unwrap(), "t\n");
    let ReplaceOutcome::Replaced { removed_paths, moved, .. } = out else { panic!() };
    assert_eq!(removed_paths, vec![f.root.join("raw/iris.csv").to_string_lossy().into_owned()]);
    assert_eq!(moved.unwrap().to, f.root.join("raw/iris.data").to_string_lossy());

    // a suffix change onto an occupied path is refused before anything is written
    std::fs::write(f.root.join("raw/iris.txt"), "someone's").unwrap();
    let e = f.trove.replace(p.uid.as_str(), f.file("x.txt", "x").as_path()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PathOccupied, "{e}");
    assert_eq!(std::fs::read_to_string(f.root.join("raw/iris.txt")).unwrap(), "someone's");
    assert!(f.trove.fsck(&trove::FsckOptions::default().verify_hashes()).await.unwrap().is_empty());
}

#[tokio::test]
async fn folders_hash_names_and_replace() {
    let f = fixture().await;
    let d1 = f.folder("scans", &[("a.txt", "aaa"), ("sub/b.txt", "bb"), ("c.txt", "c")]);
    let a = f.trove.save(d1.as_path(), SaveOptions::key("scans")).await.unwrap().into_artifact();
    assert_eq!((a.n_files, a.size, a.hash_type), (Some(3), 6, HashType::Md5Tree));

    // names count: same bytes, a renamed file, another hash
    let renamed = f.folder("scans2", &[("a.txt", "aaa"), ("sub/b.txt", "bb"), ("d.txt", "c")]);
    let r = f.trove.save(renamed.as_path(), SaveOptions::description("renamed")).await.unwrap();
    assert_eq!(r.name(), "created");
    assert_ne!(r.artifact().hash, a.hash);

    // replace a folder with a new folder: hash and n_files change, stale files are gone
    let d2 = f.folder("scans3", &[("a.txt", "AAAA"), ("e.txt", "e")]);
    let b = f.trove.replace(a.uid.as_str(), d2.as_path()).await.unwrap().into_artifact();
    assert_eq!((b.uid.clone(), b.n_files, b.size), (a.uid.clone(), Some(2), 5));
    assert_ne!(b.hash, a.hash);
    let dir = f.trove.cache(&b).await.unwrap();
    assert_eq!(trove_testkit::files::file_paths(&dir), vec!["a.txt", "e.txt"]);
    assert_eq!(std::fs::read_to_string(dir.join("a.txt")).unwrap(), "AAAA");
    assert!(!f.stored().iter().any(|p| p.contains("staging")));
    assert!(f.trove.fsck(&trove::FsckOptions::default().verify_hashes()).await.unwrap().is_empty());

    // default folders: every version keeps its own files
    let v1 = f.trove.save(d1.as_path(), SaveOptions::key("scans")).await.unwrap().into_artifact();
    assert_eq!(v1.uid.version_suffix(), "0001");
    assert_ne!(f.trove.cache(&v1).await.unwrap(), f.trove.cache(&b).await.unwrap());
    assert!(f.trove.cache(&b).await.unwrap().join("e.txt").exists());
}

#[tokio::test]
async fn shared_store_folders() {
    let f = fixture().await;
    let e = f.trove.save(f.file("x.txt", "x").as_path(), SaveOptions::key("x.txt").shared_store()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);

    let d0 = f.folder("z0/img.zarr", &[("0/0", "first"), (".zattrs", "{}")]);
    let v0 = f.trove.save(d0.as_path(), SaveOptions::key("img.zarr").shared_store()).await.unwrap().into_artifact();
    let store_key = format!(".trove/{}.zarr", v0.uid);
    assert_eq!(v0.placement, Placement::SharedStore { store_key: store_key.clone() });
    assert_eq!(v0.storage_key(), store_key);

    // a new version (no flag needed) overwrites the store
    let d1 = f.folder("z1/img.zarr", &[("0/0", "second"), ("0/1", "more")]);
    let v1 = f.trove.save(d1.as_path(), SaveOptions::key("img.zarr")).await.unwrap().into_artifact();
    assert_eq!(v1.uid.version_suffix(), "0001");
    assert_eq!(v1.storage_key(), store_key);
    let files: Vec<String> = f.stored().into_iter().filter(|p| !p.starts_with(&store_key)).collect();
    assert!(files.is_empty(), "one store only: {files:?}");
    let dir = f.trove.cache(&v1).await.unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("0/0")).unwrap(), "second");
    assert!(!dir.join(".zattrs").exists());

    // reading the old version is a clear error naming the readable one
    let e = f.trove.cache(&v0).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.message().contains("older version of a shared-store folder"), "{e}");
    assert!(e.message().contains(v1.uid.as_str()), "{e}");
    let e = f.trove.replace(v0.uid.as_str(), d0.as_path()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(
        f.trove.fsck(&trove::FsckOptions::default().verify_hashes()).await.unwrap().is_empty(),
        "old versions are not reported as damaged"
    );

    // the newest version can be replaced in place
    let d2 = f.folder("z2/img.zarr", &[("0/0", "third")]);
    let v1b = f.trove.replace(v1.uid.as_str(), d2.as_path()).await.unwrap().into_artifact();
    assert_eq!(v1b.n_files, Some(1));
    assert_eq!(std::fs::read_to_string(f.trove.cache(&v1b).await.unwrap().join("0/0")).unwrap(), "third");

    // deleting an old version permanently deletes only its row
    let other = f.folder("z3/img.zarr", &[("0/0", "fourth")]);
    let v2 = f.trove.save(other.as_path(), SaveOptions::key("img.zarr")).await.unwrap().into_artifact();
    let report = f.trove.delete_permanently(std::slice::from_ref(&v0.uid), StoragePolicy::Auto).await.unwrap();
    assert_eq!(report.removed_paths().count(), 0);
    assert!(f.trove.get(v0.uid.as_str()).await.is_err());
    assert!(f.root.join(&store_key).exists());

    // deleting the newest version permanently deletes the family, and says so
    let report = f.trove.delete_permanently(std::slice::from_ref(&v2.uid), StoragePolicy::Auto).await.unwrap();
    assert_eq!(report.purged[0].artifact.uid, v2.uid);
    assert_eq!(report.purged[0].shared_store_family, vec![v1.uid.clone()]);
    assert_eq!(report.removed_paths().collect::<Vec<_>>(), vec![format!("{}/", f.root.join(&store_key).display())]);
    assert!(f.trove.get(v1.uid.as_str()).await.is_err());
    assert!(f.stored().is_empty(), "{:?}", f.stored());
}

/// One fault plan: which call fails, and whether the store acted before the error.
#[derive(Debug, Clone, Copy)]
struct Plan {
    op: FaultOp,
    nth: u64,
    after: bool,
}

const OPS: &[FaultOp] = &[
    FaultOp::OpenWriter,
    FaultOp::Write,
    FaultOp::Close,
    FaultOp::Rename,
    FaultOp::Copy,
    FaultOp::Delete,
    FaultOp::DeletePrefix,
    FaultOp::List,
    FaultOp::Stat,
    FaultOp::OpenReader,
];

/// Whatever single call fails, afterwards the record is readable and matches its bytes; it is
/// either the old content (the replace failed) or the new one (it succeeded or was finished),
/// and `fsck --repair` leaves a clean state.
#[tokio::test]
async fn replace_is_crash_safe_under_any_single_fault() {
    let mut plans = Vec::new();
    for &op in OPS {
        for nth in 1..=3 {
            for after in [false, true] {
                plans.push(Plan { op, nth, after });
            }
        }
    }
    for plan in plans {
        for case in ["same_suffix", "new_suffix", "folder"] {
            let f = fixture().await;
            let (a, new_src, old_bytes, new_bytes) = match case {
                "folder" => {
                    let d = f.folder("d0", &[("a", "old-a"), ("b", "old-b")]);
                    let a = f.trove.save(d.as_path(), SaveOptions::key("d")).await.unwrap().into_artifact();
                    (a, f.folder("d1", &[("a", "new-a"), ("c", "new-c")]), "old-a".to_string(), "new-a".to_string())
                }
                _ => {
                    let a = f
                        .trove
                        .save(f.file("iris.csv", IRIS).as_path(), SaveOptions::key("iris.csv"))
                        .await
                        .unwrap()
                        .into_artifact();
                    let name = if case == "same_suffix" { "v2.csv" } else { "v2.data" };
                    (a, f.file(name, IRIS2), IRIS.to_string(), IRIS2.to_string())
                }
            };
            // calls are counted over the wrapper's life: count from here
            let nth = f.faults.calls(plan.op) + plan.nth;
            if plan.after {
                f.faults.fail_nth_after(plan.op, nth);
            } else {
                f.faults.fail_nth(plan.op, nth);
            }
            let result = f.trove.replace(a.uid.as_str(), new_src.as_path()).await;
            f.faults.clear();
            let now = f.trove.get(a.uid.as_str()).await.unwrap();
            let ctx = format!("{plan:?} {case}: {:?}", result.as_ref().map(|o| o.name()).map_err(|e| e.to_string()));
            assert!(now.pending.is_none(), "{ctx}: a single fault is settled at once");
            let content = read_content(&f.trove, &now).await;
            if now.hash == a.hash {
                assert_eq!(content, old_bytes, "{ctx}");
                assert_eq!(trove::Artifact { updated_at: a.updated_at, ..now.clone() }, a, "{ctx}: the old record");
            } else {
                assert_eq!(content, new_bytes, "{ctx}");
                assert!(result.is_ok() || plan.after, "{ctx}: only a lost reply may finish a failed replace");
            }
            let findings = f.trove.fsck(&trove::FsckOptions::default().repair().verify_hashes()).await.unwrap();
            assert!(findings.is_empty(), "{ctx}: {findings:?}");
            let left: Vec<String> = f.stored().into_iter().filter(|p| p.contains("staging")).collect();
            let reported = match &result {
                Ok(ReplaceOutcome::Replaced { left_behind, .. }) => left_behind.clone(),
                _ => vec![],
            };
            assert!(left.is_empty() || result.is_err() || !reported.is_empty(), "{ctx}: staging left: {left:?}");
        }
    }
}

async fn read_content(t: &Trove, a: &trove::Artifact) -> String {
    if a.is_folder() {
        std::fs::read_to_string(t.cache(a).await.unwrap().join("a")).unwrap()
    } else {
        String::from_utf8(t.load_bytes(a).await.unwrap().to_vec()).unwrap()
    }
}

/// A crash that leaves the row marked (here: the store fails for good while settling) keeps the
/// old record readable, and `fsck --repair` rolls back or finishes from what the bytes say.
#[tokio::test]
async fn interrupted_replace_is_settled_by_fsck() {
    for lost_reply in [false, true] {
        let f = fixture().await;
        let a = f.trove.save(f.file("iris.csv", IRIS).as_path(), SaveOptions::key("iris.csv")).await.unwrap();
        let a = a.into_artifact();
        if lost_reply {
            f.faults.fail_nth_after(FaultOp::Rename, 1);
        } else {
            f.faults.fail_all(FaultOp::Rename);
        }
        f.faults.fail_all(FaultOp::Stat);
        let e = f.trove.replace(a.uid.as_str(), f.file("v2.csv", IRIS2).as_path()).await.unwrap_err();
        assert!(e.message().contains("trove fsck --repair"), "{e}");
        f.faults.clear();
        let marked = f.trove.get(a.uid.as_str()).await.unwrap();
        assert!(matches!(marked.pending, Some(trove::domain::Pending::Replacing { .. })));
        assert_eq!((marked.size, &marked.hash), (a.size, &a.hash), "the record still describes the old content");

        let dry = f.trove.fsck(&trove::FsckOptions::default()).await.unwrap();
        assert_eq!(dry.len(), 1, "{dry:?}");
        assert_eq!(dry[0].problem, "a replace was interrupted");
        let expected = if lost_reply { "would be finished" } else { "would be rolled back" };
        assert!(dry[0].action.starts_with(expected), "{dry:?}");
        assert!(!dry[0].repaired, "a dry run settles nothing");
        let fixed = f.trove.fsck(&trove::FsckOptions::default().repair()).await.unwrap();
        assert!(fixed.len() == 1 && fixed[0].repaired, "{fixed:?}");
        let now = f.trove.get(a.uid.as_str()).await.unwrap();
        assert!(now.pending.is_none());
        let want = if lost_reply { IRIS2 } else { IRIS };
        assert_eq!(f.trove.load_bytes(&now).await.unwrap(), want.as_bytes());
        assert_eq!(now.size, want.len() as u64);
        assert!(f.trove.fsck(&trove::FsckOptions::default().verify_hashes()).await.unwrap().is_empty());
        assert!(!f.stored().iter().any(|p| p.contains("staging")), "{:?}", f.stored());
    }
}
