//! Fixtures shared by the façade's integration tests: one instance on each backend pair the
//! test harness provides (SQLite + local disk always; PostgreSQL + S3 and PostgreSQL + GCS when
//! the provider gives them, with skips printed, never silent).
#![allow(dead_code, reason = "each test binary uses a part of this module")]

use std::path::Path;
use std::sync::Arc;

use trove::domain::hash::{ContentHash, ContentHasher, FolderEntry, folder_hash};
use trove::domain::ports::ObjectStore;
use trove::{ArtifactQuery, BranchSelection, InitOptions, Order, Trove};
use trove_storage::{GcsConfig, OpendalStore, S3Config};
use trove_testkit::backends::{GcsBucket, PgDatabase, S3Bucket, backends};
use trove_testkit::invariants::{self, Checked, Stores};

/// An instance on one backend pair, with its own handle on the store so tests can check bytes
/// independently of the façade.
pub struct Instance {
    /// `sqlite+fs`, `postgresql+s3` or `postgresql+gcs`.
    pub name: &'static str,
    /// The instance.
    pub trove: Trove,
    /// Its default store.
    pub store: Arc<dyn ObjectStore>,
    _keep: Vec<Box<dyn std::any::Any + Send>>,
}

impl Instance {
    /// [`check_bytes`] on this instance.
    pub async fn check(&self) -> Checked {
        check_bytes(&self.trove, &self.store).await
    }
}

/// The stores of an instance's storage locations: `default` (the test's own handle on the
/// default location) and, for any other location, a store opened from its root.
pub async fn stores_of(trove: &Trove, default: &Arc<dyn ObjectStore>) -> Stores {
    let mut stores = Stores::new();
    for loc in trove.storages() {
        let store = if loc.id == trove.default_storage().id {
            default.clone()
        } else {
            trove::open_store(&loc.root).await.unwrap_or_else(|e| panic!("open storage {}: {e}", loc.root))
        };
        stores.insert(loc.id, store);
    }
    stores
}

/// After a step of a walk-through: spec 1's invariants on the whole catalog and the bytes
/// behind it (every record, all branches, read and hashed; see `trove_testkit::invariants`),
/// and every record's content read back through the façade (`load_bytes` for files, `cache`
/// for folders) with its recorded hash. Panics naming every violation.
pub async fn check_bytes(trove: &Trove, default: &Arc<dyn ObjectStore>) -> Checked {
    let all = trove
        .list(&ArtifactQuery {
            branch: BranchSelection::All,
            include_pending: true,
            order: Order::Version,
            ..ArtifactQuery::default()
        })
        .await
        .expect("list every record");
    let checked = match invariants::check_records(&all, &stores_of(trove, default).await).await {
        Ok(c) => c,
        Err(v) => panic!("{v}"),
    };
    for a in all.iter().filter(|a| a.pending.is_none() && invariants::owns_its_bytes(a, &all)) {
        let got = if a.is_folder() {
            let path = trove.cache(a).await.unwrap_or_else(|e| panic!("{}: cannot cache it: {e}", a.uid));
            hash_local_folder(&path)
        } else {
            let bytes = trove.load_bytes(a).await.unwrap_or_else(|e| panic!("{}: cannot load it: {e}", a.uid));
            let mut h = ContentHasher::new();
            h.update(&bytes);
            h.finish()
        };
        assert_eq!(
            (&got.hash, &got.hash_type, got.size),
            (&a.hash, &a.hash_type, a.size),
            "{} read back through the façade",
            a.uid
        );
    }
    checked
}

/// Trove's hash of a local folder (its files, by `/`-separated relative path).
fn hash_local_folder(root: &Path) -> ContentHash {
    let entries: Vec<FolderEntry> = trove_testkit::files::files(root)
        .into_iter()
        .map(|e| {
            let mut h = ContentHasher::new();
            h.update(&std::fs::read(&e.path).unwrap());
            let c = h.finish();
            FolderEntry { path: e.rel, hash: c.hash, size: c.size }
        })
        .collect();
    folder_hash(&entries)
}

/// Which cloud pairs to include besides SQLite + local disk.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Pairs {
    /// PostgreSQL + S3.
    S3,
    /// PostgreSQL + S3 and PostgreSQL + GCS.
    S3AndGcs,
}

/// An S3 store on a harness bucket.
pub fn s3_store(bucket: &S3Bucket) -> Arc<dyn ObjectStore> {
    let mut cfg = S3Config::new(&bucket.bucket, "");
    cfg.endpoint = Some(bucket.endpoint.clone());
    cfg.region = bucket.region.clone();
    cfg.access_key_id = Some(bucket.access_key_id.clone());
    cfg.secret_access_key = Some(bucket.secret_access_key.clone());
    Arc::new(OpendalStore::s3(cfg).unwrap())
}

/// A GCS (emulator) store on a harness bucket.
pub fn gcs_store(bucket: &GcsBucket) -> Arc<dyn ObjectStore> {
    let mut cfg = GcsConfig::new(&bucket.bucket, "");
    cfg.endpoint = Some(bucket.endpoint.clone());
    cfg.token = Some("fake-token".into());
    cfg.emulator = true;
    Arc::new(OpendalStore::gcs(cfg).unwrap())
}

async fn on_postgres(
    name: &'static str,
    db: PgDatabase,
    store: Arc<dyn ObjectStore>,
    wrap: &dyn Fn(Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore>,
    mut keep: Vec<Box<dyn std::any::Any + Send>>,
) -> Instance {
    let catalog = trove::connect_catalog(&db.url).await.unwrap();
    let cache = tempfile::tempdir().unwrap();
    let trove = Trove::builder()
        .catalog(catalog)
        .store(wrap(store.clone()))
        .user("tester")
        .cache_dir(cache.path())
        .init(InitOptions { db: Some(db.url.clone()), ..InitOptions::local(store.root()) })
        .await
        .unwrap();
    keep.push(Box::new(db));
    keep.push(Box::new(cache));
    Instance { name, trove, store, _keep: keep }
}

/// One fresh instance per backend pair.
pub async fn instances(pairs: Pairs) -> Vec<Instance> {
    instances_wrapped(pairs, &|s| s).await
}

/// One fresh instance per backend pair, whose Trove sees its store through `wrap` (a test
/// layer); [`Instance::store`] stays the unwrapped store.
pub async fn instances_wrapped(
    pairs: Pairs,
    wrap: &dyn Fn(Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore>,
) -> Vec<Instance> {
    let b = backends().await;
    let mut out = Vec::new();
    let dir = b.local_dir();
    let root = dir.path().join("data");
    Trove::builder().user("tester").init(InitOptions::local(&root)).await.unwrap();
    let store: Arc<dyn ObjectStore> = trove::open_store(root.to_str().unwrap()).await.unwrap();
    let trove = Trove::builder()
        .store(wrap(store.clone()))
        .user("tester")
        .location(root.to_str().unwrap())
        .open()
        .await
        .unwrap();
    out.push(Instance { name: "sqlite+fs", trove, store, _keep: vec![Box::new(dir)] });
    match (b.postgres_db().await, b.s3_bucket().await) {
        (Some(db), Some(bucket)) => {
            let store = s3_store(&bucket);
            out.push(on_postgres("postgresql+s3", db, store, wrap, vec![Box::new(bucket)]).await);
        }
        _ => eprintln!("skipped postgresql+s3: provider {} gives no PostgreSQL/S3", b.provider().as_str()),
    }
    if pairs == Pairs::S3AndGcs {
        match (b.postgres_db().await, b.gcs_bucket().await) {
            (Some(db), Some(bucket)) => {
                let store = gcs_store(&bucket);
                out.push(on_postgres("postgresql+gcs", db, store, wrap, vec![Box::new(bucket)]).await);
            }
            _ => eprintln!("skipped postgresql+gcs: provider {} gives no PostgreSQL/GCS", b.provider().as_str()),
        }
    }
    out
}
