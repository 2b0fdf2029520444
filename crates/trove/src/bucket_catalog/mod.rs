//! An instance that lives entirely in a bucket (spec 3): its catalog is a SQLite file at
//! `<root>/.trove/trove.db`, read and written through local working copies.
//!
//! * **Reads** run on the copy of the bucket's current version (`copies.rs`). Each read stats
//!   the remote catalog (one metadata request; see [`FRESH_FOR`]) and downloads only when the
//!   version (S3 ETag, GCS generation) differs from the copy's.
//! * **Writes**: each unit of work of the [`Catalog`] port takes the lease (`lease.rs`), copies
//!   the current version to a private file, runs there, and uploads the file with a
//!   precondition on the version it started from (`If-Match` / `ifGenerationMatch`); then the
//!   lease goes. A refused upload changes nothing in the bucket: the unit of work fails with
//!   [`ErrorKind::Conflict`], as a lost race on a shared database would, and the façade's byte
//!   protocols (bytes first, rows last) leave at most bytes that `gc` finds. Each unit of work
//!   is thus atomic and isolated exactly as on PostgreSQL.
//! * **Single-writer mode** (chosen at `init` for a server that ignores conditional writes):
//!   the lease and the upload are plain writes after a look; safe only while one machine
//!   writes, which the user promised by asking for it.
//!
//! The SQLite files are opened through [`LocalCatalogs`], which `wiring.rs` implements with
//! the persistence crate: this module names no backend.

mod admin;
mod copies;
pub(crate) mod lease;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use trove_domain::lifecycle::Operation;
use trove_domain::ports::{Catalog, ObjectStore, PutIf, WriteCondition};
use trove_domain::{
    Artifact, ArtifactQuery, ArtifactUpdate, Error, ErrorKind, Instance, InstanceInit, Key, NewArtifact, NewStorage,
    Result, Stem, StorageId, StorageLocation, TransitionResult, Uid, User,
};

use copies::Copies;
use lease::{Claim, LeaseSettings};
pub use lease::{LEASE_TTL_ENV, LEASE_WAIT_ENV, LeaseInfo, LeaseWaitHook};

/// The catalog's key in the bucket.
pub(crate) const CATALOG_KEY: &str = ".trove/trove.db";
/// The write lease's key.
pub(crate) const LEASE_KEY: &str = ".trove/lease";
/// How the instance's writers coordinate, written at `init`.
pub(crate) const MODE_KEY: &str = ".trove/catalog.json";

/// [`Catalog::backend`] of an instance in a bucket.
pub(crate) const BACKEND: &str = "sqlite-in-bucket";

/// How long a look at the remote version serves later reads: none, so that every read sees
/// what any writer committed before it began, as on a database server (a window here made
/// reads lag behind another machine's writes). A read that finds the version unchanged costs
/// that one metadata request.
const FRESH_FOR: Duration = Duration::ZERO;

/// A SQLite catalog file on local disk, as [`LocalCatalogs`] opens it.
#[async_trait]
pub(crate) trait LocalCatalog: Catalog {
    /// The user with this handle, by a read only.
    async fn find_user(&self, handle: &str) -> Result<Option<User>>;
    /// Close every connection, so the file alone holds every commit.
    async fn close(self: Arc<Self>) -> Result<()>;
}

/// Opens SQLite catalog files (implemented in `wiring.rs`).
#[async_trait]
pub(crate) trait LocalCatalogs: Send + Sync + std::fmt::Debug {
    /// Open the file at `path` (created if `create`), schema brought up to date.
    async fn open(&self, path: &Path, create: bool) -> Result<Arc<dyn LocalCatalog>>;
}

/// How the writers of an instance in a bucket coordinate: `.trove/catalog.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WriterMode {
    /// Lease and catalog upload by conditional writes: any number of writers, anywhere.
    Conditional,
    /// One machine writes (the server ignores conditional writes; the user chose this).
    SingleWriter,
}

#[derive(Debug, Serialize, Deserialize)]
struct ModeFile {
    writers: WriterMode,
}

/// What `init` learned about a server's conditional writes, by trying them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConditionalSupport {
    /// A create refused because the object exists (`If-None-Match: *`, `ifGenerationMatch=0`).
    pub create_if_absent: bool,
    /// A replace refused because the version differs (`If-Match`, `ifGenerationMatch`).
    pub replace_if_version: bool,
}

impl ConditionalSupport {
    /// Both: what multi-writer instances need.
    pub fn full(&self) -> bool {
        self.create_if_absent && self.replace_if_version
    }
}

/// Try the conditional writes on the server itself (the client library declares them for any
/// S3 endpoint, whether or not the server honours them), on a probe object that is removed.
pub(crate) async fn probe(store: &dyn ObjectStore) -> Result<ConditionalSupport> {
    if !store.capabilities().conditional_write {
        return Ok(ConditionalSupport { create_if_absent: false, replace_if_version: false });
    }
    let key = format!(".trove/probe-{}", trove_domain::ids::random_base62(12));
    let result = async {
        let first = store.put_if(&key, Bytes::from_static(b"1"), &WriteCondition::Absent).await?;
        let PutIf::Written { version } = first else {
            return Err(Error::new(
                ErrorKind::Storage,
                format!("{}: a new probe object {key} already exists", store.root()),
            ));
        };
        let again = store.put_if(&key, Bytes::from_static(b"2"), &WriteCondition::Absent).await?;
        let create_if_absent = again == PutIf::PreconditionFailed;
        // A version the object never had (the current one, tweaked).
        let current = store.version(&key).await?.unwrap_or(version);
        let wrong = if current.starts_with('"') { "\"0\"".to_owned() } else { format!("{current}0") };
        let stale = store.put_if(&key, Bytes::from_static(b"3"), &WriteCondition::Version(wrong)).await?;
        let mut replace_if_version = stale == PutIf::PreconditionFailed;
        if replace_if_version {
            let right = store.put_if(&key, Bytes::from_static(b"4"), &WriteCondition::Version(current)).await?;
            replace_if_version = matches!(right, PutIf::Written { .. });
        }
        Ok::<_, Error>(ConditionalSupport { create_if_absent, replace_if_version })
    }
    .await;
    let _ = store.delete(&key).await;
    result
}

/// Whether `key` is one of the files an instance in a bucket keeps beside its catalog (the
/// lease, the writer mode): never garbage.
pub(crate) fn is_instance_file(key: &str) -> bool {
    key == LEASE_KEY || key == MODE_KEY
}

pub(crate) fn no_catalog(store: &dyn ObjectStore) -> Error {
    Error::new(
        ErrorKind::Instance,
        format!(
            "no Trove instance in {}: there is no catalog at {CATALOG_KEY}; create one with `trove init --storage {}`",
            store.root(),
            store.root()
        ),
    )
}

/// The reading side: the copy in use and the version it holds.
#[derive(Default)]
struct State {
    version: Option<String>,
    reader: Option<Arc<dyn LocalCatalog>>,
    checked: Option<Instant>,
}

/// The [`Catalog`] of an instance in a bucket (see the module documentation).
pub(crate) struct BucketCatalog {
    store: Arc<dyn ObjectStore>,
    local: Arc<dyn LocalCatalogs>,
    copies: Copies,
    settings: LeaseSettings,
    user: String,
    on_wait: Option<LeaseWaitHook>,
    mode: tokio::sync::OnceCell<WriterMode>,
    state: tokio::sync::Mutex<State>,
    writer: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for BucketCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketCatalog").field("root", &self.store.root()).field("copies", &self.copies.dir()).finish()
    }
}

impl BucketCatalog {
    /// The catalog of the instance rooted at `store`'s root, with working copies under
    /// `cache_root`. Nothing is read yet.
    pub(crate) fn new(
        store: Arc<dyn ObjectStore>,
        local: Arc<dyn LocalCatalogs>,
        cache_root: &Path,
        user: String,
        on_wait: Option<LeaseWaitHook>,
    ) -> Result<BucketCatalog> {
        Ok(BucketCatalog {
            copies: Copies::new(cache_root, store.root())?,
            store,
            local,
            settings: LeaseSettings::from_env()?,
            user,
            on_wait,
            mode: tokio::sync::OnceCell::new(),
            state: tokio::sync::Mutex::new(State::default()),
            writer: tokio::sync::Mutex::new(()),
        })
    }

    /// Record how writers coordinate (at `init`, before the catalog exists). Refused where a
    /// catalog (another instance) is already in the bucket.
    pub(crate) async fn create(self, mode: WriterMode) -> Result<BucketCatalog> {
        if self.store.version(CATALOG_KEY).await?.is_some() {
            return Err(Error::new(
                ErrorKind::Instance,
                format!(
                    "{} already holds a Trove instance (its catalog is at {CATALOG_KEY}): open it with `--instance {}`",
                    self.store.root(),
                    self.store.root()
                ),
            ));
        }
        let body = serde_json::to_vec_pretty(&ModeFile { writers: mode }).expect("mode serialises");
        self.store.put_if(MODE_KEY, Bytes::from(body), &WriteCondition::Always).await?;
        let _ = self.mode.set(mode);
        Ok(self)
    }

    /// How writers coordinate: the cached `mode.json`, else the bucket's `.trove/catalog.json`
    /// (cached), else conditional.
    async fn mode(&self) -> Result<WriterMode> {
        self.mode
            .get_or_try_init(|| async {
                let cached = self.copies.dir().join("mode.json");
                if let Some(m) = std::fs::read(&cached).ok().and_then(|b| serde_json::from_slice::<ModeFile>(&b).ok()) {
                    return Ok(m.writers);
                }
                let mode = match self.store.read_versioned(MODE_KEY).await? {
                    Some((bytes, _)) => {
                        serde_json::from_slice::<ModeFile>(&bytes)
                            .map_err(|e| {
                                Error::new(
                                    ErrorKind::Instance,
                                    format!(
                                        "{}/{MODE_KEY} is not Trove's: {e}; remove it only if you know why",
                                        self.store.root()
                                    ),
                                )
                            })?
                            .writers
                    }
                    None => WriterMode::Conditional,
                };
                let _ = std::fs::write(&cached, serde_json::to_vec(&ModeFile { writers: mode }).expect("mode"));
                Ok::<WriterMode, Error>(mode)
            })
            .await
            .copied()
    }

    /// The copy reads run on: the bucket's current version (looked up at most once per
    /// [`FRESH_FOR`]).
    async fn reader(&self) -> Result<Arc<dyn LocalCatalog>> {
        let mut st = self.state.lock().await;
        let recent = st.checked.is_some_and(|t| t.elapsed() < FRESH_FOR);
        if recent && let Some(r) = &st.reader {
            return Ok(r.clone());
        }
        let version = match (&st.version, recent) {
            (Some(v), true) => v.clone(),
            _ => self.store.version(CATALOG_KEY).await?.ok_or_else(|| no_catalog(self.store.as_ref()))?,
        };
        if st.version.as_deref() != Some(version.as_str()) || st.reader.is_none() {
            let (path, actual) = self.copies.ensure(self.store.as_ref(), &version).await?;
            st.reader = Some(self.local.open(&path, false).await?);
            st.version = Some(actual);
        }
        st.checked = Some(Instant::now());
        Ok(st.reader.clone().expect("reader is open"))
    }

    /// Take the lease (this process's writers one at a time).
    async fn take_lease(&self, mode: WriterMode) -> Result<lease::Held> {
        let claim = match mode {
            WriterMode::Conditional => Claim::Conditional,
            WriterMode::SingleWriter => Claim::Advisory,
        };
        let known = self.state.lock().await.version.clone();
        lease::acquire(&self.store, self.settings, claim, &self.user, known, self.on_wait.as_ref()).await
    }

    /// Run one unit of work under the lease (see the module documentation). Only `creating`
    /// (`init_instance`) may find no catalog in the bucket: it creates it.
    async fn write<T, F, Fut>(&self, creating: bool, work: F) -> Result<T>
    where
        T: Send,
        F: FnOnce(Arc<dyn LocalCatalog>) -> Fut + Send,
        Fut: std::future::Future<Output = Result<T>> + Send,
    {
        let _one_writer_here = self.writer.lock().await;
        let mode = self.mode().await?;
        let held = self.take_lease(mode).await?;
        let result = self.write_leased(creating, work, mode).await;
        // The result stands whether or not the delete answers: a lease left behind lapses.
        let _ = held.release().await;
        result
    }

    async fn write_leased<T, F, Fut>(&self, creating: bool, work: F, mode: WriterMode) -> Result<T>
    where
        F: FnOnce(Arc<dyn LocalCatalog>) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let remote = self.store.version(CATALOG_KEY).await?;
        let private = self.copies.private_path();
        let base = match &remote {
            Some(_) if creating => {
                return Err(Error::new(
                    ErrorKind::Instance,
                    format!(
                        "{} already holds a Trove instance (another init got there first): open it with `--instance {}`",
                        self.store.root(),
                        self.store.root()
                    ),
                ));
            }
            Some(v) => {
                let (path, actual) = self.copies.ensure(self.store.as_ref(), v).await?;
                tokio::fs::copy(&path, &private)
                    .await
                    .map_err(|e| Error::io(format!("cannot copy the catalog to {}", private.display()), e))?;
                Some(actual)
            }
            None if creating => None,
            // Deleted meanwhile (`trove instance delete`): never recreated by a stray write.
            None => return Err(no_catalog(self.store.as_ref())),
        };
        let outcome = self.run_on(&private, work).await;
        let value = match outcome {
            Ok(v) => v,
            Err(e) => {
                self.copies.discard(&private);
                return Err(e);
            }
        };
        // Closed, SQLite folds its write-ahead log into the file; were any left, the file alone
        // would miss commits, and uploading it would lose them.
        let mut wal = private.clone().into_os_string();
        wal.push("-wal");
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
            self.copies.discard(&private);
            return Err(Error::new(
                ErrorKind::Catalog,
                format!(
                    "the working copy {} kept a write-ahead log after closing; nothing was uploaded",
                    private.display()
                ),
            ));
        }
        let data = match tokio::fs::read(&private).await {
            Ok(d) => d,
            Err(e) => {
                self.copies.discard(&private);
                return Err(Error::io(format!("cannot read {}", private.display()), e));
            }
        };
        let condition = match (&base, mode) {
            (_, WriterMode::SingleWriter) => WriteCondition::Always,
            (Some(v), WriterMode::Conditional) => WriteCondition::Version(v.clone()),
            (None, WriterMode::Conditional) => WriteCondition::Absent,
        };
        let uploaded = self.store.put_if(CATALOG_KEY, Bytes::from(data), &condition).await;
        match uploaded {
            Ok(PutIf::Written { version }) => {
                self.copies.adopt(&private, &version).await?;
                let mut st = self.state.lock().await;
                st.version = Some(version);
                st.reader = None;
                st.checked = Some(Instant::now());
                Ok(value)
            }
            Ok(PutIf::PreconditionFailed) => {
                self.copies.discard(&private);
                self.state.lock().await.checked = None;
                Err(Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "the catalog in {} changed while this command held its lease (was the lease broken with \
                         `trove instance unlock`?): this change was not uploaded and nobody else's was overwritten; \
                         run the command again",
                        self.store.root()
                    ),
                ))
            }
            Err(e) => {
                self.copies.discard(&private);
                Err(e)
            }
        }
    }

    /// Open `path`, run `work` on it, close it (so the file holds every commit).
    async fn run_on<T, F, Fut>(&self, path: &Path, work: F) -> Result<T>
    where
        F: FnOnce(Arc<dyn LocalCatalog>) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let catalog = self.local.open(path, true).await?;
        let result = work(catalog.clone()).await;
        let closed = catalog.close().await;
        let value = result?;
        closed?;
        Ok(value)
    }

    /// Delete the catalog and the writer mode from the bucket, and the working copies.
    async fn remove_everything(&self) -> Result<()> {
        self.store.delete(CATALOG_KEY).await?;
        self.store.delete(MODE_KEY).await?;
        let mut st = self.state.lock().await;
        *st = State::default();
        self.copies.remove_all();
        Ok(())
    }
}

/// Break the lease of the instance in `store` that the user was shown.
pub(crate) async fn break_lease(store: &dyn ObjectStore, seen: &LeaseInfo) -> Result<bool> {
    lease::break_lease(store, seen).await
}

/// The lease of the instance in `store`, if any.
pub(crate) async fn current_lease(store: &dyn ObjectStore) -> Result<Option<LeaseInfo>> {
    Ok(lease::current(store).await?.map(|(info, _)| info))
}

macro_rules! read {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        $self.reader().await?.$method($($arg),*).await
    };
}

macro_rules! write {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        $self.write(false, |c| async move { c.$method($($arg),*).await }).await
    };
}

#[async_trait]
impl Catalog for BucketCatalog {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn init_instance(&self, init: &InstanceInit) -> Result<Instance> {
        self.write(true, |c| async move { c.init_instance(init).await }).await
    }

    async fn instance(&self) -> Result<Option<Instance>> {
        read!(self.instance())
    }

    async fn add_storage(&self, new: &NewStorage) -> Result<StorageLocation> {
        write!(self.add_storage(new))
    }

    async fn destroy(&self) -> Result<()> {
        // The catalog object goes whole, under the lease: no writer can upload after it.
        let _one_writer_here = self.writer.lock().await;
        let held = self.take_lease(self.mode().await?).await?;
        let result = self.remove_everything().await;
        let _ = held.release().await;
        result
    }

    async fn remove_storage(&self, id: StorageId) -> Result<StorageLocation> {
        write!(self.remove_storage(id))
    }

    async fn storages(&self) -> Result<Vec<StorageLocation>> {
        read!(self.storages())
    }

    async fn set_default_storage(&self, id: StorageId) -> Result<Instance> {
        write!(self.set_default_storage(id))
    }

    async fn ensure_user(&self, handle: &str) -> Result<User> {
        // A read when the user exists (every write after the first): no lease for it.
        if let Some(user) = self.reader().await?.find_user(handle).await? {
            return Ok(user);
        }
        write!(self.ensure_user(handle))
    }

    async fn artifact(&self, uid: &Uid) -> Result<Option<Artifact>> {
        read!(self.artifact(uid))
    }

    async fn artifacts(&self, query: &ArtifactQuery) -> Result<Vec<Artifact>> {
        read!(self.artifacts(query))
    }

    async fn count_artifacts(&self, query: &ArtifactQuery) -> Result<u64> {
        read!(self.count_artifacts(query))
    }

    async fn max_version(&self, stem: &Stem) -> Result<Option<u32>> {
        read!(self.max_version(stem))
    }

    async fn family_head_by_key(&self, storage: StorageId, key: &Key) -> Result<Option<Artifact>> {
        read!(self.family_head_by_key(storage, key))
    }

    async fn reserve_version(&self, stem: &Stem) -> Result<u32> {
        write!(self.reserve_version(stem))
    }

    async fn release_version(&self, stem: &Stem, index: u32) -> Result<()> {
        write!(self.release_version(stem, index))
    }

    async fn create_artifact(&self, new: &NewArtifact) -> Result<Artifact> {
        write!(self.create_artifact(new))
    }

    async fn create_artifacts(&self, new: &[NewArtifact]) -> Result<Vec<Artifact>> {
        write!(self.create_artifacts(new))
    }

    async fn apply_transition(&self, uids: &[Uid], op: Operation) -> Result<Vec<TransitionResult>> {
        write!(self.apply_transition(uids, op))
    }

    async fn begin_purge(&self, uids: &[Uid], policy: trove_domain::StoragePolicy) -> Result<Vec<Artifact>> {
        write!(self.begin_purge(uids, policy))
    }

    async fn begin_purge_on(
        &self,
        uids: &[Uid],
        policy: trove_domain::StoragePolicy,
        branch: trove_domain::BranchId,
    ) -> Result<(Vec<Artifact>, Vec<Uid>)> {
        write!(self.begin_purge_on(uids, policy, branch))
    }

    async fn finish_purge(&self, uids: &[Uid]) -> Result<u64> {
        write!(self.finish_purge(uids))
    }

    async fn abort_purge(&self, uids: &[Uid]) -> Result<()> {
        write!(self.abort_purge(uids))
    }

    async fn begin_replace(&self, uid: &Uid, expected_hash: &str, staged: &trove_domain::Pending) -> Result<Artifact> {
        write!(self.begin_replace(uid, expected_hash, staged))
    }

    async fn commit_replace(&self, uid: &Uid, marker: &trove_domain::Pending) -> Result<Artifact> {
        write!(self.commit_replace(uid, marker))
    }

    async fn abort_replace(&self, uid: &Uid, marker: &trove_domain::Pending) -> Result<Artifact> {
        write!(self.abort_replace(uid, marker))
    }

    async fn update_artifact(&self, uid: &Uid, update: &ArtifactUpdate) -> Result<Artifact> {
        write!(self.update_artifact(uid, update))
    }

    async fn pending_artifacts(&self) -> Result<Vec<Artifact>> {
        read!(self.pending_artifacts())
    }

    async fn create_collection(&self, new: &trove_domain::NewCollection) -> Result<trove_domain::Collection> {
        write!(self.create_collection(new))
    }

    async fn collections(&self, query: &trove_domain::CollectionQuery) -> Result<Vec<trove_domain::Collection>> {
        read!(self.collections(query))
    }

    async fn collection_head_by_key(&self, key: &str) -> Result<Option<trove_domain::Collection>> {
        read!(self.collection_head_by_key(key))
    }

    async fn max_collection_version(&self, stem: &Stem) -> Result<Option<u32>> {
        read!(self.max_collection_version(stem))
    }

    async fn apply_collection_transition(
        &self,
        uids: &[Uid],
        op: Operation,
    ) -> Result<Vec<trove_domain::CollectionTransitionResult>> {
        write!(self.apply_collection_transition(uids, op))
    }

    async fn purge_collections(&self, uids: &[Uid]) -> Result<Vec<trove_domain::Collection>> {
        write!(self.purge_collections(uids))
    }

    async fn create_label(&self, new: &trove_domain::NewLabel) -> Result<trove_domain::Label> {
        write!(self.create_label(new))
    }

    async fn labels(&self, query: &trove_domain::LabelQuery) -> Result<Vec<trove_domain::Label>> {
        read!(self.labels(query))
    }

    async fn attach_label(&self, name: &str, targets: &[trove_domain::Labeled]) -> Result<u64> {
        write!(self.attach_label(name, targets))
    }

    async fn detach_label(&self, name: &str, targets: &[trove_domain::Labeled]) -> Result<u64> {
        write!(self.detach_label(name, targets))
    }

    async fn apply_label_transition(
        &self,
        names: &[String],
        op: Operation,
    ) -> Result<Vec<trove_domain::LabelTransitionResult>> {
        write!(self.apply_label_transition(names, op))
    }

    async fn purge_labels(&self, names: &[String]) -> Result<Vec<trove_domain::Label>> {
        write!(self.purge_labels(names))
    }
}
