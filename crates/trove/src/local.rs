//! Bytes already in a store: what a save wrote ([`Written`]), removing, copying and moving an
//! artifact's objects, and hashing stored objects. Writing a source into a store is
//! the `source` module's.

use trove_domain::hash::{FolderEntry, PART_SIZE, b64, folder_hash};
use trove_domain::key::key_segment_problem;
use trove_domain::ports::{ObjectMeta, ObjectStore};
use trove_domain::{ContentHash, ContentHasher, Error, ErrorKind, HashType, Result};

/// Bytes written into a store by a save.
#[derive(Debug, Clone)]
pub(crate) struct Written {
    /// The object key, or for folders the prefix (without a trailing `/`).
    pub(crate) key: String,
    pub(crate) content: ContentHash,
    pub(crate) n_files: Option<u64>,
}

/// Remove what a save wrote (it is referenced by no row).
pub(crate) async fn remove_written(store: &dyn ObjectStore, written: &Written) -> Result<()> {
    if written.n_files.is_some() {
        store.delete_prefix(&format!("{}/", written.key)).await?;
    } else {
        store.delete(&written.key).await?;
    }
    Ok(())
}

/// Copy an artifact's bytes (a file, or every file below a folder prefix).
pub(crate) async fn copy_artifact_bytes(store: &dyn ObjectStore, from: &str, to: &str, folder: bool) -> Result<()> {
    if !folder {
        return store.copy(from, to).await;
    }
    for obj in store.list(&format!("{from}/")).await? {
        let rel = &obj.key[from.len() + 1..];
        store.copy(&obj.key, &format!("{to}/{rel}")).await?;
    }
    Ok(())
}

/// Move an artifact's bytes: an atomic rename where the backend has one, else copy then
/// delete (each step safe to repeat).
pub(crate) async fn move_artifact_bytes(store: &dyn ObjectStore, from: &str, to: &str, folder: bool) -> Result<()> {
    let native = store.capabilities().native_rename;
    if !folder {
        if native {
            return store.rename(from, to).await;
        }
        store.copy(from, to).await?;
        store.delete(from).await?;
        return Ok(());
    }
    for obj in store.list(&format!("{from}/")).await? {
        let rel = &obj.key[from.len() + 1..];
        let dest = format!("{to}/{rel}");
        if native {
            store.rename(&obj.key, &dest).await?;
        } else {
            store.copy(&obj.key, &dest).await?;
        }
    }
    store.delete_prefix(&format!("{from}/")).await?;
    Ok(())
}

/// Hash an object already in storage, streaming.
pub(crate) async fn hash_stored_file(store: &dyn ObjectStore, key: &str) -> Result<ContentHash> {
    let mut reader = store.reader(key, None).await?;
    let mut hasher = ContentHasher::new();
    while let Some(chunk) = reader.chunk().await? {
        hasher.update(&chunk);
    }
    Ok(hasher.finish())
}

/// Hash an object already in storage: from the server's exact MD5 (S3 single-part ETag, GCS
/// md5Hash) when the object fits in one 50 MiB part, so the MD5 is Trove's hash; else by
/// reading it.
pub(crate) async fn hash_stored_file_fast(store: &dyn ObjectStore, key: &str) -> Result<ContentHash> {
    let meta = store
        .stat(key)
        .await?
        .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("no object at {}", store.display_path(key))))?;
    match hash_from_meta(&meta) {
        Some(c) => Ok(c),
        None => hash_stored_file(store, key).await,
    }
}

/// Trove's hash of an object from its metadata alone, where that is exact.
pub(crate) fn hash_from_meta(meta: &ObjectMeta) -> Option<ContentHash> {
    let md5 = meta.content_md5?;
    (meta.size <= PART_SIZE).then(|| ContentHash { hash: b64(&md5), hash_type: HashType::Md5, size: meta.size })
}

/// [`hash_stored_folder`] with each file hashed by [`hash_stored_file_fast`]'s rule.
pub(crate) async fn hash_stored_folder_fast(store: &dyn ObjectStore, prefix: &str) -> Result<(ContentHash, u64)> {
    let objects = store.list(&format!("{prefix}/")).await?;
    if objects.is_empty() {
        return Err(Error::new(ErrorKind::NotFound, format!("no files below {}", store.display_path(prefix))));
    }
    let mut entries = Vec::with_capacity(objects.len());
    for obj in &objects {
        let rel = &obj.key[prefix.len() + 1..];
        if let Some(problem) = rel.split('/').find_map(key_segment_problem) {
            return Err(Error::new(
                ErrorKind::InvalidKey,
                format!(
                    "cannot register the folder {}: its file '{}' cannot be a key, because {problem}",
                    store.display_path(prefix),
                    rel.escape_debug()
                ),
            ));
        }
        let c = match hash_from_meta(obj) {
            Some(c) => c,
            None => hash_stored_file(store, &obj.key).await?,
        };
        entries.push(FolderEntry { path: obj.key[prefix.len() + 1..].to_owned(), hash: c.hash, size: c.size });
    }
    Ok((folder_hash(&entries), objects.len() as u64))
}

/// Hash a folder already in storage; returns the hash and the number of files.
pub(crate) async fn hash_stored_folder(store: &dyn ObjectStore, prefix: &str) -> Result<(ContentHash, u64)> {
    let objects = store.list(&format!("{prefix}/")).await?;
    if objects.is_empty() {
        return Err(Error::new(ErrorKind::NotFound, format!("no files below {}", store.display_path(prefix))));
    }
    let mut entries = Vec::with_capacity(objects.len());
    for obj in &objects {
        let c = hash_stored_file(store, &obj.key).await?;
        entries.push(FolderEntry { path: obj.key[prefix.len() + 1..].to_owned(), hash: c.hash, size: c.size });
    }
    Ok((folder_hash(&entries), objects.len() as u64))
}
