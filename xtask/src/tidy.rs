//! `cargo xtask tidy`: the architecture invariants of docs/ARCHITECTURE.md, checked against the
//! real crate graph from `cargo metadata` and the source text. Also runs as a test
//! (`cargo test -p xtask`).
//!
//! * layering: the crate graph (no I/O below the ports, implementations never see each other);
//! * manifests: versions only in `[workspace.dependencies]`, workspace lints everywhere;
//! * docs: `docs/ARCHITECTURE.md` describes every crate;
//! * sources ([`sources`]): library code never prints or exits, only the façade's wiring module
//!   names backend crates, every lint `allow` carries a reason, no file over 800 lines but the
//!   listed exceptions;
//! * modules ([`modules`]): no import cycle among the top-level modules of the library crates.
//!
//! Every crate a rule names must exist: a misspelt or removed name is an error, never a rule
//! that silently checks nothing.

mod lexer;
mod modules;
mod sources;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// I/O crates the domain must never reach, even transitively.
const IO_CRATES: &[&str] = &["tokio", "sea-orm", "sea-orm-migration", "sqlx", "opendal", "reqwest", "hyper", "mio"];

/// (crate, crates it must never depend on, even transitively, through normal dependencies).
/// `trove-e2e` sees Trove only as a user does (the `trove` binary) plus an independent reader
/// of the storage, so it links none of Trove's crates but the test harness; and nothing
/// depends on it.
const FORBIDDEN: &[(&str, &[&str])] = &[
    ("trove-domain", &["trove-persistence", "trove-storage", "trove", "trove-cli", "trove-testkit", "trove-e2e"]),
    ("trove-persistence", &["trove-storage", "opendal", "trove", "trove-cli", "trove-e2e"]),
    ("trove-storage", &["trove-persistence", "sea-orm", "sqlx", "trove", "trove-cli", "trove-e2e"]),
    ("trove-testkit", &["trove-persistence", "trove-storage", "trove", "trove-cli", "trove-e2e"]),
    ("trove", &["trove-cli", "trove-testkit", "trove-e2e", "trove-py"]),
    // The Python package is a user of the façade, like the CLI.
    ("trove-py", &["trove-cli", "trove-testkit", "trove-e2e"]),
    ("trove-e2e", &["trove", "trove-persistence", "trove-storage"]),
];

/// Crate sources whose top-level modules must not import each other in a circle.
const ACYCLIC: &[&str] = &[
    "crates/trove-domain/src",
    "crates/trove-persistence/src",
    "crates/trove-storage/src",
    "crates/trove/src",
    "crates/trove-testkit/src",
];

/// Run every check; the error lists every violation.
pub fn run(_args: &[String]) -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask is in the workspace").to_path_buf();
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(&root)
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let meta: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata output: {e}"))?;
    let mut problems = Vec::new();
    check_rule_names(&meta, &mut problems);
    check_graph(&meta, &mut problems);
    check_manifests(&root, &mut problems);
    check_docs(&root, &mut problems);
    let sources = sources::workspace_sources(&root);
    sources::check_talking(&sources, &mut problems);
    sources::check_wiring(&sources, &mut problems);
    sources::check_allow_reasons(&sources, &mut problems);
    sources::check_lengths(&sources, &mut problems);
    for src in ACYCLIC {
        modules::check_no_cycle(&root, src, &mut problems);
    }
    if problems.is_empty() {
        let long: Vec<String> = sources::long_files(&sources).iter().map(|(f, n)| format!("{f} ({n} lines)")).collect();
        println!(
            "tidy: ok (layering, dependency versions, docs, {} Rust files: no printing in libraries, backends named \
             only in {}, every allow with a reason, no module cycle in {}; over {} lines, as excepted: {})",
            sources.len(),
            sources::WIRING,
            ACYCLIC.join(", "),
            sources::MAX_LINES,
            if long.is_empty() { "none".to_string() } else { long.join(", ") }
        );
        Ok(())
    } else {
        Err(format!("{} problem(s):\n  - {}", problems.len(), problems.join("\n  - ")))
    }
}

/// Normal (non-dev, non-build) dependency closure of a package, by name.
fn closure(meta: &Value, start: &str) -> BTreeSet<String> {
    let packages: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| (p["id"].as_str().unwrap_or(""), p["name"].as_str().unwrap_or("")))
        .collect();
    let nodes: HashMap<&str, Vec<&str>> = meta["resolve"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            let deps = n["deps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["dep_kinds"].as_array().into_iter().flatten().any(|k| k["kind"].is_null()))
                .filter_map(|d| d["pkg"].as_str())
                .collect();
            (n["id"].as_str().unwrap_or(""), deps)
        })
        .collect();
    let Some(start_id) = packages.iter().find(|(_, n)| **n == start).map(|(id, _)| *id) else {
        // `check_rule_names` reports the unknown name; nothing is reachable from it.
        return BTreeSet::new();
    };
    let mut seen = BTreeSet::new();
    let mut stack = vec![start_id];
    let mut names = BTreeSet::new();
    while let Some(id) = stack.pop() {
        for dep in nodes.get(id).into_iter().flatten() {
            if seen.insert(*dep) {
                names.insert(packages.get(dep).copied().unwrap_or("").to_owned());
                stack.push(dep);
            }
        }
    }
    names
}

/// Every package in the resolved graph (workspace members and their dependencies).
fn package_names(meta: &Value) -> BTreeSet<String> {
    meta["packages"].as_array().into_iter().flatten().filter_map(|p| p["name"].as_str()).map(str::to_owned).collect()
}

/// Every crate named by a rule exists in the graph: a typo or a removed crate would make its
/// rule pass without checking anything.
fn check_rule_names(meta: &Value, problems: &mut Vec<String>) {
    let known = package_names(meta);
    let mut named: Vec<(&str, &str)> = IO_CRATES.iter().map(|c| (*c, "IO_CRATES")).collect();
    for (krate, banned) in FORBIDDEN {
        named.push((krate, "FORBIDDEN"));
        named.extend(banned.iter().map(|b| (*b, "FORBIDDEN")));
    }
    named.extend(DOCUMENTED.iter().map(|c| (*c, "DOCUMENTED")));
    named.extend(sources::MAY_PRINT.iter().map(|(c, _)| (*c, "MAY_PRINT")));
    named.extend(sources::BACKEND_CRATES.iter().map(|c| (*c, "BACKEND_CRATES")));
    for (name, rule) in named {
        if !known.contains(name) {
            problems.push(format!("tidy's {rule} names `{name}`, which is no crate of the workspace's graph"));
        }
    }
}

fn check_graph(meta: &Value, problems: &mut Vec<String>) {
    let domain = closure(meta, "trove-domain");
    for io in IO_CRATES {
        if domain.contains(*io) {
            problems
                .push(format!("trove-domain depends (transitively) on the I/O crate `{io}`; the domain does no I/O"));
        }
    }
    for (krate, banned) in FORBIDDEN {
        let deps = closure(meta, krate);
        for b in *banned {
            if deps.contains(*b) {
                problems.push(format!("`{krate}` depends (transitively) on `{b}`, which the layering forbids"));
            }
        }
    }
}

/// Every dependency of every member takes its version from `[workspace.dependencies]`.
fn check_manifests(root: &Path, problems: &mut Vec<String>) {
    let mut manifests = vec![root.join("xtask/Cargo.toml"), root.join("tests/Cargo.toml")];
    if let Ok(entries) = std::fs::read_dir(root.join("crates")) {
        manifests.extend(entries.flatten().map(|e| e.path().join("Cargo.toml")).filter(|p| p.is_file()));
    }
    for m in manifests {
        let Ok(text) = std::fs::read_to_string(&m) else { continue };
        let mut in_deps = false;
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with('[') {
                in_deps = t.ends_with("dependencies]");
                continue;
            }
            if in_deps
                && !t.is_empty()
                && !t.starts_with('#')
                && !t.contains("workspace = true")
                && !t.contains(".workspace")
            {
                problems.push(format!(
                    "{}: `{t}` sets its own version; declare it once in the root [workspace.dependencies]",
                    m.display()
                ));
            }
        }
        if !text.contains("[lints]") {
            problems.push(format!("{}: missing `[lints] workspace = true`", m.display()));
        }
    }
}

/// The crates docs/ARCHITECTURE.md must describe.
const DOCUMENTED: &[&str] = &[
    "trove-domain",
    "trove-persistence",
    "trove-storage",
    "trove",
    "trove-cli",
    "trove-py",
    "trove-testkit",
    "trove-e2e",
    "xtask",
];

fn check_docs(root: &Path, problems: &mut Vec<String>) {
    let arch = root.join("docs/ARCHITECTURE.md");
    match std::fs::read_to_string(&arch) {
        Err(_) => problems.push("docs/ARCHITECTURE.md is missing".into()),
        Ok(text) => {
            for krate in DOCUMENTED {
                if !text.contains(&format!("`{krate}`")) && !text.contains(&format!("crates/{krate}`")) {
                    problems.push(format!("docs/ARCHITECTURE.md does not describe `{krate}`"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_workspace_is_tidy() {
        super::run(&[]).unwrap();
    }

    /// The check sees the real graph: a violation would be found.
    #[test]
    fn the_graph_is_read() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
        let out = std::process::Command::new(env!("CARGO"))
            .args(["metadata", "--format-version", "1"])
            .current_dir(&root)
            .output()
            .unwrap();
        let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(super::closure(&meta, "trove-persistence").contains("sea-orm"));
        assert!(super::closure(&meta, "trove").contains("trove-domain"));
        let mut problems = Vec::new();
        let mut fake = meta.clone();
        // Pretend trove-domain is trove-persistence: the I/O check must fire.
        for p in fake["packages"].as_array_mut().unwrap() {
            if p["name"] == "trove-domain" {
                p["name"] = "renamed".into();
            } else if p["name"] == "trove-persistence" {
                p["name"] = "trove-domain".into();
            }
        }
        super::check_graph(&fake, &mut problems);
        assert!(problems.iter().any(|p| p.contains("I/O crate")), "{problems:?}");
        // A rule naming a crate the graph lacks is an error, not a rule that checks nothing.
        let mut problems = Vec::new();
        super::check_rule_names(&fake, &mut problems);
        assert!(problems.iter().any(|p| p.contains("`trove-persistence`, which is no crate")), "{problems:?}");
    }
}
