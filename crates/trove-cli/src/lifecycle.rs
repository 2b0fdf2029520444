//! `trove delete`, `restore`, `archive` and `empty-trash`: moving artifacts between branches,
//! and deleting them permanently once confirmed.

use clap::Args;
use serde_json::{Value, json};
use trove::{
    Artifact, ArtifactQuery, BranchSelection, EmptyTrashOptions, Error, ErrorKind, Result, StoragePolicy, Trove, Uid,
};

use crate::input::{confirm, confirm_permanent, parse_duration};
use crate::output::{artifact_json, print_artifacts, print_json};

/// A selection by query instead of by name: everything matching, resolved in one query.
#[derive(Args, Debug, Default)]
pub struct Selection {
    /// Every artifact whose key starts with this prefix (every version).
    #[arg(long)]
    key_prefix: Option<String>,
    /// Every artifact carrying this label (repeat for several: all must match).
    #[arg(long)]
    label: Vec<String>,
    /// The branch to select on: main, archive, trash, all (default: main; trash for restore).
    #[arg(long)]
    branch: Option<String>,
}

impl Selection {
    fn is_empty(&self) -> bool {
        self.key_prefix.is_none() && self.label.is_empty() && self.branch.is_none()
    }

    /// The query, on `default_branch` unless --branch says otherwise.
    fn query(&self, default_branch: &str) -> Result<ArtifactQuery> {
        Ok(ArtifactQuery {
            branch: BranchSelection::parse(self.branch.as_deref().unwrap_or(default_branch))?,
            key_prefix: self.key_prefix.clone(),
            labels: (!self.label.is_empty()).then(|| self.label.clone()),
            ..ArtifactQuery::default()
        })
    }
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Uids, stems or keys (or select by --key-prefix, --label, --branch).
    artifacts: Vec<String>,
    #[command(flatten)]
    select: Selection,
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
    /// Uids, stems or keys (or select by --key-prefix, --label, --branch).
    artifacts: Vec<String>,
    #[command(flatten)]
    select: Selection,
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

/// Resolve uids, stems or keys (set-based: one query for all uids, one for all keys); keys are
/// looked up on every branch (main first), since these commands act on archived and trashed
/// records too. Or, with a selection, everything it matches (one query). Names and a
/// selection together are refused, as is neither.
async fn resolve_all(
    trove: &Trove,
    locators: &[String],
    select: &Selection,
    default_branch: &str,
) -> Result<Vec<Artifact>> {
    match (locators.is_empty(), select.is_empty()) {
        (false, true) => trove.get_many_in(locators, BranchSelection::All).await,
        (true, false) => trove.matching(&select.query(default_branch)?).await,
        (false, false) => Err(Error::invalid_input(
            "give artifacts by name or select them with --key-prefix/--label/--branch, not both",
        )),
        (true, true) => Err(Error::invalid_input(
            "nothing selected: name artifacts (uids, stems or keys) or select them with --key-prefix, --label or \
             --branch",
        )),
    }
}

fn uids(artifacts: &[Artifact]) -> Vec<Uid> {
    artifacts.iter().map(|a| a.uid.clone()).collect()
}

/// `trove delete`.
pub async fn delete(trove: &Trove, args: DeleteArgs, json: bool) -> Result<()> {
    let policy = StoragePolicy::parse(&args.storage)?;
    let default_branch = if args.permanent { "all" } else { "main" };
    let targets = resolve_all(trove, &args.artifacts, &args.select, default_branch).await?;
    if targets.is_empty() {
        nothing_matched(json);
        return Ok(());
    }
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
    let targets = resolve_all(trove, &args.artifacts, &args.select, "trash").await?;
    if targets.is_empty() {
        nothing_matched(json);
        return Ok(());
    }
    let moved = trove.restore(&uids(&targets)).await?;
    report_moves(trove, &moved, json, "restored");
    Ok(())
}

/// `trove archive`.
pub async fn archive(trove: &Trove, args: TargetArgs, json: bool) -> Result<()> {
    let targets = resolve_all(trove, &args.artifacts, &args.select, "main").await?;
    if targets.is_empty() {
        nothing_matched(json);
        return Ok(());
    }
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

fn nothing_matched(json: bool) {
    if json {
        print_json(Vec::new());
    } else {
        println!("nothing matched the selection; nothing was changed");
    }
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
