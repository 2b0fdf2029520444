//! DataFrames: Arrow [`RecordBatch`]es saved as Parquet artifacts (`otype = "DataFrame"`,
//! `n_observations` = rows, suffix `.parquet`), loaded back into Arrow (Parquet and CSV), and
//! streamed row group by row group through ranged reads without downloading the whole object.
//!
//! Available with the `dataframe` cargo feature of `trove` (on by default). The façade methods
//! live here; the Parquet and CSV machinery is [`crate::codec`], which knows nothing of the
//! façade.
//! Each input batch becomes (at least) one row group, so the caller's batch size is the unit
//! that [`Trove::open_parquet`] fetches.

use arrow_array::RecordBatch;
use bytes::Bytes;
use trove_domain::{Artifact, Error, Result};

pub use codec::{DATAFRAME_OTYPE, PARQUET_SUFFIX, ParquetReader};

use crate::codec;
use crate::replace::ReplaceOutcome;
use crate::{SaveOptions, SaveOutcome, Source, Trove};

/// What [`Trove::load`] returns.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Loaded {
    /// Parquet or CSV content, as Arrow record batches.
    Table(Vec<RecordBatch>),
    /// Any other file's content.
    Bytes(Bytes),
}

impl Trove {
    /// Save Arrow record batches as a Parquet artifact: `otype = "DataFrame"`,
    /// `n_observations` = rows, suffix `.parquet` (a key must end in `.parquet`). The Parquet
    /// file is streamed into storage and hashed while it is written; each batch becomes a row
    /// group. De-duplication and versions work as for any save.
    pub async fn save_dataframe(&self, batches: &[RecordBatch], opts: SaveOptions) -> Result<SaveOutcome> {
        codec::check_batches(batches)?;
        self.save(Source::DataFrame(batches.to_vec()), opts).await
    }

    /// Replace an artifact's content with record batches written as Parquet (same uid and
    /// version; see [`Trove::replace`]). A non-Parquet artifact changes suffix to `.parquet`.
    pub async fn replace_dataframe(&self, locator: &str, batches: &[RecordBatch]) -> Result<ReplaceOutcome> {
        codec::check_batches(batches)?;
        self.replace(locator, Source::DataFrame(batches.to_vec())).await
    }

    /// Open a Parquet artifact for streaming: the footer is fetched with a ranged read, then
    /// row groups one at a time as batches are consumed; the whole object is never downloaded
    /// up front.
    pub async fn open_parquet(&self, artifact: &Artifact) -> Result<ParquetReader> {
        self.open_parquet_row_groups(artifact, None).await
    }

    /// Like [`Trove::open_parquet`], reading only the given row groups (by index).
    pub async fn open_parquet_row_groups(
        &self,
        artifact: &Artifact,
        row_groups: Option<Vec<usize>>,
    ) -> Result<ParquetReader> {
        if artifact.is_folder() || artifact.suffix != PARQUET_SUFFIX {
            return Err(Error::invalid_input(format!(
                "{} is not a Parquet file (suffix '{}'); `open_parquet` streams `.parquet` artifacts, use `load` or \
                 `cache` for others",
                artifact.label(),
                artifact.suffix
            )));
        }
        let store = self.store(artifact.storage)?.store.clone();
        let key = artifact.storage_key();
        let size = match store.stat(&key).await? {
            Some(m) => m.size,
            None => {
                return Err(Error::not_found(format!(
                    "the bytes of {} are missing at {}: run `trove fsck`",
                    artifact.label(),
                    store.display_path(&key)
                )));
            }
        };
        codec::open_reader(store, key, size, row_groups, &artifact.label()).await
    }

    /// Load a Parquet or CSV (`.csv`, `.tsv`) artifact into Arrow record batches. CSV types are
    /// inferred from the first 1000 rows; the first line is the header.
    pub async fn load_dataframe(&self, artifact: &Artifact) -> Result<Vec<RecordBatch>> {
        match artifact.suffix.as_str() {
            PARQUET_SUFFIX if !artifact.is_folder() => self.open_parquet(artifact).await?.collect().await,
            s @ (".csv" | ".tsv") if !artifact.is_folder() => {
                let data = self.load_bytes(artifact).await?;
                codec::read_csv(data, if s == ".tsv" { b'\t' } else { b',' })
                    .map_err(|e| Error::new(e.kind(), format!("could not read {} as CSV: {e}", artifact.label())))
            }
            _ => Err(Error::invalid_input(format!(
                "{} is not a Parquet or CSV file (suffix '{}'); use `cache` to get its path, or `load_bytes`",
                artifact.label(),
                artifact.suffix
            ))),
        }
    }

    /// An artifact's content: Arrow batches for Parquet and CSV, bytes for other files.
    /// Folders are an error that points to `cache`.
    pub async fn load(&self, artifact: &Artifact) -> Result<Loaded> {
        match artifact.suffix.as_str() {
            PARQUET_SUFFIX | ".csv" | ".tsv" if !artifact.is_folder() => {
                Ok(Loaded::Table(self.load_dataframe(artifact).await?))
            }
            _ => Ok(Loaded::Bytes(self.load_bytes(artifact).await?)),
        }
    }
}
