//! `trove cat`: stream an artifact's bytes (or one file of a folder artifact) to stdout, read
//! in place from storage, never through the cache.

use std::io::Write;

use clap::Args;
use serde_json::json;
use trove::{Artifact, Error, ErrorKind, Result, Trove};

#[derive(Args, Debug)]
pub struct CatArgs {
    /// Uid, stem or key of a file artifact; for a folder artifact, ARTIFACT/PATH names one of
    /// its files.
    target: String,
    /// List a folder artifact's files (path and size) instead of printing one.
    #[arg(long)]
    list: bool,
}

/// The artifact and the path inside it that `target` names: the whole string if it names an
/// artifact, else the longest prefix (at a `/`) naming a folder artifact, and the rest.
async fn resolve(trove: &Trove, target: &str) -> Result<(Artifact, Option<String>)> {
    let whole = match trove.get(target).await {
        Ok(a) => return Ok((a, None)),
        Err(e) if e.kind() == ErrorKind::NotFound => e,
        Err(e) => return Err(e),
    };
    for (i, _) in target.rmatch_indices('/') {
        if let Ok(a) = trove.get(&target[..i]).await
            && a.is_folder()
        {
            return Ok((a, Some(target[i + 1..].to_owned())));
        }
    }
    Err(whole)
}

/// `trove cat`.
pub async fn run(trove: &Trove, args: CatArgs, json: bool) -> Result<()> {
    let (artifact, path) = resolve(trove, &args.target).await?;
    if args.list {
        let view = trove.open_folder(&artifact).await?;
        if json {
            let files: Vec<_> = view.files().iter().map(|f| json!({"path": f.path, "size": f.size})).collect();
            println!("{}", serde_json::to_string_pretty(&files).expect("json"));
        } else {
            for f in view.files() {
                println!("{:>12}  {}", f.size, f.path);
            }
        }
        return Ok(());
    }
    let mut reader = trove.open_path(&artifact, path.as_deref()).await?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    while let Some(chunk) = reader.chunk().await? {
        match out.write_all(&chunk) {
            Ok(()) => {}
            // The reader went away (`trove cat x | head`): not an error of Trove's.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(Error::io("cannot write to standard output", e)),
        }
    }
    out.flush().map_err(|e| Error::io("cannot write to standard output", e))
}
