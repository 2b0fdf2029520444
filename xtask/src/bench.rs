//! `cargo xtask bench [WORKLOAD...]`: build the benchmark in release mode and run each workload
//! in its own process (so each reports its own peak RSS); write `target/bench/bench.json` and
//! print a table with the goals of `../shared/bench/workloads.md`.

use std::path::Path;
use std::process::Command;

/// (workload, what it measures, goal in seconds).
const WORKLOADS: &[(&str, &str, f64)] = &[
    ("W1a", "save 1000 distinct 1 KiB files with keys, one call each", 1.0),
    ("W3a", "1000 lookups by key", 0.03),
    ("W3b", "1000 key-prefix filters, results materialised", 0.05),
    ("W4a", "trash 1000 artifacts (bulk)", 0.05),
    ("W4b", "restore 1000 artifacts (bulk)", 0.05),
    ("W4c", "permanently delete 1000 artifacts with their files", 0.3),
    (
        "W5",
        "save one 1 GiB file, every byte hashed (ratio to max(cp, all-core md5) <= 1.15, RSS < 64 MiB)",
        f64::INFINITY,
    ),
    ("W5cp", "baseline: plain copy of the same 1 GiB file", f64::INFINITY),
    ("W6a", "save a 64 MiB file to S3 (ratio to a bare OpenDAL multipart upload <= 1.3)", f64::INFINITY),
    ("W6b", "cache() of it, cold (ratio to a bare ranged OpenDAL download <= 1.2)", f64::INFINITY),
    ("W6bw", "cache() of it, warm", 0.002),
];

/// Run the benchmark.
pub fn run(args: &[String]) -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(["build", "--release", "--example", "bench", "-p", "trove"])
        .current_dir(&root)
        .status()
        .map_err(|e| format!("cannot build the benchmark: {e}"))?;
    if !status.success() {
        return Err("building the benchmark failed".into());
    }
    let bin = root.join("target/release/examples/bench");
    let selected: Vec<&(&str, &str, f64)> =
        WORKLOADS.iter().filter(|(w, _, _)| args.is_empty() || args.iter().any(|a| a == w)).collect();
    let mut results = Vec::new();
    println!("{:<6} {:>10} {:>10} {:>9}  workload", "id", "seconds", "goal", "rss MiB");
    for (w, what, goal) in selected {
        let out = Command::new(&bin).arg(w).current_dir(&root).output().map_err(|e| format!("{w}: {e}"))?;
        if !out.status.success() {
            return Err(format!("{w} failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        let line = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value =
            serde_json::from_str(line.trim()).map_err(|e| format!("{w}: unreadable result {line}: {e}"))?;
        if let Some(why) = v["skipped"].as_str() {
            println!("{w:<6} {:>10} {:>10} {:>9}  {what}: skipped ({why})", "-", "-", "-");
            results.push(v);
            continue;
        }
        let secs = v["seconds"].as_f64().unwrap_or(f64::NAN);
        // Workloads with a baseline measured in the same run are judged by their ratio to it.
        let ratio = v["ratio"].as_f64().zip(v["goal_ratio"].as_f64());
        let what = match ratio {
            Some((r, g)) => {
                format!("{what} [baseline {:.4} s, ratio {r:.2}, goal {g}]", v["baseline"].as_f64().unwrap_or(f64::NAN))
            }
            None => what.to_string(),
        };
        let verdict = if let Some((r, g)) = ratio {
            if r <= g { "ok" } else { "SLOW" }
        } else if secs <= *goal {
            "ok"
        } else if goal.is_finite() {
            "SLOW"
        } else {
            ""
        };
        println!(
            "{w:<6} {secs:>10.4} {:>10} {:>9.1}  {what} {verdict}",
            if goal.is_finite() { format!("{goal}") } else { "-".into() },
            v["peak_rss_mib"].as_f64().unwrap_or(0.0)
        );
        results.push(v);
    }
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("bench.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results).expect("json")).map_err(|e| e.to_string())?;
    println!("\nwritten: {}", path.display());
    Ok(())
}
