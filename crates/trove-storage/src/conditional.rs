//! Versions and conditional writes of whole small objects (the bucket catalog and its lease):
//! [`ObjectStore::version`](trove_domain::ports::ObjectStore::version),
//! `read_versioned` and `put_if` for [`OpendalStore`].
//!
//! A version is what the server says changes with every write: on S3 the ETag exactly as sent
//! (quotes included, so it goes back unchanged in `If-Match`), on GCS the object's generation.
//! Conditions: S3 `If-None-Match: *` / `If-Match: <etag>`, GCS `ifGenerationMatch=0` /
//! `ifGenerationMatch=<generation>`. Local disk and memory keep no versions: they answer
//! `Unsupported` (nothing in Trove keeps a catalog in a bucket there).

use bytes::Bytes;
use trove_domain::ports::{ObjectStore, PutIf, WriteCondition};
use trove_domain::{Error, ErrorKind, Result};

use crate::keys::{check_key, check_write_key};
use crate::store::{Backend, OpendalStore};

/// How many times a read retries when the object changes between its stat and its read.
const READ_ATTEMPTS: usize = 5;

impl OpendalStore {
    fn versions_supported(&self, operation: &str, key: &str) -> Result<()> {
        match self.backend() {
            Backend::S3 { .. } | Backend::Gcs => Ok(()),
            _ => Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{operation} '{key}' in {}: this store keeps no object versions; use an S3 or GCS bucket",
                    self.root()
                ),
            )),
        }
    }

    /// The version of `m`, as this backend defines it.
    fn version_of(&self, key: &str, m: &opendal::Metadata) -> Result<String> {
        let v = match self.backend() {
            Backend::Gcs => m.version(),
            _ => m.etag(),
        };
        v.map(str::to_owned).ok_or_else(|| {
            Error::new(
                ErrorKind::Storage,
                format!("'{key}' in {}: the server sent no version (ETag or generation) for it", self.root()),
            )
        })
    }

    pub(crate) async fn version_impl(&self, key: &str) -> Result<Option<String>> {
        check_key(key)?;
        self.versions_supported("version of", key)?;
        match self.operator().stat(key).await {
            Ok(m) if m.is_dir() => Ok(None),
            Ok(m) => Ok(Some(self.version_of(key, &m)?)),
            Err(e) if e.kind() == opendal::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.map_err(e, "stat", key)),
        }
    }

    pub(crate) async fn read_versioned_impl(&self, key: &str) -> Result<Option<(Bytes, String)>> {
        for _ in 0..READ_ATTEMPTS {
            let Some(version) = self.version_impl(key).await? else {
                return Ok(None);
            };
            let read = match self.backend() {
                Backend::Gcs => self.operator().read_with(key).if_version_match(&version).await,
                _ => self.operator().read_with(key).if_match(&version).await,
            };
            match read {
                Ok(buf) => return Ok(Some((buf.to_bytes(), version))),
                // Replaced (or deleted) between the stat and the read: look again.
                Err(e) if matches!(e.kind(), opendal::ErrorKind::ConditionNotMatch | opendal::ErrorKind::NotFound) => {}
                Err(e) => return Err(self.map_err(e, "read", key)),
            }
        }
        Err(Error::conflict(format!(
            "read '{key}' in {}: it changed {READ_ATTEMPTS} times while being read; try again",
            self.root()
        )))
    }

    pub(crate) async fn put_if_impl(&self, key: &str, data: Bytes, condition: &WriteCondition) -> Result<PutIf> {
        check_write_key(key)?;
        self.versions_supported("write", key)?;
        let gcs = matches!(self.backend(), Backend::Gcs);
        let mut w = self.operator().write_with(key, data);
        if let Some(ct) = self.content_type() {
            w = w.content_type(ct);
        }
        w = match condition {
            WriteCondition::Always => w,
            WriteCondition::Absent => w.if_not_exists(true),
            WriteCondition::Version(v) if gcs => w.if_version_match(v),
            WriteCondition::Version(v) => w.if_match(v),
        };
        match w.await {
            Ok(m) => {
                let version = match self.version_of(key, &m) {
                    Ok(v) => v,
                    // Some servers answer a write without its new version: ask.
                    Err(_) => self.version_impl(key).await?.ok_or_else(|| {
                        Error::new(
                            ErrorKind::Storage,
                            format!("'{key}' in {}: gone right after its write", self.root()),
                        )
                    })?,
                };
                Ok(PutIf::Written { version })
            }
            Err(e) if e.kind() == opendal::ErrorKind::ConditionNotMatch => Ok(PutIf::PreconditionFailed),
            // S3 answers 409 ConditionalRequestConflict when another conditional write to the
            // key is in flight: the precondition is not known to hold.
            Err(e) if condition != &WriteCondition::Always && e.to_string().contains("ConditionalRequestConflict") => {
                Ok(PutIf::PreconditionFailed)
            }
            Err(e) => Err(self.map_err(e, "write", key)),
        }
    }
}
