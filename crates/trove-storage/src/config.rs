//! Explicit configurations of the cloud backends.
//!
//! Nothing here reads ambient configuration on its own: no instance metadata endpoints, no
//! SSO, no `credential_process`. The `from_env` constructors read a documented, fixed set of
//! variables (and, for S3, the static settings of one profile of the AWS shared files), and are
//! meant to be called at the one edge that resolves `s3://` and `gs://` URIs.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use trove_domain::secret::REDACTED;
use trove_domain::{Error, Result};

use crate::aws_profile::Files;

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
    /// Access key id. Required: no instance-metadata, SSO or `credential_process` lookups are
    /// made (a profile's static keys are read by [`S3Config::from_env`]).
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

    /// Read the standard AWS configuration, environment variables first (AWS's documented
    /// precedence), then one profile of the shared files:
    ///
    /// | setting | variables | profile |
    /// |---|---|---|
    /// | endpoint | `AWS_ENDPOINT_URL` | `endpoint_url` in the config file |
    /// | region | `AWS_REGION`, `AWS_DEFAULT_REGION` | `region` in the config file; else `us-east-1` |
    /// | credentials | `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`) | `aws_access_key_id` + `aws_secret_access_key` (+ `aws_session_token`) in the credentials file, else the config file |
    ///
    /// The profile is `AWS_PROFILE`, else `default`. The credentials file is
    /// `AWS_SHARED_CREDENTIALS_FILE` (default `~/.aws/credentials`, section `[NAME]`), the config
    /// file `AWS_CONFIG_FILE` (default `~/.aws/config`, section `[profile NAME]` or `[default]`).
    /// The files are read only when a setting is missing from the environment or `AWS_PROFILE`
    /// is set; missing files are empty. Only static values are read: no `credential_process`,
    /// SSO, role assumption or instance metadata.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when `AWS_PROFILE` names a profile found in neither file, when that profile
    /// has no static keys and the environment has none either, or when a file exists but cannot
    /// be read.
    pub fn from_env(bucket: impl Into<String>, prefix: impl Into<String>) -> Result<Self> {
        Self::from_sources(bucket, prefix, |name| std::env::var(name).ok(), std::env::home_dir().as_deref())
    }

    /// Like [`S3Config::from_env`], reading variables through `var` and defaulting the shared
    /// files under `home` (`None`: only files named by `AWS_SHARED_CREDENTIALS_FILE` /
    /// `AWS_CONFIG_FILE` are read). For tests, and for callers with their own environment.
    pub fn from_sources(
        bucket: impl Into<String>,
        prefix: impl Into<String>,
        var: impl Fn(&str) -> Option<String>,
        home: Option<&Path>,
    ) -> Result<Self> {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        let mut cfg = Self::from_vars(bucket, prefix, var);
        let named = var("AWS_PROFILE");
        let env_has_keys = cfg.access_key_id.is_some() && cfg.secret_access_key.is_some();
        let env_has_region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")).is_some();
        if named.is_none() && env_has_keys && env_has_region && cfg.endpoint.is_some() {
            return Ok(cfg);
        }
        let name = named.clone().unwrap_or_else(|| "default".to_string());
        let files = Files::locate(&var, home);
        let profile = files.profile(&name)?;
        if named.is_some() && !profile.found {
            let section = if name == "default" { "default".to_string() } else { format!("profile {name}") };
            return Err(Error::invalid_input(format!(
                "AWS_PROFILE '{name}': no such profile: no [{name}] in the credentials file {} and no \
                 [{section}] in the config file {}",
                show(files.credentials.as_deref()),
                show(files.config.as_deref()),
            )));
        }
        if !env_has_keys {
            if let (Some(id), Some(secret)) = (&profile.access_key_id, &profile.secret_access_key) {
                cfg.access_key_id = Some(id.clone());
                cfg.secret_access_key = Some(secret.clone());
                cfg.session_token = profile.session_token.clone();
            } else if named.is_some() {
                let unsupported = if profile.unsupported.is_empty() {
                    String::new()
                } else {
                    format!(" (it uses {}, which Trove does not run)", profile.unsupported.join(", "))
                };
                return Err(Error::invalid_input(format!(
                    "AWS_PROFILE '{name}' has no aws_access_key_id and aws_secret_access_key{unsupported}; \
                     put static keys in the profile or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                     (credentials file {}, config file {})",
                    show(files.credentials.as_deref()),
                    show(files.config.as_deref()),
                )));
            }
        }
        if !env_has_region && let Some(region) = profile.region {
            cfg.region = region;
        }
        if cfg.endpoint.is_none() {
            cfg.endpoint = profile.endpoint_url;
        }
        Ok(cfg)
    }

    /// Read only the variables of [`S3Config::from_env`] through `var`, never the shared files
    /// (`AWS_PROFILE` is ignored here).
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
                "S3 bucket '{}': no credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or \
                 AWS_PROFILE to a profile with static keys in the shared credentials file (Trove makes \
                 no instance-metadata, SSO or credential_process lookups)",
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
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| REDACTED))
            .field("session_token", &self.session_token.as_ref().map(|_| REDACTED))
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
            .field("token", &self.token.as_ref().map(|_| REDACTED))
            .field("emulator", &self.emulator)
            .field("write_concurrency", &self.write_concurrency)
            .finish()
    }
}

/// A shared-file path for messages.
fn show(path: Option<&Path>) -> String {
    path.map_or("(none: no home directory and no variable names it)".to_string(), |p| p.display().to_string())
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
    fn debug_never_shows_secrets() {
        let s3 = S3Config::from_vars(
            "b",
            "p",
            vars(&[
                ("AWS_ACCESS_KEY_ID", "AKID"),
                ("AWS_SECRET_ACCESS_KEY", "hunter2-secret"),
                ("AWS_SESSION_TOKEN", "hunter2-token"),
            ]),
        );
        let mut gcs = GcsConfig::new("b", "p");
        gcs.token = Some("hunter2-oauth".into());
        let shown = format!("{s3:?} {gcs:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("AKID") && shown.contains(REDACTED), "the key id is no secret: {shown}");
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

    /// Temp files `credentials` and `config` under `<home>/.aws`.
    fn aws_home(credentials: &str, config: &str) -> tempfile::TempDir {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".aws")).unwrap();
        std::fs::write(home.path().join(".aws/credentials"), credentials).unwrap();
        std::fs::write(home.path().join(".aws/config"), config).unwrap();
        home
    }

    const CREDENTIALS: &str = "[default]\naws_access_key_id = DEF\naws_secret_access_key = def-secret\n\n\
                               # garage\n[dev]\naws_access_key_id = DEV\naws_secret_access_key = dev-secret\n\
                               aws_session_token = dev-token\n";
    const CONFIG: &str = "[default]\nregion = eu-west-1\n\n[profile dev]\nregion = garage\n\
                          endpoint_url = http://127.0.0.1:3900\n[profile sso]\nsso_session = corp\n";

    #[test]
    fn s3_profile_supplies_what_the_environment_does_not() {
        let home = aws_home(CREDENTIALS, CONFIG);
        let cfg = S3Config::from_sources("b", "p", vars(&[("AWS_PROFILE", "dev")]), Some(home.path())).unwrap();
        assert_eq!(cfg.access_key_id.as_deref(), Some("DEV"));
        assert_eq!(cfg.secret_access_key.as_deref(), Some("dev-secret"));
        assert_eq!(cfg.session_token.as_deref(), Some("dev-token"));
        assert_eq!(cfg.region, "garage");
        assert_eq!(cfg.endpoint.as_deref(), Some("http://127.0.0.1:3900"));
        assert!(cfg.validate().is_ok());

        // No AWS_PROFILE: the default profile, if present.
        let cfg = S3Config::from_sources("b", "", vars(&[]), Some(home.path())).unwrap();
        assert_eq!((cfg.access_key_id.as_deref(), cfg.region.as_str()), (Some("DEF"), "eu-west-1"));
        assert_eq!(cfg.endpoint, None);
        // ... and nothing at all without files or a home directory.
        let cfg = S3Config::from_sources("b", "", vars(&[]), None).unwrap();
        assert_eq!((cfg.access_key_id, cfg.region.as_str()), (None, "us-east-1"));
        let empty = tempfile::tempdir().unwrap();
        assert!(S3Config::from_sources("b", "", vars(&[]), Some(empty.path())).unwrap().access_key_id.is_none());
    }

    #[test]
    fn s3_environment_takes_precedence_over_the_profile() {
        let home = aws_home(CREDENTIALS, CONFIG);
        let cfg = S3Config::from_sources(
            "b",
            "",
            vars(&[
                ("AWS_PROFILE", "dev"),
                ("AWS_ACCESS_KEY_ID", "ENV"),
                ("AWS_SECRET_ACCESS_KEY", "env-secret"),
                ("AWS_DEFAULT_REGION", "env-region"),
                ("AWS_ENDPOINT_URL", "http://env"),
            ]),
            Some(home.path()),
        )
        .unwrap();
        assert_eq!(cfg.access_key_id.as_deref(), Some("ENV"));
        assert_eq!(cfg.secret_access_key.as_deref(), Some("env-secret"));
        assert_eq!(cfg.session_token, None, "the profile's token never pairs with the environment's keys");
        assert_eq!((cfg.region.as_str(), cfg.endpoint.as_deref()), ("env-region", Some("http://env")));

        // Only the key id in the environment: the profile's pair is used whole.
        let cfg = S3Config::from_sources("b", "", vars(&[("AWS_ACCESS_KEY_ID", "ENV")]), Some(home.path())).unwrap();
        assert_eq!((cfg.access_key_id.as_deref(), cfg.secret_access_key.as_deref()), (Some("DEF"), Some("def-secret")));
    }

    #[test]
    fn s3_files_named_by_variables_override_the_home_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("creds.ini");
        let config = dir.path().join("config.ini");
        std::fs::write(&creds, "[ci]\naws_access_key_id = CI\naws_secret_access_key = ci-secret\n").unwrap();
        std::fs::write(&config, "[profile ci]\nregion = garage\n").unwrap();
        let home = aws_home(CREDENTIALS, CONFIG);
        let (c, f) = (creds.to_str().unwrap(), config.to_str().unwrap());
        let cfg = S3Config::from_sources(
            "b",
            "",
            vars(&[("AWS_PROFILE", "ci"), ("AWS_SHARED_CREDENTIALS_FILE", c), ("AWS_CONFIG_FILE", f)]),
            Some(home.path()),
        )
        .unwrap();
        assert_eq!((cfg.access_key_id.as_deref(), cfg.region.as_str()), (Some("CI"), "garage"));
        // Named files without a home directory.
        let cfg = S3Config::from_sources(
            "b",
            "",
            vars(&[("AWS_PROFILE", "ci"), ("AWS_SHARED_CREDENTIALS_FILE", c), ("AWS_CONFIG_FILE", f)]),
            None,
        )
        .unwrap();
        assert_eq!(cfg.access_key_id.as_deref(), Some("CI"));
    }

    #[test]
    fn s3_unknown_or_keyless_profiles_are_invalid_input_naming_files_and_profile() {
        let home = aws_home(CREDENTIALS, CONFIG);
        let err = S3Config::from_sources("b", "", vars(&[("AWS_PROFILE", "prod")]), Some(home.path())).unwrap_err();
        assert_eq!(err.kind(), trove_domain::ErrorKind::InvalidInput);
        let msg = err.message();
        assert!(msg.contains("'prod'") && msg.contains("[profile prod]"), "{msg}");
        assert!(msg.contains(&home.path().join(".aws/credentials").display().to_string()), "{msg}");
        assert!(msg.contains(&home.path().join(".aws/config").display().to_string()), "{msg}");

        // Even with keys in the environment, a named profile must exist.
        let err = S3Config::from_sources(
            "b",
            "",
            vars(&[("AWS_PROFILE", "prod"), ("AWS_ACCESS_KEY_ID", "A"), ("AWS_SECRET_ACCESS_KEY", "S")]),
            Some(home.path()),
        )
        .unwrap_err();
        assert_eq!(err.kind(), trove_domain::ErrorKind::InvalidInput);

        // A profile that only names a credential source Trove does not run.
        let err = S3Config::from_sources("b", "", vars(&[("AWS_PROFILE", "sso")]), Some(home.path())).unwrap_err();
        assert!(err.message().contains("sso_session") && err.message().contains("'sso'"), "{}", err.message());
        // ... is fine when the environment has the keys.
        let cfg = S3Config::from_sources(
            "b",
            "",
            vars(&[("AWS_PROFILE", "sso"), ("AWS_ACCESS_KEY_ID", "A"), ("AWS_SECRET_ACCESS_KEY", "S")]),
            Some(home.path()),
        )
        .unwrap();
        assert_eq!(cfg.access_key_id.as_deref(), Some("A"));

        // No home directory and no file variables: the message says so.
        let err = S3Config::from_sources("b", "", vars(&[("AWS_PROFILE", "dev")]), None).unwrap_err();
        assert!(err.message().contains("no home directory"), "{}", err.message());
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
