//! Instances that live entirely in a bucket (spec 3) through the library, on the harness's
//! real servers (garage for S3, fake-gcs-server for GCS): which conditional writes each server
//! honours and what `init` makes of it, reopening from another "machine" (its own cache), what
//! a read and a write cost in requests, a lapsed lease taken over, and the byte invariants.
//! Under the `embedded` provider the tests print that they were skipped.

mod common;

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use trove::domain::ports::{
    Capabilities, ObjectMeta, ObjectReader, ObjectStore, ObjectWriter, PutIf, PutResult, WriteCondition,
};
use trove::{ArtifactQuery, ErrorKind, InitOptions, SaveOptions, Trove};
use trove_testkit::backends::backends;

/// Counts the requests an instance makes through its store, by kind.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn ObjectStore>,
    calls: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl Counting {
    fn new(inner: Arc<dyn ObjectStore>) -> (Arc<Counting>, Arc<Mutex<BTreeMap<String, u64>>>) {
        let calls = Arc::new(Mutex::new(BTreeMap::new()));
        (Arc::new(Counting { inner, calls: calls.clone() }), calls)
    }

    fn count(&self, what: &str, key: &str) {
        let name = if key.starts_with(".trove/trove.db") {
            format!("{what} catalog")
        } else if key == ".trove/lease" {
            format!("{what} lease")
        } else {
            format!("{what} other")
        };
        *self.calls.lock().unwrap().entry(name).or_default() += 1;
    }
}

#[async_trait]
impl ObjectStore for Counting {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn root(&self) -> &str {
        self.inner.root()
    }
    fn display_path(&self, key: &str) -> String {
        self.inner.display_path(key)
    }
    fn local_path(&self, key: &str) -> Option<PathBuf> {
        self.inner.local_path(key)
    }
    async fn writer(&self, key: &str) -> trove::Result<Box<dyn ObjectWriter>> {
        self.count("write", key);
        self.inner.writer(key).await
    }
    async fn reader(&self, key: &str, range: Option<Range<u64>>) -> trove::Result<Box<dyn ObjectReader>> {
        self.count("read", key);
        self.inner.reader(key, range).await
    }
    async fn stat(&self, key: &str) -> trove::Result<Option<ObjectMeta>> {
        self.count("stat", key);
        self.inner.stat(key).await
    }
    async fn list(&self, prefix: &str) -> trove::Result<Vec<ObjectMeta>> {
        self.count("list", prefix);
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &str) -> trove::Result<bool> {
        self.count("delete", key);
        self.inner.delete(key).await
    }
    async fn delete_prefix(&self, prefix: &str) -> trove::Result<u64> {
        self.count("delete", prefix);
        self.inner.delete_prefix(prefix).await
    }
    async fn copy(&self, from: &str, to: &str) -> trove::Result<()> {
        self.count("copy", to);
        self.inner.copy(from, to).await
    }
    async fn rename(&self, from: &str, to: &str) -> trove::Result<()> {
        self.inner.rename(from, to).await
    }
    async fn put(&self, key: &str, data: Bytes) -> trove::Result<PutResult> {
        self.count("write", key);
        self.inner.put(key, data).await
    }
    async fn version(&self, key: &str) -> trove::Result<Option<String>> {
        self.count("stat", key);
        self.inner.version(key).await
    }
    async fn read_versioned(&self, key: &str) -> trove::Result<Option<(Bytes, String)>> {
        // A stat, then a read of that version.
        self.count("stat", key);
        self.count("read", key);
        self.inner.read_versioned(key).await
    }
    async fn put_if(&self, key: &str, data: Bytes, condition: &WriteCondition) -> trove::Result<PutIf> {
        self.count("write", key);
        self.inner.put_if(key, data, condition).await
    }
}

/// The harness's S3 and GCS stores (each on its own bucket), named; none under `embedded`.
async fn servers() -> Vec<(&'static str, Arc<dyn ObjectStore>)> {
    let b = backends().await;
    let mut out = Vec::new();
    if let Some(bucket) = b.s3_bucket().await {
        out.push(("garage (S3)", common::s3_store(&bucket)));
    }
    if let Some(bucket) = b.gcs_bucket().await {
        out.push(("fake-gcs-server (GCS)", common::gcs_store(&bucket)));
    }
    if let Some(bucket) = b.conditional_s3_bucket().await {
        out.push(("moto (S3)", common::s3_store(&bucket)));
    }
    if out.is_empty() {
        eprintln!("skipped: provider {} gives no S3 or GCS server", b.provider());
    }
    out
}

/// What each server does with conditional writes, tried at the port; and `init` agrees: where
/// both are honoured an instance is created for many writers, elsewhere `init` refuses unless
/// single-writer mode is asked for.
#[tokio::test]
async fn conditional_writes_on_the_test_servers_and_init() {
    for (name, store) in servers().await {
        let key = "probe/x";
        let first = store.put_if(key, Bytes::from_static(b"a"), &WriteCondition::Absent).await.unwrap();
        let PutIf::Written { version: v1 } = first else { panic!("{name}: a create on an empty key: {first:?}") };
        let again = store.put_if(key, Bytes::from_static(b"b"), &WriteCondition::Absent).await.unwrap();
        let stale = store
            .put_if(key, Bytes::from_static(b"c"), &WriteCondition::Version(format!("{v1}0").replace("\"0", "0\"")))
            .await
            .unwrap();
        let current = store.version(key).await.unwrap().unwrap();
        let right = store.put_if(key, Bytes::from_static(b"d"), &WriteCondition::Version(current)).await.unwrap();
        let (bytes, _) = store.read_versioned(key).await.unwrap().unwrap();
        let create_if_absent = again == PutIf::PreconditionFailed;
        let replace_if_version = stale == PutIf::PreconditionFailed && matches!(right, PutIf::Written { .. });
        eprintln!(
            "{name}: create-if-absent {}, replace-if-version {} (content now {:?})",
            if create_if_absent { "honoured" } else { "IGNORED" },
            if replace_if_version { "honoured" } else { "IGNORED" },
            String::from_utf8_lossy(&bytes)
        );
        store.delete(key).await.unwrap();

        let cache = tempfile::tempdir().unwrap();
        let init = |single_writer| {
            Trove::builder()
                .store(store.clone())
                .cache_dir(cache.path())
                .user("tester")
                .init(InitOptions { single_writer, ..InitOptions::local(store.root()) })
        };
        let trove = if create_if_absent && replace_if_version {
            init(false).await.unwrap_or_else(|e| panic!("{name}: {e}"))
        } else {
            let err = init(false).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unsupported, "{name}: {err}");
            assert!(err.message().contains("--single-writer"), "{name}: the error offers the choice: {err}");
            assert!(store.stat(".trove/trove.db").await.unwrap().is_none(), "{name}: a refused init leaves no catalog");
            init(true).await.unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        assert_eq!(trove.catalog_backend(), "sqlite-in-bucket");
        let mode: serde_json::Value =
            serde_json::from_slice(&store.read_all(".trove/catalog.json").await.unwrap()).unwrap();
        let want = if create_if_absent && replace_if_version { "conditional" } else { "single-writer" };
        assert_eq!(mode["writers"], want, "{name}");
    }
}

/// Saved on one machine, seen on another (its own cache folder), through `Trove::open` with
/// the root URL; the second machine writes too and the first sees it at once. A read with
/// nothing changed costs one metadata request; a save's catalog writes each cost a lease and
/// an upload.
#[tokio::test]
async fn two_machines_share_an_instance_in_a_bucket() {
    for (name, store) in servers().await {
        let inputs = tempfile::tempdir().unwrap();
        let caches = tempfile::tempdir().unwrap();
        let (counted, calls) = Counting::new(store.clone());
        let counted: Arc<dyn ObjectStore> = counted;
        let first = Trove::builder()
            .store(counted.clone())
            .cache_dir(caches.path().join("one"))
            .user("one")
            .init(InitOptions { single_writer: true, ..InitOptions::local(store.root()) })
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let path = inputs.path().join("iris.csv");
        std::fs::write(&path, "a,b\n1,2\n").unwrap();
        calls.lock().unwrap().clear();
        let saved = first.save(path.as_path(), SaveOptions::key("iris.csv")).await.unwrap();
        eprintln!("{name}: requests of a save (file of 8 bytes): {:?}", calls.lock().unwrap());
        let uid = saved.artifact().uid.clone();

        // Another machine.
        let open_second = || {
            Trove::builder()
                .store(counted.clone())
                .location(store.root())
                .cache_dir(caches.path().join("two"))
                .user("two")
                .open()
        };
        calls.lock().unwrap().clear();
        let second = open_second().await.unwrap_or_else(|e| panic!("{name}: {e}"));
        let listed = second.list(&ArtifactQuery::new()).await.unwrap();
        assert_eq!(listed.len(), 1, "{name}");
        assert_eq!(listed[0].uid, uid);
        assert_eq!(second.load_bytes(&listed[0]).await.unwrap().as_ref(), b"a,b\n1,2\n");
        let cold = calls.lock().unwrap().clone();
        eprintln!("{name}: requests of open + list + read on a machine without a copy: {cold:?}");
        assert_eq!(cold.get("read catalog"), Some(&1), "{name}: downloaded once: {cold:?}");

        // Again, nothing changed: one stat of the catalog per read (the instance, its storage
        // locations, the listing), no download.
        drop(second);
        calls.lock().unwrap().clear();
        let second = open_second().await.unwrap();
        assert_eq!(second.list(&ArtifactQuery::new()).await.unwrap().len(), 1);
        let warm = calls.lock().unwrap().clone();
        eprintln!("{name}: requests of open + list with nothing changed: {warm:?}");
        assert_eq!(warm.get("stat catalog"), Some(&3), "{name}: {warm:?}");
        assert_eq!(warm.len(), 1, "{name}: nothing else: {warm:?}");
        assert_eq!(warm.get("read catalog"), None, "{name}: no download when unchanged: {warm:?}");
        assert!(warm.keys().all(|k| !k.contains("lease") && !k.starts_with("write")), "reads take no lease: {warm:?}");

        // The second machine writes; the first sees it.
        let other = inputs.path().join("other.csv");
        std::fs::write(&other, "c,d\n3,4\n").unwrap();
        second.save(other.as_path(), SaveOptions::key("other.csv")).await.unwrap();
        let seen = first.list(&ArtifactQuery::new()).await.unwrap();
        assert_eq!(seen.len(), 2, "{name}: the first machine sees the second's save");
        let checked = common::check_bytes(&first, &store).await;
        assert_eq!(checked.records, 2);
        assert!(store.stat(".trove/lease").await.unwrap().is_none(), "{name}: no lease left behind");
    }
}

/// A lease past its expiry (its writer died) is taken over by the next writer; a live one makes
/// it wait, then fail naming the holder; `break_lease` removes only the lease it was shown.
#[tokio::test]
async fn leases_lapse_and_break() {
    for (name, store) in servers().await {
        let cache = tempfile::tempdir().unwrap();
        let trove = Trove::builder()
            .store(store.clone())
            .cache_dir(cache.path())
            .user("tester")
            .init(InitOptions { single_writer: true, ..InitOptions::local(store.root()) })
            .await
            .unwrap();
        let lease = |expires: chrono::DateTime<chrono::Utc>| {
            serde_json::to_vec(&serde_json::json!({
                "holder": "ghost@elsewhere pid 7", "user": "ghost", "host": "elsewhere", "pid": 7,
                "token": "ghost-token", "acquired_at": "2026-01-01T00:00:00Z", "expires_at": expires,
                "catalog_version": null,
            }))
            .unwrap()
        };
        let input = cache.path().join("x.txt");
        std::fs::write(&input, "x").unwrap();
        // A dead writer's lapsed lease: taken over, and released after the write.
        store.put(".trove/lease", Bytes::from(lease(chrono::Utc::now() - chrono::Duration::seconds(5)))).await.unwrap();
        trove.save(input.as_path(), SaveOptions::key("x.txt")).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(store.stat(".trove/lease").await.unwrap().is_none(), "{name}");

        // A live lease: shown, and broken only as shown.
        store.put(".trove/lease", Bytes::from(lease(chrono::Utc::now() + chrono::Duration::hours(1)))).await.unwrap();
        let held = trove.lease().await.unwrap().expect("a lease");
        assert_eq!(held.holder, "ghost@elsewhere pid 7");
        assert!(held.describe().contains("ghost@elsewhere pid 7"));
        let mut other = held.clone();
        other.token = "another".into();
        assert!(!trove.break_lease(&other).await.unwrap(), "{name}: not the lease that was shown");
        assert!(trove.break_lease(&held).await.unwrap(), "{name}");
        assert!(trove.lease().await.unwrap().is_none());
        let checked = common::check_bytes(&trove, &store).await;
        assert_eq!(checked.records, 1);
    }
}
