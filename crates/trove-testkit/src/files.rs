//! The one walk of a local folder that tests compare storage roots, caches and sources with.
//!
//! Links are never followed (a link is listed as an entry, not walked into), paths are relative
//! to the walked folder and `/`-separated on every platform, and entries come sorted, so two
//! walks of the same tree compare equal.

use std::io;
use std::path::{Path, PathBuf};

/// One entry found below a walked folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the walked folder, `/`-separated.
    pub rel: String,
    /// The full path.
    pub path: PathBuf,
    /// A folder (not a link to one).
    pub is_dir: bool,
}

/// Every entry below `dir` (folders and everything else, links included, never followed),
/// sorted by relative path. Errors if `dir` or a folder below cannot be read.
pub fn walk(dir: &Path) -> io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let e = e?;
            let path = e.path();
            let is_dir = e.file_type()?.is_dir();
            let rel = path.strip_prefix(dir).expect("inside the walked folder");
            let rel = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            if is_dir {
                stack.push(path.clone());
            }
            out.push(Entry { rel, path, is_dir });
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

/// Every entry below `dir` that is not a folder (files, and links unfollowed), sorted; a
/// missing `dir` has none. Panics, naming the folder, if it cannot be read.
pub fn files(dir: &Path) -> Vec<Entry> {
    if !dir.exists() {
        return Vec::new();
    }
    walk(dir).unwrap_or_else(|e| panic!("walking {}: {e}", dir.display())).into_iter().filter(|e| !e.is_dir).collect()
}

/// The relative paths of [`files`].
pub fn file_paths(dir: &Path) -> Vec<String> {
    files(dir).into_iter().map(|e| e.rel).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_sorted_relative_without_following_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("b/c")).unwrap();
        std::fs::write(root.join("b/c/x.txt"), "x").unwrap();
        std::fs::write(root.join("a.txt"), "a").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(root.join("b"), root.join("link")).unwrap();
        let all: Vec<(String, bool)> = walk(root).unwrap().into_iter().map(|e| (e.rel, e.is_dir)).collect();
        let mut want =
            vec![("a.txt".into(), false), ("b".into(), true), ("b/c".into(), true), ("b/c/x.txt".into(), false)];
        if cfg!(unix) {
            want.push(("link".into(), false));
        }
        assert_eq!(all, want);
        assert_eq!(file_paths(root).len(), want.iter().filter(|(_, d)| !d).count());
        assert!(file_paths(&root.join("missing")).is_empty());
        assert!(walk(&root.join("missing")).is_err());
    }
}
