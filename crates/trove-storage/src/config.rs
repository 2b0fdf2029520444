//! Explicit configurations of the cloud backends.
//!
//! Nothing here reads ambient configuration on its own: no `~/.aws/config`, no instance
//! metadata endpoints. The `from_env` constructors read a documented, fixed set of variables,
//! and are meant to be called at the one edge that resolves `s3://` and `gs://` URIs.

use std::fmt;
use std::time::Duration;

use trove_domain::{Error, Result};

/// How long one control request (stat, delete, list page) may take before it is retried.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one I/O step (one part upload, one read of the body) may take.
pub const DEFAULT_IO_TIMEOUT: Duration = Duration::from_secs(300);
/// Parts uploaded in parallel by one S3 writer. Memory use of a writer is bounded by
/// `(concurrency + 1) * PART_SIZE`.
pub const DEFAULT_WRITE_CONCURRENCY: usize = 4;

/// An S3 (or S3-compatible: garage, MinIO, R2, moto) bucket and prefix, with explicit
/// credentials. Path-style addressing unless [`S3Config::virtual_host_style`] is set.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix inside the bucket (`""` for the whole bucket); slashes around it are ignored.
    pub prefix: String,
    /// Endpoint URL, e.g. `http://127.0.0.1:3900`; `None` for AWS itself.
    pub endpoint: Option<String>,
    /// Region (`garage` for garage; `us-east-1` is a good default elsewhere).
    pub region: String,
    /// Access key id. Required: no instance-metadata or profile lookups are made.
    pub access_key_id: Option<String>,
    /// Secret access key. Required with the key id.
    pub secret_access_key: Option<String>,
    /// Session token for temporary credentials.
    pub session_token: Option<String>,
    /// Use virtual-host-style addressing (`bucket.endpoint`) instead of path style.
    pub virtual_host_style: bool,
    /// Parts uploaded in parallel by one writer.
    pub write_concurrency: usize,
    /// Timeout of one control request.
    pub request_timeout: Duration,
    /// Timeout of one I/O step.
    pub io_timeout: Duration,
}

impl S3Config {
    /// A configuration with the given bucket, prefix, region and static credentials, and
    /// defaults elsewhere.
    pub fn new(bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        S3Config {
            bucket: bucket.into(),
            prefix: prefix.into(),
            endpoint: None,
            region: "us-east-1".to_string(),
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            virtual_host_style: false,
            write_concurrency: DEFAULT_WRITE_CONCURRENCY,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            io_timeout: DEFAULT_IO_TIMEOUT,
        }
    }

    /// Read the standard variables: `AWS_ENDPOINT_URL` (optional), `AWS_REGION` (or
    /// `AWS_DEFAULT_REGION`; default `us-east-1`), `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`
    /// and `AWS_SESSION_TOKEN` (optional).
    pub fn from_env(bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self::from_vars(bucket, prefix, |name| std::env::var(name).ok())
    }

    /// Like [`S3Config::from_env`], reading variables through `var` (for tests).
    pub fn from_vars(
        bucket: impl Into<String>,
        prefix: impl Into<String>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        let mut cfg = S3Config::new(bucket, prefix);
        cfg.endpoint = var("AWS_ENDPOINT_URL");
        if let Some(region) = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")) {
            cfg.region = region;
        }
        cfg.access_key_id = var("AWS_ACCESS_KEY_ID");
        cfg.secret_access_key = var("AWS_SECRET_ACCESS_KEY");
        cfg.session_token = var("AWS_SESSION_TOKEN");
        cfg
    }

    pub(crate) fn validate(&self) -> Result<()> {
        validate_bucket("S3", &self.bucket)?;
        if self.access_key_id.is_none() || self.secret_access_key.is_none() {
            return Err(Error::invalid_input(format!(
                "S3 bucket '{}': no credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                 (Trove makes no instance-metadata or profile lookups)",
                self.bucket
            )));
        }
        if self.write_concurrency == 0 {
            return Err(Error::invalid_input("S3 write_concurrency must be at least 1"));
        }
        Ok(())
    }
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "<redacted>"))
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .field("virtual_host_style", &self.virtual_host_style)
            .field("write_concurrency", &self.write_concurrency)
            .finish()
    }
}

/// A Google Cloud Storage bucket and prefix, or an emulator's.
#[derive(Clone, PartialEq, Eq)]
pub struct GcsConfig {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix inside the bucket (`""` for the whole bucket); slashes around it are ignored.
    pub prefix: String,
    /// Endpoint URL, e.g. an emulator's `http://127.0.0.1:9023`; `None` for GCS itself.
    pub endpoint: Option<String>,
    /// Path of a service-account JSON key file.
    pub credential_path: Option<String>,
    /// A ready OAuth2 access token (emulators accept any, e.g. `fake-token`).
    pub token: Option<String>,
    /// Emulator mode: single-shot writes (no multipart/resumable uploads) and one delete
    /// request per object, which is what `gcp-storage-emulator` and `fake-gcs-server` support.
    /// Single-shot writes buffer the whole object in memory: for tests only.
    pub emulator: bool,
    /// Parts uploaded in parallel by one writer (not in emulator mode).
    pub write_concurrency: usize,
    /// Timeout of one control request.
    pub request_timeout: Duration,
    /// Timeout of one I/O step.
    pub io_timeout: Duration,
}

impl GcsConfig {
    /// A configuration for GCS itself with the given bucket and prefix, and defaults elsewhere.
    pub fn new(bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        GcsConfig {
            bucket: bucket.into(),
            prefix: prefix.into(),
            endpoint: None,
            credential_path: None,
            token: None,
            emulator: false,
            write_concurrency: DEFAULT_WRITE_CONCURRENCY,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            io_timeout: DEFAULT_IO_TIMEOUT,
        }
    }

    /// Read `STORAGE_EMULATOR_HOST` (an emulator: endpoint, fake token, emulator mode) or
    /// `GOOGLE_APPLICATION_CREDENTIALS` (a service-account key file).
    pub fn from_env(bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self::from_vars(bucket, prefix, |name| std::env::var(name).ok())
    }

    /// Like [`GcsConfig::from_env`], reading variables through `var` (for tests).
    pub fn from_vars(
        bucket: impl Into<String>,
        prefix: impl Into<String>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        let mut cfg = GcsConfig::new(bucket, prefix);
        if let Some(host) = var("STORAGE_EMULATOR_HOST") {
            let endpoint = if host.contains("://") { host } else { format!("http://{host}") };
            cfg.endpoint = Some(endpoint.trim_end_matches('/').to_string());
            cfg.token = Some("fake-token".to_string());
            cfg.emulator = true;
        } else {
            cfg.credential_path = var("GOOGLE_APPLICATION_CREDENTIALS");
        }
        cfg
    }

    pub(crate) fn validate(&self) -> Result<()> {
        validate_bucket("GCS", &self.bucket)?;
        if self.credential_path.is_none() && self.token.is_none() {
            return Err(Error::invalid_input(format!(
                "GCS bucket '{}': no credentials; set GOOGLE_APPLICATION_CREDENTIALS to a service-account \
                 key file, or STORAGE_EMULATOR_HOST for an emulator (Trove makes no VM-metadata lookups)",
                self.bucket
            )));
        }
        if self.write_concurrency == 0 {
            return Err(Error::invalid_input("GCS write_concurrency must be at least 1"));
        }
        Ok(())
    }
}

impl fmt::Debug for GcsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcsConfig")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("credential_path", &self.credential_path)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("emulator", &self.emulator)
            .field("write_concurrency", &self.write_concurrency)
            .finish()
    }
}

fn validate_bucket(service: &str, bucket: &str) -> Result<()> {
    if bucket.is_empty() || bucket.contains('/') {
        return Err(Error::invalid_input(format!("{service} bucket name '{bucket}' is empty or contains '/'")));
    }
    Ok(())
}

/// `"/a/b/"` and `"a/b"` both become `"a/b"`.
pub(crate) fn normalize_prefix(prefix: &str) -> String {
    prefix.trim_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn s3_from_vars_reads_the_standard_variables() {
        let cfg = S3Config::from_vars(
            "b",
            "p",
            vars(&[
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:3900"),
                ("AWS_REGION", "garage"),
                ("AWS_ACCESS_KEY_ID", "id"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
            ]),
        );
        assert_eq!(cfg.endpoint.as_deref(), Some("http://127.0.0.1:3900"));
        assert_eq!(cfg.region, "garage");
        assert_eq!(cfg.access_key_id.as_deref(), Some("id"));
        assert_eq!(cfg.secret_access_key.as_deref(), Some("secret"));
        assert!(cfg.validate().is_ok());
        assert!(!format!("{cfg:?}").contains("secret\""), "secret must not be printed: {cfg:?}");
    }

    #[test]
    fn s3_without_credentials_is_refused_with_advice() {
        let cfg = S3Config::from_vars("b", "", vars(&[("AWS_DEFAULT_REGION", "eu-west-1")]));
        assert_eq!(cfg.region, "eu-west-1");
        let err = cfg.validate().unwrap_err();
        assert!(err.message().contains("AWS_ACCESS_KEY_ID"), "{}", err.message());
    }

    #[test]
    fn gcs_emulator_host_means_emulator_mode() {
        let cfg = GcsConfig::from_vars("b", "p/", vars(&[("STORAGE_EMULATOR_HOST", "127.0.0.1:9023")]));
        assert_eq!(cfg.endpoint.as_deref(), Some("http://127.0.0.1:9023"));
        assert!(cfg.emulator);
        assert!(cfg.token.is_some());
        assert!(cfg.validate().is_ok());

        let cfg = GcsConfig::from_vars("b", "", vars(&[("GOOGLE_APPLICATION_CREDENTIALS", "/k.json")]));
        assert!(!cfg.emulator);
        assert_eq!(cfg.credential_path.as_deref(), Some("/k.json"));

        assert!(GcsConfig::from_vars("b", "", vars(&[])).validate().is_err());
        assert!(GcsConfig::new("a/b", "").validate().is_err());
    }

    #[test]
    fn prefixes_are_normalized() {
        assert_eq!(normalize_prefix("/a/b/"), "a/b");
        assert_eq!(normalize_prefix(""), "");
        assert_eq!(normalize_prefix("/"), "");
    }
}
