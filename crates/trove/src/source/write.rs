//! Writing a source into a store while hashing it (one pass), and verifying the upload
//! against the server's ETag where that is an MD5.

use std::path::Path;

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use trove_domain::hash::{FolderEntry, decode_hash, folder_hash, md5_digest};
use trove_domain::ports::ObjectStore;
use trove_domain::{ContentHash, ContentHasher, Error, ErrorKind, HashType, Result};

use super::files as source;
use crate::local::{Written, hash_stored_file};

/// Read size for local files.
const CHUNK: usize = 4 * 1024 * 1024;

/// S3's limit on the parts of one upload.
const MAX_PARTS: u32 = 10_000;

/// Stream a local file into `key`, hashing it on the way. A symbolic link named as the
/// source is followed to its file (see [`crate::source`]).
pub(crate) async fn write_file(store: &dyn ObjectStore, path: &Path, key: &str) -> Result<Written> {
    let path = source::resolve(path)?;
    let content = copy_file_hashing(store, &path, key, None).await?;
    Ok(Written { key: key.to_owned(), content, n_files: None })
}

/// Copy one regular file into `key`, hashing it on the way. The file is opened without
/// following links or blocking (and, with `expected`, must be the file a folder walk saw); if it
/// changes during the copy, the write is aborted before it becomes visible and the error is
/// [`ErrorKind::SourceChanged`].
async fn copy_file_hashing(
    store: &dyn ObjectStore,
    path: &Path,
    key: &str,
    expected: Option<source::Identity>,
) -> Result<ContentHash> {
    let (mut file, start) = source::open_regular(path, expected).await?;
    let mut writer = store.writer(key).await?;
    let mut hasher = ContentHasher::new();
    let mut read: u64 = 0;
    loop {
        let mut buf = vec![0u8; CHUNK];
        let mut filled = 0;
        // Fill whole chunks so the writer sees few, large writes.
        while filled < CHUNK {
            match file.read(&mut buf[filled..]).await {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(source::read_error(path, e));
                }
            }
        }
        if filled == 0 {
            break;
        }
        read += filled as u64;
        buf.truncate(filled);
        hasher.update(&buf);
        if let Err(e) = writer.write(Bytes::from(buf)).await {
            let _ = writer.abort().await;
            return Err(e);
        }
        if filled < CHUNK {
            break;
        }
    }
    // Checked before the close, so the bytes of a changing file never become visible.
    if let Err(e) = source::check_unchanged(path, &file, &start, read).await {
        let _ = writer.abort().await;
        return Err(e);
    }
    let put = writer.close().await?;
    let content = hasher.finish();
    verify_upload(store, key, &content, put.etag.as_deref()).await?;
    Ok(content)
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

/// Write an in-memory buffer into `key`.
pub(crate) async fn write_bytes(store: &dyn ObjectStore, data: Bytes, key: &str) -> Result<Written> {
    let mut hasher = ContentHasher::new();
    hasher.update(&data);
    let put = store.put(key, data).await?;
    let content = hasher.finish();
    verify_upload(store, key, &content, put.etag.as_deref()).await?;
    Ok(Written { key: key.to_owned(), content, n_files: None })
}

/// Copy a local folder below `prefix/`, hashing each file; the folder's hash is `md5-tree`.
/// The whole folder is walked and checked (file types, names, key lengths) before anything is
/// written; a failure part-way removes what was written.
pub(crate) async fn write_folder(store: &dyn ObjectStore, root: &Path, prefix: &str) -> Result<Written> {
    let root = source::resolve(root)?;
    let files = source::walk_folder(&root)?;
    source::check_folder_files(&root, &files, prefix.len())?;
    let mut entries = Vec::with_capacity(files.len());
    for f in &files {
        match copy_file_hashing(store, &f.path, &format!("{prefix}/{}", f.rel), Some(f.identity)).await {
            Ok(c) => entries.push(FolderEntry { path: f.rel.clone(), hash: c.hash, size: c.size }),
            Err(e) => {
                let _ = store.delete_prefix(&format!("{prefix}/")).await;
                return Err(e);
            }
        }
    }
    Ok(Written { key: prefix.to_owned(), content: folder_hash(&entries), n_files: Some(files.len() as u64) })
}
