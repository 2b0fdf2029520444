//! `trove`: manage data artifacts and their lifecycle from the shell.
//!
//! Tables for people, `--json` for scripts, a confirmation before anything is deleted for good
//! (`--yes` skips it), and a one-line error with a non-zero exit code on failure.
//!
//! This file holds the argument grammar's entry, the exit codes and the dispatch; each command
//! group talks in its own module, and every decision comes from the `trove` façade.

mod cache;
mod cat;
mod config;
mod curate;
mod demo;
mod input;
mod instance;
mod lifecycle;
mod logging;
mod maintenance;
mod output;
mod query;
mod save;
mod storage_cmd;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Parser, Subcommand};
use serde_json::json;
use trove::domain::secret::redact_urls_in;
use trove::{ErrorKind, Result, Trove};

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
    /// Show what Trove and its storage do on stderr: -v (info), -vv (debug), -vvv (trace).
    /// RUST_LOG, when set, chooses instead. Secrets are redacted.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// No progress bars.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create an instance (SQLite catalog in DIR/.trove/trove.db unless --db) and make it current.
    Init(instance::InitArgs),
    /// Save a file or folder as an artifact (or a new version of an existing key).
    Save(save::SaveArgs),
    /// List artifacts (main only unless --branch).
    Ls(query::LsArgs),
    /// Replace an artifact's content in place (same uid and version) with a local file or
    /// folder outside every storage location; a new suffix renames the key's suffix.
    Replace(save::ReplaceArgs),
    /// Show one artifact (by uid, 16-character stem, or key).
    Show(query::ShowArgs),
    /// List the versions of an artifact's family.
    Versions(query::VersionsArgs),
    /// Move artifacts to the trash; with --permanent, delete them for good.
    Delete(lifecycle::DeleteArgs),
    /// Restore artifacts from the trash (to where they came from) or the archive (to main).
    Restore(lifecycle::TargetArgs),
    /// Archive artifacts: kept, hidden from default listings.
    Archive(lifecycle::TargetArgs),
    /// Permanently delete trashed artifacts older than a cut-off.
    EmptyTrash(lifecycle::EmptyTrashArgs),
    /// Print the local path of an artifact's content (cloud artifacts are downloaded to the
    /// cache, or brought up to date; TROVE_CACHE_DIR sets the cache folder).
    Cache(cache::CacheArgs),
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
    Fsck(maintenance::FsckArgs),
    /// Find (and remove) bytes in the managed area that no record references, and temporary
    /// files interrupted writes left. Exit status: 0 nothing found, 10 found and removed, 11
    /// found and left (dry run, or declined).
    Gc(maintenance::GcArgs),
    /// Show the current instance, or delete it (`trove instance delete`).
    Instance {
        #[command(subcommand)]
        command: Option<instance::InstanceCommand>,
    },
    /// Print an artifact's bytes (or, with ARTIFACT/PATH, one file of a folder artifact) to
    /// stdout, read in place from storage without caching; `--list` lists a folder's files.
    Cat(cat::CatArgs),
    /// A guided tour of the artifact lifecycle in a fresh embedded instance (SQLite + local
    /// storage in a temporary folder).
    Demo {
        /// Where to create the demo instance (default: a temporary folder, removed afterwards).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
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
    let args: Vec<String> = std::env::args().collect();
    logging::init(cli.verbose, &args);
    PROGRESS.store(logging::show_progress(cli.quiet, std::io::stderr().is_terminal()), Ordering::Relaxed);
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
        ErrorKind::Conflict | ErrorKind::StaleRevises | ErrorKind::SourceChanged | ErrorKind::Locked => 5,
        ErrorKind::NotManaged | ErrorKind::Unsupported => 6,
        _ => 1,
    }
}

/// Whether transfers draw a progress bar (see [`logging`]).
static PROGRESS: AtomicBool = AtomicBool::new(false);

async fn open(cli_instance: Option<&str>) -> Result<Trove> {
    let location = config::resolve_instance(cli_instance)?;
    let trove = Trove::builder().location(&location).on_lease_wait(lease_wait_notice()).open().await?;
    if PROGRESS.load(Ordering::Relaxed) {
        return Ok(trove.with_progress(Arc::new(logging::Bars::default())));
    }
    Ok(trove)
}

/// What a write that finds another writer's lease (an instance in a bucket) says while it waits.
pub(crate) fn lease_wait_notice() -> trove::LeaseWaitHook {
    std::sync::Arc::new(|lease: &trove::LeaseInfo, wait: std::time::Duration| {
        eprintln!("waiting up to {} s for the write lease, {}", wait.as_secs(), lease.describe());
    })
}

/// Runs one command; `Ok` carries the exit status (0, or a finding status of `fsck`/`gc`).
async fn run(cli: Cli) -> Result<u8> {
    let json = cli.json;
    let inst = cli.instance.as_deref();
    match cli.command {
        Command::Init(args) => instance::init(args, json).await?,
        Command::Save(args) => save::save(&open(inst).await?, args, json).await?,
        Command::Ls(args) => query::ls(&open(inst).await?, args, json).await?,
        Command::Replace(args) => save::replace(&open(inst).await?, args, json).await?,
        Command::Show(args) => query::show(&open(inst).await?, args, json).await?,
        Command::Versions(args) => query::versions(&open(inst).await?, args, json).await?,
        Command::Delete(args) => lifecycle::delete(&open(inst).await?, args, json).await?,
        Command::Restore(args) => lifecycle::restore(&open(inst).await?, args, json).await?,
        Command::Archive(args) => lifecycle::archive(&open(inst).await?, args, json).await?,
        Command::EmptyTrash(args) => lifecycle::empty_trash(&open(inst).await?, args, json).await?,
        Command::Cache(args) => cache::run(&open(inst).await?, args, json).await?,
        Command::Fsck(args) => return maintenance::fsck(&open(inst).await?, args, json).await,
        Command::Gc(args) => return maintenance::gc(&open(inst).await?, args, json).await,
        Command::Cat(args) => cat::run(&open(inst).await?, args, json).await?,
        Command::Instance { command: None } => instance::show(&open(inst).await?, json),
        Command::Instance { command: Some(cmd) } => instance::run(open(inst).await?, cmd, json).await?,
        Command::Collection { command } => curate::run_collection(open(inst).await?, command, json).await?,
        Command::Label { command } => curate::run_label(open(inst).await?, command, json).await?,
        Command::Storage { command } => storage_cmd::run(open(inst).await?, command, json).await?,
        Command::Demo { dir } => demo::run(dir).await?,
    }
    Ok(0)
}
