//! Storage locations (spec 2, section 1): registering more roots, the default one, read-only
//! registration of roots another instance manages, choosing where a save writes, and
//! registering data already in a location (local or cloud) without copying it.
//!
//! Each managed root holds the marker `.trove/storage.json` (see [`StorageMarker`]). Adding a
//! root whose marker names another instance registers it **read-only**: its
//! `instance_uid` is the managing instance's, so saves there and byte deletion are
//! [`ErrorKind::NotManaged`] errors naming that instance, while reading and registering its
//! existing objects in place work.

use std::ffi::OsStr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use trove_domain::ids::random_base62;
use trove_domain::key::{MANAGED_DIR, suffix_of};
use trove_domain::ports::ObjectStore;
use trove_domain::secret::redact_url;
use trove_domain::{Error, ErrorKind, Key, NewStorage, Result, StorageLocation};

use crate::outcome::SaveOutcome;
use crate::save::SaveOptions;
use crate::wiring::{self, Location};
use crate::{STORAGE_MARKER, StorageMarker, Store, Trove, normalize_root};

/// The marker's key inside a root.
pub(crate) fn marker_key() -> String {
    format!("{MANAGED_DIR}/{STORAGE_MARKER}")
}

/// Read a root's marker, if it has a readable one.
pub(crate) async fn read_marker(store: &dyn ObjectStore) -> Result<Option<StorageMarker>> {
    let key = marker_key();
    match store.stat(&key).await? {
        Some(_) => Ok(serde_json::from_slice(&store.read_all(&key).await?).ok()),
        None => Ok(None),
    }
}

impl Trove {
    /// The storage location a save writes to: `None` is the default; else a root (as
    /// [`Trove::storages`] lists it) or a location uid.
    pub(crate) fn target_store(&self, root_or_uid: Option<&str>) -> Result<&Store> {
        let Some(wanted) = root_or_uid else { return Ok(self.default_store()) };
        let canonical = wiring::resolve_root(wanted, self.plugins()).ok().map(|l| l.as_string());
        self.inner
            .stores
            .values()
            .find(|s| s.location.uid == wanted || Some(&s.location.root) == canonical.as_ref())
            .ok_or_else(|| {
                Error::not_found(format!(
                    "no storage location '{wanted}' in this instance: list them with `trove storage ls`, \
                     register it with `trove storage add {wanted}`"
                ))
            })
    }

    /// The registered local location holding `path` (the innermost one), with the path
    /// relative to its root.
    pub(crate) fn local_location_of(&self, path: &Path) -> Result<Option<(&Store, String)>> {
        let abs = normalize_root(path)?;
        let mut best: Option<(&Store, usize, String)> = None;
        for s in self.inner.stores.values() {
            let Some(root) = s.store.local_path("") else { continue };
            let root = normalize_root(&root)?;
            let Ok(rel) = abs.strip_prefix(&root) else { continue };
            let rel = rel.to_str().map(|r| r.replace('\\', "/")).ok_or_else(|| {
                Error::invalid_input(format!("{} is not valid UTF-8; rename it to register it", path.display()))
            })?;
            let depth = root.components().count();
            if best.as_ref().is_none_or(|(_, d, _)| depth > *d) {
                best = Some((s, depth, rel));
            }
        }
        Ok(best.map(|(s, _, rel)| (s, rel)))
    }

    /// The registered location holding `uri` (`s3://bucket/prefix/raw/x.csv`, a local path),
    /// with the key relative to its root; for anything else, `uri` as a key in the default
    /// location.
    pub(crate) fn locate(&self, uri: &str) -> Result<(&Store, String)> {
        let uri = match wiring::resolve(uri, self.plugins())? {
            Location::Local(path) if path.is_absolute() => {
                return self.local_location_of(&path)?.ok_or_else(|| {
                    Error::invalid_input(format!(
                        "{} is inside no registered storage location: register its root with \
                         `trove storage add`, or save it (a copy) with `trove save`",
                        path.display()
                    ))
                });
            }
            Location::Local(key) => return Ok((self.default_store(), key.to_string_lossy().into_owned())),
            Location::Catalog(url) => {
                return Err(Error::invalid_input(format!(
                    "{} is a catalog URL, not data to register: give an object's URI or a path",
                    redact_url(&url)
                )));
            }
            other => other.object_uri().expect("every other location is an object URI").to_owned(),
        };
        self.inner
            .stores
            .values()
            .filter_map(|s| {
                let rest = uri.strip_prefix(s.location.root.as_str())?.strip_prefix('/')?;
                Some((s, rest.to_owned()))
            })
            .max_by_key(|(s, _)| s.location.root.len())
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "{uri} is inside no registered storage location: register its root first with \
                     `trove storage add <root>`"
                ))
            })
    }

    /// Register an object or folder that already lives in a registered storage location as an
    /// artifact, without copying: `uri` is its full URI or path (`s3://bucket/prefix/raw/x.csv`,
    /// `/data/raw/x.csv`) or a key relative to the default location (`raw/x.csv`).
    ///
    /// With no key in `opts`, the key is its relative path (a real key); with another key,
    /// the key is virtual and the real path is remembered. The content hash comes from the
    /// server's metadata where that is exact (S3 single-part ETag, GCS md5), else from reading
    /// the object. Works in read-only locations too: no bytes are written.
    pub async fn register(&self, uri: &str, mut opts: SaveOptions) -> Result<SaveOutcome> {
        let (store, rel) = self.locate(uri)?;
        Key::parse(&rel).map_err(|e| {
            Error::new(ErrorKind::InvalidKey, format!("cannot register {uri} in place: {}", e.message()))
        })?;
        let s = store.store.as_ref();
        let is_folder = if s.stat(&rel).await?.is_some() {
            false
        } else if !s.list(&format!("{rel}/")).await?.is_empty() {
            true
        } else {
            return Err(Error::new(
                ErrorKind::SourceNotFound,
                format!("no object or folder at {}: check the path", s.display_path(&rel)),
            ));
        };
        if opts.key.is_none() && opts.description.is_none() {
            opts.key = Some(rel.clone());
        }
        let key = opts.key.as_deref().map(Key::parse).transpose()?;
        let name = rel.rsplit('/').next().unwrap_or(&rel);
        let suffix = suffix_of(name);
        if let Some(k) = &key {
            trove_domain::key::check_key_suffix(k, &suffix)?;
        }
        self.register_in_place(store, &rel, key, suffix, is_folder, &opts).await
    }

    /// Save what a user names, as `trove save PATH` does: the one place that decides between
    /// registering in place and copying.
    ///
    /// * A URI of a storage scheme this instance knows (`s3://`, `gs://`, a scheme registered
    ///   with [`crate::TroveBuilder::scheme`]) names data already in storage: it is registered
    ///   in place ([`Trove::register`]), never copied, and must lie inside a registered location.
    /// * Anything else is a local path (`file://` allowed): it is saved ([`Trove::save`]), which
    ///   registers it in place too when it lies inside a registered local location, and copies
    ///   it otherwise.
    ///
    /// A catalog URL, or a URI of a scheme this instance does not know, is an `invalid_input`
    /// error and nothing is written.
    pub async fn save_from(&self, input: impl AsRef<OsStr>, opts: SaveOptions) -> Result<SaveOutcome> {
        let input = input.as_ref();
        // A name that is not UTF-8 is no URI: a local path, taken byte for byte.
        let Some(text) = input.to_str() else { return self.save(Path::new(input), opts).await };
        match wiring::resolve(text, self.plugins())? {
            Location::Local(path) => self.save(path, opts).await,
            Location::Catalog(url) => Err(Error::invalid_input(format!(
                "{} is a catalog URL, not data to save: give a file, a folder or an object's URI",
                redact_url(&url)
            ))),
            _ => self.register(text, opts).await,
        }
    }

    /// Register another storage root (a local folder, `s3://bucket/prefix`, `gs://bucket/prefix`).
    ///
    /// * A free root gets a new location managed by this instance, and its marker.
    /// * A root whose marker names another instance is registered read-only, managed by that
    ///   instance (its uid is recorded); saves there are refused.
    /// * A root already registered here is returned as it is.
    ///
    /// A root inside another root's `.trove/` folder is refused. This handle sees the new
    /// location at once; other open handles after reopening.
    pub async fn add_storage(&mut self, root: &str) -> Result<StorageLocation> {
        let resolved = wiring::resolve_root(root, self.plugins())?;
        let root = resolved.as_string();
        if let Some(s) = self.inner.stores.values().find(|s| s.location.root == root) {
            return Ok(s.location.clone());
        }
        // Nested roots would see each other's files (and managed areas) as keys: refused.
        if let Some(other) = self.inner.stores.values().find(|s| nested(&s.location.root, &root)) {
            return Err(Error::invalid_input(format!(
                "{root} and the registered storage location {} lie one inside the other: storage roots must not \
                 nest; register a folder beside them",
                other.location.root
            )));
        }
        if let Location::Local(path) = &resolved {
            let dir = path.join(MANAGED_DIR);
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        }
        let store = wiring::open(&resolved, self.plugins(), None).await?;
        let marker = read_marker(store.as_ref()).await?;
        let me = self.instance().uid.clone();
        let (uid, instance_uid) = match &marker {
            Some(m) => (m.storage_uid.clone(), m.instance_uid.clone()),
            None => (random_base62(12), me.clone()),
        };
        let new = NewStorage {
            uid: uid.clone(),
            root: root.clone(),
            region: wiring::region_of(Some(&resolved)),
            instance_uid: instance_uid.clone(),
            settings: wiring::location_settings(Some(&resolved)),
            created_at: self.clock().now(),
        };
        let location = self.catalog().add_storage(&new).await?;
        if marker.is_none() {
            let m = StorageMarker { storage_uid: uid, instance_uid, catalog: Some(self.location().to_owned()) };
            let body = Bytes::from(serde_json::to_vec_pretty(&m).expect("marker serialises"));
            store.put(&marker_key(), body).await?;
        }
        self.register_open_store(location.clone(), store);
        Ok(location)
    }

    /// Unregister a storage location (root or uid) that holds no artifact on any branch (the
    /// trash included), and remove its marker if this instance manages it; a root another
    /// instance manages keeps its marker. The default location cannot be removed: make another
    /// one the default first. Bytes are never touched (none are referenced).
    pub async fn remove_storage(&mut self, root_or_uid: &str) -> Result<StorageLocation> {
        let store = self.target_store(Some(root_or_uid))?.clone();
        let location = self.catalog().remove_storage(store.location.id).await?;
        if self.manages(&location) {
            store.store.delete(&marker_key()).await?;
        }
        Arc::make_mut(&mut self.inner).stores.remove(&location.id);
        Ok(location)
    }

    fn register_open_store(&mut self, location: StorageLocation, store: Arc<dyn ObjectStore>) {
        Arc::make_mut(&mut self.inner).stores.insert(location.id, Store { location, store });
    }

    /// Make a registered location (root or uid) the default for saves. A location managed by
    /// another instance cannot be the default: saves there would all fail.
    pub async fn set_default_storage(&mut self, root_or_uid: &str) -> Result<StorageLocation> {
        let location = self.target_store(Some(root_or_uid))?.location.clone();
        self.check_manages(&location)?;
        let instance = self.catalog().set_default_storage(location.id).await?;
        let inner = Arc::make_mut(&mut self.inner);
        inner.default_storage = location.id;
        inner.instance = instance;
        Ok(location)
    }
}

/// Whether two roots (local paths or URIs, canonical) lie one inside the other.
fn nested(a: &str, b: &str) -> bool {
    let inside = |child: &str, parent: &str| child.strip_prefix(parent).is_some_and(|rest| rest.starts_with('/'));
    inside(a, b) || inside(b, a)
}

#[cfg(test)]
mod tests {
    use super::nested;

    #[test]
    fn nested_roots() {
        assert!(nested("/data/raw", "/data"));
        assert!(nested("/data", "/data/raw"));
        assert!(nested("s3://b/p/q", "s3://b/p"));
        assert!(!nested("/data2", "/data"));
        assert!(!nested("s3://b/p", "s3://b/p2"));
        assert!(!nested("/data", "/data"));
    }
}
