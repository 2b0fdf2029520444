//! Resolving a storage root URI to a store: the one edge where schemes are interpreted.

use std::path::Path;
use std::sync::Arc;

use trove_domain::ports::ObjectStore;
use trove_domain::secret::redact_url;
use trove_domain::{Error, Result};

use crate::{GcsConfig, OpendalStore, S3Config};

/// Open the store for a root:
///
/// | root | store |
/// |---|---|
/// | `/abs/path`, `file:///abs/path` | local disk ([`OpendalStore::fs`]) |
/// | `s3://bucket/prefix` | S3, configured by [`S3Config::from_env`] |
/// | `gs://bucket/prefix` | GCS, configured by [`GcsConfig::from_env`] |
/// | `memory://name` | the process-wide in-memory store `name` ([`OpendalStore::memory_named`]) |
///
/// Relative paths are refused: the caller (CLI, façade) makes them absolute first.
pub fn open_root(uri: &str) -> Result<Arc<dyn ObjectStore>> {
    let store = if let Some(rest) = uri.strip_prefix("file://") {
        OpendalStore::fs(Path::new(rest))?
    } else if uri.starts_with('/') {
        OpendalStore::fs(Path::new(uri))?
    } else if let Some(rest) = uri.strip_prefix("s3://") {
        let (bucket, prefix) = split_bucket(uri, rest)?;
        OpendalStore::s3(S3Config::from_env(bucket, prefix)?)?
    } else if let Some(rest) = uri.strip_prefix("gs://") {
        let (bucket, prefix) = split_bucket(uri, rest)?;
        OpendalStore::gcs(GcsConfig::from_env(bucket, prefix))?
    } else if let Some(name) = uri.strip_prefix("memory://") {
        if name.is_empty() {
            return Err(Error::invalid_input("memory:// needs a name, e.g. memory://test"));
        }
        OpendalStore::memory_named(name)
    } else {
        return Err(Error::invalid_input(format!(
            "storage root '{}' is not supported: use an absolute path, file:///path, s3://bucket/prefix, \
             gs://bucket/prefix or memory://name",
            redact_url(uri)
        )));
    };
    Ok(Arc::new(store))
}

fn split_bucket<'a>(uri: &str, rest: &'a str) -> Result<(&'a str, &'a str)> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(Error::invalid_input(format!("storage root '{uri}' names no bucket")));
    }
    // `s3://KEY:SECRET@bucket`: credentials would be recorded with the root in the catalog.
    if bucket.contains('@') {
        return Err(Error::invalid_input(format!(
            "storage root '{}' carries credentials: give the bucket alone, and credentials through \
             AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE (S3), GOOGLE_APPLICATION_CREDENTIALS (GCS)",
            redact_url(uri)
        )));
    }
    Ok((bucket, prefix))
}

#[cfg(test)]
mod tests {
    use trove_domain::ErrorKind;

    use super::*;

    #[test]
    fn schemes_resolve_to_stores() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root");
        let s = open_root(path.to_str().unwrap()).unwrap();
        assert_eq!(s.root(), path.to_str().unwrap());
        assert!(path.is_dir(), "the root is created");
        let s = open_root(&format!("file://{}", path.display())).unwrap();
        assert_eq!(s.local_path("k"), Some(path.join("k")));
        let s = open_root("memory://uri-test").unwrap();
        assert_eq!(s.root(), "memory://uri-test");
    }

    #[test]
    fn credentials_in_a_root_are_refused_and_never_shown() {
        for uri in ["s3://AKID:hunter2@bucket/p", "gs://user:hunter2@bucket", "http://u:hunter2@host/x"] {
            let err = open_root(uri).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{uri}: {err}");
            assert!(!format!("{err} {err:?}").contains("hunter2"), "{uri}: {err:?}");
        }
    }

    #[test]
    fn bad_roots_are_refused_with_advice() {
        for bad in ["relative/dir", "file://relative", "http://x", "s3://", "gs:///p", "memory://"] {
            let err = open_root(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}: {err}");
        }
    }

    #[test]
    fn buckets_and_prefixes_split() {
        assert_eq!(split_bucket("", "b").unwrap(), ("b", ""));
        assert_eq!(split_bucket("", "b/p/q/").unwrap(), ("b", "p/q/"));
    }
}
