//! Writing a source into a store while hashing it (one pass), and verifying the upload
//! against the server's ETag where that is an MD5.

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use trove_domain::hash::{FolderEntry, decode_hash, folder_hash, md5_digest};
use trove_domain::ports::{ObjectStore, ObjectWriter};
use trove_domain::{ContentHash, Error, ErrorKind, HashType, Result};

use super::files as source;
use crate::local::{Written, hash_stored_file};
use crate::progress::{Progress, Transfer, TransferKind};
use crate::transfer::{CopyError, Flush, PartHashers, copy_parallel, hash_parallel};

/// Read size for local files streamed to a writer.
const CHUNK: usize = 4 * 1024 * 1024;

/// S3's limit on the parts of one upload.
const MAX_PARTS: u32 = 10_000;

/// Stream a local file into `key`, hashing it on the way. A symbolic link named as the
/// source is followed to its file (see [`crate::source`]).
pub(crate) async fn write_file(
    store: &dyn ObjectStore,
    path: &Path,
    key: &str,
    progress: &Progress,
) -> Result<Written> {
    let path = source::resolve(path)?;
    let content = copy_file_hashing(store, &path, key, None, progress).await?;
    Ok(Written { key: key.to_owned(), content, n_files: None })
}

/// Copy one regular file into `key`, hashing it on the way (one pass, parts hashed in
/// parallel: [`crate::transfer`]). On local disk the file is copied with positional I/O by
/// several threads into the writer's temporary file; elsewhere it is streamed to the writer
/// (whose parts upload concurrently) while the parts are hashed beside it. The file is opened
/// without following links or blocking (and, with `expected`, must be the file a folder walk
/// saw); if it changes during the copy, the write is aborted before it becomes visible and the
/// error is [`ErrorKind::SourceChanged`].
async fn copy_file_hashing(
    store: &dyn ObjectStore,
    path: &Path,
    key: &str,
    expected: Option<source::Identity>,
    progress: &Progress,
) -> Result<ContentHash> {
    let (file, start) = source::open_regular(path, expected)?;
    let file = Arc::new(file);
    let mut writer = store.writer(key).await?;
    let transfer = progress.start(TransferKind::Save, &path.display().to_string(), start.size);
    let began = std::time::Instant::now();
    let (copied, how) = match writer.local_file().await {
        Ok(Some(dest)) => (copy_local(file.clone(), dest, start.size, path, store, key, transfer).await, "local copy"),
        Ok(None) => (stream_hashing(file.clone(), &mut writer, path, transfer).await, "stream"),
        Err(e) => (Err(e), ""),
    };
    if let Ok((content, _)) = &copied {
        let secs = began.elapsed().as_secs_f64();
        tracing::debug!(
            source = %path.display(), to = %store.display_path(key), bytes = content.size, hash = %content.hash,
            seconds = secs, mib_per_sec = content.size as f64 / 1048576.0 / secs.max(1e-9), how,
            "copied and hashed"
        );
    }
    // Checked before the close, so the bytes of a changing file never become visible.
    let checked = copied.and_then(|(content, read)| {
        source::check_unchanged(path, &file, &start, read)?;
        Ok(content)
    });
    let content = match checked {
        Ok(content) => content,
        Err(e) => {
            let _ = writer.abort().await;
            return Err(e);
        }
    };
    let put = writer.close().await?;
    verify_upload(store, key, &content, put.etag.as_deref()).await?;
    Ok(content)
}

/// Local disk: the parallel copy into the writer's temporary file.
async fn copy_local(
    file: Arc<std::fs::File>,
    dest: std::fs::File,
    size: u64,
    path: &Path,
    store: &dyn ObjectStore,
    key: &str,
    transfer: Transfer,
) -> Result<(ContentHash, u64)> {
    let copied =
        tokio::task::spawn_blocking(move || copy_parallel(&file, Some(&dest), size, Flush::AsPartsFinish, &transfer))
            .await
            .map_err(|e| Error::storage(format!("copying {} failed: {e}", path.display())))?;
    match copied {
        Ok(c) => Ok((c.content, c.read)),
        Err(CopyError::Read(e)) => Err(source::read_error(path, e)),
        Err(CopyError::Write(e)) => Err(Error::io(format!("cannot write {}", store.display_path(key)), e)),
    }
}

/// Anywhere else: a reader thread streams the file in whole chunks to the writer, and the
/// chunks are hashed on other threads meanwhile. Reads to the end of the file, so a file that
/// grew shows as more bytes than its size.
async fn stream_hashing(
    file: Arc<std::fs::File>,
    writer: &mut Box<dyn ObjectWriter>,
    path: &Path,
    transfer: Transfer,
) -> Result<(ContentHash, u64)> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(2);
    let reader = tokio::task::spawn_blocking(move || {
        let mut off = 0u64;
        loop {
            let mut buf = vec![0u8; CHUNK];
            let mut filled = 0;
            // Fill whole chunks so the writer sees few, large writes.
            while filled < CHUNK {
                match file.read_at(&mut buf[filled..], off + filled as u64) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
            }
            if filled == 0 {
                return;
            }
            buf.truncate(filled);
            off += filled as u64;
            if tx.blocking_send(Ok(Bytes::from(buf))).is_err() || filled < CHUNK {
                return;
            }
        }
    });
    let mut hashers = PartHashers::new();
    let mut read: u64 = 0;
    let result = async {
        while let Some(chunk) = rx.recv().await {
            let chunk = chunk.map_err(|e| source::read_error(path, e))?;
            read += chunk.len() as u64;
            hashers.update(chunk.clone()).await;
            writer.write(chunk.clone()).await?;
            transfer.add(chunk.len() as u64);
        }
        Ok(())
    }
    .await;
    drop(rx);
    let _ = reader.await;
    result?;
    Ok((hashers.finish().await?, read))
}

/// The ETag an MD5-ETag server (S3) gives content with this hash: the hex MD5 for a
/// single-part upload, `<hex md5 of the part digests>-<parts>` for a multipart one with
/// 50 MiB parts. `None` for folder hashes.
pub(crate) fn expected_etag(content: &ContentHash) -> Option<String> {
    let hex = hex(&decode_hash(&content.hash).ok()?);
    match content.hash_type {
        HashType::Md5 => Some(hex),
        HashType::Md5Parts(n) => Some(format!("{hex}-{n}")),
        HashType::Md5Tree => None,
    }
}

/// Whether a server's ETag agrees with the computed hash. A one-part multipart upload of a
/// small file (`<md5 of the md5>-1`) agrees too.
fn etag_matches(content: &ContentHash, etag: &str) -> bool {
    let etag = etag.to_ascii_lowercase();
    if expected_etag(content).as_deref() == Some(etag.as_str()) {
        return true;
    }
    match (&content.hash_type, decode_hash(&content.hash)) {
        (HashType::Md5, Ok(digest)) => etag == format!("{}-1", hex(&md5_digest(&digest))),
        _ => false,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Upload verification: where the backend's ETag is MD5-based (S3), compare it with the hash
/// computed while writing. On a mismatch the object is deleted (no row points at it yet) and
/// the save fails with [`ErrorKind::Integrity`], so nothing is committed. Above 10,000 parts
/// S3 needs larger parts, the ETag no longer follows Trove's part size, and the upload is
/// verified by re-reading it instead.
pub(crate) async fn verify_upload(
    store: &dyn ObjectStore,
    key: &str,
    content: &ContentHash,
    etag: Option<&str>,
) -> Result<()> {
    if !store.capabilities().etag_is_md5 {
        return Ok(());
    }
    let Some(etag) = etag else { return Ok(()) };
    let ok = match content.hash_type {
        HashType::Md5Parts(n) if n > MAX_PARTS => hash_stored_file(store, key).await? == *content,
        _ => etag_matches(content, etag),
    };
    if ok {
        return Ok(());
    }
    let _ = store.delete(key).await;
    Err(Error::new(
        ErrorKind::Integrity,
        format!(
            "upload of {} is corrupt: the server's ETag {etag} does not match the content's hash {} ({}); \
             the object was removed and nothing was saved; retry the save",
            store.display_path(key),
            content.hash,
            content.hash_type
        ),
    ))
}

/// Write an in-memory buffer into `key`, hashing it (parts in parallel) while it is written.
pub(crate) async fn write_bytes(store: &dyn ObjectStore, data: Bytes, key: &str) -> Result<Written> {
    let shared = data.clone();
    let hashed = tokio::task::spawn_blocking(move || hash_parallel(&shared));
    let put = store.put(key, data).await;
    let content = hashed.await.map_err(|e| Error::storage(format!("hashing failed: {e}")))?;
    let put = put?;
    verify_upload(store, key, &content, put.etag.as_deref()).await?;
    Ok(Written { key: key.to_owned(), content, n_files: None })
}

/// Copy a local folder below `prefix/`, hashing each file; the folder's hash is `md5-tree`.
/// The whole folder is walked and checked (file types, names, key lengths) before anything is
/// written; a failure part-way removes what was written.
pub(crate) async fn write_folder(
    store: &dyn ObjectStore,
    root: &Path,
    prefix: &str,
    progress: &Progress,
) -> Result<Written> {
    let root = source::resolve(root)?;
    let files = source::walk_folder(&root)?;
    source::check_folder_files(&root, &files, prefix.len())?;
    let mut entries = Vec::with_capacity(files.len());
    for f in &files {
        match copy_file_hashing(store, &f.path, &format!("{prefix}/{}", f.rel), Some(f.identity), progress).await {
            Ok(c) => entries.push(FolderEntry { path: f.rel.clone(), hash: c.hash, size: c.size }),
            Err(e) => {
                let _ = store.delete_prefix(&format!("{prefix}/")).await;
                return Err(e);
            }
        }
    }
    Ok(Written { key: prefix.to_owned(), content: folder_hash(&entries), n_files: Some(files.len() as u64) })
}
