//! What a save or a replace reads: a local file or folder, bytes in memory, or (feature
//! `dataframe`) Arrow record batches. This module is the one place that tells sources apart:
//! [`Source::inspect`] probes one before any byte moves (suffix, file or folder, `otype`,
//! rows; special files, links and bad names refused) and [`Source::write_to`] writes it into a
//! store while hashing it (one pass). Save and replace call these two and never match on the
//! kind of source themselves, so the `dataframe` feature is confined to this module and
//! [`crate::dataframe`].
//!
//! * [`files`]: the local-disk rules (links, special files, folder walks, changing files);
//! * [`write`]: streaming into a store, hashing, and upload verification.

mod files;
mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use trove_domain::key::check_suffix;
use trove_domain::ports::ObjectStore;
use trove_domain::{Key, Result};

pub(crate) use files::{check_in_place, resolve, walk_folder};

use crate::local::Written;
use crate::progress::Progress;

/// What to save.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Source {
    /// A local file or folder.
    Path(PathBuf),
    /// Bytes in memory; the suffix comes from the key unless given (e.g. `".csv"`).
    Bytes {
        /// The content.
        data: Bytes,
        /// The suffix, if the key does not carry it.
        suffix: Option<String>,
    },
    /// Arrow record batches, written as Parquet (`otype = "DataFrame"`, suffix `.parquet`,
    /// `n_observations` = rows). Feature `dataframe`.
    #[cfg(feature = "dataframe")]
    DataFrame(Vec<arrow_array::RecordBatch>),
}

#[cfg(feature = "dataframe")]
impl From<Vec<arrow_array::RecordBatch>> for Source {
    fn from(batches: Vec<arrow_array::RecordBatch>) -> Self {
        Source::DataFrame(batches)
    }
}

#[cfg(feature = "dataframe")]
impl From<arrow_array::RecordBatch> for Source {
    fn from(batch: arrow_array::RecordBatch) -> Self {
        Source::DataFrame(vec![batch])
    }
}

impl From<&Path> for Source {
    fn from(p: &Path) -> Self {
        Source::Path(p.to_path_buf())
    }
}

impl From<PathBuf> for Source {
    fn from(p: PathBuf) -> Self {
        Source::Path(p)
    }
}

impl From<&str> for Source {
    fn from(p: &str) -> Self {
        Source::Path(PathBuf::from(p))
    }
}

impl From<Bytes> for Source {
    fn from(data: Bytes) -> Self {
        Source::Bytes { data, suffix: None }
    }
}

impl From<Vec<u8>> for Source {
    fn from(data: Vec<u8>) -> Self {
        Source::Bytes { data: Bytes::from(data), suffix: None }
    }
}

/// What [`Source::inspect`] found, before any byte moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Inspected {
    /// The canonical suffix the content is stored under.
    pub(crate) suffix: String,
    /// A folder (its files were walked and checked), else one object.
    pub(crate) is_folder: bool,
    /// The `otype` the content itself implies (`DataFrame` for record batches).
    pub(crate) otype: Option<String>,
    /// Rows, where the content itself says (record batches).
    pub(crate) n_observations: Option<u64>,
}

impl Source {
    /// Probe the source: a path must be (or link to) a regular file or a folder of regular,
    /// validly named files (with `key`, they must fit below it); bytes take their suffix, else
    /// `default_suffix` (the key's for a save, the artifact's for a replace); record batches
    /// must share one schema. Nothing is written.
    pub(crate) fn inspect(&self, key: Option<&Key>, default_suffix: impl FnOnce() -> String) -> Result<Inspected> {
        let plain =
            |suffix: String, is_folder: bool| Inspected { suffix, is_folder, otype: None, n_observations: None };
        match self {
            Source::Path(p) => {
                let probed = files::probe(p, key)?;
                Ok(plain(probed.suffix, probed.is_folder))
            }
            Source::Bytes { suffix, .. } => {
                let suffix = suffix.as_ref().map(|s| s.to_lowercase()).unwrap_or_else(default_suffix);
                check_suffix(&suffix)?;
                Ok(plain(suffix, false))
            }
            #[cfg(feature = "dataframe")]
            Source::DataFrame(batches) => {
                use crate::codec;
                codec::check_batches(batches)?;
                Ok(Inspected {
                    suffix: codec::PARQUET_SUFFIX.to_owned(),
                    is_folder: false,
                    otype: Some(codec::DATAFRAME_OTYPE.to_owned()),
                    n_observations: Some(codec::count_rows(batches)),
                })
            }
        }
    }

    /// Write the source to `key` (a folder: below `key/`), hashing it on the way. The write
    /// belongs to the caller's uid alone; on failure nothing is left at `key`.
    /// Local files report their bytes to `progress`.
    pub(crate) async fn write_to(
        &self,
        store: &dyn ObjectStore,
        key: &str,
        is_folder: bool,
        progress: &Progress,
    ) -> Result<Written> {
        match self {
            Source::Path(p) if is_folder => write::write_folder(store, p, key, progress).await,
            Source::Path(p) => write::write_file(store, p, key, progress).await,
            Source::Bytes { data, .. } => write::write_bytes(store, data.clone(), key).await,
            #[cfg(feature = "dataframe")]
            Source::DataFrame(batches) => crate::codec::write_parquet(store, batches, key).await,
        }
    }

    /// The local path this source reads, if it is one.
    pub(crate) fn path(&self) -> Option<&Path> {
        match self {
            Source::Path(p) => Some(p),
            _ => None,
        }
    }
}

/// Rows of stored content whose format records them (a Parquet footer); `None` otherwise.
#[cfg_attr(
    not(feature = "dataframe"),
    allow(unused_variables, reason = "store, written and suffix are read only by the Parquet probe")
)]
pub(crate) async fn stored_rows(store: Arc<dyn ObjectStore>, written: &Written, suffix: &str) -> Option<u64> {
    #[cfg(feature = "dataframe")]
    if written.n_files.is_none() && suffix == crate::codec::PARQUET_SUFFIX {
        return crate::codec::parquet_rows(store, &written.key, written.content.size).await.ok();
    }
    None
}
