//! `trove save` and `trove replace`: put content in, or swap an artifact's content in place.

use std::path::PathBuf;

use clap::Args;
use serde_json::{Value, json};
use trove::{ReplaceOutcome, Result, SaveOptions, Trove, Uid};

use crate::output::{artifact_json, print_artifacts, print_json};

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// The file or folder to save; an s3://, gs:// or local path inside a registered storage
    /// location is registered in place (not copied).
    path: PathBuf,
    /// The storage location to write to (root or uid; default: the instance's default).
    #[arg(long)]
    storage: Option<String>,
    /// The key: a relative path such as datasets/iris.csv.
    #[arg(long)]
    key: Option<String>,
    /// A description.
    #[arg(long)]
    description: Option<String>,
    /// A kind such as dataset or model.
    #[arg(long)]
    kind: Option<String>,
    /// Store the bytes at the key itself rather than in the managed area.
    #[arg(long)]
    real_key: bool,
    /// Save even if identical content already exists.
    #[arg(long)]
    allow_duplicate: bool,
    /// For folders: keep all versions in one shared store (a new version overwrites it; only
    /// the newest version is readable; deleting it permanently deletes the whole family).
    #[arg(long)]
    shared_store: bool,
    /// The uid of the version this one revises.
    #[arg(long)]
    revises: Option<String>,
    /// A label for this version.
    #[arg(long)]
    version_tag: Option<String>,
}

#[derive(Args, Debug)]
pub struct ReplaceArgs {
    /// Uid, stem, or key.
    artifact: String,
    /// The new content: a local file or folder.
    path: PathBuf,
}

/// `trove save`.
pub async fn save(trove: &Trove, args: SaveArgs, json: bool) -> Result<()> {
    let revises = args.revises.as_deref().map(Uid::parse).transpose()?;
    let opts = SaveOptions {
        key: args.key,
        description: args.description,
        kind: args.kind,
        real_key: args.real_key.then_some(true),
        allow_duplicate: args.allow_duplicate,
        revises,
        version_tag: args.version_tag,
        shared_store: args.shared_store,
        storage: args.storage,
        ..SaveOptions::default()
    };
    // Progress (a bar for large files) comes from the handle's observer: see `logging`.
    let outcome = trove.save_from(&args.path, opts).await?;
    if json {
        let mut m = artifact_json(trove, outcome.artifact());
        m.insert("outcome".into(), Value::String(outcome.name().into()));
        print_json(vec![m]);
    } else {
        println!("{}", outcome.describe());
        print_artifacts(trove, std::slice::from_ref(outcome.artifact()));
    }
    Ok(())
}

/// `trove replace`: the content of an artifact (uid, stem or key) becomes a local file or folder.
pub async fn replace(trove: &Trove, args: ReplaceArgs, json: bool) -> Result<()> {
    let out = trove.replace(&args.artifact, args.path.as_path()).await?;
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
