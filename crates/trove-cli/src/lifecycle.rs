//! `trove delete`, `restore`, `archive` and `empty-trash`: moving artifacts between branches,
//! and deleting them permanently once confirmed.

use clap::Args;
use serde_json::{Value, json};
use trove::{Artifact, BranchSelection, EmptyTrashOptions, Error, ErrorKind, Result, StoragePolicy, Trove, Uid};

use crate::input::{confirm, confirm_permanent, parse_duration};
use crate::output::{artifact_json, print_artifacts, print_json};

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Uids, stems or keys.
    #[arg(required = true)]
    artifacts: Vec<String>,
    /// Delete permanently (record and, per --storage, bytes), from any branch.
    #[arg(long)]
    permanent: bool,
    /// What to do with the bytes on permanent deletion: auto (delete managed bytes, keep
    /// bytes at a real key), keep, delete.
    #[arg(long, default_value = "auto")]
    storage: String,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
}

#[derive(Args, Debug)]
pub struct TargetArgs {
    /// Uids, stems or keys.
    #[arg(required = true)]
    artifacts: Vec<String>,
}

#[derive(Args, Debug)]
pub struct EmptyTrashArgs {
    /// Only those trashed more than this long ago: e.g. 30d, 12h, 90m (default: all).
    #[arg(long)]
    older_than: Option<String>,
    /// Only list what would be deleted.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
}

/// Resolve uids, stems or keys; keys are looked up on every branch (main first), since these
/// commands act on archived and trashed records too.
async fn resolve_all(trove: &Trove, locators: &[String]) -> Result<Vec<Artifact>> {
    let mut out = Vec::with_capacity(locators.len());
    for l in locators {
        out.push(trove.get_in(l, BranchSelection::All).await?);
    }
    Ok(out)
}

fn uids(artifacts: &[Artifact]) -> Vec<Uid> {
    artifacts.iter().map(|a| a.uid.clone()).collect()
}

/// `trove delete`.
pub async fn delete(trove: &Trove, args: DeleteArgs, json: bool) -> Result<()> {
    let policy = StoragePolicy::parse(&args.storage)?;
    let targets = resolve_all(trove, &args.artifacts).await?;
    let (to_trash, to_purge) = if args.permanent {
        (Vec::new(), targets)
    } else {
        let plan = trove.plan_delete(&uids(&targets)).await?;
        (plan.to_trash, plan.already_in_trash)
    };
    let mut printed = Vec::new();
    if !to_trash.is_empty() {
        for m in trove.trash(&uids(&to_trash)).await? {
            if !json {
                println!("moved {} to the trash (restore with `trove restore {}`)", m.artifact.label(), m.artifact.uid);
            }
            printed.push(artifact_json(trove, &m.artifact));
        }
    }
    if !to_purge.is_empty() {
        let names: Vec<String> = to_purge.iter().map(|a| a.label()).collect();
        confirm_permanent(&names, args.permanent, args.yes)?;
        let report = if args.permanent {
            trove.delete_permanently(&uids(&to_purge), policy).await?
        } else {
            // They were in the trash when asked about: one restored since is left alone.
            let (report, skipped) = trove.delete_permanently_from_trash(&uids(&to_purge), policy).await?;
            for u in skipped {
                eprintln!("left {u} alone: it left the trash after you were asked");
            }
            report
        };
        for p in &report.purged {
            if !json {
                println!("deleted {} permanently", p.artifact.label());
                for r in &p.removed_paths {
                    println!("  removed {r}");
                }
                for m in &p.missing_paths {
                    println!("  already missing from storage: {m}");
                }
                for k in &p.kept_paths {
                    println!("  kept {} ({})", k.path, keep_reason(k.reason));
                }
                for u in &p.shared_store_family {
                    println!("  also deleted {u}: an older version sharing its store");
                }
            }
            let mut m = artifact_json(trove, &p.artifact);
            m.insert("branch".into(), Value::String("deleted".into()));
            m.insert("removed_paths".into(), json!(p.removed_paths));
            m.insert("shared_store_family".into(), json!(p.shared_store_family));
            m.insert("kept_paths".into(), json!(p.kept_paths.iter().map(|k| &k.path).collect::<Vec<_>>()));
            m.insert("missing_paths".into(), json!(p.missing_paths));
            printed.push(m);
        }
    }
    if json {
        print_json(printed);
    }
    Ok(())
}

/// `trove restore`.
pub async fn restore(trove: &Trove, args: TargetArgs, json: bool) -> Result<()> {
    let targets = resolve_all(trove, &args.artifacts).await?;
    let moved = trove.restore(&uids(&targets)).await?;
    report_moves(trove, &moved, json, "restored");
    Ok(())
}

/// `trove archive`.
pub async fn archive(trove: &Trove, args: TargetArgs, json: bool) -> Result<()> {
    let targets = resolve_all(trove, &args.artifacts).await?;
    let moved = trove.archive(&uids(&targets)).await?;
    report_moves(trove, &moved, json, "archived");
    Ok(())
}

/// `trove empty-trash`: list what is old enough, ask, and delete exactly that list.
pub async fn empty_trash(trove: &Trove, args: EmptyTrashArgs, json: bool) -> Result<()> {
    let opts = EmptyTrashOptions { older_than: args.older_than.as_deref().map(parse_duration).transpose()? };
    let plan = trove.plan_empty_trash(&opts).await?;
    if args.dry_run || plan.is_empty() {
        if json {
            print_json(plan.items.iter().map(|a| artifact_json(trove, a)).collect());
        } else if plan.is_empty() {
            println!("the trash holds nothing older than the cut-off");
        } else {
            println!("would delete permanently:");
            print_artifacts(trove, &plan.items);
        }
        return Ok(());
    }
    if !args.yes && !confirm(&format!("delete {} trashed artifact(s) permanently?", plan.items.len()))? {
        return Err(Error::new(ErrorKind::InvalidInput, "cancelled: nothing was deleted"));
    }
    let done = trove.apply_empty_trash(&plan).await?;
    if json {
        print_json(done.purge.purged.iter().map(|p| artifact_json(trove, &p.artifact)).collect());
    } else {
        println!("deleted {} artifact(s) permanently", done.purge.purged.len());
        for k in done.purge.kept_paths() {
            println!("  kept {} ({})", k.path, keep_reason(k.reason));
        }
        for u in &done.skipped {
            println!("  left {u} alone: it left the trash after the list was made");
        }
    }
    Ok(())
}

fn keep_reason(r: trove::KeepReason) -> &'static str {
    match r {
        trove::KeepReason::PolicyKeep => "--storage keep",
        trove::KeepReason::UserVisiblePath => "it is at a real key; pass --storage delete to remove it",
        trove::KeepReason::NotManaged => "this instance does not manage that storage",
    }
}

fn report_moves(trove: &Trove, moved: &[trove::Moved], json: bool, verb: &str) {
    if json {
        print_json(moved.iter().map(|m| artifact_json(trove, &m.artifact)).collect());
        return;
    }
    for m in moved {
        match m.transition {
            trove::Transition::NoOp { reason } => println!("{}: unchanged ({reason})", m.artifact.label()),
            _ => println!("{verb} {} (now on {})", m.artifact.label(), m.artifact.branch),
        }
    }
}
