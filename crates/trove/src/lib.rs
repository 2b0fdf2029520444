//! # Trove
//!
//! A data-artifact registry: register files, folders and bytes as *artifacts* in a SQL catalog
//! (SQLite embedded by default, PostgreSQL for teams), keep their bytes in object storage, and
//! manage their whole life: keys, content hashes and de-duplication, versions, and a lifecycle
//! in which records move between the branches `main`, `archive` and `trash`, can be restored,
//! and are deleted permanently only on purpose.
//!
//! ```no_run
//! # async fn demo() -> trove::Result<()> {
//! use trove::{SaveOptions, Trove, InitOptions, StoragePolicy};
//! let trove = Trove::init(InitOptions::local("/tmp/my-data")).await?;
//! let saved = trove.save("iris.csv", SaveOptions::key("datasets/iris.csv")).await?;
//! let uid = saved.artifact().uid.clone();
//! trove.trash(&[uid.clone()]).await?;   // hidden from listings, restorable
//! trove.restore(&[uid.clone()]).await?; // back on main
//! trove.delete_permanently(&[uid], StoragePolicy::Auto).await?;
//! # Ok(()) }
//! ```
//!
//! The façade owns orchestration (the order of bytes and rows, retries, the storage policy);
//! the catalog and object-store backends are ports from [`trove_domain`], injected through
//! [`TroveBuilder`] or resolved from a path or URL by [`Trove::open`].
#![deny(missing_docs)]

mod bucket_catalog;
mod bulk;
mod cache;
#[cfg(feature = "dataframe")]
mod codec;
mod collection;
#[cfg(feature = "dataframe")]
mod dataframe;
mod folder_view;
mod folders;
mod label;
mod lifecycle;
mod local;
mod maintenance;
mod outcome;
pub mod plugin;
mod probe;
pub mod progress;
mod query;
mod replace;
mod save;
mod source;
mod storage;
mod teardown;
mod transfer;
mod wiring;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use trove_domain::ports::{Catalog, Clock, ObjectStore, SystemClock};
use trove_domain::{Instance, StorageId, StorageLocation, User, UserId};

pub use bucket_catalog::{LEASE_TTL_ENV, LEASE_WAIT_ENV, LeaseInfo, LeaseWaitHook, WriterMode};
pub use bulk::SaveItem;
pub use cache::{CACHE_DIR_ENV, CACHE_MAX_BYTES_ENV, cache_path, default_cache_dir};
pub use collection::{CollectionOptions, CollectionOutcome, MovedCollection};
#[cfg(feature = "dataframe")]
pub use dataframe::{DATAFRAME_OTYPE, Loaded, PARQUET_SUFFIX, ParquetReader};
pub use folder_view::{FolderFile, FolderView};
pub use label::MovedLabel;
pub use lifecycle::EmptyTrashOptions;
pub use maintenance::{FsckOptions, GcOptions, MIN_GC_GRACE};
pub use outcome::{
    DeletePlan, EmptyTrashReport, FsckFinding, GcItem, GcKind, GcPlan, GcReport, KeptPath, Moved, PurgeReport, Purged,
    SaveOutcome, TrashPlan,
};
pub use plugin::{Format, LifecycleObserver, StorageScheme};
pub use progress::{ProgressObserver, TransferKind};
pub use replace::{Renamed, ReplaceOutcome};
pub use save::SaveOptions;
pub use source::Source;
pub use teardown::{DeleteInstanceOptions, InstanceDeletion};
pub use trove_domain::lifecycle::{KeepReason, NoOpReason, Transition};
pub use trove_domain::{
    Artifact, ArtifactQuery, BranchId, BranchSelection, ContentHash, Cursor, Error, ErrorKind, HashType, Key, Locator,
    Order, Placement, RecordState, Result, Stem, StoragePolicy, Uid,
};
pub use trove_domain::{Collection, CollectionQuery, Label, Labeled};
pub use wiring::{connect_catalog, open_store};

/// Re-exported ports and domain modules, for backend and plugin authors.
pub mod domain {
    pub use trove_domain::*;
}

/// Name of the embedded catalog file inside a root's managed area.
pub const EMBEDDED_DB: &str = "trove.db";
/// Name of the marker file inside each managed root's `.trove/` folder.
pub const STORAGE_MARKER: &str = "storage.json";

/// The marker `.trove/storage.json` written into each managed storage root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageMarker {
    /// The storage location's uid.
    pub storage_uid: String,
    /// The uid of the instance managing the root.
    pub instance_uid: String,
    /// Where the instance's catalog is (for the embedded default, the SQLite file).
    pub catalog: Option<String>,
}

/// How to create an instance.
#[derive(Clone, PartialEq, Eq)]
pub struct InitOptions {
    /// The default storage root: a local folder (created if missing; `file://` allowed),
    /// `s3://bucket/prefix`, `gs://bucket/prefix`, or a URI of a scheme registered with
    /// [`TroveBuilder::scheme`]. Plugin roots need a catalog URL in `db`.
    pub storage: String,
    /// The catalog URL (`postgresql://...`, `sqlite://...`); `None` puts a SQLite catalog at
    /// `<storage>/.trove/trove.db`: on local disk, or in the bucket of an `s3://`/`gs://` root
    /// (an instance in a bucket: writers coordinate by a lease and conditional writes there).
    pub db: Option<String>,
    /// For an instance in a bucket whose server does not honour conditional writes: accept
    /// single-writer mode (only one machine may ever write; others read). Without it such a
    /// server is refused. Ignored where the server honours them.
    pub single_writer: bool,
    /// A name (defaults to the root folder's name).
    pub name: Option<String>,
    /// Whether new keys are virtual (bytes in `.trove/`; the default) or real.
    pub keys_virtual: bool,
    /// The user recorded as `created_by`.
    pub user: Option<String>,
}

impl InitOptions {
    /// An embedded instance (SQLite + local storage) rooted at `root`.
    pub fn local(root: impl Into<PathBuf>) -> Self {
        InitOptions {
            storage: root.into().to_string_lossy().into_owned(),
            db: None,
            name: None,
            keys_virtual: true,
            user: None,
            single_writer: false,
        }
    }
}

impl std::fmt::Debug for InitOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitOptions")
            .field("storage", &self.storage)
            .field("db", &self.db.as_deref().map(trove_domain::secret::redact_url))
            .field("name", &self.name)
            .field("keys_virtual", &self.keys_virtual)
            .field("user", &self.user)
            .field("single_writer", &self.single_writer)
            .finish()
    }
}

/// A storage location with its open object store.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pub(crate) location: StorageLocation,
    pub(crate) store: Arc<dyn ObjectStore>,
}

/// An open Trove instance: the handle every operation goes through. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Trove {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone)]
struct Inner {
    cache: cache::CacheSettings,
    catalog: Arc<dyn Catalog>,
    instance: Instance,
    stores: HashMap<StorageId, Store>,
    default_storage: StorageId,
    user: UserCell,
    clock: Arc<dyn Clock>,
    location: String,
    plugins: plugin::Plugins,
    progress: progress::Progress,
}

/// The handle recorded as `created_by`, and its catalog row once a write has needed it.
#[derive(Debug, Clone)]
struct UserCell {
    handle: String,
    row: Arc<tokio::sync::OnceCell<User>>,
}

/// Composes a [`Trove`] from injected backends (for people who bring their own catalog or
/// stores), or from a location string.
#[derive(Default)]
pub struct TroveBuilder {
    catalog: Option<Arc<dyn Catalog>>,
    stores: Vec<Arc<dyn ObjectStore>>,
    clock: Option<Arc<dyn Clock>>,
    user: Option<String>,
    location: Option<String>,
    plugins: plugin::Plugins,
    cache: cache::CacheSettings,
    on_lease_wait: Option<LeaseWaitHook>,
    progress: progress::Progress,
}

impl std::fmt::Debug for TroveBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TroveBuilder")
            .field("catalog", &self.catalog)
            .field("stores", &self.stores)
            .field("clock", &self.clock)
            .field("user", &self.user)
            .field("location", &self.location.as_deref().map(trove_domain::secret::redact_url))
            .field("plugins", &self.plugins)
            .field("cache", &self.cache)
            .field("progress", &self.progress)
            .finish()
    }
}

impl TroveBuilder {
    /// Cache cloud artifacts below this absolute folder (default: `TROVE_CACHE_DIR`, else the
    /// platform cache folder; see [`Trove::cache`]).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache.dir = Some(dir.into());
        self
    }

    /// Bound the cache to this many bytes, evicting least-recently-used entries (default:
    /// `TROVE_CACHE_MAX_BYTES`, else unbounded).
    pub fn cache_max_bytes(mut self, bytes: u64) -> Self {
        self.cache.max_bytes = Some(bytes);
        self
    }

    /// For an instance in a bucket: call `hook` when a write finds another writer's lease and
    /// starts waiting for it (with the lease and how long it will wait at most), e.g. to tell
    /// the user whom they are waiting for.
    pub fn on_lease_wait(mut self, hook: LeaseWaitHook) -> Self {
        self.on_lease_wait = Some(hook);
        self
    }

    /// Use this catalog.
    pub fn catalog(mut self, catalog: Arc<dyn Catalog>) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// Use this object store for the registered storage location with the same root.
    /// Locations without an injected store are opened from their root URI.
    pub fn store(mut self, store: Arc<dyn ObjectStore>) -> Self {
        self.stores.push(store);
        self
    }

    /// Use this clock (tests inject a fixed one).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Record this user as `created_by` (default: `$TROVE_USER`, `$USER`, or `trove`).
    pub fn user(mut self, handle: impl Into<String>) -> Self {
        self.user = Some(handle.into());
        self
    }

    /// Open storage roots of this URI scheme (`name://...`) with `factory`, before the built-in
    /// schemes (see [`plugin::StorageScheme`]).
    pub fn scheme(mut self, name: impl Into<String>, factory: Arc<dyn StorageScheme>) -> Self {
        self.plugins.add_scheme(name.into(), factory);
        self
    }

    /// Call `observer` after each committed lifecycle change (see [`plugin::LifecycleObserver`]).
    pub fn observer(mut self, observer: Arc<dyn LifecycleObserver>) -> Self {
        self.plugins.add_observer(observer);
        self
    }

    /// Tell `observer` about byte transfers (saves of local files, downloads into the cache) as
    /// they run (see [`progress::ProgressObserver`]).
    pub fn progress(mut self, observer: Arc<dyn ProgressObserver>) -> Self {
        self.progress = progress::Progress::new(observer);
        self
    }

    /// Open the instance at this location (a root folder or a catalog URL) unless a catalog
    /// was injected.
    pub fn location(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }

    /// Create an instance with the injected catalog (else the one `opts.db` names, else the
    /// embedded SQLite file) and the injected store (else the one `opts.storage` names), or
    /// attach to it if a shared catalog already manages that root.
    ///
    /// Everything else injected (the clock, further stores, plugins, the cache settings) applies
    /// to the instance created, as it does to [`TroveBuilder::open`].
    pub async fn init(mut self, mut opts: InitOptions) -> Result<Trove> {
        if opts.user.is_none() {
            opts.user = self.user.clone();
        }
        let clock = self.clock.clone().unwrap_or_else(|| Arc::new(SystemClock));
        let first_store = self.stores.first().cloned();
        let created = wiring::init(
            opts,
            self.catalog.take(),
            first_store,
            &self.plugins,
            clock.as_ref(),
            &self.cache,
            self.on_lease_wait.as_ref(),
        )
        .await?;
        if !self.stores.iter().any(|s| s.root() == created.store.root()) {
            self.stores.push(created.store);
        }
        self.catalog = Some(created.catalog);
        self.location = Some(created.location);
        if let Some(user) = created.user {
            self.user = Some(user);
        }
        self.open().await
    }

    /// Open the instance.
    pub async fn open(mut self) -> Result<Trove> {
        let location = self.location.clone().unwrap_or_default();
        let catalog = match self.catalog.take() {
            Some(c) => c,
            None => {
                let user = self.user.clone().unwrap_or_else(default_user);
                let (catalog, store) = wiring::open_catalog(
                    &location,
                    &self.plugins,
                    &self.cache,
                    &user,
                    &self.stores,
                    self.on_lease_wait.as_ref(),
                )
                .await?;
                if let Some(store) = store
                    && !self.stores.iter().any(|s| s.root() == store.root())
                {
                    self.stores.push(store);
                }
                catalog
            }
        };
        let location = trove_domain::secret::redact_url(&location);
        let instance = catalog.instance().await?.ok_or_else(|| {
            Error::new(
                ErrorKind::Instance,
                format!("no Trove instance at {location}: create one with `trove init --storage DIR`"),
            )
        })?;
        let mut stores = HashMap::new();
        for loc in catalog.storages().await? {
            let store = match self.stores.iter().find(|s| s.root() == loc.root) {
                Some(s) => s.clone(),
                None => wiring::open_location(&loc, &self.plugins).await?,
            };
            stores.insert(loc.id, Store { location: loc, store });
        }
        let default_storage = instance.default_storage.or_else(|| stores.keys().min().copied()).ok_or_else(|| {
            Error::new(
                ErrorKind::Instance,
                "the instance has no storage location: register one with `trove storage add`",
            )
        })?;
        // The user row is created at the first write, not here: opening (and every read) must
        // never need the catalog's write lock, not even for someone who has never written.
        let user = UserCell { handle: self.user.unwrap_or_else(default_user), row: Arc::default() };
        Ok(Trove {
            inner: Arc::new(Inner {
                cache: self.cache,
                catalog,
                instance,
                stores,
                default_storage,
                user,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                location,
                plugins: self.plugins,
                progress: self.progress,
            }),
        })
    }
}

fn default_user() -> String {
    std::env::var("TROVE_USER")
        .or_else(|_| std::env::var("USER"))
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "trove".into())
}

impl Trove {
    /// A builder for injecting backends.
    pub fn builder() -> TroveBuilder {
        TroveBuilder::default()
    }

    /// Open an existing instance: a storage root holding an embedded catalog
    /// (`<root>/.trove/trove.db`, on local disk or in an `s3://`/`gs://` bucket), or a catalog
    /// URL (`sqlite://...`, `postgresql://...`).
    pub async fn open(location: impl AsRef<str>) -> Result<Trove> {
        Trove::builder().location(location.as_ref()).open().await
    }

    /// Create an instance (see [`InitOptions`]).
    pub async fn init(opts: InitOptions) -> Result<Trove> {
        Trove::builder().init(opts).await
    }

    /// This handle, telling `observer` about byte transfers as they run (see
    /// [`TroveBuilder::progress`]); other clones of the handle are unaffected.
    pub fn with_progress(&self, observer: Arc<dyn ProgressObserver>) -> Trove {
        let mut inner = (*self.inner).clone();
        inner.progress = progress::Progress::new(observer);
        Trove { inner: Arc::new(inner) }
    }

    pub(crate) fn progress(&self) -> &progress::Progress {
        &self.inner.progress
    }

    /// The instance record.
    pub fn instance(&self) -> &Instance {
        &self.inner.instance
    }

    /// Where this instance was opened from (root folder or catalog URL), with any password
    /// replaced by `***` ([`domain::secret::redact_url`]): safe to print. The handle keeps no
    /// password; a caller that must reopen the instance keeps the URL it opened it with.
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    /// The catalog backend's name (`sqlite`, `postgresql`).
    pub fn catalog_backend(&self) -> &'static str {
        self.inner.catalog.backend()
    }

    /// The user recorded as `created_by`.
    pub fn user(&self) -> &str {
        &self.inner.user.handle
    }

    /// The user's catalog id, recorded as `created_by`: the row is created on first use (a
    /// write), so that opening an instance and reading never take the write lock.
    pub(crate) async fn user_id(&self) -> Result<UserId> {
        let cell = &self.inner.user;
        Ok(cell.row.get_or_try_init(|| self.inner.catalog.ensure_user(&cell.handle)).await?.id)
    }

    /// Every registered storage location.
    pub fn storages(&self) -> Vec<StorageLocation> {
        let mut v: Vec<_> = self.inner.stores.values().map(|s| s.location.clone()).collect();
        v.sort_by_key(|l| l.id);
        v
    }

    /// The default storage location.
    pub fn default_storage(&self) -> &StorageLocation {
        &self.store(self.inner.default_storage).expect("default storage is open").location
    }

    pub(crate) fn plugins(&self) -> &plugin::Plugins {
        &self.inner.plugins
    }

    pub(crate) fn catalog(&self) -> &dyn Catalog {
        self.inner.catalog.as_ref()
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        self.inner.clock.as_ref()
    }

    pub(crate) fn store(&self, id: StorageId) -> Result<&Store> {
        self.inner.stores.get(&id).ok_or_else(|| {
            Error::new(
                ErrorKind::Storage,
                format!("storage location {} is not open in this session; reopen the instance", id.0),
            )
        })
    }

    pub(crate) fn default_store(&self) -> &Store {
        self.store(self.inner.default_storage).expect("default storage is open")
    }

    /// Whether this instance manages (may write and delete bytes in) a storage location.
    pub fn manages(&self, location: &StorageLocation) -> bool {
        location.instance_uid == self.inner.instance.uid
    }

    /// [`Trove::manages`] as an error naming the managing instance.
    pub(crate) fn check_manages(&self, location: &StorageLocation) -> Result<()> {
        if self.manages(location) {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::NotManaged,
            format!(
                "storage location {} is managed by instance {}; write to it through that instance",
                location.root, location.instance_uid
            ),
        ))
    }

    /// The full path of an artifact's bytes: an absolute local path, or the object URL.
    pub fn path(&self, artifact: &Artifact) -> Result<String> {
        let store = self.store(artifact.storage)?;
        let key = artifact.storage_key();
        Ok(if artifact.is_folder() {
            store.store.display_path(&format!("{key}/"))
        } else {
            store.store.display_path(&key)
        })
    }

    /// The root of the storage location holding an artifact.
    pub fn storage_root(&self, artifact: &Artifact) -> Result<String> {
        Ok(self.store(artifact.storage)?.location.root.clone())
    }

    /// The content of a file artifact, in memory.
    pub async fn load_bytes(&self, artifact: &Artifact) -> Result<bytes::Bytes> {
        if artifact.is_folder() {
            return Err(Error::invalid_input(format!(
                "{} is a folder; use `cache` to get its local path",
                artifact.label()
            )));
        }
        self.store(artifact.storage)?.store.read_all(&artifact.storage_key()).await
    }
}

/// Normalise a local root: absolute, `.` and `..` resolved lexically, no trailing slash.
pub(crate) fn normalize_root(path: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(path).map_err(|e| Error::io(format!("cannot resolve {}", path.display()), e))?;
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    Ok(out)
}
