//! The process-wide HTTP transport of OpenDAL's cloud services and of Trove's own S3 requests
//! (`s3_uploads.rs`): reqwest on rustls with the ring provider. Installed once per process, by
//! the first S3 or GCS store opened; the one piece of process-wide state besides the registry of
//! named memory stores (`store.rs`).

use std::sync::Once;

/// Installs ring as the process's default rustls provider (unless one is already installed)
/// and reqwest as OpenDAL's HTTP transport; later calls do nothing.
pub(crate) fn install_http_transport() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        opendal_http_transport_reqwest::install_default();
    });
}
