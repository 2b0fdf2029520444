//! Reading a folder artifact in place (spec 2 section 7, `open()` of a folder such as a Zarr
//! store): its files listed and read, whole or by byte range, straight from its storage, on
//! every backend; nothing is downloaded to the cache.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use trove_domain::ports::{ObjectReader, ObjectStore};
use trove_domain::{Artifact, Error, ErrorKind, Result};

use crate::Trove;

/// One file of a folder artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderFile {
    /// Its `/`-separated path inside the folder.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
}

/// A read-only view of a folder artifact's files, where they are stored.
#[derive(Clone)]
pub struct FolderView {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    files: Vec<FolderFile>,
}

impl std::fmt::Debug for FolderView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolderView").field("prefix", &self.prefix).field("files", &self.files.len()).finish()
    }
}

impl FolderView {
    /// Every file, sorted by path.
    pub fn files(&self) -> &[FolderFile] {
        &self.files
    }

    /// The file at `path`, if the folder has it.
    pub fn file(&self, path: &str) -> Option<&FolderFile> {
        self.files.iter().find(|f| f.path == path)
    }

    /// Stream one file, or a byte range of it, from storage.
    pub async fn reader(&self, path: &str, range: Option<Range<u64>>) -> Result<Box<dyn ObjectReader>> {
        let file = self.file(path).ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("the folder has no file '{path}': list its files to see which it has"),
            )
        })?;
        self.store.reader(&format!("{}/{}", self.prefix, file.path), range).await
    }

    /// Read one file, or a byte range of it, into memory.
    pub async fn read(&self, path: &str, range: Option<Range<u64>>) -> Result<Bytes> {
        let mut reader = self.reader(path, range).await?;
        let mut out = Vec::new();
        while let Some(chunk) = reader.chunk().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(out))
    }
}

impl Trove {
    /// Open a folder artifact in place: its files are listed from storage and read from there
    /// on demand (ranged reads on S3 and GCS), never copied into the cache. An older version
    /// of a shared-store folder cannot be read (its files were overwritten).
    pub async fn open_folder(&self, artifact: &Artifact) -> Result<FolderView> {
        if !artifact.is_folder() {
            return Err(Error::invalid_input(format!(
                "{} is a file, not a folder: read it with `open_reader` (or `trove cat`)",
                artifact.label()
            )));
        }
        self.check_readable(artifact).await?;
        let store = self.store(artifact.storage)?.store.clone();
        let prefix = artifact.storage_key();
        let files: Vec<FolderFile> = store
            .list(&format!("{prefix}/"))
            .await?
            .into_iter()
            .map(|m| FolderFile { path: m.key[prefix.len() + 1..].to_owned(), size: m.size })
            .collect();
        if files.is_empty() {
            return Err(Error::not_found(format!(
                "the files of {} are missing from {}: run `trove fsck`",
                artifact.label(),
                store.display_path(&format!("{prefix}/"))
            )));
        }
        Ok(FolderView { store, prefix, files })
    }

    /// Stream an artifact's bytes from storage without caching them: a file artifact's content
    /// (`path` must be `None`), or one file of a folder artifact. What `trove cat` prints.
    pub async fn open_path(&self, artifact: &Artifact, path: Option<&str>) -> Result<Box<dyn ObjectReader>> {
        match (artifact.is_folder(), path) {
            (false, None) => self.open_reader(artifact, None).await,
            (false, Some(p)) => Err(Error::invalid_input(format!(
                "{} is a file, not a folder: it has no file '{p}' inside",
                artifact.label()
            ))),
            (true, Some(p)) => self.open_folder(artifact).await?.reader(p, None).await,
            (true, None) => Err(Error::invalid_input(format!(
                "{} is a folder: name one of its files (ARTIFACT/PATH), or list them with `trove cat --list`",
                artifact.label()
            ))),
        }
    }
}
