//! `trove init` and `trove instance`: create an instance and show the current one.

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use trove::{DeleteInstanceOptions, InitOptions, Result, StoragePolicy, Trove};

use crate::config;

#[derive(Args, Debug)]
pub struct InitArgs {
    /// The default storage root: a local folder (created if missing), s3://bucket/prefix or
    /// gs://bucket/prefix (configured from AWS_* / GOOGLE_APPLICATION_CREDENTIALS /
    /// STORAGE_EMULATOR_HOST).
    #[arg(long)]
    storage: String,
    /// Catalog URL (postgresql://..., sqlite:///path.db); default: SQLite inside the storage
    /// root (for s3:// and gs:// roots, in the bucket, shared by every machine through a lease).
    #[arg(long)]
    db: Option<String>,
    /// For a catalog in a bucket whose server ignores conditional writes: accept that only one
    /// machine ever writes to the instance (others read). Refused otherwise.
    #[arg(long)]
    single_writer: bool,
    /// A name for the instance.
    #[arg(long)]
    name: Option<String>,
    /// Store new artifacts at their keys (real keys) instead of the managed area.
    #[arg(long)]
    real_keys: bool,
}

/// `trove init`: create the instance and make it the current one.
pub async fn init(args: InitArgs, json: bool) -> Result<()> {
    let opts = InitOptions {
        storage: args.storage,
        db: args.db.clone(),
        name: args.name,
        keys_virtual: !args.real_keys,
        user: None,
        single_writer: args.single_writer,
    };
    let trove = Trove::builder().on_lease_wait(crate::lease_wait_notice()).init(opts).await?;
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
    Ok(())
}

/// `trove instance`: the instance, its catalog and its storage locations.
pub fn show(trove: &Trove, json: bool) {
    let i = trove.instance();
    let storages: Vec<Value> =
        trove.storages().iter().map(|s| json!({"uid": s.uid, "root": s.root, "managed": trove.manages(s)})).collect();
    let v = json!({"uid": i.uid, "name": i.name, "location": trove.location(), "catalog": trove.catalog_backend(), "keys_virtual": i.keys_virtual, "storages": storages});
    if json {
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        println!("instance  {} ({})", i.name, i.uid);
        println!("location  {}", trove.location());
        println!("catalog   {}", trove.catalog_backend());
        for s in trove.storages() {
            println!("storage   {}{}", s.root, if s.id == trove.default_storage().id { " (default)" } else { "" });
        }
    }
}

/// The `trove instance` subcommands.
#[derive(Subcommand, Debug)]
pub enum InstanceCommand {
    /// Delete the instance: its catalog (the embedded SQLite file, or every Trove table of a
    /// PostgreSQL catalog) and the markers of its storage locations. Refused while artifacts
    /// remain unless --force; their bytes are then kept (and listed) unless --storage delete.
    /// Break the write lease of an instance in a bucket, after saying whose it is (a crashed
    /// writer's lease also lapses by itself at its expiry).
    Unlock {
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    Delete {
        /// Delete although artifacts remain (on any branch, the trash included).
        #[arg(long)]
        force: bool,
        /// What happens to the remaining artifacts' bytes: keep (default), auto, delete.
        #[arg(long, default_value = "keep")]
        storage: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// Run one `trove instance` subcommand.
pub async fn run(trove: Trove, cmd: InstanceCommand, json: bool) -> Result<()> {
    match cmd {
        InstanceCommand::Unlock { yes } => unlock(&trove, yes, json).await?,
        InstanceCommand::Delete { force, storage, yes } => {
            let opts = DeleteInstanceOptions { force, storage: StoragePolicy::parse(&storage)? };
            let question =
                format!("delete instance '{}' ({}) and its catalog for good?", trove.instance().name, trove.location());
            if !yes && !crate::input::confirm(&question)? {
                return Err(trove::Error::new(trove::ErrorKind::InvalidInput, "cancelled: nothing was deleted"));
            }
            let location = trove.location().to_owned();
            let deleted = trove.delete_instance(&opts).await?;
            // The config no longer names a current instance that is gone.
            let mut cfg = config::load()?;
            if cfg.current.as_deref().is_some_and(|c| trove::domain::secret::redact_url(c) == location) {
                cfg.current = None;
                config::save(&cfg)?;
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&deleted).expect("json"));
            } else {
                println!("deleted instance {}", deleted.instance_uid);
                for p in deleted.removed_paths() {
                    println!("  removed {p}");
                }
                for k in deleted.kept_paths() {
                    println!("  kept {}", k.path);
                }
                for f in &deleted.removed_files {
                    println!("  removed {f}");
                }
            }
        }
    }
    Ok(())
}

/// `trove instance unlock`: say whose the lease is, confirm, break it.
async fn unlock(trove: &Trove, yes: bool, json: bool) -> Result<()> {
    let Some(lease) = trove.lease().await? else {
        if json {
            println!("{}", json!({"lease": null, "broken": false}));
        } else {
            println!("instance '{}' has no lease: nobody is writing", trove.instance().name);
        }
        return Ok(());
    };
    let now = chrono::Utc::now();
    let state = if lease.expired_at(now) { "lapsed" } else { "live" };
    let question = format!(
        "the {state} lease of instance '{}' is {}; break it? (a writer still running would then fail to upload)",
        trove.instance().name,
        lease.describe()
    );
    if !yes && !crate::input::confirm(&question)? {
        return Err(trove::Error::new(trove::ErrorKind::InvalidInput, "cancelled: the lease was kept"));
    }
    let broken = trove.break_lease(&lease).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&json!({"lease": lease, "broken": broken})).expect("json"));
    } else if broken {
        println!("broke the lease {}", lease.describe());
    } else {
        println!("the lease changed meanwhile (released or taken by another writer): nothing was broken");
    }
    Ok(())
}
