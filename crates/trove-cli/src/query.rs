//! `trove ls`, `trove show` and `trove versions`: reading the catalog.

use clap::Args;
use trove::{ArtifactQuery, BranchSelection, Cursor, Order, Result, Trove};

use crate::output::{artifact_json, print_artifact_detail, print_artifacts, print_json};

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Branch: main (default), archive, trash, all.
    #[arg(long, default_value = "main")]
    branch: String,
    /// Only keys starting with this prefix.
    #[arg(long)]
    key_prefix: Option<String>,
    /// Show every version, not only the latest of each family.
    #[arg(long)]
    all_versions: bool,
    /// At most this many.
    #[arg(long)]
    limit: Option<u64>,
    /// Only artifacts carrying this label (repeat for several: all must match).
    #[arg(long)]
    label: Vec<String>,
    /// The next page: the cursor the previous page printed (keyset paging).
    #[arg(long)]
    after: Option<String>,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Uid, stem, or key.
    artifact: String,
}

#[derive(Args, Debug)]
pub struct VersionsArgs {
    /// Uid, stem, or key.
    artifact: String,
    /// Branch: main (default), archive, trash, all.
    #[arg(long, default_value = "main")]
    branch: String,
}

/// `trove ls`.
pub async fn ls(trove: &Trove, args: LsArgs, json: bool) -> Result<()> {
    let query = ArtifactQuery {
        branch: BranchSelection::parse(&args.branch)?,
        key_prefix: args.key_prefix,
        latest_only: !args.all_versions,
        order: Order::Key,
        limit: args.limit,
        labels: (!args.label.is_empty()).then_some(args.label),
        after: args.after.as_deref().map(Cursor::parse).transpose()?,
        ..Default::default()
    };
    let found = trove.list(&query).await?;
    // A full page may have a next one: say how to get it (on stderr, so JSON stays a list).
    if let (Some(limit), Some(last)) = (args.limit, found.last())
        && found.len() as u64 == limit
    {
        eprintln!("next page: --after {}", Cursor::after(last).encode());
    }
    if json {
        print_json(found.iter().map(|a| artifact_json(trove, a)).collect());
    } else {
        print_artifacts(trove, &found);
    }
    Ok(())
}

/// `trove show`.
pub async fn show(trove: &Trove, args: ShowArgs, json: bool) -> Result<()> {
    let a = trove.get(&args.artifact).await?;
    if json {
        print_json(vec![artifact_json(trove, &a)]);
    } else {
        print_artifact_detail(trove, &a);
    }
    Ok(())
}

/// `trove versions`.
pub async fn versions(trove: &Trove, args: VersionsArgs, json: bool) -> Result<()> {
    let found = trove.versions(&args.artifact, BranchSelection::parse(&args.branch)?).await?;
    if json {
        print_json(found.iter().map(|a| artifact_json(trove, a)).collect());
    } else {
        print_artifacts(trove, &found);
    }
    Ok(())
}
