//! The plugin traits implemented outside the crate: a JSON-lines [`Format`] for `Vec<Point>`, a
//! `mem://` [`StorageScheme`], and an audit-log [`LifecycleObserver`] checked after a lifecycle
//! walk.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use trove::domain::ports::ObjectStore;
use trove::plugin::{Change, Encoded, Format, LifecycleEvent, LifecycleObserver, RecordRef};
use trove::{BranchId, CollectionOptions, ErrorKind, InitOptions, SaveOptions, StoragePolicy, StorageScheme, Trove};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Point {
    x: f64,
    y: f64,
}

/// JSON lines: one point per line.
struct JsonLines;

impl Format<Vec<Point>> for JsonLines {
    fn suffix(&self) -> &str {
        ".jsonl"
    }
    fn otype(&self) -> Option<&str> {
        Some("Points")
    }
    fn encode(&self, value: &Vec<Point>) -> trove::Result<Encoded> {
        let mut out = String::new();
        for p in value {
            out.push_str(&serde_json::to_string(p).map_err(|e| trove::Error::invalid_input(e.to_string()))?);
            out.push('\n');
        }
        Ok(Encoded { bytes: out.into(), n_observations: Some(value.len() as u64) })
    }
    fn decode(&self, bytes: &[u8]) -> trove::Result<Vec<Point>> {
        let text = std::str::from_utf8(bytes).map_err(|e| trove::Error::invalid_input(e.to_string()))?;
        text.lines().map(|l| serde_json::from_str(l).map_err(|e| trove::Error::invalid_input(e.to_string()))).collect()
    }
}

/// Records every event.
#[derive(Default)]
struct AuditLog(Mutex<Vec<LifecycleEvent>>);

impl LifecycleObserver for AuditLog {
    fn on_transition(&self, event: &LifecycleEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

/// `mem://NAME`: one in-memory store per name, shared by every open of this scheme object.
#[derive(Default)]
struct MemScheme(Mutex<HashMap<String, Arc<dyn ObjectStore>>>);

impl StorageScheme for MemScheme {
    fn open(&self, root: &str) -> trove::Result<Arc<dyn ObjectStore>> {
        let mut stores = self.0.lock().unwrap();
        let store = stores
            .entry(root.to_owned())
            .or_insert_with(|| Arc::new(trove_storage::OpendalStore::memory()) as Arc<dyn ObjectStore>);
        Ok(store.clone())
    }
}

#[tokio::test]
async fn format_round_trips_with_otype_and_rows() {
    let dir = tempfile::tempdir().unwrap();
    let t = Trove::init(InitOptions::local(dir.path().join("data"))).await.unwrap();
    let points = vec![Point { x: 1.0, y: 2.0 }, Point { x: -3.5, y: 0.25 }];
    let a = t.save_as(&JsonLines, &points, SaveOptions::key("geo/points.jsonl")).await.unwrap().into_artifact();
    assert_eq!((a.suffix.as_str(), a.otype.as_deref(), a.n_observations), (".jsonl", Some("Points"), Some(2)));
    assert_eq!(t.load_as(&JsonLines, &a).await.unwrap(), points);
    let err = t.save_as(&JsonLines, &points, SaveOptions::key("geo/points.csv")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidKey, "the key's suffix must be the format's: {err}");
    let csv = t.save(bytes::Bytes::from_static(b"x,y\n"), SaveOptions::key("geo/p.csv")).await.unwrap();
    assert!(t.load_as(&JsonLines, csv.artifact()).await.is_err(), "another suffix is refused");
}

#[tokio::test]
async fn storage_scheme_and_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("catalog.db").display());
    let scheme = Arc::new(MemScheme::default());
    let log = Arc::new(AuditLog::default());
    let t = Trove::builder()
        .scheme("mem", scheme.clone())
        .observer(log.clone())
        .user("auditor")
        .init(InitOptions { db: Some(db.clone()), ..InitOptions::local("mem://bucket") })
        .await
        .unwrap();
    assert_eq!(t.default_storage().root, "mem://bucket", "the location keeps the scheme's URI");

    let a = t.save(bytes::Bytes::from_static(b"one"), SaveOptions::key("a.txt")).await.unwrap().into_artifact();
    let existing = t.save(bytes::Bytes::from_static(b"one"), SaveOptions::key("a.txt")).await.unwrap();
    assert_eq!(existing.name(), "existing");
    let v1 = t.save(bytes::Bytes::from_static(b"two"), SaveOptions::key("a.txt")).await.unwrap().into_artifact();
    t.trash(std::slice::from_ref(&v1.uid)).await.unwrap();
    t.restore(std::slice::from_ref(&v1.uid)).await.unwrap();
    t.restore(std::slice::from_ref(&v1.uid)).await.unwrap(); // a no-op: no event
    t.archive(std::slice::from_ref(&a.uid)).await.unwrap();
    let coll = t.create_collection(std::slice::from_ref(&a.uid), CollectionOptions::key("c")).await.unwrap();
    assert_eq!(
        t.delete_permanently(std::slice::from_ref(&a.uid), StoragePolicy::Auto).await.unwrap_err().kind(),
        ErrorKind::Protected,
        "a refused deletion commits nothing and tells no observer"
    );
    t.delete_collections_permanently(std::slice::from_ref(&coll.collection().uid)).await.unwrap();
    t.delete_permanently(std::slice::from_ref(&v1.uid), StoragePolicy::Auto).await.unwrap();

    let events: Vec<(RecordRef, Change)> =
        log.0.lock().unwrap().iter().map(|e| (e.record.clone(), e.change.clone())).collect();
    let art = |u: &trove::Uid| RecordRef::Artifact(u.clone());
    let saved = |o: &str| Change::Saved { outcome: o.into() };
    let moved = |from, to| Change::Moved { from, to };
    assert_eq!(
        events,
        vec![
            (art(&a.uid), saved("created")),
            (art(&v1.uid), saved("new_version")),
            (art(&v1.uid), moved(BranchId::MAIN, BranchId::TRASH)),
            (art(&v1.uid), moved(BranchId::TRASH, BranchId::MAIN)),
            (art(&a.uid), moved(BranchId::MAIN, BranchId::ARCHIVE)),
            (RecordRef::Collection(coll.collection().uid.clone()), saved("created")),
            (RecordRef::Collection(coll.collection().uid.clone()), Change::Purged),
            (art(&v1.uid), Change::Purged),
        ]
    );
    assert!(log.0.lock().unwrap().iter().all(|e| e.user == "auditor"));

    // Reopen through the scheme: the same in-memory store serves the location again.
    let again = Trove::builder().scheme("mem", scheme.clone()).location(db.clone()).open().await.unwrap();
    let a = again.get(a.uid.as_str()).await.unwrap();
    assert_eq!(again.load_bytes(&a).await.unwrap(), &b"one"[..]);
    let err = Trove::builder().location(db).open().await.expect_err("without the scheme, mem:// is unknown");
    assert!(!err.message().is_empty());
}

/// Every key in a store, sorted.
async fn keys(store: &dyn ObjectStore) -> Vec<String> {
    let mut keys: Vec<String> = store.list("").await.unwrap().into_iter().map(|o| o.key).collect();
    keys.sort();
    keys
}

/// `save_from` decides what `trove save PATH` does: a URI of a scheme the instance knows (here
/// a plugin's) is registered in place and never copied; a local path (also as `file://`) is
/// copied; an unknown scheme or a catalog URL is refused with nothing written.
#[tokio::test]
async fn save_from_registers_plugin_uris_in_place_and_copies_local_paths() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("catalog.db").display());
    let scheme = Arc::new(MemScheme::default());
    let mut t = Trove::builder()
        .scheme("mem", scheme.clone())
        .init(InitOptions { db: Some(db), ..InitOptions::local("mem://bucket/") })
        .await
        .unwrap();
    assert_eq!(t.default_storage().root, "mem://bucket", "no trailing slash");
    let store = scheme.open("mem://bucket").unwrap();
    let content = bytes::Bytes::from_static(b"x,y\n1,2\n");
    store.put("raw/x.csv", content.clone()).await.unwrap();
    store.put("raw/dir/a.txt", bytes::Bytes::from_static(b"a")).await.unwrap();
    let before = keys(store.as_ref()).await;

    let a = t.save_from("mem://bucket/raw/x.csv", SaveOptions::default()).await.unwrap().into_artifact();
    assert_eq!(a.key.as_ref().map(|k| k.as_str()), Some("raw/x.csv"), "the key is its place in the root");
    assert_eq!(a.hash, trove::domain::hash::hash_bytes(&content).hash);
    assert_eq!(t.load_bytes(&a).await.unwrap(), content);
    let folder = t.save_from("mem://bucket/raw/dir/", SaveOptions::default()).await.unwrap().into_artifact();
    assert_eq!((folder.storage_key().as_str(), folder.n_files), ("raw/dir", Some(1)));
    assert_eq!(keys(store.as_ref()).await, before, "registered in place: not one byte copied");

    let local = dir.path().join("local.csv");
    std::fs::write(&local, "l\n").unwrap();
    let b = t.save_from(&local, SaveOptions::key("local.csv")).await.unwrap().into_artifact();
    assert_eq!(store.read_all(&b.storage_key()).await.unwrap(), &b"l\n"[..], "a local path is copied");
    std::fs::write(&local, "l2\n").unwrap();
    let c = t.save_from(format!("file://{}", local.display()), SaveOptions::key("local.csv")).await.unwrap();
    assert_eq!(c.name(), "new_version");
    assert_eq!(store.read_all(&c.artifact().storage_key()).await.unwrap(), &b"l2\n"[..]);

    let listed = keys(store.as_ref()).await;
    for (input, needle) in [
        ("nope://bucket/raw/x.csv", "mem://"),
        ("postgresql://trove:secret@db/trove", "catalog URL"),
        ("mem://elsewhere/x.csv", "no registered storage location"),
    ] {
        let err = t.save_from(input, SaveOptions::key("x.csv")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{input}: {err}");
        assert!(err.message().contains(needle) && !err.message().contains("secret"), "{input}: {err}");
    }
    assert_eq!(keys(store.as_ref()).await, listed, "a refused input writes nothing");
    assert_eq!(t.count(&trove::ArtifactQuery::new()).await.unwrap(), 4, "two registered, two versions saved");

    // Roots of a plugin scheme are read by the same resolver: trailing slashes, `.trove` refused.
    let second = t.add_storage("mem://second/").await.unwrap();
    assert_eq!(second.root, "mem://second");
    let err = t.add_storage("mem://bucket/.trove/x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let opts = SaveOptions { storage: Some("mem://second/".into()), ..SaveOptions::key("s.txt") };
    let s = t.save(bytes::Bytes::from_static(b"s"), opts).await.unwrap().into_artifact();
    assert_eq!(t.storage_root(&s).unwrap(), "mem://second");
    assert_eq!(scheme.open("mem://second").unwrap().read_all(&s.storage_key()).await.unwrap(), &b"s"[..]);
}
