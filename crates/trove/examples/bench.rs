//! Trove's benchmark workloads (`../shared/bench/workloads.md`). Run through `cargo xtask
//! bench`, which builds this in release mode and runs it once per (backend, workload), so each
//! process reports its own peak RSS.
//!
//! Usage: `bench BACKEND WORKLOAD [--quick]`, BACKEND `embedded` (SQLite + local disk) or
//! `postgres-s3` (PostgreSQL + S3 from trove-testkit's harness: `TROVE_TEST_BACKENDS`).
//! Prints one JSON object per line, one per figure ([`Row`]): workload, backend, figure, n,
//! seconds (the median of the runs), baseline and ratio (where a physical baseline is measured
//! in the same run), goal, verdict, operations per second, peak RSS.

#[path = "bench_parts/bytes.rs"]
mod byte_path;

use std::any::Any;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use trove::domain::ports::ObjectStore;
use trove::{
    ArtifactQuery, BranchId, BranchSelection, Cursor, InitOptions, Order, SaveItem, SaveOptions, SaveOutcome,
    StoragePolicy, Trove, Uid,
};

// ----- rows -----

/// What a figure must reach.
#[derive(Clone, Copy)]
enum Goal {
    /// At most this many seconds.
    Under(f64),
    /// At most this ratio to the baseline (or, for scaling rows, to linear).
    Ratio(f64),
    /// Informational.
    None,
}

/// One figure of the table.
struct Row {
    workload: String,
    backend: &'static str,
    figure: String,
    n: usize,
    seconds: f64,
    baseline: Option<(String, f64)>,
    goal: Goal,
    ops: Option<f64>,
}

impl Row {
    fn new(workload: &str, backend: &'static str, figure: &str, n: usize, seconds: f64, goal: Goal) -> Row {
        Row { workload: workload.into(), backend, figure: figure.into(), n, seconds, baseline: None, goal, ops: None }
    }

    fn baseline(mut self, what: &str, seconds: f64) -> Row {
        self.baseline = Some((what.into(), seconds));
        self
    }

    fn ops(mut self, ops: f64) -> Row {
        self.ops = Some(ops);
        self
    }

    fn print(&self) {
        let ratio = self.baseline.as_ref().map(|(_, b)| self.seconds / b);
        let (goal, ok) = match self.goal {
            Goal::Under(g) => (format!("< {g} s"), Some(self.seconds < g)),
            Goal::Ratio(g) => (format!("ratio < {g}"), ratio.map(|r| r < g)),
            Goal::None => ("-".into(), None),
        };
        let verdict = match ok {
            Some(true) => "ok",
            Some(false) => "MISS",
            None => "-",
        };
        println!(
            "{}",
            json!({
                "workload": self.workload, "backend": self.backend, "figure": self.figure, "n": self.n,
                "seconds": self.seconds,
                "baseline": self.baseline.as_ref().map(|(w, _)| w.clone()),
                "baseline_seconds": self.baseline.as_ref().map(|(_, s)| *s),
                "ratio": ratio, "goal": goal, "verdict": verdict,
                "ops_per_sec": self.ops.or_else(|| (self.seconds > 0.0).then(|| self.n as f64 / self.seconds)),
                "peak_rss_mib": peak_rss_mib(),
            })
        );
    }
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

// ----- instances -----

#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Embedded,
    PostgresS3,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Embedded => "sqlite+fs",
            Backend::PostgresS3 => "postgresql+s3",
        }
    }
}

/// A fresh instance; the fields drop in order (the handle before its database).
struct Inst {
    trove: Trove,
    store: Arc<dyn ObjectStore>,
    /// The catalog, for the raw-query baseline: an SQLite file or a PostgreSQL URL.
    catalog_url: String,
    inputs: PathBuf,
    cache: PathBuf,
    _keep: Vec<Box<dyn Any + Send>>,
}

async fn instance(backend: Backend) -> Inst {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    let cache = dir.path().join("cache");
    match backend {
        Backend::Embedded => {
            let root = dir.path().join("data");
            let trove = Trove::init(InitOptions::local(&root)).await.unwrap();
            let store = trove::open_store(root.to_str().unwrap()).await.unwrap();
            let catalog_url = format!("sqlite://{}", root.join(".trove/trove.db").display());
            Inst { trove, store, catalog_url, inputs, cache, _keep: vec![Box::new(dir)] }
        }
        Backend::PostgresS3 => {
            let b = trove_testkit::backends::backends().await;
            let (Some(db), Some(bucket)) = (b.postgres_db().await, b.s3_bucket().await) else {
                panic!(
                    "postgres-s3 needs PostgreSQL and S3 from the test harness (provider {}): set \
                     TROVE_TEST_BACKENDS=containers (image trove-test-servers:1) or local",
                    b.provider().as_str()
                )
            };
            let store = s3_store(&bucket);
            let catalog = trove::connect_catalog(&db.url).await.unwrap();
            let trove = Trove::builder()
                .catalog(catalog)
                .store(store.clone())
                .user("bench")
                .cache_dir(&cache)
                .init(InitOptions { db: Some(db.url.clone()), ..InitOptions::local(store.root()) })
                .await
                .unwrap();
            let catalog_url = db.url.clone();
            Inst {
                trove,
                store,
                catalog_url,
                inputs,
                cache,
                _keep: vec![Box::new(dir), Box::new(db), Box::new(bucket)],
            }
        }
    }
}

fn s3_store(bucket: &trove_testkit::backends::S3Bucket) -> Arc<dyn ObjectStore> {
    let mut cfg = trove_storage::S3Config::new(&bucket.bucket, "");
    cfg.endpoint = Some(bucket.endpoint.clone());
    cfg.region = bucket.region.clone();
    cfg.access_key_id = Some(bucket.access_key_id.clone());
    cfg.secret_access_key = Some(bucket.secret_access_key.clone());
    Arc::new(trove_storage::OpendalStore::s3(cfg).unwrap())
}

impl Inst {
    /// Another client of the same instance: its own catalog connection and store handle.
    async fn client(&self, i: usize) -> Trove {
        let catalog = trove::connect_catalog(&self.catalog_url).await.unwrap();
        Trove::builder()
            .catalog(catalog)
            .store(self.store.clone())
            .user(format!("client{i}"))
            .cache_dir(self.cache.join(format!("c{i}")))
            .location(self.trove.location().to_owned())
            .open()
            .await
            .unwrap()
    }
}

// ----- inputs -----

fn pattern(n: usize, seed: usize) -> Vec<u8> {
    (0..n).map(|i| ((i + seed) % 251) as u8).collect()
}

/// 1 KiB, distinct for every `i`.
fn content(i: usize) -> Vec<u8> {
    let mut data = pattern(1024, i);
    data[..8].copy_from_slice(&(i as u64).to_le_bytes());
    data
}

fn key(i: usize) -> String {
    format!("bench/k{i:07}.bin")
}

fn write_inputs(dir: &std::path::Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let p = dir.join(format!("f{i:07}.bin"));
            std::fs::write(&p, content(i)).unwrap();
            p
        })
        .collect()
}

fn file_items(files: &[PathBuf]) -> Vec<SaveItem> {
    files.iter().enumerate().map(|(i, f)| SaveItem::new(f.clone(), SaveOptions::key(key(i)))).collect()
}

/// `n` artifacts of 1 KiB under `bench/`, saved with the bulk API (setup, not timed).
async fn populate(s: &Inst, n: usize) -> Vec<Uid> {
    let mut uids = Vec::with_capacity(n);
    for start in (0..n).step_by(10_000) {
        let items =
            (start..n.min(start + 10_000)).map(|i| SaveItem::new(content(i), SaveOptions::key(key(i)))).collect();
        for r in s.trove.save_many(items).await {
            uids.push(r.unwrap().into_artifact().uid);
        }
    }
    uids
}

// ----- workloads -----

/// Seconds of one run of a simple workload at size `n`.
async fn timed(backend: Backend, workload: &str, n: usize) -> f64 {
    let s = instance(backend).await;
    match workload {
        "W1a" => {
            let files = write_inputs(&s.inputs, n);
            let t = Instant::now();
            for (i, f) in files.iter().enumerate() {
                s.trove.save(f.as_path(), SaveOptions::key(key(i))).await.unwrap();
            }
            t.elapsed().as_secs_f64()
        }
        "W1b" => {
            let files = write_inputs(&s.inputs, n);
            let items = file_items(&files);
            let t = Instant::now();
            let out = s.trove.save_many(items).await;
            let secs = t.elapsed().as_secs_f64();
            assert!(out.iter().all(|r| matches!(r, Ok(SaveOutcome::Created { .. }))), "every item created");
            secs
        }
        "W3a" => {
            populate(&s, n).await;
            let t = Instant::now();
            for i in 0..n {
                s.trove.get(&key(i)).await.unwrap();
            }
            t.elapsed().as_secs_f64()
        }
        "W3b" => {
            populate(&s, n.max(1000)).await;
            let t = Instant::now();
            for i in 0..n {
                let prefix = format!("bench/k0000{:02}", i % 100); // 10 keys each
                let found = s.trove.list(&ArtifactQuery::new().key_prefix(prefix)).await.unwrap();
                assert_eq!(found.len(), 10);
            }
            t.elapsed().as_secs_f64()
        }
        "W4a" | "W4b" | "W4c" => {
            let uids = populate(&s, n).await;
            if workload == "W4b" {
                s.trove.trash(&uids).await.unwrap();
            }
            let t = Instant::now();
            match workload {
                "W4a" => drop(s.trove.trash(&uids).await.unwrap()),
                "W4b" => drop(s.trove.restore(&uids).await.unwrap()),
                _ => drop(s.trove.delete_permanently(&uids, StoragePolicy::Auto).await.unwrap()),
            }
            let secs = t.elapsed().as_secs_f64();
            let want = if workload == "W4a" { n as u64 } else { 0 };
            let trash = ArtifactQuery::new().branch(BranchSelection::Only(BranchId::TRASH));
            assert_eq!(s.trove.count(&trash).await.unwrap(), want);
            secs
        }
        "W2" => w2(&s, n).await,
        other => panic!("unknown workload {other}"),
    }
}

/// 200 DataFrames of 1000 rows x 10 columns, saved as Parquet, one call each.
#[cfg(feature = "dataframe")]
async fn w2(s: &Inst, n: usize) -> f64 {
    use arrow_array::{ArrayRef, Float64Array, RecordBatch};
    let frames: Vec<RecordBatch> = (0..n)
        .map(|f| {
            let cols: Vec<(String, ArrayRef)> = (0..10)
                .map(|c| {
                    let values: Vec<f64> = (0..1000).map(|r| (f * 10_000 + c * 1000 + r) as f64).collect();
                    (format!("c{c}"), Arc::new(Float64Array::from(values)) as ArrayRef)
                })
                .collect();
            RecordBatch::try_from_iter(cols).unwrap()
        })
        .collect();
    let t = Instant::now();
    for (i, frame) in frames.into_iter().enumerate() {
        s.trove.save(frame, SaveOptions::key(format!("frames/{i:04}.parquet"))).await.unwrap();
    }
    t.elapsed().as_secs_f64()
}

#[cfg(not(feature = "dataframe"))]
async fn w2(_: &Inst, _: usize) -> f64 {
    panic!("W2 needs the dataframe feature")
}

/// `n` puts of 1 KiB objects through the bare store (no hashing, no catalog), `parallel` at a
/// time: what the storage itself costs for W1.
async fn bare_puts(s: &Inst, n: usize, parallel: usize, round: usize) -> f64 {
    use futures::StreamExt;
    let data: Vec<bytes::Bytes> = (0..n).map(|i| bytes::Bytes::from(content(i))).collect();
    let t = Instant::now();
    futures::stream::iter(data.into_iter().enumerate().map(|(i, d)| {
        let store = s.store.clone();
        async move { store.put(&format!("bare{round}/o{i:07}.bin"), d).await.unwrap() }
    }))
    .buffer_unordered(parallel)
    .collect::<Vec<_>>()
    .await;
    t.elapsed().as_secs_f64()
}

/// The same point query as W3a's lookups, through the driver alone (no ORM, no façade): what
/// the database itself costs.
async fn raw_point_queries(url: &str, n: usize) -> f64 {
    use sea_orm::sqlx;
    let sql_sqlite = "SELECT * FROM artifact WHERE key = ? AND branch_id = 1 AND is_latest = 1 AND pending_op IS NULL";
    let sql_pg = "SELECT * FROM artifact WHERE key = $1 AND branch_id = 1 AND is_latest = true AND pending_op IS NULL";
    if url.starts_with("sqlite") {
        let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect(url).await.unwrap();
        let t = Instant::now();
        for i in 0..n {
            let row = sqlx::query(sql_sqlite).bind(key(i)).fetch_optional(&pool).await.unwrap();
            assert!(row.is_some());
        }
        t.elapsed().as_secs_f64()
    } else {
        let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(url).await.unwrap();
        let t = Instant::now();
        for i in 0..n {
            let row = sqlx::query(sql_pg).bind(key(i)).fetch_optional(&pool).await.unwrap();
            assert!(row.is_some());
        }
        t.elapsed().as_secs_f64()
    }
}

async fn simple(backend: Backend, workload: &str, quick: bool) -> Vec<Row> {
    let b = backend.name();
    let runs = if quick { 1 } else { 3 };
    let (n, goal) = match workload {
        "W1a" => (1000, 0.5),
        "W1b" => (1000, 0.1),
        "W2" => (200, 0.3),
        "W3a" => (1000, 0.05),
        "W3b" => (1000, 0.08),
        "W4a" | "W4b" => (1000, 0.05),
        "W4c" => (1000, 0.3),
        other => panic!("unknown workload {other}"),
    };
    let mut secs = Vec::with_capacity(runs);
    for _ in 0..runs {
        secs.push(timed(backend, workload, n).await);
    }
    let what = match workload {
        "W1a" => "save 1000 x 1 KiB files, one call each",
        "W1b" => "save 1000 x 1 KiB files, one bulk call",
        "W2" => "save 200 DataFrames (1000 x 10) as Parquet",
        "W3a" => "1000 lookups by key",
        "W3b" => "1000 key-prefix filters (10 rows each)",
        "W4a" => "trash 1000 (bulk)",
        "W4b" => "restore 1000 (bulk)",
        _ => "delete 1000 permanently with their bytes",
    };
    let mut row = Row::new(workload, b, what, n, median(secs), Goal::Under(goal));
    if matches!(workload, "W1a" | "W1b") {
        // The storage's own cost: the same number of 1 KiB objects put through the bare store
        // (no hashing, no catalog), one at a time for W1a, 8 at a time for W1b as save_many.
        let s = instance(backend).await;
        let parallel = if workload == "W1b" { 8 } else { 1 };
        let bare = median(vec![bare_puts(&s, n, parallel, 0).await, bare_puts(&s, n, parallel, 1).await]);
        row = row.baseline(&format!("bare store puts ({parallel} at a time)"), bare);
    }
    if workload == "W3a" {
        let s = instance(backend).await;
        populate(&s, n).await;
        let raw = median(vec![raw_point_queries(&s.catalog_url, n).await, raw_point_queries(&s.catalog_url, n).await]);
        row = row.baseline("raw driver point query", raw);
    }
    let mut rows = vec![row];
    // Scaling: per-record cost at 10,000 and 100,000 against the 1000 run (1.0 = linear).
    if matches!(workload, "W1b" | "W3a" | "W4a") {
        let base = rows[0].seconds / n as f64;
        let sizes: &[usize] = if quick { &[10_000] } else { &[10_000, 100_000] };
        for &big in sizes {
            let t = timed(backend, workload, big).await;
            let figure = format!("{what}, at N = {big} (baseline: linear from N = 1000)");
            rows.push(
                Row::new(&format!("{workload}@{}k", big / 1000), b, &figure, big, t, Goal::Ratio(1.5))
                    .baseline("linear from N = 1000", base * big as f64),
            );
        }
    }
    rows
}

/// W7: a large catalog built with the bulk API, then lookups, first pages and a bulk trash.
async fn w7(backend: Backend, quick: bool) -> Vec<Row> {
    let b = backend.name();
    let n = if quick { 100_000 } else { 1_000_000 };
    let s = instance(backend).await;
    // Keys spread over 10 prefixes; every 10th artifact carries a label.
    let build = Instant::now();
    let mut uids = Vec::with_capacity(n);
    for start in (0..n).step_by(10_000) {
        let items = (start..n.min(start + 10_000))
            .map(|i| {
                let mut data = (i as u64).to_le_bytes().to_vec();
                data.extend_from_slice(b"w7");
                SaveItem::new(data, SaveOptions::key(format!("w7/p{}/k{i:07}.bin", i % 10)))
            })
            .collect();
        for r in s.trove.save_many(items).await {
            uids.push(r.unwrap().into_artifact().uid);
        }
    }
    let labelled: Vec<Uid> = uids.iter().step_by(10).cloned().collect();
    s.trove.create_label("w7gold", None).await.unwrap();
    for chunk in labelled.chunks(10_000) {
        s.trove.label_artifacts("w7gold", chunk).await.unwrap();
    }
    let build_secs = build.elapsed().as_secs_f64();
    let mut rows =
        vec![Row::new("W7build", b, "build the catalog with save_many (+ label 10%)", n, build_secs, Goal::None)];

    let mut lookups = Vec::with_capacity(1000);
    for j in 0..1000 {
        let i = (j * 7919) % n;
        let t = Instant::now();
        s.trove.get(&format!("w7/p{}/k{i:07}.bin", i % 10)).await.unwrap();
        lookups.push(t.elapsed().as_secs_f64());
    }
    rows.push(Row::new("W7key", b, "lookup by key, p99 of 1000", 1, percentile(lookups, 0.99), Goal::Under(0.001)));

    let listing = |q: ArtifactQuery| ArtifactQuery { latest_only: true, order: Order::Key, ..q }.limit(100);
    let first_page = |name: &'static str, q: ArtifactQuery| {
        let trove = &s.trove;
        async move {
            let mut t = Vec::new();
            let mut page = Vec::new();
            for _ in 0..20 {
                let started = Instant::now();
                page = trove.list(&q).await.unwrap();
                t.push(started.elapsed().as_secs_f64());
            }
            assert_eq!(page.len(), 100, "{name}: a full first page");
            // And the next page through the cursor.
            let next =
                trove.list(&ArtifactQuery { after: Some(Cursor::after(page.last().unwrap())), ..q }).await.unwrap();
            assert!(!next.is_empty(), "{name}: a second page");
            median(t)
        }
    };
    let ls = first_page("ls", listing(ArtifactQuery::new())).await;
    rows.push(Row::new("W7ls", b, "first page of 100: default ls", 100, ls, Goal::Under(0.005)));
    let pre = first_page("prefix", listing(ArtifactQuery::new().key_prefix("w7/p3/"))).await;
    rows.push(Row::new("W7prefix", b, "first page of 100: --key-prefix", 100, pre, Goal::Under(0.005)));
    let lab = first_page("label", listing(ArtifactQuery::new().label("w7gold"))).await;
    rows.push(Row::new("W7label", b, "first page of 100: --label", 100, lab, Goal::Under(0.005)));

    let t = Instant::now();
    let moved = s.trove.trash_matching(&ArtifactQuery::new().key_prefix("w7/p7/")).await.unwrap();
    let trash_secs = t.elapsed().as_secs_f64();
    assert_eq!(moved.len(), n / 10);
    rows.push(Row::new(
        "W7trash",
        b,
        &format!("bulk trash of {} by key prefix", n / 10),
        n / 10,
        trash_secs,
        Goal::Under(2.0 * n as f64 / 1e6),
    ));
    let trash = first_page("trash", listing(ArtifactQuery::new().branch(BranchSelection::Only(BranchId::TRASH)))).await;
    rows.push(Row::new("W7trashls", b, "first page of 100: --branch trash", 100, trash, Goal::Under(0.005)));
    rows
}

/// W8: concurrent clients saving small files; throughput by client count; then every version
/// and every record's bytes checked.
async fn w8(backend: Backend, quick: bool) -> Vec<Row> {
    let b = backend.name();
    let per_client = if quick { 20 } else { 50 };
    let s = instance(backend).await;
    let mut rows = Vec::new();
    let mut expected_versions: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut saved: Vec<Uid> = Vec::new();
    for clients in [1usize, 2, 4, 8, 16] {
        let mut handles = Vec::with_capacity(clients);
        for c in 0..clients {
            handles.push(s.client(c).await);
        }
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (c, trove) in handles.into_iter().enumerate() {
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::with_capacity(per_client);
                for j in 0..per_client {
                    // Half the saves race on 4 shared keys (new versions), half are new keys.
                    let key = if j % 2 == 0 {
                        format!("w8/shared{}.bin", j % 8 / 2)
                    } else {
                        format!("w8/{clients}/{c}/{j}.bin")
                    };
                    let data = format!("clients {clients} client {c} save {j}").into_bytes();
                    let o = trove.save(data, SaveOptions::key(key.clone())).await.unwrap();
                    out.push((key, o));
                }
                out
            }));
        }
        for t in tasks {
            for (key, o) in t.await.unwrap() {
                assert!(
                    matches!(o, SaveOutcome::Created { .. } | SaveOutcome::NewVersion { .. }),
                    "{key}: {}",
                    o.name()
                );
                *expected_versions.entry(key).or_default() += 1;
                saved.push(o.into_artifact().uid);
            }
        }
        let secs = started.elapsed().as_secs_f64();
        let total = clients * per_client;
        rows.push(
            Row::new(
                &format!("W8x{clients}"),
                b,
                &format!("{clients} concurrent clients saving small files"),
                total,
                secs,
                Goal::None,
            )
            .ops(total as f64 / secs),
        );
    }
    // No lost or duplicated versions; every record's bytes right.
    let all = s
        .trove
        .list(&ArtifactQuery {
            branch: BranchSelection::All,
            include_pending: true,
            order: Order::Version,
            ..ArtifactQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), saved.len(), "one record per save, none lost, none extra");
    let uids: std::collections::HashSet<&Uid> = all.iter().map(|a| &a.uid).collect();
    assert!(saved.iter().all(|u| uids.contains(u)), "every saved uid is a record");
    for (key, count) in &expected_versions {
        let family: Vec<_> = all.iter().filter(|a| a.key.as_ref().is_some_and(|k| k.as_str() == key)).collect();
        let mut idx: Vec<u32> = family.iter().map(|a| a.version_index()).collect();
        idx.sort_unstable();
        idx.dedup();
        assert_eq!((family.len(), idx.len()), (*count, *count), "{key}: distinct versions, one per save");
        assert_eq!(family.iter().filter(|a| a.is_latest).count(), 1, "{key}: one head");
    }
    let mut stores = trove_testkit::invariants::Stores::new();
    stores.insert(s.trove.default_storage().id, s.store.clone());
    let checked = trove_testkit::invariants::check_records(&all, &stores).await;
    assert!(checked.is_ok(), "every record's bytes verified");
    rows.push(Row::new(
        "W8check",
        b,
        "verified: versions distinct, no loss, every record's bytes",
        all.len(),
        0.0,
        Goal::None,
    ));
    rows
}

#[tokio::main]
async fn main() {
    // RUST_LOG=trove=debug,opendal=debug shows where a workload's time goes (on stderr).
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_writer(std::io::stderr)
            .init();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let pos: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let backend = match pos.first().map(|s| s.as_str()) {
        Some("embedded") => Backend::Embedded,
        Some("postgres-s3") => Backend::PostgresS3,
        other => panic!("usage: bench embedded|postgres-s3 WORKLOAD [--quick] (got {other:?})"),
    };
    let workload = pos.get(1).map(|s| s.as_str()).unwrap_or("W1a");
    let rows = match workload {
        // The byte path (W5 on local disk, W6 on S3): its own module, its baselines measured in
        // the same process.
        "W5" => {
            let v = byte_path::w5(if quick { 256 } else { 1024 }, 3).await;
            return print_bytes_row(&v, "embedded", 1.15);
        }
        "W6a" | "W6b" | "W6bw" => {
            let v = byte_path::w6(workload, 64, 3).await;
            return print_bytes_row(&v, "postgres-s3", if workload == "W6a" { 1.3 } else { 1.2 });
        }
        "W7" => w7(backend, quick).await,
        "W8" => w8(backend, quick).await,
        w => simple(backend, w, quick).await,
    };
    for r in rows {
        r.print();
    }
}

/// Prints a row of the byte-path module (its own JSON, with the baseline it measured) in the
/// table's format.
fn print_bytes_row(v: &serde_json::Value, backend: &str, goal_ratio: f64) {
    if let Some(why) = v["skipped"].as_str() {
        println!(
            "{}",
            json!({"workload": v["workload"], "backend": backend, "figure": format!("skipped: {why}"),
            "seconds": null, "goal": "-", "verdict": "-"})
        );
        return;
    }
    let workload = v["workload"].as_str().unwrap_or("?");
    let seconds = v["seconds"].as_f64().unwrap_or(f64::NAN);
    let (goal, verdict, figure) = if workload == "W6bw" {
        let g = v["goal_seconds"].as_f64().unwrap_or(0.002);
        (format!("< {g} s"), if seconds < g { "ok" } else { "MISS" }, "cache() warm, 64 MiB".to_string())
    } else {
        let r = v["ratio"].as_f64().unwrap_or(f64::NAN);
        let figure = match workload {
            "W5" => format!(
                "save {} MiB (baseline max(cp {:.3} s, all-core md5 {:.3} s))",
                v["n"],
                v["baseline_cp"].as_f64().unwrap_or(f64::NAN),
                v["baseline_md5_all_cores"].as_f64().unwrap_or(f64::NAN)
            ),
            "W6a" => "save 64 MiB to S3 (baseline: bare OpenDAL multipart upload)".into(),
            _ => "cache() cold, 64 MiB (baseline: bare ranged download)".into(),
        };
        (format!("ratio < {goal_ratio}"), if r < goal_ratio { "ok" } else { "MISS" }, figure)
    };
    println!(
        "{}",
        json!({
            "workload": workload, "backend": v["backend"].as_str().unwrap_or(backend), "figure": figure,
            "n": v["n"], "seconds": seconds, "baseline_seconds": v["baseline"], "ratio": v["ratio"],
            "goal": goal, "verdict": verdict, "ops_per_sec": v["ops_per_sec"], "peak_rss_mib": v["peak_rss_mib"],
        })
    );
}
