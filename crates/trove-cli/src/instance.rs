//! `trove init` and `trove instance`: create an instance and show the current one.

use clap::Args;
use serde_json::{Value, json};
use trove::{InitOptions, Result, Trove};

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
