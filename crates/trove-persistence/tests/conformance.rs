//! The catalog conformance suite on SQLite (a temporary file, always) and PostgreSQL (a fresh
//! database per test from the test harness, `trove_testkit::backends`; or on the server named by
//! `TROVE_TEST_PG_URL`, when set), plus concurrency checks.

use std::sync::Arc;

use sea_orm::{ConnectionTrait, Database};
use trove_domain::ids::random_base62;
use trove_domain::ports::Catalog;
use trove_persistence::SeaCatalog;
use trove_testkit::catalog_suite;
use trove_testkit::check::conclude;

const PG_ENV: &str = "TROVE_TEST_PG_URL";

/// A fresh SQLite catalog in a temporary directory (kept alive with it).
async fn sqlite() -> (Arc<dyn Catalog>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("trove.db").display());
    let cat = SeaCatalog::connect(&url).await.expect("connect to SQLite");
    (Arc::new(cat), dir)
}

/// A database created for one test and dropped (forcibly) when the guard goes.
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside a tokio runtime: do the async cleanup on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                if let Ok(db) = Database::connect(&admin_url).await {
                    let _ = db.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
                    let _ = db.close().await;
                }
            });
        })
        .join();
    }
}

/// Keeps a test database alive; dropping it drops the database.
#[allow(dead_code, reason = "held only for its Drop")]
enum PgGuard {
    /// Created on the server named by `TROVE_TEST_PG_URL`.
    Own(PgDatabase),
    /// Handed out by the test harness.
    Harness(trove_testkit::backends::PgDatabase),
}

/// A URL to a fresh, empty PostgreSQL database: from the harness, or on the server named by
/// `TROVE_TEST_PG_URL`; `None` only when the harness's provider gives no PostgreSQL
/// (`embedded`), which is printed.
async fn pg_database() -> Option<(String, PgGuard)> {
    let Some(admin_url) = std::env::var(PG_ENV).ok().filter(|u| !u.is_empty()) else {
        let b = trove_testkit::backends::backends().await;
        let Some(db) = b.postgres_db().await else {
            eprintln!("skipped: provider {} gives no PostgreSQL", b.provider().as_str());
            return None;
        };
        return Some((db.url.clone(), PgGuard::Harness(db)));
    };
    let name = format!("trove_test_{}", random_base62(12).to_lowercase());
    let admin = Database::connect(&admin_url).await.expect("connect to the PostgreSQL server");
    admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("create a test database");
    admin.close().await.expect("close");
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin_url.as_str(), String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    let url = format!("{}/{name}{query}", &base[..host_end]);
    Some((url, PgGuard::Own(PgDatabase { admin_url, name })))
}

async fn postgres() -> Option<(Arc<dyn Catalog>, PgGuard)> {
    let (url, guard) = pg_database().await?;
    let cat = SeaCatalog::connect(&url).await.expect("connect to PostgreSQL");
    Some((Arc::new(cat), guard))
}

mod sqlite {
    use super::*;
    trove_testkit::catalog_suite!(sqlite);
}

mod postgres {
    use super::*;
    trove_testkit::catalog_suite!(optional postgres);
}

/// Several independent handles (connection pools) on one SQLite file, like several processes.
async fn sqlite_handles(n: usize) -> (Vec<Arc<dyn Catalog>>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("trove.db").display());
    let mut cats: Vec<Arc<dyn Catalog>> = Vec::new();
    for _ in 0..n {
        cats.push(Arc::new(SeaCatalog::connect(&url).await.expect("connect")));
    }
    (cats, dir)
}

async fn pg_handles(n: usize) -> Option<(Vec<Arc<dyn Catalog>>, PgGuard)> {
    let (url, guard) = pg_database().await?;
    let mut cats: Vec<Arc<dyn Catalog>> = Vec::new();
    for _ in 0..n {
        cats.push(Arc::new(SeaCatalog::connect(&url).await.expect("connect")));
    }
    Some((cats, guard))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_new_versions_across_handles() {
    let (cats, _dir) = sqlite_handles(2).await;
    conclude(
        "catalog",
        "concurrent_new_versions",
        cats[0].backend(),
        catalog_suite::concurrent_new_versions(&cats, 8).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_new_families_across_handles() {
    let (cats, _dir) = sqlite_handles(2).await;
    conclude(
        "catalog",
        "concurrent_new_families",
        cats[0].backend(),
        catalog_suite::concurrent_new_families(&cats, 10).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_trash_restore() {
    let (cats, _dir) = sqlite_handles(2).await;
    conclude(
        "catalog",
        "concurrent_trash_restore",
        cats[0].backend(),
        catalog_suite::concurrent_trash_restore(&cats, 4, 20).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_new_versions() {
    let Some((cats, _db)) = pg_handles(2).await else {
        eprintln!("skipped: set {PG_ENV} to run PostgreSQL tests");
        return;
    };
    conclude(
        "catalog",
        "concurrent_new_versions",
        cats[0].backend(),
        catalog_suite::concurrent_new_versions(&cats, 8).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_new_families() {
    let Some((cats, _db)) = pg_handles(2).await else {
        eprintln!("skipped: set {PG_ENV} to run PostgreSQL tests");
        return;
    };
    conclude(
        "catalog",
        "concurrent_new_families",
        cats[0].backend(),
        catalog_suite::concurrent_new_families(&cats, 10).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_trash_restore() {
    let Some((cats, _db)) = pg_handles(2).await else {
        eprintln!("skipped: set {PG_ENV} to run PostgreSQL tests");
        return;
    };
    conclude(
        "catalog",
        "concurrent_trash_restore",
        cats[0].backend(),
        catalog_suite::concurrent_trash_restore(&cats, 4, 20).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_collect_and_purge() {
    let (cats, _dir) = sqlite_handles(2).await;
    conclude(
        "catalog",
        "concurrent_collect_and_purge",
        cats[0].backend(),
        catalog_suite::concurrent_collect_and_purge(&cats, 10).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_collect_and_purge() {
    let Some((cats, _db)) = pg_handles(2).await else {
        eprintln!("skipped: set {PG_ENV} to run PostgreSQL tests");
        return;
    };
    conclude(
        "catalog",
        "concurrent_collect_and_purge",
        cats[0].backend(),
        catalog_suite::concurrent_collect_and_purge(&cats, 10).await,
    );
}

/// `run_all` runs every check, each on a fresh catalog, and reports them as the object-store
/// suite's `run_all` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_all_on_fresh_sqlite_catalogs() {
    let report = catalog_suite::run_all(sqlite).await;
    report.assert_passed();
    assert_eq!(report.results.len(), catalog_suite::CHECKS.len());
    assert!(report.skipped().is_empty(), "no catalog check is skipped on SQLite");
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    let err = SeaCatalog::connect("mysql://u:pw@h/db").await.expect_err("mysql is not supported");
    assert_eq!(err.kind(), trove_domain::ErrorKind::InvalidInput);
    assert!(!err.message().contains("pw"), "the password is not echoed: {}", err.message());
}

#[tokio::test]
async fn reconnecting_keeps_data_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("trove.db").display());
    let first = SeaCatalog::connect(&url).await.expect("connect");
    let inst = first
        .init_instance(&trove_domain::InstanceInit {
            uid: "inst00000001".into(),
            name: "persist".into(),
            keys_virtual: false,
            storage: trove_domain::NewStorage {
                uid: "stor00000001".into(),
                root: "/data".into(),
                region: None,
                instance_uid: "inst00000001".into(),
                settings: serde_json::json!({}),
                created_at: chrono::Utc::now(),
            },
            user_handle: "alice".into(),
            created_at: chrono::Utc::now(),
        })
        .await
        .expect("init");
    first.close().await.expect("close");
    let second = SeaCatalog::connect(&url).await.expect("reconnect");
    let again = second.instance().await.expect("instance").expect("kept");
    assert_eq!(again.uid, inst.uid);
    assert_eq!(second.backend(), "sqlite");
}
