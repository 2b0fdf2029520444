//! Moving bytes between local paths and object stores, hashing them on the way (one pass).

use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use trove_domain::hash::{FolderEntry, folder_hash};
use trove_domain::ports::ObjectStore;
use trove_domain::{ContentHash, ContentHasher, Error, ErrorKind, Result};

/// Read size for local files.
const CHUNK: usize = 4 * 1024 * 1024;

/// Bytes written into a store by a save.
#[derive(Debug, Clone)]
pub(crate) struct Written {
    /// The object key, or for folders the prefix (without a trailing `/`).
    pub(crate) key: String,
    pub(crate) content: ContentHash,
    pub(crate) n_files: Option<u64>,
}

/// Stream a local file into `key`, hashing it on the way.
pub(crate) async fn write_file(store: &dyn ObjectStore, path: &Path, key: &str) -> Result<Written> {
    let content = copy_file_hashing(store, path, key).await?;
    Ok(Written { key: key.to_owned(), content, n_files: None })
}

async fn copy_file_hashing(store: &dyn ObjectStore, path: &Path, key: &str) -> Result<ContentHash> {
    let mut file = tokio::fs::File::open(path).await.map_err(|e| source_error(path, e))?;
    let mut writer = store.writer(key).await?;
    let mut hasher = ContentHasher::new();
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
                    return Err(source_error(path, e));
                }
            }
        }
        if filled == 0 {
            break;
        }
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
    writer.close().await?;
    Ok(hasher.finish())
}

/// Write an in-memory buffer into `key`.
pub(crate) async fn write_bytes(store: &dyn ObjectStore, data: Bytes, key: &str) -> Result<Written> {
    let mut hasher = ContentHasher::new();
    hasher.update(&data);
    store.put(key, data).await?;
    Ok(Written { key: key.to_owned(), content: hasher.finish(), n_files: None })
}

/// Every file below `root`, as (relative `/`-separated path, absolute path), sorted by bytes.
pub(crate) fn walk_folder(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| source_error(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| source_error(&dir, e))?;
            let path = entry.path();
            let meta = std::fs::metadata(&path).map_err(|e| source_error(&path, e))?;
            if meta.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).expect("below root");
                let rel = rel.to_str().ok_or_else(|| {
                    Error::invalid_input(format!("{} has a name that is not UTF-8; rename it", path.display()))
                })?;
                out.push((rel.replace('\\', "/"), path));
            }
        }
    }
    out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(out)
}

/// Copy a local folder below `prefix/`, hashing each file; the folder's hash is `md5-tree`.
pub(crate) async fn write_folder(store: &dyn ObjectStore, root: &Path, prefix: &str) -> Result<Written> {
    let files = walk_folder(root)?;
    if files.is_empty() {
        return Err(Error::invalid_input(format!(
            "the folder {} holds no files; add files to it, or save a file instead",
            root.display()
        )));
    }
    let mut entries = Vec::with_capacity(files.len());
    for (rel, path) in &files {
        match copy_file_hashing(store, path, &format!("{prefix}/{rel}")).await {
            Ok(c) => entries.push(FolderEntry { path: rel.clone(), hash: c.hash, size: c.size }),
            Err(e) => {
                let _ = store.delete_prefix(&format!("{prefix}/")).await;
                return Err(e);
            }
        }
    }
    Ok(Written { key: prefix.to_owned(), content: folder_hash(&entries), n_files: Some(files.len() as u64) })
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

fn source_error(path: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::new(ErrorKind::SourceNotFound, format!("no file or folder at {}: check the path", path.display()))
            .with_source(e)
    } else {
        Error::io(format!("cannot read {}", path.display()), e)
    }
}
