//! The local working copies of a bucket catalog, in the cache folder:
//! `<cache>/.trove-cache/catalogs/<root's name>/`.
//!
//! * `v-<version>.db`: the catalog exactly as the bucket held it at that version (ETag or
//!   generation). Written once (downloaded to a temporary name, renamed into place) and never
//!   changed, so any number of processes may read it at once; only reads run on it.
//! * `w-<pid>-<random>.db`: a writer's private copy, made from a version file, changed by one
//!   unit of work, uploaded, then renamed to the new version's file.
//! * `mode.json`: how the instance's writers take the lease, read once from the bucket.
//!
//! Version files older than an hour that are not the current one are removed as new ones
//! arrive.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use trove_domain::ports::ObjectStore;
use trove_domain::{Error, Result};

use super::CATALOG_KEY;

/// How long an old version file is kept for processes that may still read it.
const KEEP_OLD: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub(crate) struct Copies {
    dir: PathBuf,
}

/// A file-name-safe form of a version string (ETags carry quotes, generations are digits).
fn file_part(version: &str) -> String {
    let clean: String = version.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    // Distinct versions must give distinct names even where the cleaning collapsed characters.
    format!("{clean}-{:016x}", fnv(version.as_bytes()))
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

impl Copies {
    /// The working-copy folder of the instance rooted at `root` under `cache_root`.
    pub(crate) fn new(cache_root: &Path, root: &str) -> Result<Copies> {
        let name: String = root.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        let dir =
            cache_root.join(".trove-cache").join("catalogs").join(format!("{name}-{:016x}", fnv(root.as_bytes())));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        Ok(Copies { dir })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of one version.
    pub(crate) fn version_path(&self, version: &str) -> PathBuf {
        self.dir.join(format!("v-{}.db", file_part(version)))
    }

    /// A new private path for a writer.
    pub(crate) fn private_path(&self) -> PathBuf {
        self.dir.join(format!("w-{}-{}.db", std::process::id(), trove_domain::ids::random_base62(8)))
    }

    /// The file of `version`, downloaded if this machine does not have it. Returns the file
    /// and the version it holds: the bucket's newest, which differs from `version` if someone
    /// wrote in between.
    pub(crate) async fn ensure(&self, store: &dyn ObjectStore, version: &str) -> Result<(PathBuf, String)> {
        let path = self.version_path(version);
        if path.is_file() {
            return Ok((path, version.to_owned()));
        }
        let (bytes, actual) = store.read_versioned(CATALOG_KEY).await?.ok_or_else(|| super::no_catalog(store))?;
        let path = self.version_path(&actual);
        let tmp = self.dir.join(format!(".dl-{}-{}", std::process::id(), trove_domain::ids::random_base62(8)));
        tokio::fs::write(&tmp, &bytes).await.map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| Error::io(format!("cannot move the catalog into {}", path.display()), e))?;
        self.prune(&path);
        Ok((path, actual))
    }

    /// Make `private` (uploaded as `version`) that version's file.
    pub(crate) async fn adopt(&self, private: &Path, version: &str) -> Result<PathBuf> {
        let path = self.version_path(version);
        tokio::fs::rename(private, &path)
            .await
            .map_err(|e| Error::io(format!("cannot move the catalog into {}", path.display()), e))?;
        self.prune(&path);
        Ok(path)
    }

    /// Remove a private copy (and what SQLite kept beside it).
    pub(crate) fn discard(&self, private: &Path) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = private.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
    }

    /// Remove version files (and temporary downloads) older than [`KEEP_OLD`], except `keep`.
    fn prune(&self, keep: &Path) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        let now = SystemTime::now();
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if path == keep || !(name.starts_with("v-") || name.starts_with(".dl-")) {
                continue;
            }
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > KEEP_OLD);
            if old {
                let _ = std::fs::remove_file(&path);
            }
        }
    }

    /// Remove every working copy (the instance was deleted).
    pub(crate) fn remove_all(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
