//! `trove._native`: the Rust half of Trove's Python package.
//!
//! A thin layer over the [`trove`] façade: an [`Instance`] handle whose methods take plain
//! Python values, run the façade's async operation on the one process-wide tokio runtime with
//! the GIL released, and return records as dictionaries. The reference system's API shape
//! (`ln.Artifact`, query sets, settings) is built in Python on top of it (`python/trove/`).
//!
//! * **One runtime.** A multi-threaded tokio runtime is created at first use and shared by
//!   every handle and thread; calls from many Python threads run concurrently.
//! * **The GIL is released** for every call that does I/O ([`Python::detach`]).
//! * **fork().** The runtime's threads do not survive a `fork()`; a child that uses a handle or
//!   the runtime of its parent gets a clear `RuntimeError` instead of a hang. A child may open
//!   its own handles if the parent never used the runtime.
//! * **Errors** become the exception classes of `trove.errors` (by [`trove::ErrorKind`]), with
//!   Trove's own messages.

mod arrow;
mod convert;

use std::future::Future;
use std::path::PathBuf;
use std::sync::OnceLock;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use trove::{
    ArtifactQuery, BranchId, BranchSelection, CollectionOptions, CollectionQuery, InitOptions, Order, SaveOptions,
    Source, StoragePolicy, Trove, Uid,
};

use crate::convert::{artifact_dict, collection_dict, label_dict, to_py_err};

/// What a permanent deletion did to one artifact: its uid, the paths removed, the paths kept.
type PurgedPaths = (String, Vec<String>, Vec<String>);

/// The process-wide runtime and the process it was created in.
static RUNTIME: OnceLock<(tokio::runtime::Runtime, u32)> = OnceLock::new();

const FORK_MESSAGE: &str = "Trove was used in this process's parent before fork(): its background runtime and \
                            connections do not survive a fork. Use the 'spawn' or 'forkserver' start method \
                            (multiprocessing.set_start_method('spawn')), or fork before the first Trove call";

fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    let (rt, pid) = RUNTIME.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("trove-runtime")
            .build()
            .expect("the tokio runtime can be built");
        (rt, std::process::id())
    });
    if *pid != std::process::id() {
        return Err(PyRuntimeError::new_err(FORK_MESSAGE));
    }
    Ok(rt)
}

/// Run a façade future on the runtime with the GIL released.
fn run<T, F>(py: Python<'_>, fut: F) -> PyResult<T>
where
    T: Send,
    F: Future<Output = trove::Result<T>> + Send,
{
    let rt = runtime()?;
    py.detach(|| rt.block_on(fut)).map_err(|e| to_py_err(py, e))
}

fn uid(s: &str) -> PyResult<Uid> {
    Uid::parse(s).map_err(convert::to_py_err_nogil)
}

fn uids(v: Vec<String>) -> PyResult<Vec<Uid>> {
    v.iter().map(String::as_str).map(uid).collect()
}

fn branch_selection(branch: Option<String>) -> PyResult<BranchSelection> {
    match branch {
        None => Ok(BranchSelection::Default),
        Some(b) => BranchSelection::parse(&b).map_err(convert::to_py_err_nogil),
    }
}

fn policy(storage: Option<bool>) -> StoragePolicy {
    match storage {
        None => StoragePolicy::Auto,
        Some(true) => StoragePolicy::Delete,
        Some(false) => StoragePolicy::Keep,
    }
}

/// Create an instance (`trove.setup.init`): the default storage root, the catalog URL (`None`
/// puts an embedded SQLite catalog in the root), and whether new keys are virtual.
#[pyfunction]
#[pyo3(signature = (storage, db=None, name=None, keys_virtual=true))]
fn init(
    py: Python<'_>,
    storage: String,
    db: Option<String>,
    name: Option<String>,
    keys_virtual: bool,
) -> PyResult<Instance> {
    let opts = InitOptions { storage, db, name, keys_virtual, user: None, single_writer: false };
    let trove = run(py, Trove::init(opts))?;
    Ok(Instance { trove, pid: std::process::id() })
}

/// Open an existing instance: a root folder holding an embedded catalog, a bucket URL, or a
/// catalog URL.
#[pyfunction]
fn connect(py: Python<'_>, location: String) -> PyResult<Instance> {
    let trove = run(py, Trove::open(location))?;
    Ok(Instance { trove, pid: std::process::id() })
}

/// Whether the current process is the one that created the runtime (false after `fork()`
/// in a child of a process that used Trove).
#[pyfunction]
fn runtime_usable() -> bool {
    RUNTIME.get().is_none_or(|(_, pid)| *pid == std::process::id())
}

/// The canonical suffix of a file or folder name, by Trove's rules (`.csv`, `.ome.zarr`,
/// `.tar.gz`, or empty).
#[pyfunction]
fn suffix_of(name: String) -> String {
    trove::domain::key::suffix_of(&name)
}

/// An open Trove instance. Cheap to share between threads: every method releases the GIL.
#[pyclass(frozen, module = "trove._native")]
struct Instance {
    trove: Trove,
    pid: u32,
}

impl Instance {
    fn check_fork(&self) -> PyResult<&Trove> {
        if self.pid != std::process::id() {
            return Err(PyRuntimeError::new_err(FORK_MESSAGE));
        }
        Ok(&self.trove)
    }

    fn record<'py>(&self, py: Python<'py>, a: &trove::Artifact) -> PyResult<Bound<'py, PyDict>> {
        artifact_dict(py, &self.trove, a)
    }

    fn records<'py>(&self, py: Python<'py>, v: &[trove::Artifact]) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for a in v {
            list.append(self.record(py, a)?)?;
        }
        Ok(list)
    }
}

#[pymethods]
impl Instance {
    /// The instance: `uid`, `name`, `location`, `catalog`, `keys_virtual`, `default_root`,
    /// `storages` (a list of `{uid, root, managed}`), `user`.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let t = self.check_fork()?;
        let d = PyDict::new(py);
        let i = t.instance();
        d.set_item("uid", &i.uid)?;
        d.set_item("name", &i.name)?;
        d.set_item("location", t.location())?;
        d.set_item("catalog", t.catalog_backend())?;
        d.set_item("keys_virtual", i.keys_virtual)?;
        d.set_item("default_root", &t.default_storage().root)?;
        d.set_item("default_storage_id", t.default_storage().id.0)?;
        d.set_item("user", t.user())?;
        let storages = PyList::empty(py);
        for s in t.storages() {
            let sd = PyDict::new(py);
            sd.set_item("id", s.id.0)?;
            sd.set_item("uid", &s.uid)?;
            sd.set_item("root", &s.root)?;
            sd.set_item("managed", t.manages(&s))?;
            sd.set_item("created_at", convert::iso(&s.created_at))?;
            storages.append(sd)?;
        }
        d.set_item("storages", storages)?;
        Ok(d)
    }

    /// Save a local file or folder (a path inside a registered storage is registered in place;
    /// an `s3://`/`gs://` URI inside a registered location too). Returns `(outcome, record)`.
    #[pyo3(signature = (path, key=None, description=None, kind=None, revises=None, real_key=None))]
    #[allow(clippy::too_many_arguments, reason = "mirrors the keyword arguments of the Python API one to one")]
    fn save_path<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        key: Option<String>,
        description: Option<String>,
        kind: Option<String>,
        revises: Option<String>,
        real_key: Option<bool>,
    ) -> PyResult<(&'static str, Bound<'py, PyDict>)> {
        let t = self.check_fork()?.clone();
        let revises = revises.as_deref().map(uid).transpose()?;
        let opts = SaveOptions { key, description, kind, revises, real_key, ..SaveOptions::default() };
        let out = run(py, async move { t.save_from(path.as_os_str(), opts).await })?;
        Ok((out.name(), self.record(py, out.artifact())?))
    }

    /// Save an Arrow C stream (any object with `__arrow_c_stream__`) as a Parquet artifact
    /// (`otype = "DataFrame"`, `kind = "dataset"` unless given). Returns `(outcome, record)`.
    #[pyo3(signature = (data, key=None, description=None, kind=None, revises=None, real_key=None))]
    #[allow(clippy::too_many_arguments, reason = "mirrors the keyword arguments of the Python API one to one")]
    fn save_arrow<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        key: Option<String>,
        description: Option<String>,
        kind: Option<String>,
        revises: Option<String>,
        real_key: Option<bool>,
    ) -> PyResult<(&'static str, Bound<'py, PyDict>)> {
        let t = self.check_fork()?.clone();
        let batches = arrow::import_stream(data)?;
        let revises = revises.as_deref().map(uid).transpose()?;
        let kind = kind.or_else(|| Some("dataset".to_owned()));
        let opts = SaveOptions { key, description, kind, revises, real_key, ..SaveOptions::default() };
        let out = run(py, async move { t.save_dataframe(&batches, opts).await })?;
        Ok((out.name(), self.record(py, out.artifact())?))
    }

    /// Replace an artifact's content with a local file or folder. Returns `(outcome, record)`
    /// where outcome is `replaced` or `unchanged`.
    fn replace_path<'py>(
        &self,
        py: Python<'py>,
        uid: String,
        path: PathBuf,
    ) -> PyResult<(&'static str, Bound<'py, PyDict>)> {
        let t = self.check_fork()?.clone();
        let out = run(py, async move { t.replace(&uid, Source::Path(path)).await })?;
        Ok((out.name(), self.record(py, out.artifact())?))
    }

    /// Replace an artifact's content with an Arrow C stream written as Parquet.
    fn replace_arrow<'py>(
        &self,
        py: Python<'py>,
        uid: String,
        data: &Bound<'py, PyAny>,
    ) -> PyResult<(&'static str, Bound<'py, PyDict>)> {
        let t = self.check_fork()?.clone();
        let batches = arrow::import_stream(data)?;
        let out = run(py, async move { t.replace_dataframe(&uid, &batches).await })?;
        Ok((out.name(), self.record(py, out.artifact())?))
    }

    /// One artifact by uid (any branch), stem, or key (the head on main).
    fn get<'py>(&self, py: Python<'py>, locator: String) -> PyResult<Bound<'py, PyDict>> {
        let t = self.check_fork()?.clone();
        let a = run(py, async move { t.get(&locator).await })?;
        self.record(py, &a)
    }

    /// Artifacts matching a query: `branch` is `None` (main), `main`, `archive`, `trash`, `all`
    /// or a branch id; `order` is `newest` (default), `key` or `version`.
    #[pyo3(signature = (branch=None, uids=None, stem=None, key=None, key_prefix=None, hash=None,
                        latest_only=false, labels=None, order=None, limit=None, offset=None, count_only=false))]
    #[allow(clippy::too_many_arguments, reason = "mirrors the keyword arguments of the Python API one to one")]
    fn list<'py>(
        &self,
        py: Python<'py>,
        branch: Option<String>,
        uids: Option<Vec<String>>,
        stem: Option<String>,
        key: Option<String>,
        key_prefix: Option<String>,
        hash: Option<String>,
        latest_only: bool,
        labels: Option<Vec<String>>,
        order: Option<String>,
        limit: Option<u64>,
        offset: Option<u64>,
        count_only: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let t = self.check_fork()?.clone();
        let mut q = ArtifactQuery::new().branch(branch_selection(branch)?);
        q.uids = uids.map(self::uids).transpose()?;
        q.stem = stem.as_deref().map(trove::Stem::parse).transpose().map_err(convert::to_py_err_nogil)?;
        q.key = key;
        q.key_prefix = key_prefix;
        q.hash = hash;
        q.latest_only = latest_only;
        q.labels = labels;
        q.order = match order.as_deref() {
            None | Some("newest") => Order::NewestFirst,
            Some("key") => Order::Key,
            Some("version") => Order::Version,
            Some(o) => {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "unknown order '{o}': use newest, key or version"
                )));
            }
        };
        q.limit = limit;
        q.offset = offset;
        if count_only {
            let n = run(py, async move { t.count(&q).await })?;
            return Ok(n.into_pyobject(py)?.into_any());
        }
        let v = run(py, async move { t.list(&q).await })?;
        Ok(self.records(py, &v)?.into_any())
    }

    /// Move records to the trash (an artifact already there is an `AlreadyInTrash` error and
    /// nothing in the batch changes). Returns the records after the move.
    fn trash<'py>(&self, py: Python<'py>, uids: Vec<String>) -> PyResult<Bound<'py, PyList>> {
        let t = self.check_fork()?.clone();
        let uids = self::uids(uids)?;
        let moved = run(py, async move { t.trash(&uids).await })?;
        self.records(py, &moved.into_iter().map(|m| m.artifact).collect::<Vec<_>>())
    }

    /// Restore records (from the trash to where they came from, from the archive to main).
    fn restore<'py>(&self, py: Python<'py>, uids: Vec<String>) -> PyResult<Bound<'py, PyList>> {
        let t = self.check_fork()?.clone();
        let uids = self::uids(uids)?;
        let moved = run(py, async move { t.restore(&uids).await })?;
        self.records(py, &moved.into_iter().map(|m| m.artifact).collect::<Vec<_>>())
    }

    /// Archive live records.
    fn archive<'py>(&self, py: Python<'py>, uids: Vec<String>) -> PyResult<Bound<'py, PyList>> {
        let t = self.check_fork()?.clone();
        let uids = self::uids(uids)?;
        let moved = run(py, async move { t.archive(&uids).await })?;
        self.records(py, &moved.into_iter().map(|m| m.artifact).collect::<Vec<_>>())
    }

    /// Delete records permanently; `storage` is `True` (delete the bytes), `False` (keep them)
    /// or `None` (auto: delete managed bytes, keep bytes at user-visible paths). Returns a list
    /// of `(uid, removed_paths, kept_paths)`.
    #[pyo3(signature = (uids, storage=None))]
    fn delete_permanently(
        &self,
        py: Python<'_>,
        uids: Vec<String>,
        storage: Option<bool>,
    ) -> PyResult<Vec<PurgedPaths>> {
        let t = self.check_fork()?.clone();
        let uids = self::uids(uids)?;
        let report = run(py, async move { t.delete_permanently(&uids, policy(storage)).await })?;
        Ok(report
            .purged
            .into_iter()
            .map(|p| (p.artifact.uid.to_string(), p.removed_paths, p.kept_paths.into_iter().map(|k| k.path).collect()))
            .collect())
    }

    /// A local path to an artifact's content (the stored path on local storage, the cache copy
    /// of a cloud artifact).
    fn cache(&self, py: Python<'_>, uid: String) -> PyResult<PathBuf> {
        let t = self.check_fork()?.clone();
        run(py, async move {
            let a = t.get(&uid).await?;
            t.cache(&a).await
        })
    }

    /// Where the cache copy of an artifact is or would be (cloud storage), else `None`.
    fn cache_path(&self, py: Python<'_>, uid: String) -> PyResult<Option<PathBuf>> {
        let t = self.check_fork()?.clone();
        run(py, async move {
            let a = t.get(&uid).await?;
            if !t.path(&a)?.contains("://") {
                return Ok(None);
            }
            let root = t.cache_dir()?;
            let rel = a.storage_key();
            Ok(Some(trove::cache_path(&root, &t.storage_root(&a)?, &rel)?))
        })
    }

    /// A Parquet or CSV artifact as an Arrow C stream (an object with `__arrow_c_stream__`).
    fn load_arrow(&self, py: Python<'_>, uid: String) -> PyResult<arrow::ArrowStream> {
        let t = self.check_fork()?.clone();
        let (schema, batches) = run(py, async move {
            let a = t.get(&uid).await?;
            if a.suffix == trove::PARQUET_SUFFIX && !a.is_folder() {
                // The schema from the footer: a table with no rows has no batch to carry it.
                let reader = t.open_parquet(&a).await?;
                let schema = reader.schema().clone();
                return Ok((Some(schema), reader.collect().await?));
            }
            Ok((None, t.load_dataframe(&a).await?))
        })?;
        arrow::ArrowStream::new(batches, schema)
    }

    /// A file artifact's bytes, or `length` bytes from `offset`.
    #[pyo3(signature = (uid, offset=None, length=None))]
    fn read_bytes<'py>(
        &self,
        py: Python<'py>,
        uid: String,
        offset: Option<u64>,
        length: Option<u64>,
    ) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
        let t = self.check_fork()?.clone();
        let data = run(py, async move {
            let a = t.get(&uid).await?;
            if offset.is_none() && length.is_none() {
                return t.load_bytes(&a).await;
            }
            let start = offset.unwrap_or(0).min(a.size);
            let end = length.map_or(a.size, |l| start.saturating_add(l).min(a.size));
            if start >= end {
                return Ok(bytes::Bytes::new());
            }
            let mut r = t.open_reader(&a, Some(start..end)).await?;
            let mut out = Vec::with_capacity((end - start) as usize);
            while let Some(chunk) = r.chunk().await? {
                out.extend_from_slice(&chunk);
            }
            Ok(out.into())
        })?;
        Ok(pyo3::types::PyBytes::new(py, &data))
    }

    /// The files of a folder artifact, read in place: a list of `(relative path, size)`.
    fn folder_files(&self, py: Python<'_>, uid: String) -> PyResult<Vec<(String, u64)>> {
        let t = self.check_fork()?.clone();
        run(py, async move {
            let a = t.get(&uid).await?;
            let view = t.open_folder(&a).await?;
            Ok(view.files().iter().map(|f| (f.path.clone(), f.size)).collect())
        })
    }

    /// One file of a folder artifact, read in place.
    fn folder_read<'py>(
        &self,
        py: Python<'py>,
        uid: String,
        path: String,
    ) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
        let t = self.check_fork()?.clone();
        let data = run(py, async move {
            let a = t.get(&uid).await?;
            let view = t.open_folder(&a).await?;
            view.read(&path, None).await
        })?;
        Ok(pyo3::types::PyBytes::new(py, &data))
    }

    /// Every version of the family of `uid` on the selected branches (oldest first).
    #[pyo3(signature = (uid, branch=None))]
    fn versions<'py>(&self, py: Python<'py>, uid: String, branch: Option<String>) -> PyResult<Bound<'py, PyList>> {
        let t = self.check_fork()?.clone();
        let sel = branch_selection(branch)?;
        let v = run(py, async move { t.versions(&uid, sel).await })?;
        self.records(py, &v)
    }

    // ----- collections -----

    /// Create a collection of artifacts (by uid). Returns `(outcome, record)`.
    #[pyo3(signature = (members, key=None, description=None))]
    fn create_collection<'py>(
        &self,
        py: Python<'py>,
        members: Vec<String>,
        key: Option<String>,
        description: Option<String>,
    ) -> PyResult<(&'static str, Bound<'py, PyDict>)> {
        let t = self.check_fork()?.clone();
        let members = self::uids(members)?;
        let opts = CollectionOptions { key, description };
        let out = run(py, async move { t.create_collection(&members, opts).await })?;
        Ok((out.name(), collection_dict(py, out.collection())?))
    }

    /// One collection by uid, stem or key.
    fn get_collection<'py>(&self, py: Python<'py>, locator: String) -> PyResult<Bound<'py, PyDict>> {
        let t = self.check_fork()?.clone();
        let c = run(py, async move { t.collection_in(&locator, BranchSelection::All).await })?;
        collection_dict(py, &c)
    }

    /// Collections on the selected branches (default main), optionally by key.
    #[pyo3(signature = (branch=None, key=None))]
    fn list_collections<'py>(
        &self,
        py: Python<'py>,
        branch: Option<String>,
        key: Option<String>,
    ) -> PyResult<Bound<'py, PyList>> {
        let t = self.check_fork()?.clone();
        let q = CollectionQuery { branch: branch_selection(branch)?, key, ..CollectionQuery::default() };
        let v = run(py, async move { t.collections(&q).await })?;
        let list = PyList::empty(py);
        for c in &v {
            list.append(collection_dict(py, c)?)?;
        }
        Ok(list)
    }

    /// A collection's member artifacts.
    fn collection_members<'py>(&self, py: Python<'py>, uid: String) -> PyResult<Bound<'py, PyList>> {
        let t = self.check_fork()?.clone();
        let v = run(py, async move {
            let c = t.collection_in(&uid, BranchSelection::All).await?;
            t.collection_members(&c).await
        })?;
        self.records(py, &v)
    }

    /// Move collections between branches: `op` is `trash`, `restore`, `archive` or `delete`
    /// (permanent).
    fn collections_op(&self, py: Python<'_>, op: String, uids: Vec<String>) -> PyResult<()> {
        let t = self.check_fork()?.clone();
        let uids = self::uids(uids)?;
        run(py, async move {
            match op.as_str() {
                "trash" => t.trash_collections(&uids).await.map(drop),
                "restore" => t.restore_collections(&uids).await.map(drop),
                "archive" => t.archive_collections(&uids).await.map(drop),
                "delete" => t.delete_collections_permanently(&uids).await.map(drop),
                other => Err(trove::Error::invalid_input(format!("unknown collection operation '{other}'"))),
            }
        })
    }

    // ----- labels -----

    /// Create a label (or return the existing one of that name).
    #[pyo3(signature = (name, description=None))]
    fn create_label<'py>(
        &self,
        py: Python<'py>,
        name: String,
        description: Option<String>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let t = self.check_fork()?.clone();
        let l = run(py, async move { t.create_label(&name, description.as_deref()).await })?;
        label_dict(py, &l)
    }

    /// One label by name.
    fn get_label<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyDict>> {
        let t = self.check_fork()?.clone();
        let l = run(py, async move { t.label(&name).await })?;
        label_dict(py, &l)
    }

    /// Labels on the selected branches.
    #[pyo3(signature = (branch=None))]
    fn list_labels<'py>(&self, py: Python<'py>, branch: Option<String>) -> PyResult<Bound<'py, PyList>> {
        let t = self.check_fork()?.clone();
        let sel = branch_selection(branch)?;
        let v = run(py, async move { t.labels(sel).await })?;
        let list = PyList::empty(py);
        for l in &v {
            list.append(label_dict(py, l)?)?;
        }
        Ok(list)
    }

    /// Attach (`attach=True`) or detach a label to/from artifacts or collections (by uid,
    /// stem or key). Returns how many links changed.
    fn label_link(&self, py: Python<'_>, name: String, targets: Vec<String>, attach: bool) -> PyResult<u64> {
        let t = self.check_fork()?.clone();
        run(py, async move {
            let targets = t.resolve_labeled(&targets).await?;
            if attach { t.attach_label(&name, &targets).await } else { t.detach_label(&name, &targets).await }
        })
    }

    /// The labels of an artifact (by uid).
    fn labels_of<'py>(&self, py: Python<'py>, uid: String) -> PyResult<Bound<'py, PyList>> {
        let t = self.check_fork()?.clone();
        let u = self::uid(&uid)?;
        let v = run(py, async move { t.labels_of(&trove::Labeled::Artifact(u)).await })?;
        let list = PyList::empty(py);
        for l in &v {
            list.append(label_dict(py, l)?)?;
        }
        Ok(list)
    }

    /// Move labels between branches: `op` is `trash`, `restore`, `archive` or `delete`.
    fn labels_op(&self, py: Python<'_>, op: String, names: Vec<String>) -> PyResult<()> {
        let t = self.check_fork()?.clone();
        run(py, async move {
            match op.as_str() {
                "trash" => t.trash_labels(&names).await.map(drop),
                "restore" => t.restore_labels(&names).await.map(drop),
                "archive" => t.archive_labels(&names).await.map(drop),
                "delete" => t.delete_labels_permanently(&names).await.map(drop),
                other => Err(trove::Error::invalid_input(format!("unknown label operation '{other}'"))),
            }
        })
    }

    /// Delete this instance (`trove.setup.delete`): refused while artifacts remain unless
    /// `force`; `storage` is `keep`, `auto` or `delete` for the bytes of remaining artifacts.
    #[pyo3(signature = (force=false, storage="keep".to_owned()))]
    fn delete_instance(&self, py: Python<'_>, force: bool, storage: String) -> PyResult<()> {
        let t = self.check_fork()?.clone();
        let policy = StoragePolicy::parse(&storage).map_err(convert::to_py_err_nogil)?;
        let opts = trove::DeleteInstanceOptions { force, storage: policy };
        run(py, async move { t.delete_instance(&opts).await.map(drop) })
    }

    /// What is at a path or object URL inside a registered storage location: `"file"`, `"dir"`
    /// or `None`.
    fn path_exists(&self, py: Python<'_>, url: String) -> PyResult<Option<&'static str>> {
        let t = self.check_fork()?.clone();
        let found = run(py, async move { t.probe(&url).await })?;
        Ok(found.map(|dir| if dir { "dir" } else { "file" }))
    }

    /// The name of a branch id (`main`, `archive`, `trash`, or the id).
    #[staticmethod]
    fn branch_name(id: i64) -> String {
        BranchId(id).name()
    }
}

/// The `trove._native` module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Instance>()?;
    m.add_class::<arrow::ArrowStream>()?;
    m.add_function(wrap_pyfunction!(init, m)?)?;
    m.add_function(wrap_pyfunction!(connect, m)?)?;
    m.add_function(wrap_pyfunction!(runtime_usable, m)?)?;
    m.add_function(wrap_pyfunction!(suffix_of, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
