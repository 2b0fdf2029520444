//! `trove init` and `trove instance`: create an instance and show the current one.

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use trove::{DeleteInstanceOptions, InitOptions, Result, StoragePolicy, Trove};

use crate::config;

#[derive(Args, Debug)]
pub struct InitArgs {
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

/// `trove init`: create the instance and make it the current one.
pub async fn init(args: InitArgs, json: bool) -> Result<()> {
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
