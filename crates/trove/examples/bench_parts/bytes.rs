//! The byte-path workloads (W5, W6a, W6b), each with its physical baseline measured in the same
//! process, interleaved with the figure run by run:
//!
//! * W5: save one file of N MiB (default 1024) to local disk, every byte hashed. Baselines:
//!   `cp` of the file (`std::fs::copy`, which is `copy_file_range` on Linux), and all cores
//!   hashing its 50 MiB parts with MD5 (one thread per core, positional reads); the baseline is
//!   the slower of the two. Also reported: `cp` followed by `fsync` (a save is durable).
//! * W6a: save a file of N MiB (default 64) to S3 (garage from the test harness) against a bare
//!   OpenDAL multipart upload of the same bytes, without hashing (same part size and
//!   concurrency as Trove's writer).
//! * W6b: `cache()` of that artifact into an empty cache (cold) against a bare ranged,
//!   concurrent OpenDAL download into a file (same request size and concurrency); warm: a
//!   second `cache()`.
//!
//! Each prints one JSON line with `seconds` (median), `baseline` (median), `ratio`,
//! `goal_ratio` (or `goal_seconds`), `peak_rss_mib` and the single runs.

use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde_json::{Value, json};
use trove::domain::hash::PART_SIZE;
use trove::domain::ports::ObjectStore;
use trove::{InitOptions, SaveOptions, Trove};
use trove_storage::{DEFAULT_WRITE_CONCURRENCY, OpendalStore, READ_CHUNK, READ_CONCURRENCY, S3Config};

const MIB: usize = 1024 * 1024;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A file of `mib` MiB of the benchmark pattern; `seed` makes its first bytes distinct.
fn write_input(path: &Path, mib: usize, seed: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let block = super::pattern(MIB, 7);
    for i in 0..mib {
        if i == 0 {
            let mut first = block.clone();
            first[..8].copy_from_slice(&seed.to_le_bytes());
            f.write_all(&first).unwrap();
        } else {
            f.write_all(&block).unwrap();
        }
    }
    f.into_inner().unwrap().sync_all().unwrap();
}

/// Everything dirty written back, so one measurement's writeback does not slow the next.
fn settle() {
    let _ = std::process::Command::new("sync").status();
}

/// The baseline of W5: every core MD5-ing the file's 50 MiB parts, one thread per core taking
/// parts in turn, reading with `pread` into a 1 MiB buffer.
fn md5_all_cores(path: &Path) -> f64 {
    use md5::Digest;
    let file = std::fs::File::open(path).unwrap();
    let size = file.metadata().unwrap().len();
    let parts = size.div_ceil(PART_SIZE).max(1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = AtomicU64::new(0);
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..cores {
            let (file, next) = (&file, &next);
            s.spawn(move || {
                let mut buf = vec![0u8; MIB];
                loop {
                    let p = next.fetch_add(1, Ordering::Relaxed);
                    if p >= parts {
                        return;
                    }
                    let (mut off, end) = (p * PART_SIZE, ((p + 1) * PART_SIZE).min(size));
                    let mut h = md5::Md5::new();
                    while off < end {
                        let want = ((end - off) as usize).min(buf.len());
                        let n = file.read_at(&mut buf[..want], off).unwrap();
                        h.update(&buf[..n]);
                        off += n as u64;
                    }
                    std::hint::black_box(h.finalize());
                }
            });
        }
    });
    t.elapsed().as_secs_f64()
}

/// W5, with its baselines.
pub async fn w5(mib: usize, runs: usize) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.bin");
    write_input(&input, mib, 0);
    let (mut save, mut cp, mut cp_sync, mut md5) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let copy = dir.path().join("copy.bin");
        settle();
        let t = Instant::now();
        std::fs::copy(&input, &copy).unwrap();
        cp.push(t.elapsed().as_secs_f64());
        std::fs::File::open(&copy).unwrap().sync_all().unwrap();
        cp_sync.push(t.elapsed().as_secs_f64());
        std::fs::remove_file(&copy).unwrap();
        settle();
        md5.push(md5_all_cores(&input));

        let root = dir.path().join(format!("data{run}"));
        let trove = Trove::init(InitOptions::local(&root)).await.unwrap();
        settle();
        let t = Instant::now();
        trove.save(input.as_path(), SaveOptions::key("big.bin")).await.unwrap();
        save.push(t.elapsed().as_secs_f64());
        drop(trove);
        std::fs::remove_dir_all(&root).unwrap();
    }
    let runs_save = save.clone();
    let (secs, cp_m, cps_m, md5_m) = (median(&mut save), median(&mut cp), median(&mut cp_sync), median(&mut md5));
    let baseline = cp_m.max(md5_m);
    json!({
        "workload": "W5", "backend": "sqlite+fs", "n": mib, "seconds": secs, "ops_per_sec": 1.0 / secs,
        "baseline": baseline, "ratio": secs / baseline, "goal_ratio": 1.15,
        "baseline_cp": cp_m, "baseline_md5_all_cores": md5_m, "cp_then_fsync": cps_m,
        "peak_rss_mib": super::peak_rss_mib(), "runs": runs_save,
    })
}

/// An S3 bucket from the test harness with a catalog (PostgreSQL when the harness has one,
/// else SQLite), or `None` (the provider gives no S3 server).
struct S3Bench {
    trove: Trove,
    cfg: S3Config,
    catalog_url: String,
    backend: &'static str,
    store: Arc<dyn ObjectStore>,
    _keep: Vec<Box<dyn std::any::Any + Send>>,
}

async fn s3_bench(cache: &Path) -> Option<S3Bench> {
    let b = trove_testkit::backends::backends().await;
    let bucket = b.s3_bucket().await?;
    let mut cfg = S3Config::new(&bucket.bucket, "bench");
    cfg.endpoint = Some(bucket.endpoint.clone());
    cfg.region = bucket.region.clone();
    cfg.access_key_id = Some(bucket.access_key_id.clone());
    cfg.secret_access_key = Some(bucket.secret_access_key.clone());
    let store: Arc<dyn ObjectStore> = Arc::new(OpendalStore::s3(cfg.clone()).unwrap());
    let mut keep: Vec<Box<dyn std::any::Any + Send>> = vec![Box::new(bucket)];
    let (catalog_url, backend) = match b.postgres_db().await {
        Some(db) => {
            let url = db.url.clone();
            keep.push(Box::new(db));
            (url, "postgresql+s3")
        }
        None => {
            let db = b.sqlite_db();
            let url = db.url.clone();
            keep.push(Box::new(db));
            (url, "sqlite+s3")
        }
    };
    let catalog = trove::connect_catalog(&catalog_url).await.unwrap();
    let trove = Trove::builder()
        .catalog(catalog)
        .store(store.clone())
        .cache_dir(cache)
        .init(InitOptions { db: Some(catalog_url.clone()), ..InitOptions::local(store.root()) })
        .await
        .unwrap();
    Some(S3Bench { trove, cfg, catalog_url, backend, store, _keep: keep })
}

/// A bare OpenDAL operator on the same bucket and prefix: no retry, timeout or tracing layers.
fn bare_operator(cfg: &S3Config) -> opendal::Operator {
    let mut b = opendal::services::S3::default()
        .bucket(&cfg.bucket)
        .root(&format!("/{}", cfg.prefix))
        .region(&cfg.region)
        .disable_config_load()
        .disable_ec2_metadata()
        .access_key_id(cfg.access_key_id.as_deref().unwrap())
        .secret_access_key(cfg.secret_access_key.as_deref().unwrap());
    if let Some(e) = &cfg.endpoint {
        b = b.endpoint(e);
    }
    opendal::Operator::new(b).unwrap()
}

/// The bare upload: read the file in 4 MiB chunks and write them to an OpenDAL multipart writer
/// with Trove's part size and concurrency.
async fn bare_upload(op: &opendal::Operator, path: &Path, key: &str) -> f64 {
    let t = Instant::now();
    let mut w = op.writer_with(key).chunk(PART_SIZE as usize).concurrent(DEFAULT_WRITE_CONCURRENCY).await.unwrap();
    let mut f = std::fs::File::open(path).unwrap();
    loop {
        let mut buf = vec![0u8; 4 * MIB];
        let mut filled = 0;
        while filled < buf.len() {
            let n = f.read(&mut buf[filled..]).unwrap();
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        buf.truncate(filled);
        w.write(buf).await.unwrap();
    }
    w.close().await.unwrap();
    t.elapsed().as_secs_f64()
}

/// The same upload through Trove's own store (its retry, timeout and tracing layers), without
/// hashing or catalog: tells the store's cost from the save's.
async fn store_upload(store: &dyn ObjectStore, path: &Path, key: &str) -> f64 {
    let t = Instant::now();
    let mut w = store.writer(key).await.unwrap();
    let mut f = std::fs::File::open(path).unwrap();
    loop {
        let mut buf = vec![0u8; 4 * MIB];
        let n = read_full(&mut f, &mut buf);
        if n == 0 {
            break;
        }
        buf.truncate(n);
        w.write(buf.into()).await.unwrap();
    }
    w.close().await.unwrap();
    t.elapsed().as_secs_f64()
}

fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> usize {
    let mut filled = 0;
    while filled < buf.len() {
        let n = f.read(&mut buf[filled..]).unwrap();
        if n == 0 {
            break;
        }
        filled += n;
    }
    filled
}

/// The bare download: ranged requests of Trove's size and concurrency, written to a file.
async fn bare_download(op: &opendal::Operator, key: &str, dest: &Path) -> f64 {
    use futures::StreamExt;
    let t = Instant::now();
    let size = op.stat(key).await.unwrap().content_length();
    let r = op.reader_with(key).concurrent(READ_CONCURRENCY).chunk(READ_CHUNK).await.unwrap();
    let mut stream = r.into_stream(0..size).await.unwrap();
    let mut f = std::fs::File::create(dest).unwrap();
    while let Some(buf) = stream.next().await {
        for chunk in buf.unwrap() {
            f.write_all(&chunk).unwrap();
        }
    }
    drop(f);
    t.elapsed().as_secs_f64()
}

fn skipped(workload: &str) -> Value {
    json!({"workload": workload, "backend": "s3", "skipped": "the test harness gives no S3 server (TROVE_TEST_BACKENDS=containers or local)"})
}

/// W6a and W6b (with the warm figure), in one process sharing one server.
pub async fn w6(workload: &str, mib: usize, runs: usize) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let Some(s) = s3_bench(&dir.path().join("cache")).await else { return skipped(workload) };
    let op = bare_operator(&s.cfg);
    let (mut save, mut upload, mut cold, mut bare_get, mut warm) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut via_store = Vec::new();
    for run in 0..runs {
        let input = dir.path().join(format!("in{run}.bin"));
        write_input(&input, mib, run as u64 + 1);
        // The server writes what it receives to disk: each upload starts with the disk settled,
        // and the order rotates, so no figure pays for the previous one's writeback.
        let mut saved = None;
        for step in 0..3 {
            settle();
            match (run + step) % 3 {
                0 => upload.push(bare_upload(&op, &input, &format!("bare/{run}.bin")).await),
                1 => via_store.push(store_upload(s.store.as_ref(), &input, &format!("store/{run}.bin")).await),
                _ => {
                    let t = Instant::now();
                    let out = s.trove.save(input.as_path(), SaveOptions::key(format!("w6/{run}.bin"))).await.unwrap();
                    save.push(t.elapsed().as_secs_f64());
                    saved = Some(out.into_artifact());
                }
            }
        }
        let a = saved.expect("saved");
        settle();

        // Cold: a handle with an empty cache of its own.
        let cache = dir.path().join(format!("cold{run}"));
        let catalog = trove::connect_catalog(&s.catalog_url).await.unwrap();
        let fresh = Trove::builder()
            .catalog(catalog)
            .store(s.store.clone())
            .cache_dir(&cache)
            .location(s.catalog_url.clone())
            .open()
            .await
            .unwrap();
        let t = Instant::now();
        let p = fresh.cache(&a).await.unwrap();
        cold.push(t.elapsed().as_secs_f64());
        assert_eq!(std::fs::metadata(&p).unwrap().len(), (mib * MIB) as u64);
        let t = Instant::now();
        fresh.cache(&a).await.unwrap();
        warm.push(t.elapsed().as_secs_f64());
        settle();
        bare_get.push(bare_download(&op, &a.storage_key(), &dir.path().join(format!("get{run}.bin"))).await);
        let _ = std::fs::remove_dir_all(&cache);
        let _ = std::fs::remove_file(dir.path().join(format!("get{run}.bin")));
        let _ = std::fs::remove_file(&input);
    }
    let rss = super::peak_rss_mib();
    let v = match workload {
        "W6a" => {
            let runs_v = save.clone();
            let (secs, base) = (median(&mut save), median(&mut upload));
            json!({"workload": "W6a", "seconds": secs, "baseline": base, "ratio": secs / base, "goal_ratio": 1.3,
                   "baseline_what": "bare OpenDAL multipart upload", "runs": runs_v,
                   "store_upload_no_hash": median(&mut via_store)})
        }
        "W6b" => {
            let runs_v = cold.clone();
            let (secs, base) = (median(&mut cold), median(&mut bare_get));
            json!({"workload": "W6b", "seconds": secs, "baseline": base, "ratio": secs / base, "goal_ratio": 1.2,
                   "baseline_what": "bare OpenDAL ranged download", "warm_seconds": median(&mut warm.clone()),
                   "runs": runs_v})
        }
        _ => {
            let runs_v = warm.clone();
            json!({"workload": "W6bw", "seconds": median(&mut warm), "goal_seconds": 0.002, "runs": runs_v})
        }
    };
    let mut v = v;
    v["backend"] = json!(s.backend);
    v["n"] = json!(mib);
    v["ops_per_sec"] = json!(1.0 / v["seconds"].as_f64().unwrap_or(f64::NAN));
    v["peak_rss_mib"] = json!(rss);
    v
}
