use std::ops::Range;
use std::path::PathBuf;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// What a backend can do natively. The façade reads these instead of guessing, and says
/// "unsupported" rather than quietly emulating where it cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Capabilities {
    /// Atomic rename (local disk). Without it a move is copy then delete, done by the façade.
    pub native_rename: bool,
    /// Writes larger objects in parts, possibly in parallel.
    pub multipart: bool,
    /// The ETag of a single-part write is the hex MD5 of the content.
    pub etag_is_md5: bool,
    /// Conditional writes of whole objects, as [`ObjectStore::put_if`] makes them: create only
    /// if absent (S3 `If-None-Match: *`, GCS `ifGenerationMatch=0`) and replace only a given
    /// version (S3 `If-Match`, GCS `ifGenerationMatch`). This is what the client library
    /// declares; a server may still ignore the headers, so whoever relies on them checks the
    /// server once (the bucket catalog's probe does).
    pub conditional_write: bool,
    /// Deletes many objects per request.
    pub batch_delete: bool,
    /// Server-side copy.
    pub copy: bool,
    /// [`ObjectStore::leftovers`] finds every kind of debris an interrupted write here can
    /// leave (trivially so where writes leave none). Unset on GCS itself, whose unfinished
    /// multipart uploads are not listed: a bucket lifecycle rule has to remove those.
    #[serde(default)]
    pub finds_leftovers: bool,
}

/// Metadata of a stored object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// Key relative to the store's root.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// The server's ETag, unquoted, if any.
    pub etag: Option<String>,
    /// The server's MD5 of the content (GCS md5Hash, or an S3 single-part ETag), if known.
    pub content_md5: Option<[u8; 16]>,
    /// Last modification time, if known.
    pub last_modified: Option<DateTime<Utc>>,
}

/// What a finished write reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutResult {
    /// Bytes written.
    pub size: u64,
    /// The server's ETag, unquoted, if any.
    pub etag: Option<String>,
}

/// A precondition of [`ObjectStore::put_if`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCondition {
    /// Write whatever is at the key (no precondition), and report the new version.
    Always,
    /// Only if no object is at the key.
    Absent,
    /// Only if the object at the key is still this version (as [`ObjectStore::version`] gave it).
    Version(String),
}

/// What [`ObjectStore::put_if`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutIf {
    /// The object was written; this is its new version.
    Written {
        /// The new version (S3 ETag, GCS generation).
        version: String,
    },
    /// The precondition did not hold: nothing was written.
    PreconditionFailed,
}

/// A streaming write. Nothing is visible at the key until [`ObjectWriter::close`] succeeds;
/// [`ObjectWriter::abort`] (or dropping the writer) discards what was written.
#[async_trait]
pub trait ObjectWriter: Send {
    /// Append a chunk.
    async fn write(&mut self, chunk: Bytes) -> Result<()>;
    /// Finish the object and make it visible.
    async fn close(self: Box<Self>) -> Result<PutResult>;
    /// Discard the write.
    async fn abort(self: Box<Self>) -> Result<()>;

    /// For a write to local disk: a handle on the file being written (not visible at the key
    /// until [`ObjectWriter::close`]), so a caller can fill it with positional writes, from
    /// several threads, instead of [`ObjectWriter::write`]. `close` then commits what the file
    /// holds, durably, as it would written bytes. `None` (the default) where there is no such
    /// file: callers use `write`.
    async fn local_file(&mut self) -> Result<Option<std::fs::File>> {
        Ok(None)
    }
}

/// A streaming read.
#[async_trait]
pub trait ObjectReader: Send {
    /// The next chunk, or `None` at the end.
    async fn chunk(&mut self) -> Result<Option<Bytes>>;
}

/// Bytes under one storage root. Keys are `/`-separated paths relative to the root; folder
/// artifacts are every object under a prefix ending in `/`.
///
/// Contract, checked by `trove-testkit`'s object-store conformance suite:
/// * a write becomes visible whole at close, or not at all;
/// * `delete` of a missing object succeeds and returns `false`;
/// * `rename` is atomic where [`Capabilities::native_rename`] is set, and otherwise returns
///   [`crate::ErrorKind::Unsupported`]: callers copy then delete, and each step is safe to repeat;
/// * `list` is recursive and returns keys relative to the root, sorted;
/// * one key names exactly one object: a key that a path normaliser would change (a segment
///   that is empty, `.` or `..`, or begins or ends with whitespace; a backslash or control
///   character; see [`crate::key::object_segment_problem`]) is refused with
///   [`crate::ErrorKind::InvalidKey`] by every call, never silently rewritten.
#[async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// What the backend supports.
    fn capabilities(&self) -> Capabilities;

    /// The root as a URI or absolute path (`/data`, `s3://bucket/prefix`).
    fn root(&self) -> &str;

    /// How a user would name `key`: the absolute local path, or the object URL.
    fn display_path(&self, key: &str) -> String;

    /// The local file-system path of `key`, for stores on local disk.
    fn local_path(&self, key: &str) -> Option<PathBuf>;

    /// Start a streaming write to `key`, replacing what is there at close.
    async fn writer(&self, key: &str) -> Result<Box<dyn ObjectWriter>>;

    /// Read `key`, or a byte range of it. Missing objects are [`crate::ErrorKind::NotFound`].
    async fn reader(&self, key: &str, range: Option<Range<u64>>) -> Result<Box<dyn ObjectReader>>;

    /// Metadata of `key`, or `None` if missing.
    async fn stat(&self, key: &str) -> Result<Option<ObjectMeta>>;

    /// Every object under `prefix` (recursive), sorted by key.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>>;

    /// Delete one object; `Ok(false)` if it was already missing.
    async fn delete(&self, key: &str) -> Result<bool>;

    /// Delete every object under `prefix` (which should end in `/`); returns how many.
    async fn delete_prefix(&self, prefix: &str) -> Result<u64>;

    /// Copy one object.
    async fn copy(&self, from: &str, to: &str) -> Result<()>;

    /// Rename one object atomically (only with [`Capabilities::native_rename`]).
    async fn rename(&self, from: &str, to: &str) -> Result<()>;

    /// Debris of interrupted writes under `prefix` (`""` for the whole root), each with its size
    /// and the time it last grew (so a grace period protects a write still in progress): what
    /// a process killed mid-write left behind. On local disk, the hidden temporary siblings a
    /// write goes through before its atomic rename (key `dir/.trove-tmp-…`). On S3, unfinished
    /// multipart uploads, named `<key>//uploadId=<id>` (never a valid object key), sized by
    /// their parts. They never appear in [`ObjectStore::list`]; `gc` finds them here and removes
    /// them with [`ObjectStore::delete_leftover`]. Backends whose writes leave nothing return
    /// none (the default); see [`Capabilities::finds_leftovers`] for one that cannot tell.
    async fn leftovers(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let _ = prefix;
        Ok(Vec::new())
    }

    /// Delete one leftover reported by [`ObjectStore::leftovers`] (on S3, abort the upload);
    /// `Ok(false)` if it was already gone. Anything else, an object's key in particular, is
    /// refused with [`crate::ErrorKind::InvalidKey`].
    async fn delete_leftover(&self, key: &str) -> Result<bool> {
        Err(crate::Error::new(
            crate::ErrorKind::InvalidKey,
            format!("'{key}' is not a leftover of an interrupted write in {}", self.root()),
        ))
    }

    /// The version of the object at `key`: an opaque string that changes with every write (the
    /// S3 ETag as the server sends it, the GCS generation); `None` if missing. Stores that have
    /// none answer [`crate::ErrorKind::Unsupported`].
    async fn version(&self, key: &str) -> Result<Option<String>> {
        let _ = key;
        Err(no_versions(self.root()))
    }

    /// Read a whole (small) object with its version: the bytes are exactly that version's,
    /// even while others write. `None` if missing.
    async fn read_versioned(&self, key: &str) -> Result<Option<(Bytes, String)>> {
        let _ = key;
        Err(no_versions(self.root()))
    }

    /// Write a whole (small) object if `condition` holds, in one request, and return its new
    /// version. [`WriteCondition::Absent`] and [`WriteCondition::Version`] need
    /// [`Capabilities::conditional_write`]; [`WriteCondition::Always`] only versions.
    async fn put_if(&self, key: &str, data: Bytes, condition: &WriteCondition) -> Result<PutIf> {
        let _ = (key, data, condition);
        Err(no_versions(self.root()))
    }

    /// Write a whole buffer.
    async fn put(&self, key: &str, data: Bytes) -> Result<PutResult> {
        let mut w = self.writer(key).await?;
        if !data.is_empty() {
            w.write(data).await?;
        }
        w.close().await
    }

    /// Read a whole object into memory.
    async fn read_all(&self, key: &str) -> Result<Bytes> {
        let mut r = self.reader(key, None).await?;
        let mut out = Vec::new();
        while let Some(c) = r.chunk().await? {
            out.extend_from_slice(&c);
        }
        Ok(Bytes::from(out))
    }
}

fn no_versions(root: &str) -> crate::Error {
    crate::Error::new(
        crate::ErrorKind::Unsupported,
        format!("{root} does not keep object versions or take conditional writes: use an S3 or GCS bucket"),
    )
}
