//! The user config file that remembers the current instance.
//!
//! `$TROVE_CONFIG_DIR/config.json` (default: the platform config folder, `~/.config/trove`).
//! `--instance` and `TROVE_INSTANCE` override what it says.
//!
//! The current instance may be a catalog URL with a password in it, so the file is readable by
//! its owner only: it is written to a temporary file created with mode 0600 and renamed into
//! place (never chmod-ed after the bytes are in), in a folder created with mode 0700. A file
//! found with looser permissions (from an older Trove, or copied) is tightened when read.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use trove::domain::secret::redact_url;
use trove::{Error, ErrorKind, Result};

#[derive(Default, Serialize, Deserialize)]
pub struct Config {
    /// The current instance: a root folder or a catalog URL.
    pub current: Option<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config").field("current", &self.current.as_deref().map(redact_url)).finish()
    }
}

/// Mode of the config file: it may hold a catalog password.
const FILE_MODE: u32 = 0o600;
/// Mode of a config folder Trove creates.
const DIR_MODE: u32 = 0o700;

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
        Ok(bytes) => {
            tighten(&path);
            serde_json::from_slice(&bytes).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("{} is not valid JSON ({e}): fix or delete it", path.display()),
                )
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
        Err(e) => Err(Error::io(format!("cannot read {}", path.display()), e)),
    }
}

/// Make an existing config file readable by its owner only; say so on stderr if that fails.
fn tighten(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let Ok(meta) = std::fs::metadata(path) else { return };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return;
    }
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE)) {
        eprintln!(
            "warning: {} is readable by others (mode {mode:o}) and cannot be changed ({e}): run `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
}

pub fn save(config: &Config) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    let path = config_path()?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let cannot_write = |e: std::io::Error| Error::io(format!("cannot write {}", path.display()), e);
    // Created with mode 0600 before any byte is written; renamed over the old file at once.
    let mut tmp = tempfile::Builder::new()
        .prefix(".config.json.")
        .permissions(std::fs::Permissions::from_mode(FILE_MODE))
        .tempfile_in(dir)
        .map_err(cannot_write)?;
    tmp.write_all(&serde_json::to_vec_pretty(config).expect("config serialises")).map_err(cannot_write)?;
    tmp.as_file().sync_all().map_err(cannot_write)?;
    tmp.persist(&path).map_err(|e| cannot_write(e.error))?;
    Ok(())
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
