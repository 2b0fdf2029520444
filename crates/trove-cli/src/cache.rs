//! `trove cache`: the local path of an artifact's content.

use clap::Args;
use serde_json::Value;
use trove::{Result, Trove};

use crate::output::{artifact_json, print_json};

#[derive(Args, Debug)]
pub struct CacheArgs {
    /// Uid, stem, or key.
    artifact: String,
    /// Re-hash the local copy and compare it with the recorded hash.
    #[arg(long)]
    verify: bool,
}

/// `trove cache`.
pub async fn run(trove: &Trove, args: CacheArgs, json: bool) -> Result<()> {
    let a = trove.get(&args.artifact).await?;
    let path = if args.verify { trove.cache_verify(&a).await? } else { trove.cache(&a).await? };
    if json {
        let mut m = artifact_json(trove, &a);
        m.insert("cache_path".into(), Value::String(path.display().to_string()));
        print_json(vec![m]);
    } else {
        println!("{}", path.display());
    }
    Ok(())
}
