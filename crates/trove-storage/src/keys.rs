//! The minimal key checks every store makes so that no key can escape the root.
//!
//! The full key rules (spec 2, section 2) are the domain's; the store only refuses what would
//! be unsafe or ambiguous at the byte level: absolute keys, empty, `.` or `..` segments,
//! backslashes and NUL.

use trove_domain::{Error, ErrorKind, Result};

/// Check an object key.
pub(crate) fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::new(ErrorKind::InvalidKey, "an object key must not be empty"));
    }
    if key.ends_with('/') {
        return Err(Error::new(
            ErrorKind::InvalidKey,
            format!("'{key}' ends with '/': that names a prefix (a folder), not an object"),
        ));
    }
    check_segments(key, key)
}

/// Check a prefix: `""`, or segments like a key, optionally ending in `/`.
pub(crate) fn check_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty() {
        return Ok(());
    }
    check_segments(prefix.strip_suffix('/').unwrap_or(prefix), prefix)
}

fn check_segments(path: &str, shown: &str) -> Result<()> {
    if path.starts_with('/') {
        return Err(Error::new(ErrorKind::InvalidKey, format!("'{shown}' is absolute: keys are relative to the root")));
    }
    if path.contains('\\') || path.contains('\0') {
        return Err(Error::new(
            ErrorKind::InvalidKey,
            format!("'{shown}' contains a backslash or NUL: keys are '/'-separated"),
        ));
    }
    if path.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(Error::new(
            ErrorKind::InvalidKey,
            format!("'{shown}' has an empty, '.' or '..' segment: keys cannot leave or alias paths in the root"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        for ok in ["a", "a/b.csv", ".trove/x.txt", "with space/ü 日本.bin", "a..b/c"] {
            assert!(check_key(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/a", "a/", "a//b", "./a", "a/../b", "..", "a\\b", "a\0b"] {
            assert_eq!(check_key(bad).unwrap_err().kind(), ErrorKind::InvalidKey, "{bad:?}");
        }
    }

    #[test]
    fn prefixes() {
        for ok in ["", "a/", "a", "a/b/", ".trove/"] {
            assert!(check_prefix(ok).is_ok(), "{ok}");
        }
        for bad in ["/", "/a/", "a//", "../", "a/./"] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
    }
}
