//! The object-store conformance suite (`trove_testkit::store_suite`) on every backend:
//! local disk and memory always; S3 (garage) and GCS (fake-gcs-server) on a fresh bucket from
//! the test harness (`trove_testkit::backends`), skipped with a printed note only under the
//! `embedded` provider. Checks a backend cannot do are gated on its declared capabilities.
//!
//! Each cloud test works below a fresh random prefix of its bucket.

use std::sync::Arc;

use rand::Rng;
use trove_domain::ports::ObjectStore;
use trove_storage::{FaultInjection, GcsConfig, OpendalStore, S3Config};
use trove_testkit::backends::{GcsBucket, S3Bucket, backends};

fn fresh_prefix() -> String {
    format!("trove-test-{:016x}", rand::rng().random::<u64>())
}

mod fs {
    use super::*;

    async fn store() -> (Arc<dyn ObjectStore>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = OpendalStore::fs(&dir.path().join("root")).expect("fs store");
        (Arc::new(store), dir)
    }

    trove_testkit::store_suite!(store);
}

mod memory {
    use super::*;

    async fn store() -> Arc<dyn ObjectStore> {
        Arc::new(OpendalStore::memory())
    }

    trove_testkit::store_suite!(store);
}

/// The fault-injection layer with no faults planned is transparent.
mod fault_injection_over_fs {
    use super::*;

    async fn store() -> (Arc<dyn ObjectStore>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let inner: Arc<dyn ObjectStore> = Arc::new(OpendalStore::fs(dir.path()).expect("fs store"));
        (Arc::new(FaultInjection::new(inner)), dir)
    }

    trove_testkit::store_suite!(store);
}

mod s3 {
    use trove_domain::hash::PART_SIZE;

    use super::*;

    /// A fresh garage bucket from the test harness; `None` (printed) only under `embedded`.
    async fn store() -> Option<(Arc<dyn ObjectStore>, S3Bucket)> {
        let b = backends().await;
        let Some(bucket) = b.s3_bucket().await else {
            eprintln!("S3 conformance skipped: provider {} gives no S3 server", b.provider());
            return None;
        };
        Some((s3_store(&bucket, &fresh_prefix()), bucket))
    }

    fn s3_store(bucket: &S3Bucket, prefix: &str) -> Arc<dyn ObjectStore> {
        let mut cfg = S3Config::new(&bucket.bucket, prefix);
        cfg.endpoint = Some(bucket.endpoint.clone());
        cfg.region = bucket.region.clone();
        cfg.access_key_id = Some(bucket.access_key_id.clone());
        cfg.secret_access_key = Some(bucket.secret_access_key.clone());
        Arc::new(OpendalStore::s3(cfg).expect("s3 store"))
    }

    trove_testkit::store_suite!(optional store);

    /// Write more than two parts (so the multipart upload has begun) and stop as a killed
    /// process would: no close, no abort, no drop (dropping aborts).
    async fn interrupt_a_large_write(store: &Arc<dyn ObjectStore>, key: &str) {
        let mut w = store.writer(key).await.expect("writer");
        let chunk = bytes::Bytes::from(vec![7u8; 4 << 20]);
        let mut written = 0;
        while written <= 2 * PART_SIZE {
            w.write(chunk.clone()).await.expect("write");
            written += chunk.len() as u64;
        }
        std::mem::forget(w);
    }

    /// What `probe` says once it says `want`, or what it says after 30 s: for what changes a
    /// moment after the call that caused it (garage's admin counters trail its S3 API by a few
    /// hundred milliseconds; an interrupted writer's part still in flight lands a little later).
    async fn settled<T: PartialEq, F: Future<Output = T>>(want: T, mut probe: impl FnMut() -> F) -> T {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let seen = probe().await;
            if seen == want || std::time::Instant::now() > deadline {
                return seen;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    async fn leftover_bytes(stores: Vec<Arc<dyn ObjectStore>>) -> u64 {
        let mut n = 0;
        for s in &stores {
            n += s.leftovers("").await.expect("leftovers").iter().map(|l| l.size).sum::<u64>();
        }
        n
    }

    /// What `leftovers` reports is what the bucket holds, by garage's own count (its admin
    /// API, not Trove's word): each of two stores sharing a bucket (one's prefix a string
    /// prefix of the other's) finds its own interrupted write only, and once both are
    /// aborted through `delete_leftover` the bucket has no unfinished upload left.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn leftovers_are_the_bucket_s_unfinished_uploads() {
        let Some((a, bucket)) = store().await else { return };
        let a_prefix = a.root().rsplit('/').next().expect("a prefix").to_string();
        let b = s3_store(&bucket, &format!("{a_prefix}-sibling"));
        assert_eq!(bucket.unfinished_uploads().uploads, 0, "a fresh bucket");
        interrupt_a_large_write(&a, "k/a.bin").await;
        interrupt_a_large_write(&b, "k/b.bin").await;
        let counted = settled((2, 2 * PART_SIZE), || async {
            let u = bucket.unfinished_uploads();
            (u.uploads, u.bytes)
        })
        .await;
        assert_eq!(counted, (2, 2 * PART_SIZE), "two interrupted writes: two uploads, each with its first part");
        // Sized by their parts, as the bucket counts them.
        assert_eq!(
            settled(2 * PART_SIZE, || leftover_bytes(vec![a.clone(), b.clone()])).await,
            2 * PART_SIZE,
            "leftover sizes"
        );

        let mut found = Vec::new();
        for (store, key) in [(&a, "k/a.bin"), (&b, "k/b.bin")] {
            let left = store.leftovers("").await.expect("leftovers");
            assert_eq!(left.len(), 1, "{}: {left:?}", store.root());
            assert!(left[0].key.starts_with(&format!("{key}//uploadId=")), "{}", left[0].key);
            assert_eq!(store.leftovers("k/").await.expect("leftovers"), left, "under the write's folder");
            assert_eq!(store.leftovers("other/").await.expect("leftovers"), vec![], "under another prefix");
            found.push((store, left[0].key.clone()));
        }
        for (store, name) in &found {
            assert!(store.delete_leftover(name).await.expect("delete_leftover"), "{name}");
        }
        let counted = settled((0, 0), || async {
            let u = bucket.unfinished_uploads();
            (u.uploads, u.bytes)
        })
        .await;
        assert_eq!(counted, (0, 0), "every upload was aborted, and its parts with it");
        for (store, name) in &found {
            assert!(store.leftovers("").await.expect("leftovers").is_empty());
            assert!(!store.delete_leftover(name).await.expect("delete_leftover again"), "{name}");
        }
    }
}

mod gcs {
    use super::*;

    /// A fresh fake-gcs-server bucket from the test harness; `None` (printed) only under
    /// `embedded`. The emulator has no multipart uploads or batch deletes: the store declares
    /// that (emulator mode) and the suite gates those checks on the capabilities.
    async fn store() -> Option<(Arc<dyn ObjectStore>, GcsBucket)> {
        let b = backends().await;
        let Some(bucket) = b.gcs_bucket().await else {
            eprintln!("GCS conformance skipped: provider {} gives no GCS emulator", b.provider());
            return None;
        };
        let mut cfg = GcsConfig::new(&bucket.bucket, fresh_prefix());
        cfg.endpoint = Some(bucket.endpoint.clone());
        cfg.token = Some("fake-token".into());
        cfg.emulator = true;
        Some((Arc::new(OpendalStore::gcs(cfg).expect("gcs store")), bucket))
    }

    trove_testkit::store_suite!(optional store);
}

/// S3 through the environment variables the CLI reads (`AWS_*`), so `from_env` is exercised
/// against a real server: `open_root("s3://bucket/prefix")` resolves and round-trips.
#[test]
fn s3_from_standard_variables_round_trips() {
    let b = trove_testkit::backends::backends_blocking();
    let Some(bucket) = b.s3_bucket_blocking() else {
        eprintln!("skipped: provider {} gives no S3 server", b.provider());
        return;
    };
    let vars = |name: &str| match name {
        "AWS_ENDPOINT_URL" => Some(bucket.endpoint.clone()),
        "AWS_REGION" => Some(bucket.region.clone()),
        "AWS_ACCESS_KEY_ID" => Some(bucket.access_key_id.clone()),
        "AWS_SECRET_ACCESS_KEY" => Some(bucket.secret_access_key.clone()),
        _ => None,
    };
    let store = OpendalStore::s3(S3Config::from_vars(&bucket.bucket, "env/prefix", vars)).expect("s3 store");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        store.put("k.txt", bytes::Bytes::from_static(b"abc")).await.unwrap();
        let meta = store.stat("k.txt").await.unwrap().unwrap();
        assert_eq!(meta.content_md5, Some(trove_domain::hash::md5_digest(b"abc")));
        assert_eq!(store.root(), format!("s3://{}/env/prefix", bucket.bucket));
    });
}

/// `run_all` runs every check on one shared store (checks stay below their own prefixes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_all_on_one_shared_memory_store() {
    let store: Arc<dyn ObjectStore> = Arc::new(OpendalStore::memory());
    let report = trove_testkit::store_suite::run_all(store.clone()).await;
    report.assert_passed();
    assert_eq!(report.results.len(), trove_testkit::store_suite::CHECKS.len());
    let skipped: Vec<&str> = report.skipped().iter().map(|(n, _)| *n).collect();
    assert_eq!(skipped, vec!["single_part_etag_is_md5"], "memory has no MD5 ETags, and nothing else is skipped");
}
