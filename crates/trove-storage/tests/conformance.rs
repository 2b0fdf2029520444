//! The object-store conformance suite (`trove_testkit::store_suite`) on every backend:
//! local disk and memory always; S3 and GCS when a server is named by environment variables
//! (otherwise each check prints that it was skipped):
//!
//! * S3: `TROVE_TEST_S3_ENDPOINT`, `TROVE_TEST_S3_BUCKET`, `TROVE_TEST_S3_KEY_ID`,
//!   `TROVE_TEST_S3_SECRET`, optional `TROVE_TEST_S3_REGION` (default `us-east-1`);
//! * GCS emulator: `TROVE_TEST_GCS_ENDPOINT`, `TROVE_TEST_GCS_BUCKET`.
//!
//! Each cloud test works below a fresh random prefix of the bucket.

use std::sync::Arc;

use rand::Rng;
use trove_domain::ports::ObjectStore;
use trove_storage::{FaultInjection, GcsConfig, OpendalStore, S3Config};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

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

    trove_testkit::object_store_suite!(store);
}

mod memory {
    use super::*;

    async fn store() -> Arc<dyn ObjectStore> {
        Arc::new(OpendalStore::memory())
    }

    trove_testkit::object_store_suite!(store);
}

/// The fault-injection layer with no faults planned is transparent.
mod fault_injection_over_fs {
    use super::*;

    async fn store() -> (Arc<dyn ObjectStore>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let inner: Arc<dyn ObjectStore> = Arc::new(OpendalStore::fs(dir.path()).expect("fs store"));
        (Arc::new(FaultInjection::new(inner)), dir)
    }

    trove_testkit::object_store_suite!(store);
}

mod s3 {
    use super::*;

    async fn store() -> Option<Arc<dyn ObjectStore>> {
        let mut cfg = S3Config::new(env("TROVE_TEST_S3_BUCKET")?, fresh_prefix());
        cfg.endpoint = Some(env("TROVE_TEST_S3_ENDPOINT")?);
        cfg.access_key_id = Some(env("TROVE_TEST_S3_KEY_ID")?);
        cfg.secret_access_key = Some(env("TROVE_TEST_S3_SECRET")?);
        cfg.region = env("TROVE_TEST_S3_REGION").unwrap_or_else(|| "us-east-1".into());
        Some(Arc::new(OpendalStore::s3(cfg).expect("s3 store")))
    }

    trove_testkit::object_store_suite!(optional store);
}

mod gcs {
    use super::*;

    async fn store() -> Option<Arc<dyn ObjectStore>> {
        let mut cfg = GcsConfig::new(env("TROVE_TEST_GCS_BUCKET")?, fresh_prefix());
        cfg.endpoint = Some(env("TROVE_TEST_GCS_ENDPOINT")?);
        cfg.token = Some("fake-token".into());
        cfg.emulator = true;
        Some(Arc::new(OpendalStore::gcs(cfg).expect("gcs store")))
    }

    trove_testkit::object_store_suite!(optional store);
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
