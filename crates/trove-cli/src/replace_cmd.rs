//! `trove replace UID PATH`: swap an artifact's content in place.

use std::path::Path;

use serde_json::{Value, json};
use trove::{ReplaceOutcome, Result, Trove};

use crate::output::{artifact_json, print_json};

/// Replace the content of `artifact` (uid, stem or key) with the local file or folder `path`.
pub async fn run(trove: &Trove, artifact: &str, path: &Path, json: bool) -> Result<()> {
    let out = trove.replace(artifact, path).await?;
    if json {
        let mut m = artifact_json(trove, out.artifact());
        m.insert("outcome".into(), Value::String(out.name().into()));
        if let ReplaceOutcome::Replaced { renamed, moved, removed_paths, left_behind, .. } = &out {
            m.insert("renamed".into(), json!(renamed));
            m.insert("moved".into(), json!(moved));
            m.insert("removed_paths".into(), json!(removed_paths));
            m.insert("left_behind".into(), json!(left_behind));
        }
        print_json(vec![m]);
        return Ok(());
    }
    println!("{}", out.describe());
    if let ReplaceOutcome::Replaced { artifact, moved, left_behind, .. } = &out {
        if let Some(mv) = moved {
            println!("  moved {} -> {}", mv.from, mv.to);
        }
        for p in left_behind {
            println!("  could not remove {p}: delete it by hand (or `trove gc` for paths in .trove/)");
        }
        let files = artifact.n_files.map(|n| format!(", {n} files")).unwrap_or_default();
        println!("  {} bytes{files}, hash {} ({})", artifact.size, artifact.hash, artifact.hash_type);
    }
    Ok(())
}
