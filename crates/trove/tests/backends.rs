//! The lifecycle on every backend the test harness provides: SQLite + local disk, PostgreSQL +
//! S3 (garage), PostgreSQL + GCS (emulator). Storage is read back through the object-store port,
//! so the checks hold wherever the bytes live. Also: concurrent writers on PostgreSQL.

mod common;

use common::{Pairs, instances};
use trove::{ArtifactQuery, BranchId, BranchSelection, ErrorKind, KeepReason, SaveOptions, StoragePolicy, Trove};

fn input(dir: &tempfile::TempDir, name: &str, content: &str) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, content).unwrap();
    p
}

async fn main_count(t: &Trove) -> u64 {
    t.count(&ArtifactQuery::new()).await.unwrap()
}

#[tokio::test]
async fn lifecycle_on_every_backend() {
    for inst in instances(Pairs::S3AndGcs).await {
        let (t, store, name) = (&inst.trove, &inst.store, inst.name);
        let dir = tempfile::tempdir().unwrap();
        let csv = input(&dir, "iris.csv", "a,b\n1,2\n");
        let a = t.save(csv.as_path(), SaveOptions::key("datasets/iris.csv")).await.unwrap().into_artifact();
        let key = a.storage_key();
        assert_eq!(key, format!(".trove/{}.csv", a.uid), "{name}");
        assert_eq!(store.stat(&key).await.unwrap().unwrap().size, 8, "{name}");
        assert_eq!(t.load_bytes(&a).await.unwrap(), &b"a,b\n1,2\n"[..], "{name}");
        if name != "sqlite+fs" {
            assert!(t.path(&a).unwrap().starts_with(store.root()), "{name}: {}", t.path(&a).unwrap());
        }

        // dedup, versions, heads
        assert_eq!(
            t.save(csv.as_path(), SaveOptions::key("datasets/iris.csv")).await.unwrap().name(),
            "existing",
            "{name}"
        );
        std::fs::write(&csv, "a,b\n1,2\n3,4\n").unwrap();
        let v1 = t.save(csv.as_path(), SaveOptions::key("datasets/iris.csv")).await.unwrap().into_artifact();
        assert_eq!(v1.uid.version_suffix(), "0001", "{name}");
        t.trash(std::slice::from_ref(&v1.uid)).await.unwrap();
        assert!(t.get(a.uid.as_str()).await.unwrap().is_latest, "{name}: trashing the head promotes the previous");
        t.restore(std::slice::from_ref(&v1.uid)).await.unwrap();
        assert_eq!(t.get("datasets/iris.csv").await.unwrap().uid, v1.uid, "{name}: restore recomputes the head");

        // trash, archive, restore; bytes stay
        t.trash(&[a.uid.clone(), v1.uid.clone()]).await.unwrap();
        assert_eq!(main_count(t).await, 0, "{name}");
        assert_eq!(t.count(&ArtifactQuery::new().branch(BranchSelection::Only(BranchId::TRASH))).await.unwrap(), 2);
        assert!(store.stat(&key).await.unwrap().is_some(), "{name}: bytes stay while trashed");
        assert_eq!(
            t.trash(std::slice::from_ref(&a.uid)).await.unwrap_err().kind(),
            ErrorKind::AlreadyInTrash,
            "{name}"
        );
        t.restore(&[a.uid.clone(), v1.uid.clone()]).await.unwrap();
        t.archive(std::slice::from_ref(&a.uid)).await.unwrap();
        assert_eq!(main_count(t).await, 1, "{name}");
        t.restore(std::slice::from_ref(&a.uid)).await.unwrap();
        assert_eq!(main_count(t).await, 2, "{name}");

        // permanent deletion removes managed bytes
        let rep = t.delete_permanently(&[a.uid.clone(), v1.uid.clone()], StoragePolicy::Auto).await.unwrap();
        assert_eq!(rep.removed_paths().count(), 2, "{name}");
        assert!(store.stat(&key).await.unwrap().is_none(), "{name}");
        assert_eq!(t.count(&ArtifactQuery::new().branch(BranchSelection::All)).await.unwrap(), 0, "{name}");

        // real keys: versions stay readable; auto keeps the file at the key and says where
        let r0 = t.save(csv.as_path(), SaveOptions::key("real/iris.csv").real_key()).await.unwrap().into_artifact();
        assert_eq!(r0.storage_key(), "real/iris.csv", "{name}");
        std::fs::write(&csv, "changed\n").unwrap();
        let r1 = t.save(csv.as_path(), SaveOptions::key("real/iris.csv").real_key()).await.unwrap().into_artifact();
        assert_eq!(store.read_all("real/iris.csv").await.unwrap(), &b"changed\n"[..], "{name}");
        let r0 = t.get(r0.uid.as_str()).await.unwrap();
        assert_eq!(
            t.load_bytes(&r0).await.unwrap(),
            &b"a,b\n1,2\n3,4\n"[..],
            "{name}: the old version moved, readable"
        );
        let rep = t.delete_permanently(std::slice::from_ref(&r1.uid), StoragePolicy::Auto).await.unwrap();
        assert_eq!(rep.kept_paths().next().unwrap().reason, KeepReason::UserVisiblePath, "{name}");
        assert!(store.stat("real/iris.csv").await.unwrap().is_some(), "{name}");
        assert!(t.fsck(&trove::FsckOptions::default().verify_hashes()).await.unwrap().is_empty(), "{name}");
        eprintln!("{name}: lifecycle ok");
    }
}

#[tokio::test]
async fn folders_on_every_backend() {
    for inst in instances(Pairs::S3AndGcs).await {
        let (t, store, name) = (&inst.trove, &inst.store, inst.name);
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("ds/sub")).unwrap();
        std::fs::write(dir.path().join("ds/a.txt"), "aaa").unwrap();
        std::fs::write(dir.path().join("ds/sub/b.txt"), "bb").unwrap();
        let a = t.save(dir.path().join("ds").as_path(), SaveOptions::key("ds")).await.unwrap().into_artifact();
        assert_eq!((a.n_files, a.size), (Some(2), 5), "{name}");
        let listed = store.list(&format!("{}/", a.storage_key())).await.unwrap();
        assert_eq!(listed.len(), 2, "{name}");
        t.delete_permanently(std::slice::from_ref(&a.uid), StoragePolicy::Auto).await.unwrap();
        assert!(store.list(&format!("{}/", a.storage_key())).await.unwrap().is_empty(), "{name}");
    }
}

/// 8 writers saving new versions of one key at once: 8 distinct consecutive versions and
/// exactly one head; then concurrent trash/restore of the same records converges.
#[tokio::test]
async fn concurrent_writers_on_postgres() {
    let all = instances(Pairs::S3AndGcs).await;
    let Some(inst) = all.iter().find(|i| i.name == "postgresql+s3") else {
        eprintln!("skipped: no PostgreSQL+S3 from this provider");
        return;
    };
    let t = inst.trove.clone();
    let dir = tempfile::tempdir().unwrap();
    let first = input(&dir, "v.csv", "v,0\n");
    let v0 = t.save(first.as_path(), SaveOptions::key("shared/v.csv")).await.unwrap().into_artifact();
    let mut tasks = Vec::new();
    for i in 1..=8 {
        let t = t.clone();
        let p = input(&dir, &format!("v{i}.csv"), &format!("v,{i}\n"));
        tasks.push(tokio::spawn(async move { t.save(p.as_path(), SaveOptions::key("shared/v.csv")).await }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().name(), "new_version");
    }
    let versions = t.versions("shared/v.csv", BranchSelection::All).await.unwrap();
    let suffixes: Vec<String> = versions.iter().map(|a| a.uid.version_suffix().to_owned()).collect();
    let want: Vec<String> = (0..=8).map(|i| format!("000{i}")).collect();
    assert_eq!(suffixes, want, "consecutive, distinct versions");
    assert!(versions.iter().all(|a| a.uid.stem() == v0.uid.stem()), "one family");
    assert_eq!(versions.iter().filter(|a| a.is_latest).count(), 1);
    assert!(versions.last().unwrap().is_latest);

    // two brand-new keys raced by 4 writers each never make two families
    let mut tasks = Vec::new();
    for i in 0..4 {
        let t = t.clone();
        let p = input(&dir, &format!("n{i}.csv"), &format!("n,{i}\n"));
        tasks.push(tokio::spawn(async move { t.save(p.as_path(), SaveOptions::key("fresh/n.csv")).await }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let fresh = t.list(&ArtifactQuery::new().key("fresh/n.csv")).await.unwrap();
    let stems: std::collections::BTreeSet<_> = fresh.iter().map(|a| a.uid.stem()).collect();
    assert_eq!(stems.len(), 1, "one family for one key");
    assert_eq!(fresh.len(), 4);

    // concurrent trash/restore of the same records converge to a valid state
    let uids: Vec<_> = versions.iter().map(|a| a.uid.clone()).collect();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let t = t.clone();
        let uids = uids.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 { t.trash(&uids).await.map(|_| ()) } else { t.restore(&uids).await.map(|_| ()) }
        }));
    }
    for task in tasks {
        // A trash racing a trash may find records already trashed: a typed error, no change.
        if let Err(e) = task.await.unwrap() {
            assert!(matches!(e.kind(), ErrorKind::AlreadyInTrash | ErrorKind::Conflict), "{e}");
        }
    }
    let after = t.versions("shared/v.csv", BranchSelection::All).await.unwrap();
    assert_eq!(after.len(), 9);
    for branch in [BranchId::MAIN, BranchId::TRASH] {
        let on: Vec<_> = after.iter().filter(|a| a.branch == branch).collect();
        if !on.is_empty() {
            let heads: Vec<_> = on.iter().filter(|a| a.is_latest).collect();
            assert_eq!(heads.len(), 1, "one head on {branch}");
            assert_eq!(heads[0].uid, on.iter().max_by_key(|a| a.version_index()).unwrap().uid);
        }
    }
}

/// Concurrent saves of new content under one key, on every backend, round after round, with
/// virtual and real keys: every save that succeeds is readable with exactly its own bytes, and
/// every record's bytes hash to its recorded hash (before reservations, racing writers chose the
/// same uid and so the same object, and rows ended up pointing at each other's bytes).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_saves_keep_their_own_bytes() {
    for inst in instances(Pairs::S3).await {
        let (name, t) = (inst.name, inst.trove.clone());
        let dir = tempfile::tempdir().unwrap();
        let mut saved = Vec::new();
        for round in 0..4 {
            let mut tasks = Vec::new();
            for w in 0..6 {
                let t = t.clone();
                // Distinct content, large enough for the writes to overlap.
                let body: Vec<u8> = format!("round {round} writer {w}\n").into_bytes().repeat(4096 + 512 * w);
                let path = dir.path().join(format!("r{round}w{w}.bin"));
                std::fs::write(&path, &body).unwrap();
                let opts = if w % 3 == 2 {
                    SaveOptions::key("hot/real.bin").real_key()
                } else {
                    SaveOptions::key("hot/x.bin")
                };
                tasks.push(tokio::spawn(async move { (t.save(path.as_path(), opts).await, body) }));
            }
            for task in tasks {
                let (outcome, body) = task.await.unwrap();
                let outcome = outcome.unwrap_or_else(|e| panic!("{name}: round {round}: {e}"));
                saved.push((outcome.into_artifact(), body));
            }
        }
        for (a, body) in &saved {
            let now = t.get(a.uid.as_str()).await.unwrap();
            let bytes = t.load_bytes(&now).await.unwrap();
            assert!(bytes[..] == body[..], "{name}: {} does not hold the bytes saved as it", a.uid);
        }
        for key in ["hot/x.bin", "hot/real.bin"] {
            let versions = t.versions(key, BranchSelection::All).await.unwrap();
            let n = saved.iter().filter(|(a, _)| a.key.as_ref().map(|k| k.as_str()) == Some(key)).count();
            assert_eq!(versions.len(), n, "{name}: one version per save of {key}");
            let mut suffixes: Vec<_> = versions.iter().map(|a| a.uid.version_index()).collect();
            suffixes.dedup();
            assert_eq!(suffixes.len(), n, "{name}: distinct versions of {key}");
            assert_eq!(versions.iter().filter(|a| a.is_latest).count(), 1, "{name}: one head of {key}");
            let newest = versions.iter().max_by_key(|a| a.version_index()).unwrap();
            assert!(newest.is_latest, "{name}: the newest version of {key} is the head");
            if key == "hot/real.bin" {
                assert_eq!(newest.storage_key(), key, "{name}: the real key holds the newest version");
            }
        }
        assert!(
            t.fsck(&trove::FsckOptions::default().verify_hashes()).await.unwrap().is_empty(),
            "{name}: every record's bytes hash to its hash"
        );
    }
}

/// `delete_instance` on every backend pair: refused while artifacts remain, then with `force`
/// and `--storage delete` the bytes, the catalog (PostgreSQL: Trove's tables) and the marker go,
/// and the root can hold a new instance.
#[tokio::test]
async fn deleting_an_instance_on_every_backend() {
    for inst in instances(Pairs::S3).await {
        let (name, t, store) = (inst.name, inst.trove.clone(), inst.store.clone());
        let dir = tempfile::tempdir().unwrap();
        let a = t.save(input(&dir, "a.csv", "a,b\n1,2\n").as_path(), SaveOptions::key("a.csv")).await.unwrap();
        let a = a.into_artifact();
        let err = t.clone().delete_instance(&trove::DeleteInstanceOptions::default()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protected, "{name}: {err}");
        let opts = trove::DeleteInstanceOptions { force: true, storage: StoragePolicy::Delete };
        let done = t.clone().delete_instance(&opts).await.unwrap();
        assert_eq!(done.removed_paths().count(), 1, "{name}");
        assert!(store.stat(&a.storage_key()).await.unwrap().is_none(), "{name}: the bytes went");
        assert!(store.stat(".trove/storage.json").await.unwrap().is_none(), "{name}: the marker went");
        assert!(t.count(&ArtifactQuery::new()).await.is_err(), "{name}: the catalog's tables are gone");
        if let Some(root) = store.local_path("") {
            assert!(!root.join(".trove/trove.db").exists(), "{name}: the embedded catalog file is gone");
        }
    }
}
