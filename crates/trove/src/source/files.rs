//! Local sources of a save or replace: the path the user names and the files of a folder.
//!
//! Only regular files and directories are content (README, "Behaviour worth knowing"):
//! * the named path may be a symbolic link: it is followed, like `cp` does, to a regular file
//!   or a directory, and the target is read;
//! * inside a folder, symbolic links (to files or folders, inside or outside it) are refused,
//!   naming the link and its target; nothing is followed, so no loop or ancestor link recurses;
//! * FIFOs, sockets and character or block devices are refused, named or inside a folder;
//! * names inside a folder become object keys `<prefix>/<relative path>`, so every segment
//!   obeys the key rules ([`key_segment_problem`]);
//! * files are opened with `O_NOFOLLOW | O_NONBLOCK` and checked on the open handle: a link
//!   swapped in after the walk is refused instead of followed, a FIFO swapped in cannot block,
//!   and the handle must be a regular file, the very file (device and inode) the walk saw;
//! * a file whose size, modification time or change time differ between the start and the end
//!   of its copy, or that yields another number of bytes than its size, fails the save with
//!   [`ErrorKind::SourceChanged`].
//!
//! Everything here runs before and while bytes are read, independently of the backend.

use std::collections::HashSet;
use std::fs::Metadata;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use trove_domain::key::{MAX_KEY_BYTES, check_suffix, key_segment_problem, suffix_of};
use trove_domain::ports::ObjectStore;
use trove_domain::{Error, ErrorKind, Key, Result};

/// A local source, checked before anything is written.
#[derive(Debug, Clone)]
pub(crate) struct Probed {
    /// A directory (its files were walked and checked), else a regular file.
    pub(crate) is_folder: bool,
    /// The canonical suffix of the named path's file name.
    pub(crate) suffix: String,
}

/// Which file a walk saw: device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Identity {
    dev: u64,
    ino: u64,
}

impl Identity {
    fn of(meta: &Metadata) -> Identity {
        Identity { dev: meta.dev(), ino: meta.ino() }
    }
}

/// One regular file below a folder.
#[derive(Debug, Clone)]
pub(crate) struct FolderFile {
    /// Its `/`-separated path relative to the folder.
    pub(crate) rel: String,
    /// Its path on disk.
    pub(crate) path: PathBuf,
    /// The file the walk saw.
    pub(crate) identity: Identity,
}

/// Check the path a user names for a save or replace: it exists, is (or links to) a regular
/// file or a folder whose files are all regular and validly named, and its suffix can name a
/// stored file. With a key, a folder's files must fit below it (`<key>/<relative path>`).
pub(crate) fn probe(named: &Path, key: Option<&Key>) -> Result<Probed> {
    let path = resolve(named)?;
    let meta = std::fs::symlink_metadata(&path).map_err(|e| read_error(named, e))?;
    let name = named.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let suffix = suffix_of(&name);
    check_suffix(&suffix).map_err(|e| {
        Error::new(ErrorKind::InvalidInput, format!("cannot save {}: {}; rename it", named.display(), e.message()))
    })?;
    let ft = meta.file_type();
    if ft.is_file() {
        return Ok(Probed { is_folder: false, suffix });
    }
    if !ft.is_dir() {
        return Err(special_file_error(named, &meta, false));
    }
    let files = walk_folder(&path)?;
    check_folder_files(&path, &files, key.map_or(0, |k| k.as_str().len()))?;
    Ok(Probed { is_folder: true, suffix })
}

/// The path to read for a named path: itself, or where it links to (followed to the end, as
/// the kernel does); a dangling link is [`ErrorKind::SourceNotFound`], a loop
/// [`ErrorKind::UnsupportedSource`].
pub(crate) fn resolve(named: &Path) -> Result<PathBuf> {
    let meta = std::fs::symlink_metadata(named).map_err(|e| read_error(named, e))?;
    if !meta.file_type().is_symlink() {
        return Ok(named.to_path_buf());
    }
    let target = link_target(named);
    std::fs::canonicalize(named).map_err(|e| match e.raw_os_error() {
        _ if e.kind() == io::ErrorKind::NotFound => Error::new(
            ErrorKind::SourceNotFound,
            format!(
                "{} is a symbolic link to {target}, which does not exist: point it at a file or folder, or save \
                 the file itself",
                named.display()
            ),
        )
        .with_source(e),
        Some(libc::ELOOP) => Error::new(
            ErrorKind::UnsupportedSource,
            format!(
                "{} is a symbolic link to {target} that never reaches a file (a loop): fix the link, or save the \
                 file itself",
                named.display()
            ),
        )
        .with_source(e),
        _ => read_error(named, e),
    })
}

/// Every regular file below `root`, sorted by relative path (bytes). Refuses symbolic links and
/// special files anywhere below, naming them; names are not checked (see
/// [`check_folder_files`]), so the cache can walk its own copies.
pub(crate) fn walk_folder(root: &Path) -> Result<Vec<FolderFile>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    // A directory reached twice (a bind mount of an ancestor) would recurse without end.
    let mut seen = HashSet::new();
    while let Some(dir) = stack.pop() {
        let meta = std::fs::symlink_metadata(&dir).map_err(|e| read_error(&dir, e))?;
        if !seen.insert(Identity::of(&meta)) {
            return Err(Error::new(
                ErrorKind::UnsupportedSource,
                format!(
                    "{} appears twice below {} (a mount of a folder inside itself): save a folder without it",
                    dir.display(),
                    root.display()
                ),
            ));
        }
        let entries = std::fs::read_dir(&dir).map_err(|e| read_error(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| read_error(&dir, e))?;
            let path = entry.path();
            // `DirEntry::metadata` does not follow symbolic links.
            let meta = entry.metadata().map_err(|e| read_error(&path, e))?;
            let ft = meta.file_type();
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() {
                let rel = path.strip_prefix(root).expect("below root");
                let rel = rel.to_str().ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidKey,
                        format!("{} has a name that is not UTF-8: rename it", path.display()),
                    )
                })?;
                out.push(FolderFile { rel: rel.to_owned(), path, identity: Identity::of(&meta) });
            } else {
                return Err(special_file_error(&path, &meta, true));
            }
        }
    }
    out.sort_by(|a, b| a.rel.as_bytes().cmp(b.rel.as_bytes()));
    Ok(out)
}

/// A folder's files become object keys `<prefix>/<relative path>`: refuse an empty folder, a
/// name that breaks the key rules, or a path too long for a `prefix_len`-byte prefix, naming
/// the file and the fix.
pub(crate) fn check_folder_files(root: &Path, files: &[FolderFile], prefix_len: usize) -> Result<()> {
    if files.is_empty() {
        return Err(Error::invalid_input(format!(
            "the folder {} holds no files; add files to it, or save a file instead",
            root.display()
        )));
    }
    for f in files {
        if let Some(problem) = f.rel.split('/').find_map(key_segment_problem) {
            return Err(Error::new(
                ErrorKind::InvalidKey,
                format!(
                    "cannot save the folder {}: the file '{}' cannot be stored under this name, because {problem} \
                     (rename it, or move it out of the folder)",
                    root.display(),
                    f.rel.escape_debug()
                ),
            ));
        }
        if prefix_len + 1 + f.rel.len() > MAX_KEY_BYTES {
            return Err(Error::new(
                ErrorKind::InvalidKey,
                format!(
                    "cannot save the folder {}: the file '{}' would be stored as a {}-byte object name, over the \
                     limit of {MAX_KEY_BYTES}; shorten its path (or the key)",
                    root.display(),
                    f.rel.escape_debug(),
                    prefix_len + 1 + f.rel.len()
                ),
            ));
        }
    }
    Ok(())
}

/// Before registering `rel` in place: on local disk, the object must be a regular file or a
/// folder of regular, validly named files, never a link (which would register bytes from
/// outside the location) or a special file. Cloud objects are checked by name when listed.
pub(crate) fn check_in_place(store: &dyn ObjectStore, rel: &str) -> Result<()> {
    let Some(local) = store.local_path(rel) else { return Ok(()) };
    let meta = match std::fs::symlink_metadata(&local) {
        Ok(m) => m,
        // Missing: the registration reports it, as on every backend.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(read_error(&local, e)),
    };
    let ft = meta.file_type();
    if ft.is_symlink() {
        return Err(Error::new(
            ErrorKind::UnsupportedSource,
            format!(
                "{} is a symbolic link (to {}); links are not registered in place: save its target, or replace the                  link with a copy",
                local.display(),
                link_target(&local)
            ),
        ));
    }
    if ft.is_dir() {
        let files = walk_folder(&local)?;
        return check_folder_files(&local, &files, rel.len());
    }
    if !ft.is_file() {
        return Err(special_file_error(&local, &meta, false));
    }
    Ok(())
}

/// What the handle of an open file says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    identity: Identity,
    /// Size in bytes.
    pub(crate) size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(meta: &Metadata) -> Stamp {
        Stamp {
            identity: Identity::of(meta),
            size: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// Open a regular file for reading without following a symbolic link at `path` and without
/// blocking on a FIFO; refuse anything but a regular file (checked on the handle), and, if
/// `expected` is given, any other file than the one a walk saw.
pub(crate) fn open_regular(path: &Path, expected: Option<Identity>) -> Result<(std::fs::File, Stamp)> {
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path);
    let file = match opened {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Error::new(
                ErrorKind::SourceChanged,
                format!(
                    "{} became a symbolic link (to {}) while it was being saved; it is not followed: save it again \
                     once it is stable",
                    path.display(),
                    link_target(path)
                ),
            )
            .with_source(e));
        }
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
            return Err(Error::new(
                ErrorKind::UnsupportedSource,
                format!("{} is a socket, not a file: only regular files and folders can be saved", path.display()),
            )
            .with_source(e));
        }
        Err(e) => return Err(read_error(path, e)),
    };
    let meta = file.metadata().map_err(|e| read_error(path, e))?;
    if meta.is_dir() {
        return Err(changed_error(path, "became a folder while it was being saved"));
    }
    if !meta.file_type().is_file() {
        return Err(special_file_error(path, &meta, false));
    }
    let stamp = Stamp::of(&meta);
    if expected.is_some_and(|id| id != stamp.identity) {
        return Err(changed_error(path, "was replaced by another file"));
    }
    Ok((file, stamp))
}

/// After copying `read` bytes from `file` (opened by [`open_regular`] with `start`): fail if the
/// file changed meanwhile.
pub(crate) fn check_unchanged(path: &Path, file: &std::fs::File, start: &Stamp, read: u64) -> Result<()> {
    let end = Stamp::of(&file.metadata().map_err(|e| read_error(path, e))?);
    if end != *start {
        return Err(changed_error(path, "changed while it was being saved"));
    }
    if read != start.size {
        return Err(changed_error(
            path,
            &format!("changed while it was being saved ({read} bytes read, {} expected)", start.size),
        ));
    }
    Ok(())
}

fn changed_error(path: &Path, what: &str) -> Error {
    Error::new(
        ErrorKind::SourceChanged,
        format!("{} {what}; nothing was kept: save it again once it is stable", path.display()),
    )
}

/// Where a symbolic link points, for messages.
fn link_target(path: &Path) -> String {
    std::fs::read_link(path).map(|t| t.display().to_string()).unwrap_or_else(|_| "an unreadable target".into())
}

/// The typed refusal of anything that is neither a regular file nor a directory.
fn special_file_error(path: &Path, meta: &Metadata, in_folder: bool) -> Error {
    let ft = meta.file_type();
    if ft.is_symlink() {
        return Error::new(
            ErrorKind::UnsupportedSource,
            format!(
                "{} is a symbolic link (to {}) inside the folder being saved; links inside folders are not followed \
                 or stored: replace it with a copy of its target, or remove it",
                path.display(),
                link_target(path)
            ),
        );
    }
    let what = if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else {
        "neither a regular file nor a folder"
    };
    let fix = if in_folder { "remove it from the folder, or save the other files" } else { "save a regular file" };
    Error::new(
        ErrorKind::UnsupportedSource,
        format!("{} is {what}: only regular files and folders of regular files can be saved; {fix}", path.display()),
    )
}

/// A failure to read a source: missing or unreadable is [`ErrorKind::SourceNotFound`].
pub(crate) fn read_error(path: &Path, e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::NotFound => {
            Error::new(ErrorKind::SourceNotFound, format!("no file or folder at {}: check the path", path.display()))
                .with_source(e)
        }
        io::ErrorKind::PermissionDenied => Error::new(
            ErrorKind::SourceNotFound,
            format!("cannot read {}: permission denied; make it readable, or save it as its owner", path.display()),
        )
        .with_source(e),
        _ => Error::io(format!("cannot read {}", path.display()), e),
    }
}
