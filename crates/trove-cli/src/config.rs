//! The user config file that remembers the current instance.
//!
//! `$TROVE_CONFIG_DIR/config.json` (default: the platform config folder, `~/.config/trove`).
//! `--instance` and `TROVE_INSTANCE` override what it says.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use trove::{Error, ErrorKind, Result};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Config {
    /// The current instance: a root folder or a catalog URL.
    pub current: Option<String>,
}

pub fn config_path() -> Result<PathBuf> {
    let dir = match std::env::var_os("TROVE_CONFIG_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => dirs::config_dir()
            .map(|d| d.join("trove"))
            .ok_or_else(|| Error::new(ErrorKind::Io, "no config folder on this system: set TROVE_CONFIG_DIR"))?,
    };
    Ok(dir.join("config.json"))
}

pub fn load() -> Result<Config> {
    let path = config_path()?;
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            Error::new(ErrorKind::InvalidInput, format!("{} is not valid JSON ({e}): fix or delete it", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
        Err(e) => Err(Error::io(format!("cannot read {}", path.display()), e)),
    }
}

pub fn save(config: &Config) -> Result<()> {
    let path = config_path()?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(format!("cannot create {}", parent.display()), e))?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(config).expect("config serialises"))
        .map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}

/// The instance to use: `--instance`, then `TROVE_INSTANCE`, then the config file.
pub fn resolve_instance(flag: Option<&str>) -> Result<String> {
    if let Some(f) = flag.filter(|f| !f.is_empty()) {
        return Ok(f.to_owned());
    }
    if let Ok(env) = std::env::var("TROVE_INSTANCE")
        && !env.is_empty()
    {
        return Ok(env);
    }
    load()?.current.ok_or_else(|| {
        Error::new(
            ErrorKind::Instance,
            "no current instance: create one with `trove init --storage DIR`, or pass --instance DIR",
        )
    })
}
