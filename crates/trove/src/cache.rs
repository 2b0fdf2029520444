//! The local cache of cloud artifacts (spec 2, section 7): `cache()`, `cache_verify()`,
//! streamed reads, seeding on save, and an optional size bound with least-recently-used
//! eviction.
//!
//! * **Root**: [`TroveBuilder::cache_dir`](crate::TroveBuilder::cache_dir), else
//!   `TROVE_CACHE_DIR` (must be absolute), else the platform cache folder + `trove`
//!   (`~/.cache/trove` on Linux).
//! * **Paths**: local storage is never copied: the stored path itself is returned. A cloud
//!   artifact is cached at `<cache>/<bucket>/<prefix>/<storage key>`; the latest version of an
//!   artifact with a virtual key at `<cache>/<bucket>/<prefix>/<key>` instead, so users find it
//!   by name. Every segment is checked: a path that would leave the cache root is refused.
//! * **Freshness**: a file is downloaded when the local copy is missing or its size or
//!   modification time differs from the remote object's; after a download the local
//!   modification time is set to the remote one. (S3's `Last-Modified` has one-second
//!   resolution: a same-size overwrite within the same second is not noticed; `--verify`
//!   re-hashes.) A store that reports no modification time is always re-read.
//! * **Which object a path holds**: two artifacts can share a cache path (an object registered
//!   in place at `raw/x.csv` and the latest version of the virtual key `raw/x.csv`; buckets of
//!   the same name on S3 and GCS). The index records, for every cached file, the object it
//!   holds (store root, object key, ETag) and the file's device and inode; a copy is fresh only
//!   if the record names the wanted object *and* describes the file now at the path. Anything
//!   else (another object, no record, a file replaced behind the record) is downloaded again, so
//!   a cache path never returns another artifact's bytes. Two artifacts used alternately at one
//!   path download alternately; a process using one while another caches the other at the same
//!   path can still see the other's bytes replace it.
//! * **Folders** sync file by file, and local files that no longer exist remotely are removed.
//! * **Never half-written**: downloads go to a hidden temporary sibling
//!   (`.<name>.trove-part-<random>`) which is renamed into place when complete; a failed or
//!   interrupted download removes it.
//! * **Size bound** (`TROVE_CACHE_MAX_BYTES` or
//!   [`TroveBuilder::cache_max_bytes`](crate::TroveBuilder::cache_max_bytes)): every
//!   `cache()` records the entry's last use in `<cache>/.trove-cache/index.json` (a small
//!   JSON index, written atomically; file access times are unreliable under `noatime` and
//!   `relatime`). When the bound is exceeded, whole entries (a file, or a folder artifact) are
//!   removed, least recently used first, never the entry just returned; files the index does
//!   not know count as least recently used. Processes sharing a cache may lose each other's
//!   index updates; the worst outcome is an early eviction, never a wrong file.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use trove_domain::hash::{FolderEntry, folder_hash};
use trove_domain::ids::random_base62;
use trove_domain::key::MAX_SEGMENT_BYTES;
use trove_domain::ports::{ObjectMeta, ObjectReader, ObjectStore};
use trove_domain::{Artifact, ContentHash, Error, ErrorKind, Placement, Result};

use crate::Trove;
use crate::progress::{Progress, Transfer, TransferKind};
use crate::transfer::{CopyError, Flush, copy_parallel};

/// Environment variable naming the cache root (an absolute path).
pub const CACHE_DIR_ENV: &str = "TROVE_CACHE_DIR";
/// Environment variable bounding the cache size in bytes.
pub const CACHE_MAX_BYTES_ENV: &str = "TROVE_CACHE_MAX_BYTES";
/// Folder inside the cache root holding the cache's own bookkeeping.
const META_DIR: &str = ".trove-cache";
const INDEX_FILE: &str = "index.json";
const PART_MARK: &str = ".trove-part-";

/// Cache settings as given to the builder; resolved (and checked) when first used.
#[derive(Debug, Clone, Default)]
pub(crate) struct CacheSettings {
    pub(crate) dir: Option<PathBuf>,
    pub(crate) max_bytes: Option<u64>,
}

impl CacheSettings {
    pub(crate) fn root(&self) -> Result<PathBuf> {
        if let Some(d) = &self.dir {
            return absolute_dir(d, "the builder's cache_dir");
        }
        if let Some(d) = std::env::var_os(CACHE_DIR_ENV).filter(|v| !v.is_empty()) {
            return absolute_dir(Path::new(&d), CACHE_DIR_ENV);
        }
        default_cache_dir()
    }

    fn max_bytes(&self) -> Result<Option<u64>> {
        if self.max_bytes.is_some() {
            return Ok(self.max_bytes);
        }
        match std::env::var(CACHE_MAX_BYTES_ENV) {
            Ok(v) if !v.trim().is_empty() => v.trim().parse().map(Some).map_err(|_| {
                Error::invalid_input(format!("{CACHE_MAX_BYTES_ENV}={v:?} is not a number of bytes, e.g. 10000000000"))
            }),
            _ => Ok(None),
        }
    }
}

fn absolute_dir(d: &Path, what: &str) -> Result<PathBuf> {
    if !d.is_absolute() {
        return Err(Error::invalid_input(format!(
            "{what} is '{}', a relative path: give an absolute cache folder",
            d.display()
        )));
    }
    crate::normalize_root(d)
}

/// The platform cache folder for Trove: `$XDG_CACHE_HOME/trove` or `~/.cache/trove` on Linux,
/// `~/Library/Caches/trove` on macOS, `%LOCALAPPDATA%\trove` on Windows.
pub fn default_cache_dir() -> Result<PathBuf> {
    dirs::cache_dir().map(|d| d.join("trove")).ok_or_else(|| {
        Error::invalid_input(format!("no platform cache folder (no home directory?): set {CACHE_DIR_ENV}"))
    })
}

/// The cache path of `rel` (a `/`-separated path) for a store rooted at `store_root`
/// (`s3://bucket/prefix`, ...): `<cache_root>/<bucket>/<prefix>/<rel>`. Refuses any segment
/// that is empty, `.`, `..`, or holds a backslash or NUL, so the result is always inside
/// `cache_root`.
pub fn cache_path(cache_root: &Path, store_root: &str, rel: &str) -> Result<PathBuf> {
    let base = store_root.split_once("://").map(|(_, rest)| rest).unwrap_or(store_root);
    let mut out = cache_root.to_path_buf();
    let mut first = true;
    for part in base.trim_matches('/').split('/').chain(rel.split('/')) {
        if first && part == META_DIR {
            return Err(escape_error(cache_root, store_root, rel));
        }
        first = false;
        if part.is_empty() || part == "." || part == ".." || part.contains(['\\', '\0']) {
            return Err(escape_error(cache_root, store_root, rel));
        }
        out.push(part);
    }
    if !out.starts_with(cache_root) || out == cache_root {
        return Err(escape_error(cache_root, store_root, rel));
    }
    Ok(out)
}

fn escape_error(cache_root: &Path, store_root: &str, rel: &str) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!(
            "refusing to cache '{rel}' of {store_root}: its cache path would leave the cache root {} \
             (empty, '.' or '..' segments); the artifact's storage key or root is malformed",
            cache_root.display()
        ),
    )
}

impl Trove {
    /// The cache root (see the module docs of the cache for how it is chosen).
    pub fn cache_dir(&self) -> Result<PathBuf> {
        self.inner.cache.root()
    }

    /// A local path to an artifact's content. On local storage this is the stored file or
    /// folder itself (no copy). On cloud storage it is the cache path, downloaded or brought up
    /// to date first (file by file for folders); an up-to-date copy is not downloaded again.
    pub async fn cache(&self, artifact: &Artifact) -> Result<PathBuf> {
        self.check_readable(artifact).await?;
        let store = self.store(artifact.storage)?;
        let key = artifact.storage_key();
        if let Some(p) = store.store.local_path(&key) {
            return Ok(p);
        }
        let root = self.inner.cache.root()?;
        let dest = self.cache_path_of(&root, artifact)?;
        let s = store.store.as_ref();
        let mut sync = Sync::new(s, self.progress(), &root).await;
        if artifact.is_folder() {
            sync.folder(&key, &dest).await?;
        } else {
            let remote = s.stat(&key).await?.ok_or_else(|| {
                Error::not_found(format!(
                    "the bytes of {} are missing at {}: run `trove fsck`",
                    artifact.label(),
                    s.display_path(&key)
                ))
            })?;
            sync.file(&dest, &remote).await?;
        }
        self.touch_and_evict(&root, &dest, sync.held).await?;
        Ok(dest)
    }

    /// [`Trove::cache`], then re-hash the local copy and compare it with the recorded hash. A
    /// cloud copy that does not match is removed and downloaded again once; if it still does
    /// not match (or a local store's bytes do not), the error is [`ErrorKind::Integrity`].
    pub async fn cache_verify(&self, artifact: &Artifact) -> Result<PathBuf> {
        let path = self.cache(artifact).await?;
        if hash_local(&path, artifact.is_folder()).await?.hash == artifact.hash {
            return Ok(path);
        }
        let cloud = self.store(artifact.storage)?.store.local_path("").is_none();
        if cloud {
            remove_path(&path).await?;
            let path = self.cache(artifact).await?;
            if hash_local(&path, artifact.is_folder()).await?.hash == artifact.hash {
                return Ok(path);
            }
        }
        Err(Error::new(
            ErrorKind::Integrity,
            format!(
                "the content of {} at {} does not match its recorded hash {}: the stored bytes changed or are \
                 corrupt; run `trove fsck --verify`",
                artifact.label(),
                path.display(),
                artifact.hash
            ),
        ))
    }

    /// Stream a file artifact's content (or a byte range of it) without downloading it first:
    /// from local disk, S3 or GCS alike.
    pub async fn open_reader(&self, artifact: &Artifact, range: Option<Range<u64>>) -> Result<Box<dyn ObjectReader>> {
        if artifact.is_folder() {
            return Err(Error::invalid_input(format!(
                "{} is a folder; use `cache` for a local copy of its files",
                artifact.label()
            )));
        }
        self.check_readable(artifact).await?;
        self.store(artifact.storage)?.store.reader(&artifact.storage_key(), range).await
    }

    /// After a save to cloud storage, copy the local source into the cache path with the
    /// remote modification time, so the first `cache()` downloads nothing. Best effort: a
    /// failure only means the first `cache()` downloads.
    pub(crate) async fn seed_cache(&self, source: &Path, artifact: &Artifact) {
        if let Err(e) = self.try_seed_cache(source, artifact).await {
            tracing::debug!(uid = %artifact.uid, error = %e, "cache not seeded");
        }
    }

    async fn try_seed_cache(&self, source: &Path, artifact: &Artifact) -> Result<()> {
        let store = self.store(artifact.storage)?;
        if store.store.local_path("").is_some() {
            return Ok(());
        }
        let source = crate::normalize_root(source)?;
        let root = self.inner.cache.root()?;
        let dest = self.cache_path_of(&root, artifact)?;
        let key = artifact.storage_key();
        let s = store.store.as_ref();
        let mut held = Vec::new();
        if artifact.is_folder() {
            let remote = s.list(&format!("{key}/")).await?;
            for obj in &remote {
                let rel = &obj.key[key.len() + 1..];
                let file_dest = join_rel(&dest, rel)?;
                // A folder's files carry no recorded hash of their own: only a file whose exact
                // MD5 the server reports can be checked, so only those are seeded.
                let Some(expected) = crate::local::hash_from_meta(obj) else { continue };
                if let Some(h) = seed_file(s, &source.join(rel), &file_dest, obj, &expected.hash).await? {
                    held.push((rel_of(&root, &file_dest), h));
                }
            }
        } else if let Some(meta) = s.stat(&key).await?
            && let Some(h) = seed_file(s, &source, &dest, &meta, &artifact.hash).await?
        {
            held.push((rel_of(&root, &dest), h));
        }
        self.touch_and_evict(&root, &dest, held).await
    }

    fn cache_path_of(&self, root: &Path, artifact: &Artifact) -> Result<PathBuf> {
        let store = self.store(artifact.storage)?;
        let rel = match (&artifact.key, &artifact.placement) {
            (Some(k), Placement::Managed) if artifact.is_latest => k.as_str().to_owned(),
            _ => artifact.storage_key(),
        };
        cache_path(root, &store.location.root, &rel)
    }

    /// Record the entry's use and what its files hold (`held`, replacing every earlier record
    /// below the entry), then evict if the cache is over its bound.
    async fn touch_and_evict(&self, root: &Path, dest: &Path, held: Vec<(String, Holding)>) -> Result<()> {
        let rel = rel_of(root, dest);
        let max = self.inner.cache.max_bytes()?;
        let root = root.to_path_buf();
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        tokio::task::spawn_blocking(move || touch_and_evict_blocking(&root, &rel, held, now, max))
            .await
            .map_err(|e| Error::storage(format!("cache bookkeeping failed: {e}")))?
    }
}

/// Which object a cached file holds, and which file that record describes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Holding {
    /// `<store root>/<object key>#<etag>`.
    object: String,
    dev: u64,
    ino: u64,
}

impl Holding {
    fn new(object: String, meta: &std::fs::Metadata) -> Holding {
        use std::os::unix::fs::MetadataExt;
        Holding { object, dev: meta.dev(), ino: meta.ino() }
    }
}

/// The identity of a remote object, as recorded for the cached file holding it.
fn object_id(store: &dyn ObjectStore, remote: &ObjectMeta) -> String {
    format!("{}/{}#{}", store.root(), remote.key, remote.etag.as_deref().unwrap_or(""))
}

/// A path below the cache root as the index names it (`/`-separated).
fn rel_of(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).expect("cache paths are below the root").to_string_lossy().replace('\\', "/")
}

/// One `cache()` call: what the index said when it started, and what each file it leaves in
/// place holds.
struct Sync<'a> {
    store: &'a dyn ObjectStore,
    progress: &'a Progress,
    root: &'a Path,
    known: BTreeMap<String, Holding>,
    held: Vec<(String, Holding)>,
}

impl<'a> Sync<'a> {
    async fn new(store: &'a dyn ObjectStore, progress: &'a Progress, root: &'a Path) -> Sync<'a> {
        let index_path = root.join(META_DIR).join(INDEX_FILE);
        let index: Index =
            tokio::fs::read(&index_path).await.ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        Sync { store, progress, root, known: index.objects, held: Vec::new() }
    }

    /// Download `remote` to `dest` unless `dest` already holds exactly it.
    async fn file(&mut self, dest: &Path, remote: &ObjectMeta) -> Result<()> {
        let rel = rel_of(self.root, dest);
        let want = object_id(self.store, remote);
        if let Some(h) = self.fresh(&rel, dest, remote, &want) {
            self.held.push((rel, h));
            return Ok(());
        }
        let h = download(self.store, self.progress, &remote.key, dest, remote, want).await?;
        self.held.push((rel, h));
        Ok(())
    }

    /// The record of `dest` if it is a fresh copy of `want`: same size and modification time as
    /// the remote, and recorded as holding `want` in this very file.
    fn fresh(&self, rel: &str, dest: &Path, remote: &ObjectMeta, want: &str) -> Option<Holding> {
        let meta = std::fs::metadata(dest).ok()?;
        let remote_time = remote.last_modified?;
        let same =
            meta.is_file() && meta.len() == remote.size && meta.modified().ok() == Some(SystemTime::from(remote_time));
        let h = Holding::new(want.to_owned(), &meta);
        (same && self.known.get(rel) == Some(&h)).then_some(h)
    }

    /// Bring a local folder in line with every object below `prefix/`: download what is
    /// missing, stale or another object's, remove local files that no longer exist remotely.
    async fn folder(&mut self, prefix: &str, dest: &Path) -> Result<()> {
        let remote = self.store.list(&format!("{prefix}/")).await?;
        if remote.is_empty() {
            return Err(Error::not_found(format!(
                "no files below {}: the folder's bytes are missing; run `trove fsck`",
                self.store.display_path(prefix)
            )));
        }
        if tokio::fs::metadata(dest).await.is_ok_and(|m| m.is_file()) {
            remove_path(dest).await?;
        }
        let mut wanted = BTreeSet::new();
        for obj in &remote {
            let rel = &obj.key[prefix.len() + 1..];
            let file_dest = join_rel(dest, rel)?;
            self.file(&file_dest, obj).await?;
            wanted.insert(file_dest);
        }
        let dest = dest.to_path_buf();
        tokio::task::spawn_blocking(move || drop_unwanted(&dest, &wanted))
            .await
            .map_err(|e| Error::storage(format!("cache folder sync failed: {e}")))?
    }
}

/// Download to a temporary sibling, set its modification time, rename it into place; returns
/// the record of the file put in place (the rename keeps its inode).
async fn download(
    store: &dyn ObjectStore,
    progress: &Progress,
    key: &str,
    dest: &Path,
    remote: &ObjectMeta,
    want: String,
) -> Result<Holding> {
    let parent = dest.parent().expect("cache paths have a parent");
    tokio::fs::create_dir_all(parent).await.map_err(|e| Error::io(format!("cannot create {}", parent.display()), e))?;
    let tmp = temp_sibling(dest);
    let result = async {
        let file = std::fs::File::create(&tmp).map_err(|e| Error::io(format!("cannot create {}", tmp.display()), e))?;
        let file = std::sync::Arc::new(file);
        let mut reader = store.reader(key, None).await?;
        tracing::debug!(object = %store.display_path(key), bytes = remote.size, to = %dest.display(), "downloading");
        let transfer = progress.start(TransferKind::Download, &store.display_path(key), remote.size);
        // The reader keeps its ranged requests in flight while each chunk is written.
        while let Some(chunk) = reader.chunk().await? {
            let (f, n) = (file.clone(), chunk.len() as u64);
            tokio::task::spawn_blocking(move || (&*f).write_all(&chunk))
                .await
                .map_err(|e| Error::storage(format!("writing {} failed: {e}", tmp.display())))?
                .map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
            transfer.add(n);
        }
        drop(transfer);
        if let Some(t) = remote.last_modified {
            file.set_modified(SystemTime::from(t))
                .map_err(|e| Error::io(format!("cannot set the modification time of {}", tmp.display()), e))?;
        }
        let meta = file.metadata().map_err(|e| Error::io(format!("cannot read {}", tmp.display()), e))?;
        drop(file);
        if tokio::fs::metadata(dest).await.is_ok_and(|m| m.is_dir()) {
            remove_path(dest).await?;
        }
        tokio::fs::rename(&tmp, dest)
            .await
            .map_err(|e| Error::io(format!("cannot move the download into place at {}", dest.display()), e))?;
        Ok(Holding::new(want, &meta))
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result
}

/// Copy a saved source into the cache path of the object it was saved as; returns the record
/// of the seeded file (`None`: the store gives no modification time, nothing seeded).
async fn seed_file(
    store: &dyn ObjectStore,
    source: &Path,
    dest: &Path,
    remote: &ObjectMeta,
    expected_hash: &str,
) -> Result<Option<Holding>> {
    let Some(t) = remote.last_modified else { return Ok(None) };
    let parent = dest.parent().expect("cache paths have a parent");
    tokio::fs::create_dir_all(parent).await.map_err(|e| Error::io(format!("cannot create {}", parent.display()), e))?;
    let tmp = temp_sibling(dest);
    let result = async {
        let (src, tmp_path, size) = (source.to_path_buf(), tmp.clone(), remote.size);
        // One pass: copy and hash together, parts in parallel.
        let copied = tokio::task::spawn_blocking(move || {
            let src = std::fs::File::open(&src)?;
            let out = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp_path)?;
            let len = src.metadata()?.len();
            let copied =
                copy_parallel(&src, Some(&out), len, Flush::Never, &Transfer::none()).map_err(|e| match e {
                    CopyError::Read(e) | CopyError::Write(e) => e,
                })?;
            Ok::<_, std::io::Error>((out, len, copied))
        })
        .await
        .map_err(|e| Error::storage(format!("seeding the cache failed: {e}")))?
        .map_err(|e| Error::io(format!("cannot copy {} into the cache", source.display()), e))?;
        let (file, len, copied) = copied;
        // The source may have changed since it was saved: seed only bytes that hash to what
        // was stored, or the cache would hand back content the artifact never had.
        if len != size || copied.read != size || copied.content.hash != expected_hash {
            return Err(Error::storage("the source changed since it was saved; not seeding the cache"));
        }
        file.set_modified(SystemTime::from(t))
            .map_err(|e| Error::io(format!("cannot set the modification time of {}", tmp.display()), e))?;
        let meta = file.metadata().map_err(|e| Error::io(format!("cannot read {}", tmp.display()), e))?;
        drop(file);
        tokio::fs::rename(&tmp, dest).await.map_err(|e| Error::io(format!("cannot seed {}", dest.display()), e))?;
        Ok(Some(Holding::new(object_id(store, remote), &meta)))
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result
}

fn temp_sibling(dest: &Path) -> PathBuf {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // Names may be 255 bytes long (NAME_MAX); the temporary name keeps a prefix of it so that
    // it fits too.
    let keep = MAX_SEGMENT_BYTES - 1 - PART_MARK.len() - 8;
    let name = &name[..name.floor_char_boundary(keep)];
    dest.with_file_name(format!(".{name}{PART_MARK}{}", random_base62(8)))
}

fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(PART_MARK)
}

fn join_rel(base: &Path, rel: &str) -> Result<PathBuf> {
    let mut out = base.to_path_buf();
    for part in rel.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains(['\\', '\0']) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("refusing to cache '{rel}': its path would leave {}", base.display()),
            ));
        }
        out.push(part);
    }
    Ok(out)
}

/// Remove files below `dir` not in `wanted` (temporary downloads of others excepted), then
/// empty folders.
fn drop_unwanted(dir: &Path, wanted: &BTreeSet<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(format!("cannot list {}", dir.display()), e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            drop_unwanted(&path, wanted)?;
            if std::fs::read_dir(&path).is_ok_and(|mut d| d.next().is_none()) {
                let _ = std::fs::remove_dir(&path);
            }
        } else if !wanted.contains(&path) && !is_temp_name(&entry.file_name().to_string_lossy()) {
            std::fs::remove_file(&path).map_err(|e| Error::io(format!("cannot remove {}", path.display()), e))?;
        }
    }
    Ok(())
}

async fn remove_path(path: &Path) -> Result<()> {
    let r = match tokio::fs::symlink_metadata(path).await {
        Ok(m) if m.is_dir() => tokio::fs::remove_dir_all(path).await,
        Ok(_) => tokio::fs::remove_file(path).await,
        Err(_) => return Ok(()),
    };
    r.map_err(|e| Error::io(format!("cannot remove {}", path.display()), e))
}

/// Re-hash a local file or folder the way the catalog hashes content.
async fn hash_local(path: &Path, folder: bool) -> Result<ContentHash> {
    if !folder {
        return hash_local_file(path).await;
    }
    let files = crate::source::walk_folder(path)?;
    let mut entries = Vec::with_capacity(files.len());
    for f in files {
        let c = hash_local_file(&f.path).await?;
        entries.push(FolderEntry { path: f.rel, hash: c.hash, size: c.size });
    }
    Ok(folder_hash(&entries))
}

async fn hash_local_file(path: &Path) -> Result<ContentHash> {
    let p = path.to_path_buf();
    let hashed = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&p)?;
        let len = file.metadata()?.len();
        copy_parallel(&file, None, len, Flush::Never, &Transfer::none()).map_err(|e| match e {
            CopyError::Read(e) | CopyError::Write(e) => e,
        })
    })
    .await
    .map_err(|e| Error::storage(format!("hashing {} failed: {e}", path.display())))?;
    Ok(hashed.map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?.content)
}

/// The last-use index of the cache (`<cache>/.trove-cache/index.json`).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    /// Entry path relative to the cache root (`/`-separated) → last use, ms since the epoch.
    entries: BTreeMap<String, u64>,
    /// Cached file path relative to the cache root → the object it holds. An index written
    /// before this existed has none: every copy is then downloaded once more.
    #[serde(default)]
    objects: BTreeMap<String, Holding>,
}

fn is_below(path: &str, entry: &str) -> bool {
    path == entry || path.strip_prefix(entry).is_some_and(|rest| rest.starts_with('/'))
}

fn touch_and_evict_blocking(
    root: &Path,
    rel: &str,
    held: Vec<(String, Holding)>,
    now: u64,
    max: Option<u64>,
) -> Result<()> {
    let meta_dir = root.join(META_DIR);
    std::fs::create_dir_all(&meta_dir).map_err(|e| Error::io(format!("cannot create {}", meta_dir.display()), e))?;
    let index_path = meta_dir.join(INDEX_FILE);
    let mut index: Index =
        std::fs::read(&index_path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    let rel = rel.replace('\\', "/");
    index.entries.insert(rel.clone(), now);
    // This call synced the whole entry: its records replace every earlier one below it.
    index.objects.retain(|path, _| !is_below(path, &rel));
    index.objects.extend(held);
    if let Some(max) = max {
        evict(root, &mut index, &rel, max)?;
    }
    let tmp = meta_dir.join(format!(".{INDEX_FILE}{PART_MARK}{}", random_base62(8)));
    let bytes = serde_json::to_vec(&index).expect("the index serialises");
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
    std::fs::rename(&tmp, &index_path).map_err(|e| Error::io(format!("cannot write {}", index_path.display()), e))
}

/// Remove whole entries, least recently used first, until the cache fits in `max` bytes.
fn evict(root: &Path, index: &mut Index, keep: &str, max: u64) -> Result<()> {
    let mut files = Vec::new();
    collect_files(root, root, &mut files);
    // Group files into entries: the indexed entry that is the file or holds it, else the file.
    let mut sizes: BTreeMap<String, (u64, u64)> = BTreeMap::new(); // entry -> (last use, bytes)
    let mut total = 0;
    let present: BTreeSet<&str> = files.iter().map(|(rel, _)| rel.as_str()).collect();
    index.objects.retain(|path, _| present.contains(path.as_str()));
    for (rel, size) in files {
        total += size;
        let owner = index
            .entries
            .iter()
            .find(|(e, _)| rel == **e || rel.starts_with(&format!("{e}/")))
            .map(|(e, t)| (e.clone(), *t))
            .unwrap_or((rel, 0));
        sizes.entry(owner.0).or_insert((owner.1, 0)).1 += size;
    }
    index.entries.retain(|e, _| sizes.contains_key(e));
    let mut order: Vec<(String, u64, u64)> = sizes.into_iter().map(|(e, (t, s))| (e, t, s)).collect();
    order.sort_by_key(|(e, t, _)| (*t, e.clone()));
    for (entry, _, size) in order {
        if total <= max {
            break;
        }
        if entry == keep || keep.starts_with(&format!("{entry}/")) || entry.starts_with(&format!("{keep}/")) {
            continue;
        }
        let path = root.join(&entry);
        let r = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        if r.is_ok() {
            total -= size;
            index.entries.remove(&entry);
            index.objects.retain(|path, _| !is_below(path, &entry));
            prune_empty_parents(root, &path);
        }
    }
    Ok(())
}

fn prune_empty_parents(root: &Path, path: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<(String, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            if dir == root && entry.file_name() == META_DIR {
                continue;
            }
            collect_files(root, &path, out);
        } else if ft.is_file() && !is_temp_name(&entry.file_name().to_string_lossy()) {
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            let rel = path.strip_prefix(root).expect("below root").to_string_lossy().replace('\\', "/");
            out.push((rel, size));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_paths_name_bucket_prefix_and_key() {
        let root = Path::new("/c");
        assert_eq!(cache_path(root, "s3://b/p/q", "iris.csv").unwrap(), Path::new("/c/b/p/q/iris.csv"));
        assert_eq!(cache_path(root, "gs://b", ".trove/x.csv").unwrap(), Path::new("/c/b/.trove/x.csv"));
    }

    #[test]
    fn escaping_cache_paths_are_refused() {
        let root = Path::new("/c");
        for (store, rel) in [
            ("s3://b/../../etc", "passwd"),
            ("s3://b", "../x"),
            ("s3://b", "a/../../x"),
            ("s3://b", "a//x"),
            ("s3://b", "a\\..\\x"),
            ("s3://b", ""),
            ("s3://.trove-cache", "index.json"),
        ] {
            let err = cache_path(root, store, rel).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{store} {rel}");
            assert!(err.message().contains("leave the cache root"), "{}", err.message());
        }
    }

    #[test]
    fn lru_eviction_removes_oldest_entries_first_and_keeps_the_current() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (name, t) in [("b/old.bin", 1), ("b/mid.bin", 2), ("b/new.bin", 3)] {
            std::fs::create_dir_all(root.join("b")).unwrap();
            std::fs::write(root.join(name), vec![0u8; 100]).unwrap();
            touch_and_evict_blocking(root, name, Vec::new(), t, None).unwrap();
        }
        std::fs::create_dir_all(root.join("b/folder/sub")).unwrap();
        std::fs::write(root.join("b/folder/sub/x"), vec![0u8; 100]).unwrap();
        // 400 bytes; bound 250: the two oldest entries go, the folder just used stays.
        touch_and_evict_blocking(root, "b/folder", Vec::new(), 4, Some(250)).unwrap();
        assert!(!root.join("b/old.bin").exists());
        assert!(!root.join("b/mid.bin").exists());
        assert!(root.join("b/new.bin").exists());
        assert!(root.join("b/folder/sub/x").exists());
        // The current entry is kept even when it alone exceeds the bound.
        touch_and_evict_blocking(root, "b/new.bin", Vec::new(), 5, Some(10)).unwrap();
        assert!(root.join("b/new.bin").exists());
        assert!(!root.join("b/folder").exists());
    }
}
