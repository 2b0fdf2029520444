//! `trove save` and `trove replace`: put content in, or swap an artifact's content in place.

use std::path::PathBuf;

use clap::Args;
use serde_json::{Value, json};
use trove::{Error, ReplaceOutcome, Result, SaveItem, SaveOptions, SaveOutcome, Trove, Uid};

use crate::output::{artifact_json, print_artifacts, print_json};

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// The file or folder to save; an s3://, gs:// or local path inside a registered storage
    /// location is registered in place (not copied). Several paths: each its own artifact,
    /// keyed by --key-prefix and its file name.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Save each regular file below the folder as its own artifact, keyed by --key-prefix and
    /// its path relative to the folder (links and special files are refused).
    #[arg(long)]
    each: bool,
    /// With several paths or --each: the keys' common prefix (a folder such as raw/).
    #[arg(long, conflicts_with = "key")]
    key_prefix: Option<String>,
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
    let bulk = args.each || args.paths.len() > 1;
    if bulk && args.key.is_some() {
        return Err(Error::invalid_input(
            "--key names one artifact: with several paths or --each, give --key-prefix (each key is the prefix and \
             the file's name or relative path)",
        ));
    }
    if bulk && (revises.is_some() || args.version_tag.is_some()) {
        return Err(Error::invalid_input(
            "--revises and --version-tag name one version: save several paths or --each without them",
        ));
    }
    if !bulk && args.key_prefix.is_some() {
        return Err(Error::invalid_input("--key-prefix is for several paths or --each: give one path a --key"));
    }
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
    if args.each {
        let [dir] = &args.paths[..] else {
            return Err(Error::invalid_input("--each saves the files of one folder: give exactly one path"));
        };
        let results = trove.save_each(dir, args.key_prefix.as_deref(), opts).await?;
        return report_many(trove, results, json);
    }
    if bulk {
        return save_several(trove, &args.paths, args.key_prefix.as_deref(), opts, json).await;
    }
    let path = &args.paths[0];
    // Progress (a bar for large files) comes from the handle's observer: see `logging`.
    let outcome = trove.save_from(path, opts).await?;
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

/// Several paths, each its own artifact keyed by the prefix and its file name, in one bulk save.
async fn save_several(
    trove: &Trove,
    paths: &[PathBuf],
    key_prefix: Option<&str>,
    opts: SaveOptions,
    json: bool,
) -> Result<()> {
    let prefix = match key_prefix.filter(|p| !p.is_empty()) {
        Some(p) if p.ends_with('/') => p.to_owned(),
        Some(p) => format!("{p}/"),
        None => String::new(),
    };
    let mut keys = std::collections::HashSet::new();
    let mut items = Vec::with_capacity(paths.len());
    for p in paths {
        let name = p.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
            Error::invalid_input(format!("{} has no file name to key it by: give a file or folder path", p.display()))
        })?;
        let key = format!("{prefix}{name}");
        if !keys.insert(key.clone()) {
            return Err(Error::invalid_input(format!(
                "two paths would both be saved as '{key}': save them in separate calls (the second becomes a new \
                 version) or rename one; nothing was saved"
            )));
        }
        items.push(SaveItem::new(p.clone(), SaveOptions { key: Some(key), ..opts.clone() }));
    }
    let results = trove.save_many(items).await;
    let labelled = paths.iter().map(|p| p.display().to_string()).zip(results).collect();
    report_many(trove, labelled, json)
}

/// One line (or JSON object) per item; an error at the end if any item failed.
fn report_many(trove: &Trove, results: Vec<(String, Result<SaveOutcome>)>, json: bool) -> Result<()> {
    let mut printed = Vec::with_capacity(results.len());
    let mut failed = 0usize;
    let mut first_kind = None;
    for (what, r) in &results {
        match r {
            Ok(outcome) => {
                if json {
                    let mut m = artifact_json(trove, outcome.artifact());
                    m.insert("outcome".into(), Value::String(outcome.name().into()));
                    m.insert("path".into(), Value::String(what.clone()));
                    printed.push(m);
                } else {
                    println!("{what}: {}", outcome.describe());
                }
            }
            Err(e) => {
                failed += 1;
                first_kind.get_or_insert(e.kind());
                if json {
                    let mut m = serde_json::Map::new();
                    m.insert("path".into(), Value::String(what.clone()));
                    m.insert("outcome".into(), Value::String("error".into()));
                    m.insert("error".into(), Value::String(e.to_string()));
                    printed.push(m);
                } else {
                    eprintln!("{what}: error: {e}");
                }
            }
        }
    }
    if json {
        print_json(printed);
    } else {
        println!("{} saved, {failed} failed", results.len() - failed);
    }
    if let Some(kind) = first_kind {
        return Err(Error::new(
            kind,
            format!("{failed} of {} item(s) failed (listed above); the others were saved", results.len()),
        ));
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
