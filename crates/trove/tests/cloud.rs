//! Cloud storage through the façade on the harness's real servers: the reference walk-through
//! on S3 (garage) and GCS (fake-gcs-server) with PostgreSQL catalogs, the cache (paths,
//! freshness, folder sync, interrupted downloads, `--verify`), upload verification against the
//! server's ETag, and in-place registration. Storage locations (add, default, read-only
//! registration of another instance's root) on local roots. Under the `embedded` provider the
//! cloud tests print that they were skipped.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use trove::domain::hash::hash_bytes;
use trove::domain::ports::ObjectStore;
use trove::{ErrorKind, InitOptions, SaveOptions, StoragePolicy, Trove};
use trove_storage::{FaultInjection, FaultOp, GcsConfig, OpendalStore, S3Config};
use trove_testkit::backends::backends;

const IRIS: &str = "sepal_length,species\n5.1,setosa\n7.0,versicolor\n";
const IRIS2: &str = "sepal_length,species\n5.1,setosa\n7.0,versicolor\n6.3,virginica\n";

/// A PostgreSQL + cloud instance whose store is wrapped in [`FaultInjection`] (a download
/// counter and fault switch), with its own cache folder.
struct Cloud {
    name: &'static str,
    trove: Trove,
    fault: Arc<FaultInjection>,
    /// `<bucket>/<prefix>` as the cache lays it out.
    bucket_prefix: String,
    cache: tempfile::TempDir,
    inputs: tempfile::TempDir,
    _keep: Vec<Box<dyn std::any::Any + Send>>,
}

impl Cloud {
    fn file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.inputs.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    fn store(&self) -> &Arc<dyn ObjectStore> {
        self.fault.inner()
    }

    fn downloads(&self) -> u64 {
        self.fault.calls(FaultOp::OpenReader)
    }

    fn cached(&self, rel: &str) -> PathBuf {
        self.cache.path().join(&self.bucket_prefix).join(rel)
    }
}

async fn clouds() -> Vec<Cloud> {
    let b = backends().await;
    let mut out = Vec::new();
    for name in ["postgresql+s3", "postgresql+gcs"] {
        let Some(db) = b.postgres_db().await else {
            eprintln!("skipped {name}: provider {} gives no PostgreSQL", b.provider());
            continue;
        };
        let (store, bucket, keep): (Arc<dyn ObjectStore>, String, Box<dyn std::any::Any + Send>) =
            if name == "postgresql+s3" {
                let Some(bucket) = b.s3_bucket().await else { continue };
                let mut cfg = S3Config::new(&bucket.bucket, "prefix");
                cfg.endpoint = Some(bucket.endpoint.clone());
                cfg.region = bucket.region.clone();
                cfg.access_key_id = Some(bucket.access_key_id.clone());
                cfg.secret_access_key = Some(bucket.secret_access_key.clone());
                (Arc::new(OpendalStore::s3(cfg).unwrap()), bucket.bucket.clone(), Box::new(bucket))
            } else {
                let Some(bucket) = b.gcs_bucket().await else { continue };
                let mut cfg = GcsConfig::new(&bucket.bucket, "prefix");
                cfg.endpoint = Some(bucket.endpoint.clone());
                cfg.token = Some("fake-token".into());
                cfg.emulator = true;
                (Arc::new(OpendalStore::gcs(cfg).unwrap()), bucket.bucket.clone(), Box::new(bucket))
            };
        let fault = Arc::new(FaultInjection::new(store.clone()));
        let cache = tempfile::tempdir().unwrap();
        let catalog = trove::connect_catalog(&db.url).await.unwrap();
        let trove = Trove::builder()
            .catalog(catalog)
            .store(fault.clone())
            .user("tester")
            .cache_dir(cache.path())
            .init(InitOptions { db: Some(db.url.clone()), ..InitOptions::local(store.root()) })
            .await
            .unwrap();
        out.push(Cloud {
            name,
            trove,
            fault,
            bucket_prefix: format!("{bucket}/prefix"),
            cache,
            inputs: tempfile::tempdir().unwrap(),
            _keep: vec![keep, Box::new(db)],
        });
    }
    out
}

fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

fn files_below(dir: &Path) -> Vec<String> {
    trove_testkit::files::file_paths(dir)
}

/// The reference walk-through on S3 and GCS: where bytes land, where the cache puts them,
/// freshness after a replace.
#[tokio::test]
async fn walkthrough_on_cloud_storage() {
    for c in clouds().await {
        let (t, name) = (&c.trove, c.name);
        assert!(c.store().stat(".trove/storage.json").await.unwrap().is_some(), "{name}: the marker is written");
        let csv = c.file("iris.csv", IRIS);

        // No key: bytes at <root>/.trove/<uid>.csv.
        let a = t.save(csv.as_path(), SaveOptions::description("iris")).await.unwrap().into_artifact();
        assert_eq!(a.storage_key(), format!(".trove/{}.csv", a.uid), "{name}");
        assert_eq!(t.path(&a).unwrap(), format!("{}/.trove/{}.csv", c.store().root(), a.uid), "{name}");
        assert_eq!(c.store().read_all(&a.storage_key()).await.unwrap(), IRIS.as_bytes(), "{name}");

        // A real key: bytes at <root>/iris.csv.
        std::fs::write(&csv, IRIS2).unwrap();
        let r = t.save(csv.as_path(), SaveOptions::key("iris.csv").real_key()).await.unwrap().into_artifact();
        assert_eq!(r.storage_key(), "iris.csv", "{name}");
        assert_eq!(c.store().read_all("iris.csv").await.unwrap(), IRIS2.as_bytes(), "{name}");

        // cache(): <cache>/<bucket>/<prefix>/<storage key>, seeded on save (no download).
        let before = c.downloads();
        let p = t.cache(&r).await.unwrap();
        assert_eq!(p, c.cached("iris.csv"), "{name}");
        assert_eq!(p.extension().unwrap(), "csv", "{name}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), IRIS2, "{name}");
        assert_eq!(c.downloads(), before, "{name}: the save seeded the cache, nothing downloaded");
        let remote = c.store().stat("iris.csv").await.unwrap().unwrap();
        assert_eq!(mtime(&p), SystemTime::from(remote.last_modified.unwrap()), "{name}: mtime is the remote's");
        let pa = t.cache(&a).await.unwrap();
        assert_eq!(pa, c.cached(&format!(".trove/{}.csv", a.uid)), "{name}");

        // A virtual key's latest version is cached under its readable key path.
        let v = t.save(c.file("v/iris.csv", "x,y\n1,2\n").as_path(), SaveOptions::key("datasets/iris.csv")).await;
        let v = v.unwrap().into_artifact();
        assert_eq!(v.storage_key(), format!(".trove/{}.csv", v.uid), "{name}");
        assert_eq!(t.cache(&v).await.unwrap(), c.cached("datasets/iris.csv"), "{name}");

        // Replace: cache() brings the new content, with the new remote modification time.
        let old_mtime = mtime(&p);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let replaced = c.file("replacement/iris.csv", "sepal_length,species\n9.9,new\n");
        t.replace(r.uid.as_str(), replaced.as_path()).await.unwrap();
        let r2 = t.get(r.uid.as_str()).await.unwrap();
        let p2 = t.cache(&r2).await.unwrap();
        assert_eq!(p2, p, "{name}");
        assert_eq!(std::fs::read_to_string(&p2).unwrap(), "sepal_length,species\n9.9,new\n", "{name}");
        assert!(mtime(&p2) > old_mtime, "{name}: a fresh modification time after the replace");
        let remote = c.store().stat("iris.csv").await.unwrap().unwrap();
        assert_eq!(mtime(&p2), SystemTime::from(remote.last_modified.unwrap()), "{name}");

        // load_bytes and streamed, ranged reads from the cloud.
        assert_eq!(t.load_bytes(&a).await.unwrap(), IRIS.as_bytes(), "{name}");
        let mut reader = t.open_reader(&a, Some(0..12)).await.unwrap();
        let mut got = Vec::new();
        while let Some(chunk) = reader.chunk().await.unwrap() {
            got.extend_from_slice(&chunk);
        }
        assert_eq!(got, &IRIS.as_bytes()[..12], "{name}");
        eprintln!("{name}: walk-through ok");
    }
}

/// Freshness: an unchanged object is not downloaded again; a changed one is; an interrupted
/// download leaves no file at the cache path and no temporary file; `cache_verify` repairs a
/// local copy corrupted behind the cache's back.
#[tokio::test]
async fn cache_freshness_interrupted_downloads_and_verify() {
    for c in clouds().await {
        let (t, name) = (&c.trove, c.name);
        let a = t.save(Bytes::from_static(IRIS.as_bytes()), SaveOptions::key("f/iris.csv")).await.unwrap();
        let a = a.into_artifact();
        let before = c.downloads();
        let p = t.cache(&a).await.unwrap();
        assert_eq!(c.downloads(), before + 1, "{name}: bytes are not seeded: one download");
        t.cache(&a).await.unwrap();
        assert_eq!(c.downloads(), before + 1, "{name}: unchanged remote, no download");

        // The remote changes (another writer): size and mtime differ, so it is downloaded.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        c.store().put(&a.storage_key(), Bytes::from_static(IRIS2.as_bytes())).await.unwrap();
        t.cache(&a).await.unwrap();
        assert_eq!(c.downloads(), before + 2, "{name}: changed remote, downloaded again");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), IRIS2, "{name}");
        c.store().put(&a.storage_key(), Bytes::from_static(IRIS.as_bytes())).await.unwrap();

        // Interrupted download: the read fails mid-way; no half file, no temporary left.
        std::fs::remove_file(&p).unwrap();
        c.fault.fail_all(FaultOp::ReadChunk);
        let err = t.cache(&a).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage, "{name}: {err}");
        c.fault.clear();
        assert!(!p.exists(), "{name}: no file at the cache path after a failed download");
        assert!(files_below(p.parent().unwrap()).is_empty(), "{name}: no temporary file left");
        assert_eq!(std::fs::read_to_string(t.cache(&a).await.unwrap()).unwrap(), IRIS, "{name}");

        // Corrupt the local copy keeping size and mtime: cache() trusts it, verify repairs it.
        let m = mtime(&p);
        std::fs::write(&p, IRIS.replace('5', "6")).unwrap();
        std::fs::File::options().write(true).open(&p).unwrap().set_modified(m).unwrap();
        assert_ne!(std::fs::read_to_string(t.cache(&a).await.unwrap()).unwrap(), IRIS, "{name}");
        let verified = t.cache_verify(&a).await.unwrap();
        assert_eq!(std::fs::read_to_string(verified).unwrap(), IRIS, "{name}: verify re-downloaded");
    }
}

/// Folders sync file by file and drop local files that no longer exist remotely.
#[tokio::test]
async fn cache_syncs_folders() {
    for c in clouds().await {
        let (t, name) = (&c.trove, c.name);
        c.file("ds/a.txt", "aaa");
        c.file("ds/sub/b.txt", "bb");
        let ds = c.inputs.path().join("ds");
        let a = t.save(ds.as_path(), SaveOptions::key("ds")).await.unwrap().into_artifact();
        let before = c.downloads();
        let p = t.cache(&a).await.unwrap();
        assert_eq!(p, c.cached("ds"), "{name}");
        assert_eq!(files_below(&p), vec!["a.txt", "sub/b.txt"], "{name}");
        assert_eq!(c.downloads(), before, "{name}: seeded on save");

        // Remotely: b.txt goes, c.txt appears. Locally: a stray file appears.
        let prefix = a.storage_key();
        c.store().delete(&format!("{prefix}/sub/b.txt")).await.unwrap();
        c.store().put(&format!("{prefix}/c.txt"), Bytes::from_static(b"c")).await.unwrap();
        std::fs::write(p.join("stray.txt"), "x").unwrap();
        let p = t.cache(&a).await.unwrap();
        assert_eq!(files_below(&p), vec!["a.txt", "c.txt"], "{name}: mirrors the remote folder");
        assert_eq!(c.downloads(), before + 1, "{name}: only the new file was downloaded");
    }
}

/// A corrupted upload (the server's ETag disagrees with the computed MD5) fails with
/// `Integrity`, removes the object, and commits nothing.
#[tokio::test]
async fn corrupted_uploads_are_detected_and_nothing_is_committed() {
    for c in clouds().await {
        let (t, name) = (&c.trove, c.name);
        if !c.store().capabilities().etag_is_md5 {
            eprintln!("{name}: ETag is not MD5-based here; upload verification does not apply");
            continue;
        }
        c.fault.corrupt_etags();
        let csv = c.file("bad.csv", IRIS);
        let err = t.save(csv.as_path(), SaveOptions::key("bad.csv")).await.unwrap_err();
        c.fault.clear();
        assert_eq!(err.kind(), ErrorKind::Integrity, "{name}: {err}");
        assert!(err.message().contains("ETag"), "{name}: {err}");
        assert_eq!(t.count(&trove::ArtifactQuery::new().branch(trove::BranchSelection::All)).await.unwrap(), 0);
        let left: Vec<_> = c.store().list(".trove/").await.unwrap().into_iter().map(|m| m.key).collect();
        assert_eq!(left, vec![".trove/storage.json"], "{name}: the corrupt object was removed");
        // Without the fault the same save works.
        t.save(csv.as_path(), SaveOptions::key("bad.csv")).await.unwrap();
    }
}

/// Objects already in the bucket become artifacts without copying; the hash comes from the
/// server's MD5 where it is exact and equals Trove's own.
#[tokio::test]
async fn registering_objects_in_place() {
    for c in clouds().await {
        let (t, name) = (&c.trove, c.name);
        c.store().put("raw/x.csv", Bytes::from_static(IRIS.as_bytes())).await.unwrap();
        c.store().put("raw/folder/one.txt", Bytes::from_static(b"1")).await.unwrap();
        c.store().put("raw/folder/two.txt", Bytes::from_static(b"22")).await.unwrap();
        let root = c.store().root().to_owned();
        let writes = c.fault.calls(FaultOp::OpenWriter);
        let reads = c.downloads();

        let a = t.register(&format!("{root}/raw/x.csv"), SaveOptions::default()).await.unwrap();
        assert_eq!(a.name(), "created", "{name}");
        let a = a.into_artifact();
        assert_eq!(a.key.as_ref().unwrap().as_str(), "raw/x.csv", "{name}");
        assert_eq!(a.storage_key(), "raw/x.csv", "{name}");
        assert_eq!(a.hash, hash_bytes(IRIS.as_bytes()).hash, "{name}");
        assert_eq!(a.suffix, ".csv", "{name}");

        // Under another key: the key is virtual, the real path remembered.
        let again = t.register(&format!("{root}/raw/x.csv"), SaveOptions::key("curated/iris.csv")).await.unwrap();
        assert_eq!(again.name(), "existing", "{name}: already registered at that path");
        c.store().put("raw/y.csv", Bytes::from_static(IRIS2.as_bytes())).await.unwrap();
        let y = t.register("raw/y.csv", SaveOptions::key("curated/y.csv")).await.unwrap().into_artifact();
        assert_eq!((y.key.as_ref().unwrap().as_str(), y.storage_key().as_str()), ("curated/y.csv", "raw/y.csv"));

        let f = t.register(&format!("{root}/raw/folder"), SaveOptions::default()).await.unwrap().into_artifact();
        assert_eq!((f.n_files, f.size), (Some(2), 3), "{name}");
        assert_eq!(c.fault.calls(FaultOp::OpenWriter), writes, "{name}: registration writes no bytes");
        assert_eq!(c.downloads(), reads, "{name}: hashes came from the server's exact MD5, nothing was read");
        assert_eq!(t.load_bytes(&y).await.unwrap(), IRIS2.as_bytes(), "{name}");

        let missing = t.register(&format!("{root}/raw/nothing.csv"), SaveOptions::default()).await.unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::SourceNotFound, "{name}");
        let outside = t.register("s3://elsewhere/x.csv", SaveOptions::default()).await.unwrap_err();
        assert_eq!(outside.kind(), ErrorKind::InvalidInput, "{name}");
    }
}

/// Storage locations on local roots: a second managed root with its marker, saving into it,
/// the default location, and read-only registration of another instance's root.
#[tokio::test]
async fn storage_locations() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Trove::builder().user("tester").init(InitOptions::local(dir.path().join("one"))).await.unwrap();
    let other = Trove::builder().user("other").init(InitOptions::local(dir.path().join("theirs"))).await.unwrap();
    let csv = dir.path().join("iris.csv");
    std::fs::write(&csv, IRIS).unwrap();

    let two = dir.path().join("two");
    let loc = t.add_storage(two.to_str().unwrap()).await.unwrap();
    assert!(t.manages(&loc));
    let marker: serde_json::Value =
        serde_json::from_slice(&std::fs::read(two.join(".trove/storage.json")).unwrap()).unwrap();
    assert_eq!(marker["instance_uid"], t.instance().uid.as_str());
    assert_eq!(marker["storage_uid"], loc.uid.as_str());
    assert_eq!(t.add_storage(two.to_str().unwrap()).await.unwrap().id, loc.id, "adding twice is a no-op");
    assert_eq!(t.storages().len(), 2);

    let a = t.save(csv.as_path(), SaveOptions::key("iris.csv").in_storage(two.to_str().unwrap())).await.unwrap();
    let a = a.into_artifact();
    assert_eq!(a.storage, loc.id);
    assert!(two.join(a.storage_key()).is_file());

    t.set_default_storage(&loc.uid).await.unwrap();
    assert_eq!(t.default_storage().id, loc.id);
    let reopened = Trove::open(dir.path().join("one").to_str().unwrap()).await.unwrap();
    assert_eq!(reopened.default_storage().id, loc.id, "the default is stored in the catalog");
    assert_eq!(reopened.storages().len(), 2);

    // Another instance's root: registered read-only, named in every refusal.
    let theirs = dir.path().join("theirs");
    let foreign = t.add_storage(theirs.to_str().unwrap()).await.unwrap();
    assert_eq!(foreign.instance_uid, other.instance().uid);
    assert!(!t.manages(&foreign));
    let err = t.save(csv.as_path(), SaveOptions::key("x.csv").in_storage(&foreign.uid)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotManaged);
    assert!(err.message().contains(&other.instance().uid), "{}", err.message());
    let err = t.set_default_storage(&foreign.uid).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotManaged);

    // Their data can be registered in place (no bytes written) and read; its bytes are not
    // deleted by this instance.
    std::fs::write(theirs.join("shared.csv"), IRIS2).unwrap();
    let shared = theirs.join("shared.csv");
    let s = t.save(shared.as_path(), SaveOptions::default().with_description("theirs")).await.unwrap().into_artifact();
    assert_eq!(s.storage, foreign.id);
    assert_eq!(t.load_bytes(&s).await.unwrap(), IRIS2.as_bytes());
    let err = t.delete_permanently(std::slice::from_ref(&s.uid), StoragePolicy::Delete).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotManaged);
    t.delete_permanently(std::slice::from_ref(&s.uid), StoragePolicy::Auto).await.unwrap();
    assert!(theirs.join("shared.csv").is_file(), "bytes in a foreign location stay");

    // Local storage is never copied into the cache.
    assert_eq!(t.cache(&a).await.unwrap(), two.join(a.storage_key()));
    let bad = t.add_storage(dir.path().join("one/.trove/inner").to_str().unwrap()).await.unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::InvalidInput);
}

/// Spec 2 section 1: storage roots never nest (inside or around a registered root), and a
/// location is unregistered only when no artifact lives there (any branch) and it is not the
/// default; its marker goes with it, its files stay.
#[tokio::test]
async fn storage_locations_never_nest_and_are_removed_only_when_empty() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Trove::builder().user("tester").init(InitOptions::local(dir.path().join("one"))).await.unwrap();
    for nested in [dir.path().join("one/sub"), dir.path().to_path_buf()] {
        let err = t.add_storage(nested.to_str().unwrap()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{}", err.message());
        assert!(err.message().contains("nest"), "{}", err.message());
    }
    assert_eq!(t.storages().len(), 1, "nothing was registered");
    let two = dir.path().join("two");
    let loc = t.add_storage(two.to_str().unwrap()).await.unwrap();
    let csv = dir.path().join("iris.csv");
    std::fs::write(&csv, IRIS).unwrap();
    let a = t.save(csv.as_path(), SaveOptions::key("iris.csv").in_storage(&loc.uid)).await.unwrap().into_artifact();
    t.trash(std::slice::from_ref(&a.uid)).await.unwrap();
    let err = t.remove_storage(&loc.uid).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protected, "a trashed artifact keeps its location: {}", err.message());
    let default_root = t.default_storage().root.clone();
    let err = t.remove_storage(&default_root).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidTransition, "{}", err.message());
    t.delete_permanently(std::slice::from_ref(&a.uid), StoragePolicy::Auto).await.unwrap();
    std::fs::write(two.join("mine.txt"), "a file of the user's").unwrap();
    let removed = t.remove_storage(two.to_str().unwrap()).await.unwrap();
    assert_eq!(removed.id, loc.id);
    assert_eq!(t.storages().len(), 1);
    assert!(!two.join(".trove/storage.json").exists(), "the marker goes");
    assert!(two.join("mine.txt").is_file(), "files are never touched");
    let reopened = Trove::open(dir.path().join("one").to_str().unwrap()).await.unwrap();
    assert_eq!(reopened.storages().len(), 1, "the catalog forgot it");
    t.add_storage(two.to_str().unwrap()).await.expect("a removed root can be registered again");
}

/// Issue 9, defect 8: an object registered in place at `raw/x.csv` and the latest version of
/// the virtual key `raw/x.csv` share one cache path. Freshness by size and modification time
/// alone handed back one artifact's bytes for the other when both agreed (same size, uploaded
/// in the same second); here they are made to agree on purpose. The cache must notice that the
/// path holds another object and download, every time the artifact asked for changes.
#[tokio::test]
async fn a_shared_cache_path_never_returns_another_artifacts_bytes() {
    const IN_PLACE: &[u8] = b"in place,1\n";
    const VIRTUAL: &[u8] = b"virtual!,2\n";
    assert_eq!(IN_PLACE.len(), VIRTUAL.len(), "same size, so size cannot tell them apart");
    for c in clouds().await {
        let (t, name) = (&c.trove, c.name);
        c.store().put("raw/x.csv", Bytes::from_static(IN_PLACE)).await.unwrap();
        let in_place = t.register("raw/x.csv", SaveOptions::key("elsewhere/x.csv")).await.unwrap().into_artifact();
        assert_eq!(in_place.storage_key(), "raw/x.csv", "{name}");
        let src = c.file("x.csv", std::str::from_utf8(VIRTUAL).unwrap());
        let virt = t.save(src.as_path(), SaveOptions::key("raw/x.csv")).await.unwrap().into_artifact();
        assert!(virt.storage_key().starts_with(".trove/"), "{name}: a virtual key");

        let mut times = Vec::new();
        for a in [&in_place, &virt] {
            let meta = c.store().stat(&a.storage_key()).await.unwrap().unwrap();
            times.push(SystemTime::from(meta.last_modified.unwrap()));
        }
        let (in_place_time, virt_time) = (times[0], times[1]);
        let set_mtime = |p: &Path, t: SystemTime| {
            std::fs::File::options().write(true).open(p).unwrap().set_modified(t).unwrap();
        };
        for round in 0..2 {
            for (a, bytes, time) in [(&virt, VIRTUAL, virt_time), (&in_place, IN_PLACE, in_place_time)] {
                let p = t.cache(a).await.unwrap();
                assert_eq!(p, c.cached("raw/x.csv"), "{name}: both artifacts map to one cache path");
                let got = std::fs::read(&p).unwrap();
                assert_eq!(got, bytes, "{name} round {round}: cache() of {} returned another artifact's bytes", a.uid);
                assert_eq!(hash_bytes(&got).hash, a.hash, "{name}: the bytes hash to the record");
                // The other artifact's remote time on this copy: size and time now match it.
                let other = if time == virt_time { in_place_time } else { virt_time };
                set_mtime(&p, other);
            }
        }
    }
}

/// Changes a file (same size, other bytes) the moment a save commits: after the bytes went to
/// storage, before the source seeds the cache.
struct ChangeSourceAfterCommit(std::sync::Mutex<Option<PathBuf>>);

impl trove::plugin::LifecycleObserver for ChangeSourceAfterCommit {
    fn on_transition(&self, _event: &trove::plugin::LifecycleEvent) {
        if let Some(p) = self.0.lock().unwrap().take() {
            let len = std::fs::metadata(&p).unwrap().len() as usize;
            std::fs::write(&p, "X".repeat(len)).unwrap();
        }
    }
}

/// Seeding the cache from the source after a save copies the source again: if it changed since
/// its bytes were stored, the cache must not take the new bytes (a later `cache()` would hand
/// back content the artifact never had).
#[tokio::test]
async fn a_source_changed_after_its_save_does_not_seed_the_cache() {
    let b = backends().await;
    let (Some(db), Some(bucket)) = (b.postgres_db().await, b.s3_bucket().await) else {
        eprintln!("skipped: provider {} gives no PostgreSQL/S3", b.provider());
        return;
    };
    let mut cfg = S3Config::new(&bucket.bucket, "seed");
    cfg.endpoint = Some(bucket.endpoint.clone());
    cfg.region = bucket.region.clone();
    cfg.access_key_id = Some(bucket.access_key_id.clone());
    cfg.secret_access_key = Some(bucket.secret_access_key.clone());
    let store: Arc<dyn ObjectStore> = Arc::new(OpendalStore::s3(cfg).unwrap());
    let (cache, inputs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let observer = Arc::new(ChangeSourceAfterCommit(std::sync::Mutex::new(None)));
    let trove = Trove::builder()
        .catalog(trove::connect_catalog(&db.url).await.unwrap())
        .store(store.clone())
        .observer(observer.clone())
        .cache_dir(cache.path())
        .init(InitOptions { db: Some(db.url.clone()), ..InitOptions::local(store.root()) })
        .await
        .unwrap();
    let src = inputs.path().join("iris.csv");
    std::fs::write(&src, IRIS).unwrap();
    *observer.0.lock().unwrap() = Some(src.clone());
    let a = trove.save(src.as_path(), SaveOptions::key("iris.csv")).await.unwrap().into_artifact();
    assert_ne!(std::fs::read(&src).unwrap(), IRIS.as_bytes(), "the observer changed the source");
    let cached = trove.cache(&a).await.unwrap();
    assert_eq!(std::fs::read(&cached).unwrap(), IRIS.as_bytes(), "the cache holds the saved bytes");
    assert_eq!(hash_bytes(&std::fs::read(&cached).unwrap()).hash, a.hash);
}

/// A folder artifact (a Zarr-like store) is read in place on S3 and GCS: its files listed and
/// read whole or by byte range from the bucket, with nothing written to the cache.
#[tokio::test]
async fn folder_artifacts_are_read_in_place_without_caching() {
    for c in clouds().await {
        let (t, name) = (&c.trove, c.name);
        let root = c.inputs.path().join("img.zarr");
        for (rel, body) in [(".zattrs", "{\"a\": 1}"), ("0/0", "chunk zero"), ("0/1", "chunk one!")] {
            std::fs::create_dir_all(root.join(rel).parent().unwrap()).unwrap();
            std::fs::write(root.join(rel), body).unwrap();
        }
        let a = t.save(root.as_path(), SaveOptions::key("img.zarr")).await.unwrap().into_artifact();
        // Saving seeds the cache; start from an empty one to see that reading adds nothing.
        std::fs::remove_dir_all(c.cache.path()).unwrap();
        std::fs::create_dir_all(c.cache.path()).unwrap();
        let view = t.open_folder(&a).await.unwrap();
        let paths: Vec<&str> = view.files().iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, vec![".zattrs", "0/0", "0/1"], "{name}");
        assert_eq!(view.read("0/1", None).await.unwrap(), &b"chunk one!"[..], "{name}");
        assert_eq!(view.read("0/0", Some(6..10)).await.unwrap(), &b"zero"[..], "{name}: a ranged read");
        let err = view.read("0/2", None).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{name}");
        let mut r = t.open_path(&a, Some(".zattrs")).await.unwrap();
        assert_eq!(r.chunk().await.unwrap().unwrap(), &b"{\"a\": 1}"[..], "{name}");
        assert!(
            files_below(c.cache.path()).is_empty(),
            "{name}: nothing was cached: {:?}",
            files_below(c.cache.path())
        );
    }
}

/// `gc` finds what a writer killed mid-upload leaves on S3, an unfinished multipart upload,
/// only once the grace period has passed since the upload began; it shows it with the bytes
/// its parts hold and aborts it, after which the bucket's own count (garage's admin API, not
/// Trove's word) has none left, and the instance's artifacts keep their bytes. On the GCS
/// emulator such a write leaves nothing to find.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_aborts_unfinished_uploads_after_the_grace_period() {
    use trove::domain::hash::PART_SIZE;
    for c in clouds().await {
        let (t, name) = (&c.trove, c.name);
        let a = t.save(c.file("kept.csv", IRIS).as_path(), SaveOptions::key("kept.csv")).await.unwrap().into_artifact();
        // As a killed `trove save` leaves it: more than two parts written, then no close, no
        // abort and no drop (dropping a writer aborts its upload).
        let mut w = c.store().writer(".trove/interrupted.bin").await.unwrap();
        let chunk = Bytes::from(vec![7u8; 4 << 20]);
        let mut written = 0;
        while written <= 2 * PART_SIZE {
            w.write(chunk.clone()).await.unwrap();
            written += chunk.len() as u64;
        }
        std::mem::forget(w);

        let default_grace = t.plan_gc(&trove::GcOptions::default()).await.unwrap();
        assert!(default_grace.is_empty(), "{name}: the upload began just now: {:?}", default_grace.items);
        let no_grace = trove::GcOptions::grace(std::time::Duration::ZERO).allow_short_grace();
        let plan = t.plan_gc(&no_grace).await.unwrap();
        let Some(bucket) = c._keep[0].downcast_ref::<trove_testkit::backends::S3Bucket>() else {
            assert!(plan.is_empty(), "{name}: an emulator's write leaves nothing: {:?}", plan.items);
            continue;
        };
        let [item] = plan.items.as_slice() else { panic!("{name}: one leftover expected: {:?}", plan.items) };
        assert_eq!(item.kind, trove::GcKind::Leftover, "{name}");
        let shown = format!("{}/.trove/interrupted.bin//uploadId=", c.store().root());
        assert!(item.path.starts_with(&shown), "{name}: {}", item.path);
        assert!(item.size <= written, "{name}: {} bytes planned, {written} written", item.size);

        let report = t.apply_gc(&plan).await.unwrap();
        assert_eq!(report.removed, vec![item.path.clone()], "{name}");
        // garage's admin counters trail its S3 API by a moment.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut left = bucket.unfinished_uploads();
        while left.uploads > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            left = bucket.unfinished_uploads();
        }
        assert_eq!(left.uploads, 0, "{name}: the upload was aborted");
        assert!(t.plan_gc(&no_grace).await.unwrap().is_empty(), "{name}");
        let bytes = c.store().read_all(&a.storage_key()).await.unwrap();
        assert_eq!(hash_bytes(&bytes).hash, a.hash, "{name}: the artifact's bytes are intact");
    }
}
