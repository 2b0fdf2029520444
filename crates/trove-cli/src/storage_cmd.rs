//! `trove storage`: register, list and choose storage locations.

use clap::Subcommand;
use serde_json::{Value, json};
use trove::domain::StorageLocation;
use trove::{Result, Trove};

/// The `trove storage` subcommands.
#[derive(Subcommand, Debug)]
pub enum StorageCommand {
    /// Register another storage root: a local folder, s3://bucket/prefix or gs://bucket/prefix.
    /// A root managed by another instance is registered read-only.
    Add {
        /// The root.
        root: String,
        /// Also make it the default location for saves.
        #[arg(long)]
        default: bool,
    },
    /// List the storage locations.
    Ls,
    /// Make a registered location the default for saves.
    SetDefault {
        /// Its root (as `trove storage ls` shows it) or uid.
        root: String,
    },
    /// Unregister a storage location that holds no artifact (on any branch, the trash
    /// included) and is not the default; its marker goes too. No bytes are touched.
    Remove {
        /// Its root (as `trove storage ls` shows it) or uid.
        root: String,
    },
}

fn location_json(trove: &Trove, s: &StorageLocation) -> Value {
    json!({
        "uid": s.uid,
        "root": s.root,
        "region": s.region,
        "default": s.id == trove.default_storage().id,
        "managed": trove.manages(s),
        "managed_by": s.instance_uid,
        "settings": s.settings,
        "created_at": s.created_at.to_rfc3339(),
    })
}

fn print_table(trove: &Trove, locations: &[StorageLocation]) {
    let width = locations.iter().map(|s| s.root.len()).max().unwrap_or(4).max(4);
    println!("{:<12}  {:<width$}  {:<7}  ACCESS", "UID", "ROOT", "DEFAULT");
    for s in locations {
        let access = if trove.manages(s) {
            "read-write".to_owned()
        } else {
            format!("read-only (managed by instance {})", s.instance_uid)
        };
        let default = if s.id == trove.default_storage().id { "yes" } else { "" };
        println!("{:<12}  {:<width$}  {:<7}  {access}", s.uid, s.root, default);
    }
}

/// Run one `trove storage` subcommand.
pub async fn run(mut trove: Trove, cmd: StorageCommand, json: bool) -> Result<()> {
    let shown = match cmd {
        StorageCommand::Add { root, default } => {
            let loc = trove.add_storage(&root).await?;
            if default {
                trove.set_default_storage(&loc.uid).await?;
            }
            if !json {
                let how = if trove.manages(&loc) {
                    "managed by this instance".to_owned()
                } else {
                    format!("read-only: managed by instance {}", loc.instance_uid)
                };
                println!("registered {} ({how})", loc.root);
            }
            vec![loc]
        }
        StorageCommand::Ls => trove.storages(),
        StorageCommand::Remove { root } => {
            let loc = trove.remove_storage(&root).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&vec![location_json(&trove, &loc)]).expect("json"));
            } else {
                println!("removed storage location {} (its files were not touched)", loc.root);
            }
            return Ok(());
        }
        StorageCommand::SetDefault { root } => {
            let loc = trove.set_default_storage(&root).await?;
            if !json {
                println!("default storage location: {}", loc.root);
            }
            vec![loc]
        }
    };
    if json {
        let v: Vec<Value> = shown.iter().map(|s| location_json(&trove, s)).collect();
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        print_table(&trove, &shown);
    }
    Ok(())
}
