//! Mapping OpenDAL's and the local file system's errors into Trove's one error type.
//!
//! Every message names the operation and the key, so a failure deep in a folder upload still
//! says which object it was about. OpenDAL's error is kept as the source, never in a signature.

use trove_domain::{Error, ErrorKind};

/// Map an OpenDAL error from `operation` on `key` (in the store described by `store`).
pub(crate) fn map_opendal(err: opendal::Error, operation: &str, key: &str, store: &str) -> Error {
    let kind = match err.kind() {
        opendal::ErrorKind::NotFound => ErrorKind::NotFound,
        opendal::ErrorKind::Unsupported => ErrorKind::Unsupported,
        _ => ErrorKind::Storage,
    };
    let message = match kind {
        ErrorKind::NotFound => format!("{operation} '{key}' in {store}: no object at this key"),
        ErrorKind::Unsupported => {
            format!("{operation} '{key}' in {store}: the backend does not support this operation ({})", err.kind())
        }
        _ => format!("{operation} '{key}' in {store} failed: {err}"),
    };
    Error::new(kind, message).with_source(err)
}

/// Map a local file-system error from `operation` on `key` at `path`.
pub(crate) fn map_io(err: std::io::Error, operation: &str, key: &str, path: &std::path::Path) -> Error {
    let kind = if err.kind() == std::io::ErrorKind::NotFound { ErrorKind::NotFound } else { ErrorKind::Storage };
    let message = match kind {
        ErrorKind::NotFound => format!("{operation} '{key}' at {}: no such file", path.display()),
        _ => format!("{operation} '{key}' at {} failed: {err}", path.display()),
    };
    Error::new(kind, message).with_source(err)
}

/// The error for an operation the backend cannot do natively.
pub(crate) fn unsupported(operation: &str, store: &str, advice: &str) -> Error {
    Error::new(ErrorKind::Unsupported, format!("{operation} is not supported by {store}: {advice}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_mapped_and_messages_name_key_and_operation() {
        let table = [
            (opendal::ErrorKind::NotFound, ErrorKind::NotFound),
            (opendal::ErrorKind::Unsupported, ErrorKind::Unsupported),
            (opendal::ErrorKind::PermissionDenied, ErrorKind::Storage),
            (opendal::ErrorKind::Unexpected, ErrorKind::Storage),
            (opendal::ErrorKind::RateLimited, ErrorKind::Storage),
        ];
        for (from, to) in table {
            let e = map_opendal(opendal::Error::new(from, "boom"), "read", "a/b.csv", "s3://bkt/p");
            assert_eq!(e.kind(), to, "{from:?}");
            assert!(e.message().contains("read 'a/b.csv'"), "{}", e.message());
            assert!(e.message().contains("s3://bkt/p"), "{}", e.message());
            assert!(std::error::Error::source(&e).is_some());
        }
    }

    #[test]
    fn io_not_found_is_not_found() {
        let e = map_io(std::io::Error::from(std::io::ErrorKind::NotFound), "copy", "k", std::path::Path::new("/r/k"));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let e = map_io(std::io::Error::from(std::io::ErrorKind::PermissionDenied), "copy", "k", "/r/k".as_ref());
        assert_eq!(e.kind(), ErrorKind::Storage);
        assert!(e.message().contains("/r/k"));
    }
}
