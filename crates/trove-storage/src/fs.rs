//! Local-disk writes, copies and renames that never leave a half file at a key.
//!
//! OpenDAL's own atomic fs writes put temporary files in one separate directory (possibly on
//! another file system, where the final rename fails) and leave them behind when a writer is
//! dropped. Here the temporary file is a sibling of the key, in the same directory, so the
//! rename into place is atomic, and a guard removes it on every path that does not commit.

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use rand::Rng;
use tokio::io::AsyncWriteExt;
use trove_domain::ports::{ObjectMeta, ObjectWriter, PutResult};
use trove_domain::{Error, Result};

use crate::error::map_io;

use trove_domain::key::TEMP_NAME_PREFIX as TEMP_PREFIX;

/// Whether a listed path is one of this module's temporary files.
pub(crate) fn is_temp_name(path: &str) -> bool {
    path.rsplit('/').next().is_some_and(|name| name.starts_with(TEMP_PREFIX))
}

/// Temporary files left under `prefix` by writers that never committed nor dropped (a process
/// killed mid-write), with their size and modification time. Walks the directory tree itself:
/// OpenDAL's listing is the normal view, which hides them.
pub(crate) async fn leftovers(root: &Path, prefix: &str) -> io::Result<Vec<ObjectMeta>> {
    let root = root.to_path_buf();
    let prefix = prefix.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let start = match prefix.rfind('/') {
            Some(i) => root.join(&prefix[..i]),
            None => root.clone(),
        };
        let mut stack = vec![start];
        while let Some(dir) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::NotADirectory => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let ty = entry.file_type()?;
                if ty.is_dir() {
                    stack.push(entry.path());
                    continue;
                }
                let Ok(rel) = entry.path().strip_prefix(&root).map(|r| r.to_string_lossy().replace('\\', "/")) else {
                    continue;
                };
                if !ty.is_file() || !is_temp_name(&rel) || !rel.starts_with(&prefix) {
                    continue;
                }
                let meta = entry.metadata()?;
                out.push(ObjectMeta {
                    key: rel,
                    size: meta.len(),
                    etag: None,
                    content_md5: None,
                    last_modified: meta.modified().ok().map(chrono::DateTime::<chrono::Utc>::from),
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    })
    .await
    .map_err(io::Error::other)?
}

/// Remove one leftover temporary file; `false` if it was already gone.
pub(crate) async fn remove_leftover(root: &Path, key: &str) -> io::Result<bool> {
    match tokio::fs::remove_file(root.join(key)).await {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// A temporary sibling of `target`, removed on drop unless committed.
struct TempFile {
    path: PathBuf,
    committed: bool,
}

impl TempFile {
    fn beside(target: &Path) -> TempFile {
        let suffix: u64 = rand::rng().random();
        let dir = target.parent().unwrap_or(target);
        TempFile { path: dir.join(format!("{TEMP_PREFIX}{suffix:016x}")), committed: false }
    }

    /// Rename into place: atomic within one directory.
    async fn commit(mut self, target: &Path) -> io::Result<()> {
        tokio::fs::rename(&self.path, target).await?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

async fn create_parent(target: &Path) -> io::Result<()> {
    match target.parent() {
        Some(parent) => tokio::fs::create_dir_all(parent).await,
        None => Ok(()),
    }
}

/// Open a new temporary file beside `target`, creating the directories; retried once in case a
/// concurrent `delete_prefix` pruned the directory in between.
async fn open_temp(target: &Path) -> io::Result<(TempFile, tokio::fs::File)> {
    let mut attempt = 0;
    loop {
        create_parent(target).await?;
        let temp = TempFile::beside(target);
        match tokio::fs::OpenOptions::new().write(true).create_new(true).open(&temp.path).await {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == io::ErrorKind::NotFound && attempt == 0 => attempt += 1,
            Err(e) => return Err(e),
        }
    }
}

/// A streaming write to a temporary sibling, renamed into place at close.
pub(crate) struct FsWriter {
    key: String,
    target: PathBuf,
    temp: Option<TempFile>,
    file: Option<tokio::fs::File>,
}

impl FsWriter {
    pub(crate) async fn create(root: &Path, key: &str) -> Result<FsWriter> {
        let target = root.join(key);
        let (temp, file) = open_temp(&target).await.map_err(|e| map_io(e, "write", key, &target))?;
        Ok(FsWriter { key: key.to_string(), target, temp: Some(temp), file: Some(file) })
    }

    fn discard(&mut self) {
        self.file = None;
        self.temp = None;
    }

    fn file(&mut self) -> Result<&mut tokio::fs::File> {
        self.file
            .as_mut()
            .ok_or_else(|| Error::storage(format!("write '{}': the writer already failed and was discarded", self.key)))
    }
}

#[async_trait]
impl ObjectWriter for FsWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        let result = self.file()?.write_all(&chunk).await;
        match result {
            Ok(()) => Ok(()),
            Err(e) => {
                self.discard();
                Err(map_io(e, "write", &self.key, &self.target))
            }
        }
    }

    async fn close(mut self: Box<Self>) -> Result<PutResult> {
        let mut file = self.file.take().ok_or_else(|| {
            Error::storage(format!("write '{}': the writer already failed and was discarded", self.key))
        })?;
        let synced = async {
            file.flush().await?;
            file.sync_all().await
        }
        .await;
        // The file's own size: positional writes through `local_file` are not counted by `write`.
        let size = match synced {
            Ok(()) => file.metadata().await.map(|m| m.len()),
            Err(e) => Err(e),
        };
        drop(file);
        let size = match size {
            Ok(size) => size,
            Err(e) => {
                self.discard();
                return Err(map_io(e, "write", &self.key, &self.target));
            }
        };
        let temp = self.temp.take().expect("temp file exists while the file is open");
        temp.commit(&self.target).await.map_err(|e| map_io(e, "write", &self.key, &self.target))?;
        Ok(PutResult { size, etag: None })
    }

    async fn abort(mut self: Box<Self>) -> Result<()> {
        self.discard();
        Ok(())
    }

    async fn local_file(&mut self) -> Result<Option<std::fs::File>> {
        let file = self.file()?;
        let cloned = async {
            file.flush().await?;
            file.try_clone().await
        }
        .await;
        match cloned {
            Ok(f) => Ok(Some(f.into_std().await)),
            Err(e) => {
                self.discard();
                Err(map_io(e, "write", &self.key, &self.target))
            }
        }
    }
}

/// Copy `from` to `to` through a temporary sibling of `to`.
pub(crate) async fn copy(root: &Path, from: &str, to: &str) -> Result<()> {
    let src = root.join(from);
    let dst = root.join(to);
    let meta = tokio::fs::metadata(&src).await.map_err(|e| map_io(e, "copy", from, &src))?;
    if !meta.is_file() {
        return Err(Error::not_found(format!("copy '{from}' at {}: not a file", src.display())));
    }
    let (temp, file) = open_temp(&dst).await.map_err(|e| map_io(e, "copy to", to, &dst))?;
    drop(file);
    tokio::fs::copy(&src, &temp.path).await.map_err(|e| map_io(e, "copy", from, &src))?;
    let synced = async { tokio::fs::OpenOptions::new().write(true).open(&temp.path).await?.sync_all().await }.await;
    synced.map_err(|e| map_io(e, "copy to", to, &dst))?;
    temp.commit(&dst).await.map_err(|e| map_io(e, "copy to", to, &dst))
}

/// Rename `from` to `to` atomically, creating `to`'s directories.
pub(crate) async fn rename(root: &Path, from: &str, to: &str) -> Result<()> {
    let src = root.join(from);
    let dst = root.join(to);
    let meta = tokio::fs::metadata(&src).await.map_err(|e| map_io(e, "rename", from, &src))?;
    if !meta.is_file() {
        return Err(Error::not_found(format!("rename '{from}' at {}: not a file", src.display())));
    }
    create_parent(&dst).await.map_err(|e| map_io(e, "rename to", to, &dst))?;
    tokio::fs::rename(&src, &dst).await.map_err(|e| map_io(e, "rename", from, &src))
}

/// A regular file found by [`list_files`].
pub(crate) struct Listed {
    /// The key: its path relative to the root, `/`-separated.
    pub(crate) key: String,
    pub(crate) size: u64,
    pub(crate) modified: std::time::SystemTime,
}

/// Every regular file below `root/dir` (`dir` is `""` or ends in `/`), unsorted. Only regular
/// files are objects: symbolic links are neither followed nor listed (a link to a folder
/// could leave the root or loop, and OpenDAL's own recursive listing trips over one), and
/// neither are FIFOs, sockets, devices, this module's temporary files, or names that are not
/// UTF-8 (they cannot be keys).
pub(crate) async fn list_files(root: &Path, dir: &str) -> io::Result<Vec<Listed>> {
    let (root, start) = (root.to_path_buf(), root.join(dir));
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let mut stack = vec![start];
        while let Some(d) = stack.pop() {
            let entries = match std::fs::read_dir(&d) {
                Ok(entries) => entries,
                // Gone meanwhile, or a file where a folder was named: nothing below it.
                Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = match entry {
                    Ok(entry) => entry,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                let (ft, meta) = match entry.file_type().and_then(|ft| Ok((ft, entry.metadata()?))) {
                    Ok(x) => x,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                let path = entry.path();
                if ft.is_dir() {
                    stack.push(path);
                    continue;
                }
                let Some(key) = path.strip_prefix(&root).ok().and_then(Path::to_str) else { continue };
                if ft.is_file() && !is_temp_name(key) {
                    out.push(Listed { key: key.to_owned(), size: meta.len(), modified: meta.modified()? });
                }
            }
        }
        Ok(out)
    })
    .await
    .map_err(io::Error::other)?
}

/// Remove `dir` and every directory below it that is (then) empty; files are never removed.
pub(crate) async fn prune_empty_dirs(dir: &Path) -> io::Result<()> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || prune_blocking(&dir)).await.map_err(io::Error::other)?
}

fn prune_blocking(dir: &Path) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::NotADirectory => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            prune_blocking(&entry.path())?;
        }
    }
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::DirectoryNotEmpty => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_recognized() {
        assert!(is_temp_name(".trove-tmp-0123456789abcdef"));
        assert!(is_temp_name("a/b/.trove-tmp-0123456789abcdef"));
        assert!(!is_temp_name("a/.trove/x.csv"));
        assert!(!is_temp_name("trove-tmp-x"));
    }

    #[tokio::test]
    async fn a_dropped_writer_leaves_no_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = FsWriter::create(dir.path(), "sub/k.bin").await.unwrap();
        w.write(Bytes::from_static(b"half")).await.unwrap();
        let listed = || std::fs::read_dir(dir.path().join("sub")).unwrap().count();
        assert_eq!(listed(), 1, "the temporary file exists while writing");
        drop(w);
        assert_eq!(listed(), 0, "dropping the writer removes its temporary file");
        assert!(!dir.path().join("sub/k.bin").exists());
    }

    #[tokio::test]
    async fn listing_shows_regular_files_only_and_never_follows_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/sub")).unwrap();
        std::fs::write(root.join("a/x.txt"), b"x").unwrap();
        std::fs::write(root.join("a/sub/y.txt"), b"yy").unwrap();
        std::fs::write(root.join("a/.trove-tmp-0123456789abcdef"), b"partial").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("a/etc")).unwrap();
        std::os::unix::fs::symlink("..", root.join("a/sub/up")).unwrap();
        std::os::unix::fs::symlink("x.txt", root.join("a/link.txt")).unwrap();
        let st = std::process::Command::new("mkfifo").arg(root.join("a/pipe")).status().unwrap();
        assert!(st.success());
        let mut keys: Vec<(String, u64)> =
            list_files(root, "a/").await.unwrap().into_iter().map(|l| (l.key, l.size)).collect();
        keys.sort();
        assert_eq!(keys, [("a/sub/y.txt".to_owned(), 2), ("a/x.txt".to_owned(), 1)]);
        assert!(list_files(root, "a/x.txt/").await.unwrap().is_empty());
        assert!(list_files(root, "missing/").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn prune_removes_empty_dirs_but_keeps_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("p/a/b")).unwrap();
        std::fs::create_dir_all(dir.path().join("p/c")).unwrap();
        std::fs::write(dir.path().join("p/c/keep"), b"x").unwrap();
        prune_empty_dirs(&dir.path().join("p")).await.unwrap();
        assert!(!dir.path().join("p/a").exists());
        assert!(dir.path().join("p/c/keep").exists());
        prune_empty_dirs(&dir.path().join("missing")).await.unwrap();
    }
}
