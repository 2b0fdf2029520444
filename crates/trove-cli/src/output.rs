//! Tables for people, JSON for scripts.

use serde_json::{Map, Value, json};
use trove::{Artifact, Trove};

/// One artifact as a JSON object with the field names of spec 2 section 2, plus `branch` by
/// name and `path` (absolute local path or object URL).
pub fn artifact_json(trove: &Trove, a: &Artifact) -> Map<String, Value> {
    let storage = trove.storage_root(a).unwrap_or_default();
    let path = trove.path(a).unwrap_or_default();
    let v = json!({
        "uid": a.uid.as_str(),
        "key": a.key.as_ref().map(|k| k.as_str()),
        "description": a.description,
        "suffix": a.suffix,
        "kind": a.kind,
        "otype": a.otype,
        "size": a.size,
        "hash": a.hash,
        "hash_type": a.hash_type.to_string(),
        "n_files": a.n_files,
        "n_observations": a.n_observations,
        "version": a.uid.version_suffix(),
        "version_tag": a.version_tag,
        "is_latest": a.is_latest,
        "branch": a.branch.name(),
        "branch_id": a.branch.0,
        "trashed_from": a.trashed_from.map(|b| b.name()),
        "storage": storage,
        "storage_key": a.storage_key(),
        "real_key": a.placement.is_user_visible(),
        "shared_store": matches!(a.placement, trove::Placement::SharedStore { .. }),
        "created_by": a.created_by,
        "created_at": a.created_at.to_rfc3339(),
        "updated_at": a.updated_at.to_rfc3339(),
        "path": path,
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!("json! of an object"),
    }
}

/// Print a list of JSON objects as one JSON array.
pub fn print_json(items: Vec<Map<String, Value>>) {
    let arr = Value::Array(items.into_iter().map(Value::Object).collect());
    println!("{}", serde_json::to_string_pretty(&arr).expect("json serialises"));
}

pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

/// A plain text table, columns padded to their widest cell.
pub fn print_table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        println!("{}", s.trim_end());
    };
    line(headers.iter().map(|h| h.to_uppercase()).collect());
    for r in rows {
        line(r);
    }
}

/// The standard artifact table.
pub fn print_artifacts(trove: &Trove, artifacts: &[Artifact]) {
    if artifacts.is_empty() {
        println!("(no artifacts)");
        return;
    }
    let rows = artifacts
        .iter()
        .map(|a| {
            vec![
                a.uid.to_string(),
                a.key.as_ref().map(|k| k.to_string()).or_else(|| a.description.clone()).unwrap_or_default(),
                a.uid.version_suffix().to_owned() + if a.is_latest { "*" } else { "" },
                a.branch.name(),
                if a.is_folder() {
                    format!("{} ({} files)", human_size(a.size), a.n_files.unwrap_or(0))
                } else {
                    human_size(a.size)
                },
                a.hash.clone(),
                trove.path(a).unwrap_or_default(),
            ]
        })
        .collect();
    print_table(&["uid", "key / description", "version", "branch", "size", "hash", "path"], rows);
}

/// The detail view of one artifact.
pub fn print_artifact_detail(trove: &Trove, a: &Artifact) {
    for (k, v) in artifact_json(trove, a) {
        let shown = match v {
            Value::Null => "-".to_owned(),
            Value::String(s) => s,
            other => other.to_string(),
        };
        println!("{k:<14} {shown}");
    }
}
