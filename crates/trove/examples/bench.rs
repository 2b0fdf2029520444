//! Trove's benchmark workloads (`../shared/bench/workloads.md`), on the embedded default.
//! Run through `cargo xtask bench`, which builds this in release mode and runs one process per
//! workload so each reports its own peak RSS. Usage: `bench WORKLOAD [N] [RUNS]`; prints one JSON
//! line: {"workload", "backend", "n", "seconds" (median), "ops_per_sec", "peak_rss_mib", "runs"}.

#[path = "bench_parts/bytes.rs"]
mod bytes;

use std::path::Path;
use std::time::Instant;

use trove::{ArtifactQuery, BranchId, BranchSelection, InitOptions, SaveOptions, StoragePolicy, Trove, Uid};

fn pattern(n: usize, seed: usize) -> Vec<u8> {
    (0..n).map(|i| ((i + seed) % 251) as u8).collect()
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

struct Setup {
    _dir: tempfile::TempDir,
    trove: Trove,
    inputs: std::path::PathBuf,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let trove = Trove::init(InitOptions::local(dir.path().join("data"))).await.unwrap();
    let inputs = dir.path().join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    Setup { _dir: dir, trove, inputs }
}

fn write_inputs(dir: &Path, n: usize) -> Vec<std::path::PathBuf> {
    (0..n)
        .map(|i| {
            let p = dir.join(format!("f{i:06}.bin"));
            // The pattern repeats every 251 seeds: the index makes every file distinct.
            let mut data = pattern(1024, i);
            data[..8].copy_from_slice(&(i as u64).to_le_bytes());
            std::fs::write(&p, data).unwrap();
            p
        })
        .collect()
}

async fn save_all(s: &Setup, files: &[std::path::PathBuf]) -> Vec<Uid> {
    let mut uids = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        let out = s.trove.save(f.as_path(), SaveOptions::key(format!("bench/k{i:06}.bin"))).await.unwrap();
        uids.push(out.into_artifact().uid);
    }
    uids
}

/// One run of a workload: returns the seconds of the timed part.
async fn run_once(workload: &str, n: usize) -> f64 {
    let s = setup().await;
    match workload {
        "W1a" => {
            let files = write_inputs(&s.inputs, n);
            let t = Instant::now();
            save_all(&s, &files).await;
            t.elapsed().as_secs_f64()
        }
        "W3a" => {
            let files = write_inputs(&s.inputs, n);
            save_all(&s, &files).await;
            let t = Instant::now();
            for i in 0..n {
                s.trove.get(&format!("bench/k{i:06}.bin")).await.unwrap();
            }
            t.elapsed().as_secs_f64()
        }
        "W3b" => {
            let files = write_inputs(&s.inputs, n);
            save_all(&s, &files).await;
            let t = Instant::now();
            for i in 0..n {
                let prefix = format!("bench/k000{:02}", i % 100); // 10 keys each
                let found = s.trove.list(&ArtifactQuery::new().key_prefix(prefix)).await.unwrap();
                assert!(!found.is_empty());
            }
            t.elapsed().as_secs_f64()
        }
        "W4a" | "W4b" | "W4c" => {
            let files = write_inputs(&s.inputs, n);
            let uids = save_all(&s, &files).await;
            if workload == "W4b" {
                s.trove.trash(&uids).await.unwrap();
            }
            let t = Instant::now();
            match workload {
                "W4a" => {
                    s.trove.trash(&uids).await.unwrap();
                }
                "W4b" => {
                    s.trove.restore(&uids).await.unwrap();
                }
                _ => {
                    s.trove.delete_permanently(&uids, StoragePolicy::Auto).await.unwrap();
                }
            }
            let secs = t.elapsed().as_secs_f64();
            let want = if workload == "W4a" { n as u64 } else { 0 };
            let trashed =
                s.trove.count(&ArtifactQuery::new().branch(BranchSelection::Only(BranchId::TRASH))).await.unwrap();
            assert_eq!(trashed, want);
            secs
        }
        "W5old" => {
            // one file of n MiB (default 1024), saved with every byte hashed
            let p = s.inputs.join("big.bin");
            {
                use std::io::Write;
                let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
                let block = pattern(1024 * 1024, 7);
                for _ in 0..n {
                    f.write_all(&block).unwrap();
                }
            }
            let t = Instant::now();
            s.trove.save(p.as_path(), SaveOptions::key("big.bin")).await.unwrap();
            t.elapsed().as_secs_f64()
        }
        "W5cp" => {
            // the baseline: a plain copy of the same file
            let p = s.inputs.join("big.bin");
            {
                use std::io::Write;
                let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
                let block = pattern(1024 * 1024, 7);
                for _ in 0..n {
                    f.write_all(&block).unwrap();
                }
            }
            let t = Instant::now();
            std::fs::copy(&p, s.inputs.join("copy.bin")).unwrap();
            t.elapsed().as_secs_f64()
        }
        other => panic!("unknown workload {other}: W1a W3a W3b W4a W4b W4c W5 W5old W5cp W6a W6b W6bw"),
    }
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
    let workload = args.first().cloned().unwrap_or_else(|| "W1a".into());
    let default_n = match workload.as_str() {
        w if w.starts_with("W5") => 1024,
        w if w.starts_with("W6") => 64,
        _ => 1000,
    };
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(default_n);
    let runs: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(3);
    // The byte path: figures and baselines measured together (see `bench_parts/bytes.rs`).
    let byte_path = match workload.as_str() {
        "W5" => Some(bytes::w5(n, runs).await),
        "W6a" | "W6b" | "W6bw" => Some(bytes::w6(&workload, n, runs.max(3)).await),
        _ => None,
    };
    if let Some(v) = byte_path {
        println!("{v}");
        return;
    }
    let mut secs = Vec::with_capacity(runs);
    for _ in 0..runs {
        secs.push(run_once(&workload, n).await);
    }
    secs.sort_by(f64::total_cmp);
    let median = secs[secs.len() / 2];
    println!(
        "{}",
        serde_json::json!({
            "workload": workload, "backend": "sqlite+fs", "n": n, "seconds": median,
            "ops_per_sec": if workload.starts_with("W5") { 1.0 / median } else { n as f64 / median },
            "peak_rss_mib": peak_rss_mib(), "runs": secs,
        })
    );
}
