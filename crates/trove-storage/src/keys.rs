//! The key checks every store makes on every call, so that no key can escape the root and one
//! key names exactly one object on every backend.
//!
//! The full key rules (spec 2, section 2) are the domain's ([`trove_domain::Key::parse`]); the
//! store refuses, with [`ErrorKind::InvalidKey`], what would be unsafe or ambiguous at the byte
//! level: absolute keys, empty, `.` or `..` segments, backslashes, control characters,
//! segments that begin or end with whitespace (OpenDAL's path normaliser trims the whole path,
//! while the local writer does not, so `a/b` and `a/b ` would share an object on some calls
//! and not on others), segments over 255 bytes and keys over 1024 bytes. Every rule is
//! [`object_segment_problem`]'s, shared with the domain, so a valid key always passes.
//! Writes (new objects, copy and rename targets) are also refused at names starting with
//! `.trove-tmp-`, the local store's temporary files, which listings hide.

use trove_domain::key::{MAX_KEY_BYTES, TEMP_NAME_PREFIX, object_segment_problem};
use trove_domain::{Error, ErrorKind, Result};

/// Check an object key (any call).
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::new(ErrorKind::InvalidKey, "an object key must not be empty"));
    }
    if key.ends_with('/') {
        return Err(Error::new(
            ErrorKind::InvalidKey,
            format!("'{}' ends with '/': that names a prefix (a folder), not an object", key.escape_debug()),
        ));
    }
    check_segments(key, key)
}

/// Check the key of an object about to be written (a new object, or a copy or rename target).
pub(crate) fn check_write_key(key: &str) -> Result<()> {
    check_key(key)?;
    if key.rsplit('/').next().is_some_and(|name| name.starts_with(TEMP_NAME_PREFIX)) {
        return Err(Error::new(
            ErrorKind::InvalidKey,
            format!(
                "'{}': names starting with '{TEMP_NAME_PREFIX}' are reserved for temporary files, which listings \
                 hide; choose another name",
                key.escape_debug()
            ),
        ));
    }
    Ok(())
}

/// Check a prefix: `""`, or segments like a key, optionally ending in `/`.
pub fn check_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty() {
        return Ok(());
    }
    check_segments(prefix.strip_suffix('/').unwrap_or(prefix), prefix)
}

fn check_segments(path: &str, shown: &str) -> Result<()> {
    if path.len() > MAX_KEY_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidKey,
            format!(
                "'{}…' is {} bytes long: object names have at most {MAX_KEY_BYTES} bytes on S3 and GCS",
                &shown[..shown.floor_char_boundary(60)].escape_debug(),
                path.len()
            ),
        ));
    }
    if path.starts_with('/') {
        return Err(Error::new(
            ErrorKind::InvalidKey,
            format!("'{}' is absolute: keys are relative to the root", shown.escape_debug()),
        ));
    }
    match path.split('/').find_map(object_segment_problem) {
        None => Ok(()),
        Some(problem) => Err(Error::new(
            ErrorKind::InvalidKey,
            format!("object key '{}' cannot be stored as given: {problem}", shown.escape_debug()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        for ok in ["a", "a/b.csv", ".trove/x.txt", "with space/ü 日本.bin", "a..b/c", ".trove-tmp-x/y"] {
            assert!(check_key(ok).is_ok(), "{ok}");
        }
        let long_segment = "a".repeat(256);
        let long_key = vec!["a".repeat(255); 5].join("/");
        for bad in [
            "",
            "/a",
            "a/",
            "a//b",
            "./a",
            "a/./b",
            "a/../b",
            "..",
            "a\\b",
            "a\0b",
            "a\nb",
            "sp/y ",
            " sp/y",
            "sp /y",
            "sp/\u{3000}y",
            "a\t",
            &long_segment,
            &long_key,
        ] {
            assert_eq!(check_key(bad).unwrap_err().kind(), ErrorKind::InvalidKey, "{bad:?}");
        }
    }

    #[test]
    fn temporary_names_are_refused_for_writes_only() {
        assert!(check_key("a/.trove-tmp-0123").is_ok());
        assert_eq!(check_write_key("a/.trove-tmp-0123").unwrap_err().kind(), ErrorKind::InvalidKey);
        assert!(check_write_key("a/x.trove-tmp-0123").is_ok());
    }

    #[test]
    fn prefixes() {
        for ok in ["", "a/", "a", "a/b/", ".trove/"] {
            assert!(check_prefix(ok).is_ok(), "{ok}");
        }
        for bad in ["/", "/a/", "a//", "../", "a/./", "a /", " a/"] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
    }
}
