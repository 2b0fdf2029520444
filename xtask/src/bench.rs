//! `cargo xtask bench [--backend embedded|postgres-s3|all] [--quick] [WORKLOAD...]`: build the
//! benchmark (`crates/trove/examples/bench.rs`) in release mode, run each workload on each
//! backend in its own process (so each reports its own peak RSS), print one table row per
//! figure (workload, backend, figure, seconds, baseline, ratio, goal, verdict) and write every
//! row to `target/bench/bench.json`. Goals: `../shared/bench/workloads.md`.
//!
//! A workload is one process that prints one JSON object per figure (see [`Row`]); adding a
//! workload is adding it to [`WORKLOADS`] and to the example.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Workloads, and the backends each runs on (`postgres-s3`-only ones need the harness).
const WORKLOADS: &[(&str, &[&str])] = &[
    ("W1a", &["embedded", "postgres-s3"]),
    ("W1b", &["embedded", "postgres-s3"]),
    ("W2", &["embedded", "postgres-s3"]),
    ("W3a", &["embedded", "postgres-s3"]),
    ("W3b", &["embedded", "postgres-s3"]),
    ("W4a", &["embedded", "postgres-s3"]),
    ("W4b", &["embedded", "postgres-s3"]),
    ("W4c", &["embedded", "postgres-s3"]),
    ("W7", &["embedded", "postgres-s3"]),
    ("W8", &["postgres-s3"]),
    ("W5", &["embedded"]),
    ("W6a", &["postgres-s3"]),
    ("W6b", &["postgres-s3"]),
    ("W6bw", &["postgres-s3"]),
];

/// One figure, as the example prints it.
struct Row {
    workload: String,
    backend: String,
    figure: String,
    seconds: f64,
    baseline: Option<f64>,
    ratio: Option<f64>,
    goal: String,
    verdict: String,
    ops: Option<f64>,
    rss: f64,
}

impl Row {
    fn from_json(v: &Value) -> Row {
        let s = |k: &str| v[k].as_str().unwrap_or("-").to_owned();
        Row {
            workload: s("workload"),
            backend: s("backend"),
            figure: s("figure"),
            seconds: v["seconds"].as_f64().unwrap_or(f64::NAN),
            baseline: v["baseline_seconds"].as_f64(),
            ratio: v["ratio"].as_f64(),
            goal: s("goal"),
            verdict: s("verdict"),
            ops: v["ops_per_sec"].as_f64(),
            rss: v["peak_rss_mib"].as_f64().unwrap_or(0.0),
        }
    }
}

/// The table: one line per figure.
fn print_table(rows: &[Row]) {
    println!(
        "{:<10} {:<14} {:>10} {:>10} {:>7} {:>13} {:>6} {:>11} {:>7}  figure",
        "workload", "backend", "seconds", "baseline", "ratio", "goal", "verdict", "ops/s", "rss MiB"
    );
    for r in rows {
        let opt = |x: Option<f64>, p: usize| x.map_or("-".to_owned(), |x| format!("{x:.p$}"));
        println!(
            "{:<10} {:<14} {:>10.4} {:>10} {:>7} {:>13} {:>6} {:>11} {:>7.1}  {}",
            r.workload,
            r.backend,
            r.seconds,
            opt(r.baseline, 4),
            opt(r.ratio, 2),
            r.goal,
            r.verdict,
            opt(r.ops, 0),
            r.rss,
            r.figure
        );
    }
}

/// Run the benchmark.
pub fn run(args: &[String]) -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf();
    let mut backends: Vec<&str> = vec!["embedded"];
    let mut quick = false;
    let mut selected: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--backend" => {
                backends = match it.next().map(String::as_str) {
                    Some("embedded") => vec!["embedded"],
                    Some("postgres-s3") => vec!["postgres-s3"],
                    Some("all") => vec!["embedded", "postgres-s3"],
                    other => return Err(format!("--backend takes embedded, postgres-s3 or all, not {other:?}")),
                }
            }
            w if WORKLOADS.iter().any(|(id, _)| *id == w) => selected.push(w.to_owned()),
            other => {
                let ids: Vec<&str> = WORKLOADS.iter().map(|(id, _)| *id).collect();
                return Err(format!("unknown argument {other}: workloads are {}", ids.join(" ")));
            }
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(&cargo);
    build.args(["build", "--release", "--example", "bench", "-p", "trove"]).current_dir(&root);
    // `cargo xtask` runs this under `cargo run`, which sets the package variables of xtask
    // (CARGO_PKG_NAME, CARGO_MANIFEST_DIR, ...). Build scripts that watch those (ring's does)
    // would then rebuild the whole release tree, and again at the next plain `cargo build`.
    for (name, _) in std::env::vars_os() {
        let n = name.to_string_lossy();
        if n.starts_with("CARGO_PKG_")
            || matches!(
                n.as_ref(),
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
            )
        {
            build.env_remove(&name);
        }
    }
    let status = build.status().map_err(|e| format!("cannot build the benchmark: {e}"))?;
    if !status.success() {
        return Err("building the benchmark failed".into());
    }
    let bin = root.join("target/release/examples/bench");
    let mut rows = Vec::new();
    let mut json = Vec::new();
    let mut failed = Vec::new();
    for backend in &backends {
        for (w, on) in WORKLOADS {
            if !(selected.is_empty() || selected.iter().any(|s| s == w)) || !on.contains(backend) {
                continue;
            }
            let mut cmd = Command::new(&bin);
            cmd.args([*backend, *w]).current_dir(&root);
            if quick {
                cmd.arg("--quick");
            }
            eprintln!("bench: {w} on {backend}{}", if quick { " (quick)" } else { "" });
            let out = cmd.output().map_err(|e| format!("{w}: {e}"))?;
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr);
                eprintln!(
                    "bench: {w} on {backend} failed: {}",
                    err.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
                );
                failed.push(format!("{w}/{backend}"));
                continue;
            }
            for line in String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with('{')) {
                let v: Value = serde_json::from_str(line).map_err(|e| format!("{w}: unreadable row {line}: {e}"))?;
                rows.push(Row::from_json(&v));
                json.push(v);
            }
        }
    }
    print_table(&rows);
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("bench.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json).expect("json")).map_err(|e| e.to_string())?;
    println!("\nwritten: {}", path.display());
    if !failed.is_empty() {
        return Err(format!("workloads failed: {}", failed.join(", ")));
    }
    Ok(())
}
