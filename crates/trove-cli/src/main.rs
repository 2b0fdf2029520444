//! `trove`: manage data artifacts and their lifecycle from the shell.
//!
//! Tables for people, `--json` for scripts, a confirmation before anything is deleted for good
//! (`--yes` skips it), and a one-line error with a non-zero exit code on failure.

mod config;
mod curate;
mod demo;
mod output;
mod replace_cmd;
mod storage_cmd;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};
use trove::domain::secret::redact_urls_in;
use trove::{
    Artifact, ArtifactQuery, BranchSelection, Error, ErrorKind, InitOptions, Order, Result, SaveOptions, StoragePolicy,
    Trove, Uid,
};

use crate::output::{artifact_json, print_artifact_detail, print_artifacts, print_json};

#[derive(Parser, Debug)]
#[command(name = "trove", version, about = "A data-artifact registry: files, folders and their lifecycle.")]
struct Cli {
    /// The instance to use: a storage root folder or a catalog URL (overrides TROVE_INSTANCE
    /// and the config file).
    #[arg(long, global = true)]
    instance: Option<String>,
    /// Print JSON for scripts instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create an instance (SQLite catalog in DIR/.trove/trove.db unless --db) and make it current.
    Init(InitArgs),
    /// Save a file or folder as an artifact (or a new version of an existing key).
    Save(SaveArgs),
    /// List artifacts (main only unless --branch).
    Ls(LsArgs),
    /// Replace an artifact's content in place (same uid and version) with a local file or
    /// folder outside every storage location; a new suffix renames the key's suffix.
    Replace {
        /// Uid, stem, or key.
        artifact: String,
        /// The new content: a local file or folder.
        path: PathBuf,
    },
    /// Show one artifact (by uid, 16-character stem, or key).
    Show {
        /// Uid, stem, or key.
        artifact: String,
    },
    /// List the versions of an artifact's family.
    Versions {
        /// Uid, stem, or key.
        artifact: String,
        /// Branch: main (default), archive, trash, all.
        #[arg(long, default_value = "main")]
        branch: String,
    },
    /// Move artifacts to the trash; with --permanent, delete them for good.
    Delete(DeleteArgs),
    /// Restore artifacts from the trash (to where they came from) or the archive (to main).
    Restore {
        /// Uids, stems or keys.
        #[arg(required = true)]
        artifacts: Vec<String>,
    },
    /// Archive artifacts: kept, hidden from default listings.
    Archive {
        /// Uids, stems or keys.
        #[arg(required = true)]
        artifacts: Vec<String>,
    },
    /// Permanently delete trashed artifacts older than a cut-off.
    EmptyTrash {
        /// Only those trashed more than this long ago: e.g. 30d, 12h, 90m (default: all).
        #[arg(long)]
        older_than: Option<String>,
        /// Only list what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Print the local path of an artifact's content (cloud artifacts are downloaded to the
    /// cache, or brought up to date; TROVE_CACHE_DIR sets the cache folder).
    Cache {
        /// Uid, stem, or key.
        artifact: String,
        /// Re-hash the local copy and compare it with the recorded hash.
        #[arg(long)]
        verify: bool,
    },
    /// Collections: ordered sets of artifacts with their own key, versions and lifecycle.
    Collection {
        #[command(subcommand)]
        command: curate::CollectionCommand,
    },
    /// Labels: named tags on artifacts and collections.
    Label {
        #[command(subcommand)]
        command: curate::LabelCommand,
    },
    /// Manage storage locations: add, ls, set-default.
    Storage {
        #[command(subcommand)]
        command: storage_cmd::StorageCommand,
    },
    /// Check that every record's bytes exist and match; finish or roll back interrupted work.
    /// Exit status: 0 nothing found, 10 problems found and all repaired, 11 problems remain.
    Fsck {
        /// Apply the repairs (default: report only).
        #[arg(long)]
        repair: bool,
        /// Re-hash content instead of comparing sizes.
        #[arg(long)]
        verify: bool,
    },
    /// Find (and remove) bytes in the managed area that no record references, and temporary
    /// files interrupted writes left. Exit status: 0 nothing found, 10 found and removed, 11
    /// found and left (dry run, or declined).
    Gc {
        /// Only list the orphans.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Leave objects younger than this alone (a save in progress): e.g. 1h, 10m. At least
        /// 5m unless --allow-short-grace.
        #[arg(long, default_value = "1h")]
        grace: String,
        /// Accept a grace period under 5 minutes: only when no other process is writing to the
        /// instance (a save in progress has written bytes but not yet its record).
        #[arg(long)]
        allow_short_grace: bool,
    },
    /// Show the current instance.
    Instance,
    /// A guided tour of the artifact lifecycle in a fresh embedded instance (SQLite + local
    /// storage in a temporary folder).
    Demo {
        /// Where to create the demo instance (default: a temporary folder, removed afterwards).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
struct InitArgs {
    /// The default storage root: a local folder (created if missing), s3://bucket/prefix or
    /// gs://bucket/prefix (configured from AWS_* / GOOGLE_APPLICATION_CREDENTIALS /
    /// STORAGE_EMULATOR_HOST; cloud roots need --db).
    #[arg(long)]
    storage: String,
    /// Catalog URL (postgresql://...); default: SQLite inside the storage root.
    #[arg(long)]
    db: Option<String>,
    /// A name for the instance.
    #[arg(long)]
    name: Option<String>,
    /// Store new artifacts at their keys (real keys) instead of the managed area.
    #[arg(long)]
    real_keys: bool,
}

#[derive(Args, Debug)]
struct SaveArgs {
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
struct LsArgs {
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
}

#[derive(Args, Debug)]
struct DeleteArgs {
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

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // clap quotes unexpected arguments back, and one may be a URL with a password.
        Err(e) if e.use_stderr() => {
            eprint!("{}", redact_urls_in(&e.render().to_string()));
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    let json = cli.json;
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            // Library messages are redacted already; this also covers text a driver quoted.
            let message = redact_urls_in(e.message());
            if json {
                eprintln!("{}", json!({"error": {"kind": e.kind().as_str(), "message": message}}));
            } else {
                eprintln!("error: {}", message.replace('\n', " "));
            }
            ExitCode::from(exit_code(e.kind()))
        }
    }
}

fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::InvalidInput | ErrorKind::InvalidKey | ErrorKind::UnsupportedSource => 2,
        ErrorKind::NotFound | ErrorKind::SourceNotFound => 3,
        ErrorKind::AlreadyInTrash | ErrorKind::InvalidTransition | ErrorKind::Protected | ErrorKind::PathOccupied => 4,
        ErrorKind::Conflict | ErrorKind::StaleRevises | ErrorKind::SourceChanged => 5,
        ErrorKind::NotManaged | ErrorKind::Unsupported => 6,
        _ => 1,
    }
}

async fn open(cli_instance: Option<&str>) -> Result<Trove> {
    let location = config::resolve_instance(cli_instance)?;
    Trove::open(&location).await
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

/// Ask a yes/no question on the terminal; without a terminal, refuse with a hint about --yes.
fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{question} — cannot ask without a terminal: pass --yes to confirm"),
        ));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| Error::io("cannot read the answer", e))?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// Parse `30d`, `12h`, `90m`, `45s`.
fn parse_duration(s: &str) -> Result<std::time::Duration> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| Error::invalid_input(format!("'{s}' is not a duration: use e.g. 30d, 12h, 90m, 45s")))?;
    let secs = match unit {
        "d" => n * 86_400,
        "h" => n * 3_600,
        "m" => n * 60,
        "s" | "" => n,
        _ => return Err(Error::invalid_input(format!("'{s}' is not a duration: use e.g. 30d, 12h, 90m, 45s"))),
    };
    Ok(std::time::Duration::from_secs(secs))
}

/// Exit status of `fsck` and `gc` when they found something (errors use 1-6).
const FOUND_AND_FIXED: u8 = 10;
/// Exit status of `fsck` and `gc` when what they found is still there.
const FOUND_NOT_FIXED: u8 = 11;

/// Runs one command; `Ok` carries the exit status (0, or a finding status of `fsck`/`gc`).
async fn run(cli: Cli) -> Result<u8> {
    let json = cli.json;
    let inst = cli.instance.as_deref();
    let mut status = 0;
    match cli.command {
        Command::Init(args) => {
            let opts = InitOptions {
                storage: args.storage,
                db: args.db.clone(),
                name: args.name,
                keys_virtual: !args.real_keys,
                user: None,
            };
            let trove = Trove::init(opts).await?;
            let mut cfg = config::load()?;
            // The handle shows a redacted location; the config keeps what reopens the instance.
            cfg.current = Some(args.db.unwrap_or_else(|| trove.location().to_owned()));
            config::save(&cfg)?;
            let i = trove.instance();
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "uid": i.uid, "name": i.name, "location": trove.location(),
                        "catalog": trove.catalog_backend(), "storage": trove.default_storage().root,
                        "keys_virtual": i.keys_virtual,
                    }))
                    .expect("json")
                );
            } else {
                println!("initialized instance '{}' ({}) at {}", i.name, i.uid, trove.default_storage().root);
                println!("catalog: {} · now the current instance", trove.catalog_backend());
            }
        }
        Command::Save(args) => {
            let trove = open(inst).await?;
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
            let spinner = (!json && std::io::stderr().is_terminal()).then(|| {
                let s = indicatif::ProgressBar::new_spinner();
                s.set_message(format!("saving {}", args.path.display()));
                s.enable_steady_tick(std::time::Duration::from_millis(100));
                s
            });
            let raw = args.path.to_string_lossy();
            let outcome = if raw.starts_with("s3://") || raw.starts_with("gs://") {
                trove.register(&raw, opts).await
            } else {
                trove.save(args.path.as_path(), opts).await
            };
            if let Some(s) = spinner {
                s.finish_and_clear();
            }
            let outcome = outcome?;
            if json {
                let mut m = artifact_json(&trove, outcome.artifact());
                m.insert("outcome".into(), Value::String(outcome.name().into()));
                print_json(vec![m]);
            } else {
                println!("{}", outcome.describe());
                print_artifacts(&trove, std::slice::from_ref(outcome.artifact()));
            }
        }
        Command::Ls(args) => {
            let trove = open(inst).await?;
            let query = ArtifactQuery {
                branch: BranchSelection::parse(&args.branch)?,
                key_prefix: args.key_prefix,
                latest_only: !args.all_versions,
                order: Order::Key,
                limit: args.limit,
                labels: (!args.label.is_empty()).then_some(args.label),
                ..Default::default()
            };
            let found = trove.list(&query).await?;
            if json {
                print_json(found.iter().map(|a| artifact_json(&trove, a)).collect());
            } else {
                print_artifacts(&trove, &found);
            }
        }
        Command::Replace { artifact, path } => {
            let trove = open(inst).await?;
            replace_cmd::run(&trove, &artifact, &path, json).await?;
        }
        Command::Show { artifact } => {
            let trove = open(inst).await?;
            let a = trove.get(&artifact).await?;
            if json {
                print_json(vec![artifact_json(&trove, &a)]);
            } else {
                print_artifact_detail(&trove, &a);
            }
        }
        Command::Versions { artifact, branch } => {
            let trove = open(inst).await?;
            let found = trove.versions(&artifact, BranchSelection::parse(&branch)?).await?;
            if json {
                print_json(found.iter().map(|a| artifact_json(&trove, a)).collect());
            } else {
                print_artifacts(&trove, &found);
            }
        }
        Command::Delete(args) => {
            let trove = open(inst).await?;
            let policy = StoragePolicy::parse(&args.storage)?;
            let targets = resolve_all(&trove, &args.artifacts).await?;
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
                        println!(
                            "moved {} to the trash (restore with `trove restore {}`)",
                            m.artifact.label(),
                            m.artifact.uid
                        );
                    }
                    printed.push(artifact_json(&trove, &m.artifact));
                }
            }
            if !to_purge.is_empty() {
                let names: Vec<String> = to_purge.iter().map(|a| a.label()).collect();
                let question = if args.permanent {
                    format!("delete {} permanently?", names.join(", "))
                } else {
                    format!("{} already in the trash; delete permanently?", names.join(", "))
                };
                if !args.yes && !confirm(&question)? {
                    return Err(Error::new(ErrorKind::InvalidInput, "cancelled: nothing was deleted permanently"));
                }
                let report = trove.delete_permanently(&uids(&to_purge), policy).await?;
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
                    let mut m = artifact_json(&trove, &p.artifact);
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
        }
        Command::Restore { artifacts } => {
            let trove = open(inst).await?;
            let targets = resolve_all(&trove, &artifacts).await?;
            let moved = trove.restore(&uids(&targets)).await?;
            report_moves(&trove, &moved, json, "restored");
        }
        Command::Archive { artifacts } => {
            let trove = open(inst).await?;
            let targets = resolve_all(&trove, &artifacts).await?;
            let moved = trove.archive(&uids(&targets)).await?;
            report_moves(&trove, &moved, json, "archived");
        }
        Command::EmptyTrash { older_than, dry_run, yes } => {
            let trove = open(inst).await?;
            let cutoff = older_than.as_deref().map(parse_duration).transpose()?;
            let doomed = trove.trash_older_than(cutoff).await?;
            if dry_run || doomed.is_empty() {
                if json {
                    print_json(doomed.iter().map(|a| artifact_json(&trove, a)).collect());
                } else if doomed.is_empty() {
                    println!("the trash holds nothing older than the cut-off");
                } else {
                    println!("would delete permanently:");
                    print_artifacts(&trove, &doomed);
                }
                return Ok(0);
            }
            if !yes && !confirm(&format!("delete {} trashed artifact(s) permanently?", doomed.len()))? {
                return Err(Error::new(ErrorKind::InvalidInput, "cancelled: nothing was deleted"));
            }
            let report = trove.delete_permanently(&uids(&doomed), StoragePolicy::Auto).await?;
            if json {
                print_json(report.purged.iter().map(|p| artifact_json(&trove, &p.artifact)).collect());
            } else {
                println!("deleted {} artifact(s) permanently", report.purged.len());
                for k in report.kept_paths() {
                    println!("  kept {} ({})", k.path, keep_reason(k.reason));
                }
            }
        }
        Command::Cache { artifact, verify } => {
            let trove = open(inst).await?;
            let a = trove.get(&artifact).await?;
            let path = if verify { trove.cache_verify(&a).await? } else { trove.cache(&a).await? };
            if json {
                let mut m = artifact_json(&trove, &a);
                m.insert("cache_path".into(), Value::String(path.display().to_string()));
                print_json(vec![m]);
            } else {
                println!("{}", path.display());
            }
        }
        Command::Fsck { repair, verify } => {
            let trove = open(inst).await?;
            let findings = trove.fsck(repair, verify).await?;
            let unsettled = findings.iter().filter(|f| !repair || f.action.starts_with("none")).count();
            status = match (findings.is_empty(), unsettled) {
                (true, _) => 0,
                (false, 0) => FOUND_AND_FIXED,
                (false, _) => FOUND_NOT_FIXED,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&findings).expect("json"));
            } else if findings.is_empty() {
                println!("ok: every record's bytes are present and match");
            } else {
                for f in &findings {
                    println!("{}: {} — {}", f.uid, f.problem, f.action);
                }
            }
        }
        Command::Gc { dry_run, yes, grace, allow_short_grace } => {
            let trove = open(inst).await?;
            let opts = trove::GcOptions { grace: parse_duration(&grace)?, allow_short_grace };
            let plan = trove.plan_gc(&opts).await?;
            let apply = !dry_run
                && !plan.is_empty()
                && (yes
                    || confirm(&format!(
                        "remove {} unreferenced object(s), {} bytes?",
                        plan.items.len(),
                        plan.bytes()
                    ))?);
            if !apply {
                status = if plan.is_empty() { 0 } else { FOUND_NOT_FIXED };
                if json {
                    println!("{}", serde_json::to_string_pretty(&json!({"plan": plan, "removed": []})).expect("json"));
                } else if plan.is_empty() {
                    println!("no unreferenced bytes");
                } else {
                    for i in &plan.items {
                        println!("would remove ({}): {} ({} bytes)", gc_kind(i.kind), i.path, i.size);
                    }
                }
            } else {
                let report = trove.apply_gc(&plan).await?;
                status = FOUND_AND_FIXED;
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(
                            &json!({"plan": plan, "removed": report.removed, "skipped": report.skipped})
                        )
                        .expect("json")
                    );
                } else {
                    for p in &report.removed {
                        println!("removed: {p}");
                    }
                    for p in &report.skipped {
                        println!("kept (a record references it now): {p}");
                    }
                }
            }
        }
        Command::Instance => {
            let trove = open(inst).await?;
            let i = trove.instance();
            let storages: Vec<Value> = trove
                .storages()
                .iter()
                .map(|s| json!({"uid": s.uid, "root": s.root, "managed": trove.manages(s)}))
                .collect();
            let v = json!({"uid": i.uid, "name": i.name, "location": trove.location(), "catalog": trove.catalog_backend(), "keys_virtual": i.keys_virtual, "storages": storages});
            if json {
                println!("{}", serde_json::to_string_pretty(&v).expect("json"));
            } else {
                println!("instance  {} ({})", i.name, i.uid);
                println!("location  {}", trove.location());
                println!("catalog   {}", trove.catalog_backend());
                for s in trove.storages() {
                    println!(
                        "storage   {}{}",
                        s.root,
                        if s.id == trove.default_storage().id { " (default)" } else { "" }
                    );
                }
            }
        }
        Command::Collection { command } => curate::run_collection(open(inst).await?, command, json).await?,
        Command::Label { command } => curate::run_label(open(inst).await?, command, json).await?,
        Command::Storage { command } => storage_cmd::run(open(inst).await?, command, json).await?,
        Command::Demo { dir } => demo::run(dir).await?,
    }
    Ok(status)
}

fn gc_kind(kind: trove::GcKind) -> &'static str {
    match kind {
        trove::GcKind::Orphan => "no record references it",
        trove::GcKind::Leftover => "left by an interrupted write",
        _ => "garbage",
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
