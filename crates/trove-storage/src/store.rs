//! [`OpendalStore`]: the object-store port over an OpenDAL operator.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use opendal::layers::{RetryLayer, TimeoutLayer, TracingLayer};
use opendal::{Operator, services};
use trove_domain::hash::PART_SIZE;
use trove_domain::ports::{
    Capabilities, ObjectMeta, ObjectReader, ObjectStore, ObjectWriter, PutIf, PutResult, WriteCondition,
};
use trove_domain::{Error, Result};

use crate::config::{GcsConfig, S3Config, normalize_prefix};
use crate::error::{map_io, map_opendal, unsupported};
use crate::fs::{self, FsWriter};
use crate::keys::{check_key, check_prefix, check_write_key};
use crate::s3_uploads::S3Uploads;
use crate::transport::install_http_transport;

/// Ranged requests a cloud read keeps in flight (memory: this many [`READ_CHUNK`]s).
pub const READ_CONCURRENCY: usize = 4;
/// The size of one ranged request of a cloud read.
pub const READ_CHUNK: usize = 8 * 1024 * 1024;

/// Where the bytes are, for paths and messages.
#[derive(Debug, Clone)]
pub(crate) enum Backend {
    Fs {
        root: PathBuf,
    },
    Memory,
    /// With the requests OpenDAL cannot make: listing and aborting unfinished uploads.
    S3 {
        uploads: Arc<S3Uploads>,
    },
    Gcs,
}

/// How writes are issued to OpenDAL.
#[derive(Debug, Clone, Copy)]
struct WritePlan {
    /// Exact part size (multipart), or `None` for the service's default.
    chunk: Option<usize>,
    /// Parts in flight.
    concurrency: usize,
    /// A content type to set on every write (GCS emulators cannot parse replies without one).
    content_type: Option<&'static str>,
}

/// An [`ObjectStore`] over an OpenDAL operator: local disk, memory, S3 or GCS.
///
/// * Local disk writes go to a temporary sibling (`.trove-tmp-<random>` in the key's
///   directory) and are renamed into place at close, so a crash never leaves a half file at the
///   key; an aborted or dropped writer removes its temporary file. Listings never show them.
/// * S3 writes are streamed in 50 MiB parts ([`PART_SIZE`]) uploaded in parallel, so a
///   multipart ETag equals Trove's `md5-<parts>` hash; objects up to one part are a single
///   `PUT` whose ETag is the content's MD5. The multipart upload of a writer killed mid-write
///   is a leftover (`s3_uploads`): listed and aborted with requests signed here, since OpenDAL
///   has no call for them.
/// * Cloud operators carry OpenDAL's timeout and retry (exponential backoff with jitter)
///   layers; nothing ambient is read (no instance metadata; the AWS profile files only as
///   [`S3Config::from_env`] documents).
/// * Every operator, whatever the backend, carries OpenDAL's tracing layer (outermost, so one
///   span covers an operation with its retries; HTTP requests get `http::fetch` child spans).
///   Local-disk writes go through Trove's own temporary-file writer, not the operator, and are
///   not traced by it.
pub struct OpendalStore {
    op: Operator,
    backend: Backend,
    root: String,
    caps: Capabilities,
    write: WritePlan,
}

impl fmt::Debug for OpendalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpendalStore").field("root", &self.root).field("capabilities", &self.caps).finish()
    }
}

static MEMORY_STORES: OnceLock<Mutex<HashMap<String, Operator>>> = OnceLock::new();
static ANONYMOUS_MEMORY: AtomicU64 = AtomicU64::new(0);

impl OpendalStore {
    /// A store on local disk under `root`, which must be absolute; it is created if missing.
    pub fn fs(root: &Path) -> Result<Self> {
        if !root.is_absolute() {
            return Err(Error::invalid_input(format!(
                "storage root '{}' is relative: give an absolute path",
                root.display()
            )));
        }
        if root.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(Error::invalid_input(format!(
                "storage root '{}' contains '..': give a normalized absolute path",
                root.display()
            )));
        }
        let root: PathBuf = root.components().collect();
        std::fs::create_dir_all(&root).map_err(|e| map_io(e, "create root", "", &root))?;
        let root_str = root
            .to_str()
            .ok_or_else(|| Error::invalid_input(format!("storage root '{}' is not valid UTF-8", root.display())))?
            .to_string();
        let op = Operator::new(services::Fs::default().root(&root_str))
            .map_err(|e| map_opendal(e, "open", "", &root_str))?;
        Ok(Self::assemble(
            op,
            Backend::Fs { root },
            root_str,
            Capabilities {
                native_rename: true,
                multipart: false,
                etag_is_md5: false,
                conditional_write: false,
                batch_delete: false,
                copy: true,
                finds_leftovers: true,
            },
            WritePlan { chunk: None, concurrency: 1, content_type: None },
        ))
    }

    /// A fresh, private in-memory store (for tests).
    pub fn memory() -> Self {
        let n = ANONYMOUS_MEMORY.fetch_add(1, Ordering::Relaxed);
        Self::memory_from(format!("anonymous-{n}"), new_memory_operator())
    }

    /// The in-memory store called `name`: every call with the same name in this process sees the
    /// same objects (so `memory://name` can be opened twice, as a path can). For tests.
    pub fn memory_named(name: &str) -> Self {
        let registry = MEMORY_STORES.get_or_init(|| Mutex::new(HashMap::new()));
        let op = {
            let mut stores = registry.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            stores.entry(name.to_string()).or_insert_with(new_memory_operator).clone()
        };
        Self::memory_from(name.to_string(), op)
    }

    fn memory_from(name: String, op: Operator) -> Self {
        Self::assemble(
            op,
            Backend::Memory,
            format!("memory://{name}"),
            // Writes are buffered until close: an interrupted one leaves nothing.
            Capabilities { finds_leftovers: true, ..Capabilities::default() },
            WritePlan { chunk: None, concurrency: 1, content_type: None },
        )
    }

    /// The one place every store is built: each backend's operator gets the tracing layer here.
    fn assemble(op: Operator, backend: Backend, root: String, caps: Capabilities, write: WritePlan) -> Self {
        OpendalStore { op: op.layer(TracingLayer::new()), backend, root, caps, write }
    }

    /// An S3 (or S3-compatible) bucket and prefix, configured only from `cfg`.
    pub fn s3(cfg: S3Config) -> Result<Self> {
        cfg.validate()?;
        install_http_transport();
        let prefix = normalize_prefix(&cfg.prefix);
        let root = cloud_root("s3", &cfg.bucket, &prefix);
        let mut builder = services::S3::default()
            .bucket(&cfg.bucket)
            .root(&format!("/{prefix}"))
            .region(&cfg.region)
            .disable_config_load()
            .disable_ec2_metadata();
        if let Some(endpoint) = &cfg.endpoint {
            builder = builder.endpoint(endpoint);
        }
        if let (Some(id), Some(secret)) = (&cfg.access_key_id, &cfg.secret_access_key) {
            builder = builder.access_key_id(id).secret_access_key(secret);
        }
        if let Some(token) = &cfg.session_token {
            builder = builder.session_token(token);
        }
        if cfg.virtual_host_style {
            builder = builder.enable_virtual_host_style();
        }
        let op = Operator::new(builder).map_err(|e| map_opendal(e, "open", "", &root))?;
        let uploads = Arc::new(S3Uploads::new(&cfg, &prefix, &root)?);
        Ok(Self::assemble(
            with_cloud_layers(op, cfg.request_timeout, cfg.io_timeout),
            Backend::S3 { uploads },
            root,
            Capabilities {
                native_rename: false,
                multipart: true,
                etag_is_md5: true,
                conditional_write: true,
                batch_delete: true,
                copy: true,
                finds_leftovers: true,
            },
            WritePlan { chunk: Some(PART_SIZE as usize), concurrency: cfg.write_concurrency, content_type: None },
        ))
    }

    /// A GCS bucket and prefix (or an emulator's), configured only from `cfg`.
    pub fn gcs(cfg: GcsConfig) -> Result<Self> {
        cfg.validate()?;
        install_http_transport();
        let prefix = normalize_prefix(&cfg.prefix);
        let root = cloud_root("gs", &cfg.bucket, &prefix);
        let mut builder = services::Gcs::default()
            .bucket(&cfg.bucket)
            .root(&format!("/{prefix}"))
            .disable_config_load()
            .disable_vm_metadata();
        if let Some(endpoint) = &cfg.endpoint {
            builder = builder.endpoint(endpoint);
        }
        if let Some(path) = &cfg.credential_path {
            builder = builder.credential_path(path);
        }
        if let Some(token) = &cfg.token {
            builder = builder.token(token.clone());
        }
        let op = Operator::new(builder).map_err(|e| map_opendal(e, "open", "", &root))?;
        let write = if cfg.emulator {
            // One request per object: the chunk is the service's maximum part size, so nothing
            // but the final flush is ever sent. Buffers the whole object (emulators only).
            WritePlan { chunk: Some(usize::MAX), concurrency: 1, content_type: Some("application/octet-stream") }
        } else {
            WritePlan {
                chunk: Some(PART_SIZE as usize),
                concurrency: cfg.write_concurrency,
                content_type: Some("application/octet-stream"),
            }
        };
        Ok(Self::assemble(
            with_cloud_layers(op, cfg.request_timeout, cfg.io_timeout),
            Backend::Gcs,
            root,
            Capabilities {
                native_rename: false,
                multipart: !cfg.emulator,
                etag_is_md5: false,
                conditional_write: true,
                batch_delete: !cfg.emulator,
                copy: true,
                // GCS writes large objects as XML-API multipart uploads, which a killed writer
                // leaves unfinished and `leftovers` does not list; an emulator's single-shot
                // writes leave nothing.
                finds_leftovers: cfg.emulator,
            },
            write,
        ))
    }

    pub(crate) fn backend(&self) -> &Backend {
        &self.backend
    }

    pub(crate) fn operator(&self) -> &Operator {
        &self.op
    }

    pub(crate) fn content_type(&self) -> Option<&'static str> {
        self.write.content_type
    }

    pub(crate) fn map_err(&self, e: opendal::Error, operation: &str, key: &str) -> Error {
        self.err(e, operation, key)
    }

    fn fs_root(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Fs { root } => Some(root),
            _ => None,
        }
    }

    fn err(&self, e: opendal::Error, operation: &str, key: &str) -> Error {
        map_opendal(e, operation, key, &self.root)
    }

    fn to_meta(&self, key: String, m: &opendal::Metadata) -> ObjectMeta {
        let etag = m.etag().map(unquote_etag);
        let content_md5 = match &self.backend {
            Backend::S3 { .. } => etag.as_deref().and_then(md5_from_etag),
            Backend::Gcs => m.content_md5().and_then(md5_from_base64),
            _ => None,
        };
        ObjectMeta {
            key,
            size: m.content_length(),
            etag,
            content_md5,
            last_modified: m.last_modified().map(|t| DateTime::<Utc>::from(std::time::SystemTime::from(t))),
        }
    }

    async fn stream_copy(&self, from: &str, to: &str) -> Result<()> {
        let mut reader = self.reader(from, None).await?;
        let mut writer = self.writer(to).await?;
        loop {
            match reader.chunk().await {
                Ok(Some(chunk)) => {
                    if let Err(e) = writer.write(chunk).await {
                        let _ = writer.abort().await;
                        return Err(e);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(e);
                }
            }
        }
        writer.close().await.map(|_| ())
    }
}

#[async_trait]
impl ObjectStore for OpendalStore {
    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    fn root(&self) -> &str {
        &self.root
    }

    fn display_path(&self, key: &str) -> String {
        match &self.backend {
            Backend::Fs { root } => root.join(key).display().to_string(),
            _ => format!("{}/{key}", self.root),
        }
    }

    fn local_path(&self, key: &str) -> Option<PathBuf> {
        self.fs_root().map(|root| root.join(key))
    }

    async fn writer(&self, key: &str) -> Result<Box<dyn ObjectWriter>> {
        check_write_key(key)?;
        if let Some(root) = self.fs_root() {
            return Ok(Box::new(FsWriter::create(root, key).await?));
        }
        let mut w = self.op.writer_with(key).concurrent(self.write.concurrency);
        if let Some(chunk) = self.write.chunk {
            w = w.chunk(chunk);
        }
        if let Some(ct) = self.write.content_type {
            w = w.content_type(ct);
        }
        let inner = w.await.map_err(|e| self.err(e, "write", key))?;
        Ok(Box::new(OpendalWriter { inner: Some(inner), key: key.to_string(), root: self.root.clone(), size: 0 }))
    }

    async fn reader(&self, key: &str, range: Option<Range<u64>>) -> Result<Box<dyn ObjectReader>> {
        check_key(key)?;
        let meta = self
            .stat(key)
            .await?
            .ok_or_else(|| Error::not_found(format!("read '{key}' in {}: no object at this key", self.root)))?;
        let (start, end) = match range {
            Some(r) if r.start > r.end => {
                return Err(Error::invalid_input(format!(
                    "read '{key}': range {}..{} starts after it ends",
                    r.start, r.end
                )));
            }
            Some(r) => (r.start.min(meta.size), r.end.min(meta.size)),
            None => (0, meta.size),
        };
        if start == end {
            return Ok(Box::new(StreamReader { stream: None, key: key.to_string(), root: self.root.clone() }));
        }
        let mut reader = self.op.reader_with(key);
        if matches!(self.backend, Backend::S3 { .. } | Backend::Gcs) {
            // Cloud reads: ranged requests of READ_CHUNK bytes, READ_CONCURRENCY in flight,
            // handed out in order.
            reader = reader.concurrent(READ_CONCURRENCY).chunk(READ_CHUNK);
        }
        let reader = reader.await.map_err(|e| self.err(e, "read", key))?;
        let stream = reader.into_stream(start..end).await.map_err(|e| self.err(e, "read", key))?;
        Ok(Box::new(StreamReader { stream: Some(Box::pin(stream)), key: key.to_string(), root: self.root.clone() }))
    }

    async fn stat(&self, key: &str) -> Result<Option<ObjectMeta>> {
        check_key(key)?;
        match self.op.stat(key).await {
            Ok(m) if m.is_dir() => Ok(None),
            Ok(m) => Ok(Some(self.to_meta(key.to_string(), &m))),
            Err(e) if e.kind() == opendal::ErrorKind::NotFound => Ok(None),
            // A file where the key wants a directory (`a` is a file, key `a/b`): no object.
            Err(e) if e.kind() == opendal::ErrorKind::NotADirectory => Ok(None),
            Err(e) => Err(self.err(e, "stat", key)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        check_prefix(prefix)?;
        // List the directory part recursively and filter by the whole prefix, so a prefix that
        // does not end in '/' matches by string, as on S3, on every backend.
        let dir = match prefix.rfind('/') {
            Some(i) => &prefix[..=i],
            None => "",
        };
        if let Some(root) = self.fs_root() {
            let files = fs::list_files(root, dir).await.map_err(|e| map_io(e, "list", prefix, root))?;
            let mut out: Vec<ObjectMeta> = files
                .into_iter()
                .filter(|f| f.key.starts_with(prefix))
                .map(|f| ObjectMeta {
                    key: f.key,
                    size: f.size,
                    etag: None,
                    content_md5: None,
                    last_modified: Some(DateTime::<Utc>::from(f.modified)),
                })
                .collect();
            out.sort_by(|a, b| a.key.cmp(&b.key));
            return Ok(out);
        }
        let entries = match self.op.list_with(dir).recursive(true).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == opendal::ErrorKind::NotFound => Vec::new(),
            Err(e) if e.kind() == opendal::ErrorKind::NotADirectory => Vec::new(),
            Err(e) => return Err(self.err(e, "list", prefix)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let (path, meta) = entry.into_parts();
            if path.ends_with('/') || meta.is_dir() || !path.starts_with(prefix) {
                continue;
            }
            out.push(self.to_meta(path, &meta));
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn version(&self, key: &str) -> Result<Option<String>> {
        self.version_impl(key).await
    }

    async fn read_versioned(&self, key: &str) -> Result<Option<(Bytes, String)>> {
        self.read_versioned_impl(key).await
    }

    async fn put_if(&self, key: &str, data: Bytes, condition: &WriteCondition) -> Result<PutIf> {
        self.put_if_impl(key, data, condition).await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        check_key(key)?;
        if self.stat(key).await?.is_none() {
            return Ok(false);
        }
        self.op.delete(key).await.map_err(|e| self.err(e, "delete", key))?;
        Ok(true)
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        check_prefix(prefix)?;
        if prefix.is_empty() {
            return Err(Error::invalid_input(format!(
                "refusing to delete every object in {}: delete_prefix needs a non-empty prefix",
                self.root
            )));
        }
        let keys: Vec<String> = self.list(prefix).await?.into_iter().map(|m| m.key).collect();
        let n = keys.len() as u64;
        if self.caps.batch_delete {
            self.op.delete_iter(keys).await.map_err(|e| self.err(e, "delete prefix", prefix))?;
        } else {
            for key in &keys {
                self.op.delete(key).await.map_err(|e| self.err(e, "delete", key))?;
            }
        }
        if let (Some(root), true) = (self.fs_root(), prefix.ends_with('/')) {
            fs::prune_empty_dirs(&root.join(prefix)).await.map_err(|e| map_io(e, "delete prefix", prefix, root))?;
        }
        Ok(n)
    }

    async fn copy(&self, from: &str, to: &str) -> Result<()> {
        check_key(from)?;
        check_write_key(to)?;
        if let Some(root) = self.fs_root() {
            return fs::copy(root, from, to).await;
        }
        if !self.caps.copy {
            // No server-side copy (memory): stream through this process, in bounded memory.
            return self.stream_copy(from, to).await;
        }
        if self.stat(from).await?.is_none() {
            return Err(Error::not_found(format!("copy '{from}' in {}: no object at this key", self.root)));
        }
        self.op.copy(from, to).await.map(|_| ()).map_err(|e| self.err(e, &format!("copy to '{to}' from"), from))
    }

    async fn leftovers(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        check_prefix(prefix)?;
        match &self.backend {
            Backend::Fs { root } => {
                fs::leftovers(root, prefix).await.map_err(|e| map_io(e, "list leftovers in", prefix, root))
            }
            Backend::S3 { uploads } => uploads.leftovers(prefix).await,
            // Memory and GCS emulator writes leave nothing; GCS's uploads are not listed (see
            // `Capabilities::finds_leftovers`).
            Backend::Memory | Backend::Gcs => Ok(Vec::new()),
        }
    }

    async fn delete_leftover(&self, key: &str) -> Result<bool> {
        match &self.backend {
            // Only a temporary file's name, and never a path that leaves the root.
            Backend::Fs { root }
                if fs::is_temp_name(key) && !key.split('/').any(|s| s.is_empty() || s == "." || s == "..") =>
            {
                fs::remove_leftover(root, key).await.map_err(|e| map_io(e, "delete leftover", key, root))
            }
            Backend::S3 { uploads } => uploads.abort(key).await,
            _ => Err(Error::new(
                trove_domain::ErrorKind::InvalidKey,
                format!("'{key}' is not a leftover of an interrupted write in {}", self.root),
            )),
        }
    }

    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        check_key(from)?;
        check_write_key(to)?;
        match self.fs_root() {
            Some(root) => fs::rename(root, from, to).await,
            None => Err(unsupported("rename", &self.root, "there is no atomic rename here; copy then delete")),
        }
    }
}

fn new_memory_operator() -> Operator {
    // Building the memory service cannot fail: it has no configuration.
    Operator::new(services::Memory::default()).unwrap_or_else(|e| unreachable!("memory operator: {e}"))
}

fn cloud_root(scheme: &str, bucket: &str, prefix: &str) -> String {
    if prefix.is_empty() { format!("{scheme}://{bucket}") } else { format!("{scheme}://{bucket}/{prefix}") }
}

/// Timeouts, then retries around them, so each attempt is timed out separately (OpenDAL's
/// documented order: a timeout outside the retry could drop it mid-restore).
fn with_cloud_layers(op: Operator, request: std::time::Duration, io: std::time::Duration) -> Operator {
    op.layer(TimeoutLayer::new().with_timeout(request).with_io_timeout(io)).layer(
        RetryLayer::new()
            .with_jitter()
            .with_max_times(4)
            .with_min_delay(std::time::Duration::from_millis(200))
            .with_max_delay(std::time::Duration::from_secs(10)),
    )
}

/// `"abc"`, `W/"abc"` and `abc` all become `abc`.
pub(crate) fn unquote_etag(etag: &str) -> String {
    let e = etag.trim();
    let e = e.strip_prefix("W/").unwrap_or(e);
    e.trim_matches('"').to_string()
}

/// The MD5 in an S3 single-part ETag (32 hex digits). Multipart ETags (`<hex>-<parts>`) carry
/// no content MD5 and give `None`.
pub(crate) fn md5_from_etag(etag: &str) -> Option<[u8; 16]> {
    if etag.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in etag.as_bytes().chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// GCS's `md5Hash` (standard base64 of the 16-byte digest).
pub(crate) fn md5_from_base64(v: &str) -> Option<[u8; 16]> {
    base64::engine::general_purpose::STANDARD.decode(v.trim()).ok()?.try_into().ok()
}

/// A streaming write through OpenDAL (memory, S3, GCS).
struct OpendalWriter {
    inner: Option<opendal::Writer>,
    key: String,
    root: String,
    size: u64,
}

impl OpendalWriter {
    fn inner(&mut self) -> Result<&mut opendal::Writer> {
        self.inner.as_mut().ok_or_else(|| {
            Error::storage(format!(
                "write '{}' in {}: the writer already failed and was discarded",
                self.key, self.root
            ))
        })
    }

    async fn fail(&mut self, e: opendal::Error, operation: &str) -> Error {
        // A failed write may have started a multipart upload: abort it so nothing lingers.
        if let Some(mut w) = self.inner.take() {
            let _ = w.abort().await;
        }
        map_opendal(e, operation, &self.key, &self.root)
    }
}

#[async_trait]
impl ObjectWriter for OpendalWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        let n = chunk.len() as u64;
        let result = self.inner()?.write(chunk).await;
        match result {
            Ok(()) => {
                self.size += n;
                Ok(())
            }
            Err(e) => Err(self.fail(e, "write").await),
        }
    }

    async fn close(mut self: Box<Self>) -> Result<PutResult> {
        let result = self.inner()?.close().await;
        match result {
            Ok(meta) => {
                self.inner = None;
                Ok(PutResult { size: self.size, etag: meta.etag().map(unquote_etag) })
            }
            Err(e) => Err(self.fail(e, "close").await),
        }
    }

    async fn abort(mut self: Box<Self>) -> Result<()> {
        let Some(mut w) = self.inner.take() else { return Ok(()) };
        match w.abort().await {
            Ok(()) => Ok(()),
            // Nothing was sent (single-shot writes buffer until close): nothing to undo.
            Err(e) if e.kind() == opendal::ErrorKind::Unsupported => Ok(()),
            Err(e) => Err(map_opendal(e, "abort write", &self.key, &self.root)),
        }
    }
}

impl Drop for OpendalWriter {
    fn drop(&mut self) {
        // Dropped without close or abort: abort in the background so an unfinished multipart
        // upload does not linger. Nothing was made visible either way.
        if let Some(mut w) = self.inner.take()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn(async move {
                let _ = w.abort().await;
            });
        }
    }
}

type BufferStream = Pin<Box<dyn Stream<Item = opendal::Result<opendal::Buffer>> + Send>>;

/// A streaming read through OpenDAL.
struct StreamReader {
    stream: Option<BufferStream>,
    key: String,
    root: String,
}

#[async_trait]
impl ObjectReader for StreamReader {
    async fn chunk(&mut self) -> Result<Option<Bytes>> {
        let Some(stream) = self.stream.as_mut() else { return Ok(None) };
        loop {
            match stream.next().await {
                None => {
                    self.stream = None;
                    return Ok(None);
                }
                Some(Ok(buf)) if buf.is_empty() => continue,
                Some(Ok(buf)) => return Ok(Some(buf.to_bytes())),
                Some(Err(e)) => {
                    self.stream = None;
                    return Err(map_opendal(e, "read", &self.key, &self.root));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use trove_domain::ErrorKind;

    use super::*;

    #[test]
    fn etags_unquote_and_yield_md5_only_for_single_part() {
        assert_eq!(unquote_etag("\"0cc175b9c0f1b6a831c399e269772661\""), "0cc175b9c0f1b6a831c399e269772661");
        assert_eq!(unquote_etag("W/\"x\""), "x");
        assert_eq!(unquote_etag("abc"), "abc");
        let md5 = md5_from_etag("0cc175b9c0f1b6a831c399e269772661").unwrap();
        assert_eq!(md5, trove_domain::hash::md5_digest(b"a"));
        assert_eq!(md5_from_etag("3858f62230ac3c915f300c664312c11f-9"), None);
        assert_eq!(md5_from_etag("zz75b9c0f1b6a831c399e269772661zz"), None);
        assert_eq!(md5_from_base64("DMF1ucDxtqgxw5niaXcmYQ=="), Some(md5));
        assert_eq!(md5_from_base64("not base64"), None);
    }

    #[test]
    fn roots_and_display_paths() {
        assert_eq!(cloud_root("s3", "b", ""), "s3://b");
        assert_eq!(cloud_root("gs", "b", "p/q"), "gs://b/p/q");
        let m = OpendalStore::memory_named("display");
        assert_eq!(m.root(), "memory://display");
        assert_eq!(m.display_path("a/b"), "memory://display/a/b");
        assert_eq!(m.local_path("a"), None);
    }

    #[test]
    fn fs_roots_must_be_absolute_and_normalized() {
        assert_eq!(OpendalStore::fs(Path::new("rel/dir")).unwrap_err().kind(), ErrorKind::InvalidInput);
        assert_eq!(OpendalStore::fs(Path::new("/tmp/../etc")).unwrap_err().kind(), ErrorKind::InvalidInput);
    }

    #[tokio::test]
    async fn named_memory_stores_share_objects_and_anonymous_ones_do_not() {
        let a = OpendalStore::memory_named("shared-test");
        a.put("k", Bytes::from_static(b"v")).await.unwrap();
        let b = OpendalStore::memory_named("shared-test");
        assert_eq!(b.read_all("k").await.unwrap(), Bytes::from_static(b"v"));
        assert!(OpendalStore::memory().stat("k").await.unwrap().is_none());
        assert!(OpendalStore::memory_named("other").stat("k").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn delete_prefix_refuses_the_whole_root() {
        let m = OpendalStore::memory();
        m.put("a/b", Bytes::from_static(b"x")).await.unwrap();
        assert_eq!(m.delete_prefix("").await.unwrap_err().kind(), ErrorKind::InvalidInput);
        assert!(m.stat("a/b").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn cloud_stores_need_credentials() {
        let err = OpendalStore::s3(S3Config::new("b", "p")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let err = OpendalStore::gcs(GcsConfig::new("b", "p")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn cloud_stores_declare_their_capabilities() {
        let mut cfg = S3Config::new("bkt", "/some/prefix/");
        cfg.access_key_id = Some("id".into());
        cfg.secret_access_key = Some("secret".into());
        cfg.endpoint = Some("http://127.0.0.1:1".into());
        let s3 = OpendalStore::s3(cfg).unwrap();
        assert_eq!(s3.root(), "s3://bkt/some/prefix");
        assert_eq!(s3.display_path("a b/c.csv"), "s3://bkt/some/prefix/a b/c.csv");
        let c = s3.capabilities();
        assert!(!c.native_rename && c.multipart && c.etag_is_md5 && c.copy && c.batch_delete && c.finds_leftovers);

        let mut cfg = GcsConfig::new("bkt", "");
        cfg.token = Some("t".into());
        cfg.emulator = true;
        let gcs = OpendalStore::gcs(cfg).unwrap();
        assert_eq!(gcs.root(), "gs://bkt");
        let c = gcs.capabilities();
        assert!(!c.native_rename && !c.multipart && !c.etag_is_md5 && c.copy && !c.batch_delete);
        assert!(c.finds_leftovers, "an emulator's single-shot writes leave nothing to find");

        // GCS itself: large writes are multipart uploads, which `leftovers` does not list.
        let mut cfg = GcsConfig::new("bkt", "");
        cfg.token = Some("t".into());
        let gcs = OpendalStore::gcs(cfg).unwrap();
        let c = gcs.capabilities();
        assert!(c.multipart && !c.finds_leftovers);
    }
}
