//! Keys, suffixes and where bytes live inside a storage root (spec 2, sections 2 and 3).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::ids::{UID_LEN, Uid};

/// The managed area inside every storage root. Keys may not enter it.
pub const MANAGED_DIR: &str = ".trove";
/// Longest key, in bytes (S3's and GCS's limit on an object name).
pub const MAX_KEY_BYTES: usize = 1024;
/// Longest path segment, in bytes: `NAME_MAX` of the common local file systems (ext4, XFS,
/// APFS, tmpfs).
pub const MAX_SEGMENT_BYTES: usize = 255;
/// Longest canonical suffix, in bytes: stored files are named `<uid><suffix>`, one segment.
pub const MAX_SUFFIX_BYTES: usize = MAX_SEGMENT_BYTES - UID_LEN;
/// Name prefix of the local store's temporary files: such names are hidden from listings and
/// swept by `gc`, so no key or saved file may use it.
pub const TEMP_NAME_PREFIX: &str = ".trove-tmp-";

/// A validated artifact key: relative, `/`-separated, never escaping the storage root, and
/// naming exactly one object on every backend (see [`Key::parse`] for the rules).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Key(String);

fn key_error(key: &str, problem: impl fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidKey, format!("invalid key '{}': {problem}", shorten(key).escape_debug()))
}

/// At most the first 60 bytes of `s` (at a character boundary), marked when cut, for messages.
fn shorten(s: &str) -> String {
    const SHOWN: usize = 60;
    if s.len() <= SHOWN { s.to_owned() } else { format!("{}…", &s[..s.floor_char_boundary(SHOWN)]) }
}

/// Why `segment` cannot be one `/`-separated part of an object name that every backend (local
/// disk, S3, GCS) stores as given, or `None` if it can. These are the byte-level rules the
/// object stores enforce on every call: a name that a path normaliser would change (OpenDAL
/// trims whitespace and drops empty and `.` segments) could alias another object.
///
/// The problem is phrased to follow "it" (the segment's path) and ends with the fix.
pub fn object_segment_problem(segment: &str) -> Option<String> {
    if segment.is_empty() {
        return Some("it has an empty path segment ('//', or a leading or trailing '/'); remove it".into());
    }
    if segment == "." || segment == ".." {
        return Some(format!("'{segment}' segments are not allowed; name the path directly"));
    }
    if let Some(c) = segment.chars().find(|c| c.is_control()) {
        return Some(format!("it contains the control character {c:?}; remove it"));
    }
    if segment.contains('\\') {
        return Some("backslashes are not allowed; separate folders with '/'".into());
    }
    if segment.starts_with(char::is_whitespace) || segment.ends_with(char::is_whitespace) {
        return Some(format!(
            "the name '{}' begins or ends with whitespace, which some storage calls trim (so it would share \
             bytes with the trimmed name); remove the surrounding whitespace",
            shorten(segment).escape_debug()
        ));
    }
    if segment.len() > MAX_SEGMENT_BYTES {
        return Some(format!(
            "the name '{}' is {} bytes long, and local file systems hold at most {MAX_SEGMENT_BYTES} bytes per \
             name; shorten it",
            shorten(segment).escape_debug(),
            segment.len()
        ));
    }
    None
}

/// [`object_segment_problem`] plus the names reserved for Trove itself: the managed area
/// [`MANAGED_DIR`] and temporary files ([`TEMP_NAME_PREFIX`]). The rule for every segment of a
/// key, and for every file and folder name inside a saved folder.
pub fn key_segment_problem(segment: &str) -> Option<String> {
    if let Some(p) = object_segment_problem(segment) {
        return Some(p);
    }
    if segment == MANAGED_DIR {
        return Some(format!(
            "'{MANAGED_DIR}/' is Trove's managed area and cannot be part of a key; choose another folder"
        ));
    }
    if segment.starts_with(TEMP_NAME_PREFIX) {
        return Some(format!(
            "names starting with '{TEMP_NAME_PREFIX}' are Trove's temporary files (hidden from listings, removed \
             by gc); rename it"
        ));
    }
    None
}

/// Check a suffix given for content that has no file name (bytes in memory) or taken from a
/// file name: empty, or a `.` followed by characters that can end a stored name, at most
/// [`MAX_SUFFIX_BYTES`] long (stored files are named `<uid><suffix>`).
pub fn check_suffix(suffix: &str) -> Result<()> {
    if suffix.is_empty() {
        return Ok(());
    }
    let problem = if !suffix.starts_with('.') {
        Some("a suffix starts with '.', e.g. '.csv'".to_owned())
    } else if suffix.contains('/') {
        Some("a suffix cannot contain '/'; give the file's extension only, e.g. '.csv'".to_owned())
    } else if suffix.len() > MAX_SUFFIX_BYTES {
        Some(format!(
            "it is {} bytes long; stored files are named <uid><suffix> within {MAX_SEGMENT_BYTES} bytes, so a \
             suffix has at most {MAX_SUFFIX_BYTES}; shorten the file's extension",
            suffix.len()
        ))
    } else {
        object_segment_problem(&format!("x{suffix}"))
    };
    match problem {
        None => Ok(()),
        Some(p) => Err(Error::new(
            ErrorKind::InvalidInput,
            format!("invalid suffix '{}': {p}", shorten(suffix).escape_debug()),
        )),
    }
}

impl Key {
    /// Validate `s` against the key rules; the error ([`ErrorKind::InvalidKey`]) names the rule
    /// broken and the fix. A key:
    /// * is non-empty, at most [`MAX_KEY_BYTES`] bytes, relative (no leading `/`) and
    ///   `/`-separated (no backslashes);
    /// * has no control characters, and no empty, `.` or `..` segments;
    /// * has no segment that begins or ends with whitespace (Unicode `White_Space`, what
    ///   `str::trim` removes), or is longer than [`MAX_SEGMENT_BYTES`] bytes;
    /// * has no segment `.trove` (the managed area) or starting with `.trove-tmp-` (temporary
    ///   files);
    /// * has a canonical suffix of at most [`MAX_SUFFIX_BYTES`] bytes, so that the managed name
    ///   `.trove/<uid><suffix>` fits in one segment.
    ///
    /// So every key names exactly one object on local disk, S3 and GCS: no store call can
    /// normalise it into another key's object.
    pub fn parse(s: &str) -> Result<Key> {
        if s.is_empty() {
            return Err(key_error(s, "a key cannot be empty; give a relative path such as 'data/iris.csv'"));
        }
        if s.len() > MAX_KEY_BYTES {
            return Err(key_error(
                s,
                format_args!("it is {} bytes long, the limit is {MAX_KEY_BYTES}; shorten it", s.len()),
            ));
        }
        if let Some(c) = s.chars().find(|c| c.is_control()) {
            return Err(key_error(s, format_args!("it contains the control character {:?}; remove it", c)));
        }
        if s.starts_with('/') {
            return Err(key_error(s, "keys are relative to the storage root; remove the leading '/'"));
        }
        if let Some(problem) = s.split('/').find_map(key_segment_problem) {
            return Err(key_error(s, problem));
        }
        let suffix = suffix_of(s.rsplit('/').next().unwrap_or(s));
        if suffix.len() > MAX_SUFFIX_BYTES {
            return Err(key_error(
                s,
                format_args!(
                    "its suffix is {} bytes long; stored files are named <uid><suffix> within {MAX_SEGMENT_BYTES} \
                     bytes, so a suffix has at most {MAX_SUFFIX_BYTES}; shorten the extension",
                    suffix.len()
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
        // `old` is lower-cased, and lower-casing can change a character's byte length, so the
        // cut is searched among character boundaries rather than computed from lengths.
        let cut = (!old.is_empty())
            .then(|| self.0.char_indices().map(|(i, _)| i).find(|&i| self.0[i..].to_lowercase() == old))
            .flatten();
        let base = &self.0[..cut.unwrap_or(self.0.len())];
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
        for good in ["iris.csv", "data/iris.csv", "a/b/c.parquet", "über/ß.txt", "x", "a b/c d.csv", ".hidden/x"] {
            assert!(Key::parse(good).is_ok(), "{good}");
        }
        let long_segment = "a".repeat(256);
        let long_suffix = format!("x.{}", "s".repeat(MAX_SUFFIX_BYTES));
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
            ("a\u{85}b", "control"),
            ("sp/y ", "whitespace"),
            (" sp/y", "whitespace"),
            ("sp /y", "whitespace"),
            ("sp/\u{3000}y", "whitespace"),
            ("sp/y\u{a0}", "whitespace"),
            ("a/.trove-tmp-0123", ".trove-tmp-"),
            (&long_segment, "255 bytes"),
            (&long_suffix, "suffix"),
        ];
        for (k, needle) in bad {
            let err = Key::parse(k).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidKey);
            assert!(err.message().contains(needle), "{k}: {}", err.message());
        }
        assert!(Key::parse(&"a".repeat(255)).is_ok());
        assert!(Key::parse(&format!("x.{}", "s".repeat(MAX_SUFFIX_BYTES - 1))).is_ok());
        let deep = vec!["a".repeat(255); 4].join("/");
        assert_eq!(deep.len(), 1023);
        assert!(Key::parse(&deep).is_ok());
        assert!(Key::parse(&format!("{deep}/b")).is_err());
        // Messages stay short even for long keys.
        assert!(Key::parse(&"a".repeat(2000)).unwrap_err().message().len() < 200);
    }

    #[test]
    fn suffix_rules() {
        for good in ["", ".csv", ".tar.gz", ".ß"] {
            assert!(check_suffix(good).is_ok(), "{good}");
        }
        for bad in ["csv", "./x", ".c\tv", ".csv ", ".a\\b"] {
            assert_eq!(check_suffix(bad).unwrap_err().kind(), ErrorKind::InvalidInput, "{bad:?}");
        }
        assert!(check_suffix(&format!(".{}", "s".repeat(MAX_SUFFIX_BYTES - 1))).is_ok());
        assert!(check_suffix(&format!(".{}", "s".repeat(MAX_SUFFIX_BYTES))).is_err());
    }

    #[test]
    fn with_suffix_cuts_at_character_boundaries() {
        // 'İ' lower-cases to two characters (3 bytes from 2): the cut is not a byte count.
        let k = Key::parse("dİr/x.İ").unwrap();
        assert_eq!(k.suffix(), ".i\u{307}");
        assert_eq!(k.with_suffix(&k.suffix(), ".csv").unwrap().as_str(), "dİr/x.csv");
        let k = Key::parse("İİ.CSV").unwrap();
        assert_eq!(k.with_suffix(".csv", ".data").unwrap().as_str(), "İİ.data");
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
