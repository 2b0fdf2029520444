//! Keys, suffixes and where bytes live inside a storage root (spec 2, sections 2 and 3).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::ids::Uid;

/// The managed area inside every storage root. Keys may not enter it.
pub const MANAGED_DIR: &str = ".trove";
/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// A validated artifact key: relative, `/`-separated, never escaping the storage root.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Key(String);

fn key_error(key: &str, problem: impl fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidKey, format!("invalid key '{}': {problem}", key.escape_debug()))
}

impl Key {
    /// Validate `s` against the key rules; the error names the rule broken and the fix.
    pub fn parse(s: &str) -> Result<Key> {
        if s.is_empty() {
            return Err(key_error(s, "a key cannot be empty; give a relative path such as 'data/iris.csv'"));
        }
        if s.len() > MAX_KEY_BYTES {
            return Err(key_error(
                &s[..s.floor_char_boundary(40)],
                format_args!("it is {} bytes long, the limit is {MAX_KEY_BYTES}; shorten it", s.len()),
            ));
        }
        if let Some(c) = s.chars().find(|c| c.is_control()) {
            return Err(key_error(s, format_args!("it contains the control character {:?}; remove it", c)));
        }
        if s.contains('\\') {
            return Err(key_error(s, "backslashes are not allowed; separate folders with '/'"));
        }
        if s.starts_with('/') {
            return Err(key_error(s, "keys are relative to the storage root; remove the leading '/'"));
        }
        for segment in s.split('/') {
            match segment {
                "" => return Err(key_error(s, "it has an empty path segment ('//' or a trailing '/'); remove it")),
                "." | ".." => {
                    return Err(key_error(
                        s,
                        format_args!("'{segment}' segments are not allowed; name the path directly"),
                    ));
                }
                _ => {}
            }
        }
        if s.split('/').any(|seg| seg == MANAGED_DIR) {
            return Err(key_error(
                s,
                format_args!(
                    "'{MANAGED_DIR}/' is Trove's managed area and cannot be part of a key; choose another folder"
                ),
            ));
        }
        Ok(Key(s.to_owned()))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The canonical suffix of the key's last segment (see [`suffix_of`]).
    pub fn suffix(&self) -> String {
        suffix_of(self.file_name())
    }

    /// The last path segment.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// This key with its canonical suffix `old` replaced by `new` (for replace with a new suffix).
    pub fn with_suffix(&self, old: &str, new: &str) -> Result<Key> {
        let base = if !old.is_empty() && self.0.to_lowercase().ends_with(old) {
            &self.0[..self.0.len() - old.len()]
        } else {
            &self.0[..]
        };
        Key::parse(&format!("{base}{new}"))
    }
}

impl TryFrom<String> for Key {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Key::parse(&s)
    }
}

impl From<Key> for String {
    fn from(k: Key) -> String {
        k.0
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:?})", self.0)
    }
}

/// Composite suffixes kept whole.
const COMPOSITE: &[&str] = &[
    ".anndata.zarr",
    ".ome.zarr",
    ".ome.tiff",
    ".ome.tif",
    ".tar.gz",
    ".tar.bz2",
    ".tar.xz",
    ".tar.zst",
    ".vitessce.json",
];
/// Compression suffixes that keep the suffix before them (`.csv.gz`).
const COMPRESSION: &[&str] = &[".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip"];

/// The canonical suffix of a file or folder name: lower-cased; composite suffixes such as
/// `.csv.gz`, `.ome.zarr` or `.anndata.zarr` kept whole; `""` when there is none (no dot, a
/// leading-dot name, or an all-digit suffix such as `v1.2`).
pub fn suffix_of(name: &str) -> String {
    let lower = name.to_lowercase();
    let body = lower.trim_start_matches('.');
    if let Some(c) = COMPOSITE.iter().find(|c| body.ends_with(*c) && body.len() > c.len()) {
        return (*c).to_owned();
    }
    let Some(dot) = body.rfind('.') else { return String::new() };
    let last = &body[dot..];
    if last.len() < 2 || last[1..].bytes().all(|b| b.is_ascii_digit()) || last.contains(' ') {
        return String::new();
    }
    if COMPRESSION.contains(&last) {
        let rest = &body[..dot];
        if let Some(d2) = rest.rfind('.') {
            let prev = &rest[d2..];
            if prev.len() >= 2 && !prev[1..].bytes().all(|b| b.is_ascii_digit()) && !prev.contains(' ') {
                return format!("{prev}{last}");
            }
        }
    }
    last.to_owned()
}

/// Check that a key's suffix equals the source's suffix, as the key rules require.
pub fn check_key_suffix(key: &Key, source_suffix: &str) -> Result<()> {
    let key_suffix = key.suffix();
    if key_suffix != source_suffix {
        return Err(Error::new(
            ErrorKind::InvalidKey,
            format!(
                "the key's suffix '{key_suffix}' does not match the file's suffix '{source_suffix}': \
                 use a key ending in '{source_suffix}'"
            ),
        ));
    }
    Ok(())
}

/// Where an artifact's bytes live relative to its key (spec 2, section 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Placement {
    /// In the managed area, `.trove/<uid><suffix>`: no key, or a virtual key.
    Managed,
    /// At the key itself: a real key.
    RealKey,
    /// Registered in place at this path (relative to the storage root), under a different key.
    InPlace {
        /// The path the bytes really live at.
        real_path: String,
    },
    /// A shared-store folder (opt-in): every version of the family keeps its files in one
    /// store in the managed area, the managed key of the version that created the store
    /// (`.trove/<that uid><suffix>`). A new version overwrites it, so only the newest version
    /// sharing the store is readable (spec 2, section 5).
    SharedStore {
        /// The store's path inside the storage root.
        store_key: String,
    },
}

impl Placement {
    /// Whether the bytes sit at a user-visible path rather than in the managed area.
    pub fn is_user_visible(&self) -> bool {
        !matches!(self, Placement::Managed | Placement::SharedStore { .. })
    }
}

/// The managed storage key of a uid: `.trove/<uid><suffix>`.
pub fn managed_storage_key(uid: &Uid, suffix: &str) -> String {
    format!("{MANAGED_DIR}/{uid}{suffix}")
}

/// The storage key (path inside the root) of an artifact's bytes. First match wins: registered
/// in place → its real path; no key or virtual key → managed; real key → the key.
pub fn storage_key(uid: &Uid, key: Option<&Key>, suffix: &str, placement: &Placement) -> String {
    match (placement, key) {
        (Placement::InPlace { real_path }, _) => real_path.clone(),
        (Placement::SharedStore { store_key }, _) => store_key.clone(),
        (Placement::RealKey, Some(k)) => k.as_str().to_owned(),
        _ => managed_storage_key(uid, suffix),
    }
}

/// Whether a storage key lies in the managed area.
pub fn is_managed_storage_key(storage_key: &str) -> bool {
    storage_key.starts_with(&format!("{MANAGED_DIR}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_rules() {
        for good in ["iris.csv", "data/iris.csv", "a/b/c.parquet", "über/ß.txt", "x"] {
            assert!(Key::parse(good).is_ok(), "{good}");
        }
        let bad = [
            ("", "empty"),
            ("/abs.csv", "leading"),
            ("a//b", "empty path segment"),
            ("a/", "empty path segment"),
            ("./a", "'.'"),
            ("a/../b", "'..'"),
            ("..", "'..'"),
            ("a\\b", "backslash"),
            (".trove/x", ".trove"),
            ("a/.trove/x", ".trove"),
            ("a\nb", "control"),
        ];
        for (k, needle) in bad {
            let err = Key::parse(k).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidKey);
            assert!(err.message().contains(needle), "{k}: {}", err.message());
        }
        assert!(Key::parse(&"a".repeat(1025)).is_err());
        assert!(Key::parse(&"a".repeat(1024)).is_ok());
    }

    #[test]
    fn suffixes() {
        let cases = [
            ("iris.csv", ".csv"),
            ("IRIS.CSV", ".csv"),
            ("table.csv.gz", ".csv.gz"),
            ("img.ome.zarr", ".ome.zarr"),
            ("x.anndata.zarr", ".anndata.zarr"),
            ("archive.tar.gz", ".tar.gz"),
            ("README", ""),
            (".hidden", ""),
            ("v1.2", ""),
            ("iris.data", ".data"),
            ("model.v2.pt", ".pt"),
            ("file.1.gz", ".gz"),
        ];
        for (name, want) in cases {
            assert_eq!(suffix_of(name), want, "{name}");
        }
    }

    #[test]
    fn storage_keys() {
        let uid = Uid::parse("AbCdEfGhIjKlMnOp0000").unwrap();
        let key = Key::parse("iris.csv").unwrap();
        assert_eq!(storage_key(&uid, Some(&key), ".csv", &Placement::Managed), ".trove/AbCdEfGhIjKlMnOp0000.csv");
        assert_eq!(storage_key(&uid, Some(&key), ".csv", &Placement::RealKey), "iris.csv");
        assert_eq!(storage_key(&uid, None, ".csv", &Placement::RealKey), ".trove/AbCdEfGhIjKlMnOp0000.csv");
        let in_place = Placement::InPlace { real_path: "raw/iris.csv".into() };
        assert_eq!(storage_key(&uid, Some(&key), ".csv", &in_place), "raw/iris.csv");
        assert_eq!(key.with_suffix(".csv", ".data").unwrap().as_str(), "iris.data");
        assert_eq!(
            check_key_suffix(&key, ".txt").unwrap_err().message(),
            "the key's suffix '.csv' does not match the file's suffix '.txt': use a key ending in '.txt'"
        );
    }
}
