//! The DataFrame codec: Arrow [`RecordBatch`]es written as Parquet straight into an object
//! store's streaming writer and hashed on the way (one pass; each input batch becomes at least
//! one row group), Parquet read back through ranged reads of the store (footer first, then row
//! group by row group), and CSV parsed into Arrow. Knows nothing of the façade.

use std::ops::Range;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, Stream, StreamExt};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStream, ParquetRecordBatchStreamBuilder};
use parquet::arrow::async_writer::{AsyncArrowWriter, AsyncFileWriter};
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::file::properties::WriterProperties;
use trove_domain::ports::{ObjectStore, ObjectWriter};
use trove_domain::{ContentHasher, Error, ErrorKind, Result};

use crate::local::Written;

/// The `otype` of tabular artifacts.
pub const DATAFRAME_OTYPE: &str = "DataFrame";
/// The suffix of DataFrame artifacts.
pub const PARQUET_SUFFIX: &str = ".parquet";

/// How much encoded Parquet is buffered before it is handed to the object store's writer.
const WRITE_CHUNK: usize = 8 * 1024 * 1024;
/// How much of an object's tail is fetched at once to find the Parquet footer.
const FOOTER_HINT: usize = 64 * 1024;

/// Rows in a set of batches.
pub(crate) fn count_rows(batches: &[RecordBatch]) -> u64 {
    batches.iter().map(|b| b.num_rows() as u64).sum()
}

/// Check batches before anything is written: at least one, all with the same schema.
pub(crate) fn check_batches(batches: &[RecordBatch]) -> Result<SchemaRef> {
    let first = batches.first().ok_or_else(|| {
        Error::invalid_input("a DataFrame needs at least one record batch (it may have zero rows) to know its schema")
    })?;
    let schema = first.schema();
    if let Some(i) = batches.iter().position(|b| b.schema() != schema) {
        return Err(Error::invalid_input(format!(
            "record batch {i} has a different schema from batch 0: every batch of a DataFrame must share one schema"
        )));
    }
    Ok(schema)
}

/// A Parquet sink over the object-store port: buffers, hashes, and streams to the writer.
struct PortWriter {
    inner: Option<Box<dyn ObjectWriter>>,
    hasher: ContentHasher,
    buf: Vec<u8>,
}

impl PortWriter {
    async fn flush_buf(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        match self.inner.as_mut() {
            Some(w) => w.write(chunk).await,
            None => Err(Error::storage("the Parquet writer was already closed")),
        }
    }
}

fn to_parquet_error(e: Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

fn from_parquet_error(what: &str, e: ParquetError) -> Error {
    match e {
        ParquetError::External(inner) => match inner.downcast::<Error>() {
            Ok(trove) => *trove,
            Err(other) => Error::new(ErrorKind::Storage, format!("{what}: {other}")).with_boxed_source(other),
        },
        other => Error::new(ErrorKind::InvalidInput, format!("{what}: {other}")).with_source(other),
    }
}

impl AsyncFileWriter for PortWriter {
    fn write(&mut self, bs: Bytes) -> BoxFuture<'_, parquet::errors::Result<()>> {
        async move {
            self.hasher.update(&bs);
            self.buf.extend_from_slice(&bs);
            if self.buf.len() >= WRITE_CHUNK {
                self.flush_buf().await.map_err(to_parquet_error)?;
            }
            Ok(())
        }
        .boxed()
    }

    fn complete(&mut self) -> BoxFuture<'_, parquet::errors::Result<()>> {
        async move {
            self.flush_buf().await.map_err(to_parquet_error)?;
            if let Some(w) = self.inner.take() {
                w.close().await.map_err(to_parquet_error)?;
            }
            Ok(())
        }
        .boxed()
    }
}

/// Write batches as Parquet at `key`, hashing while writing. Each batch is flushed as its own
/// row group (larger batches are split by the writer's row-group limit). Nothing is visible at
/// `key` unless the whole file was written.
pub(crate) async fn write_parquet(store: &dyn ObjectStore, batches: &[RecordBatch], key: &str) -> Result<Written> {
    let schema = check_batches(batches)?;
    let sink = PortWriter { inner: Some(store.writer(key).await?), hasher: ContentHasher::new(), buf: Vec::new() };
    let props = WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::default())).build();
    let what = "could not write the DataFrame as Parquet";
    let mut writer = AsyncArrowWriter::try_new(sink, schema, Some(props)).map_err(|e| from_parquet_error(what, e))?;
    for batch in batches {
        writer.write(batch).await.map_err(|e| from_parquet_error(what, e))?;
        writer.flush().await.map_err(|e| from_parquet_error(what, e))?;
    }
    writer.finish().await.map_err(|e| from_parquet_error(what, e))?;
    let sink = writer.into_inner();
    Ok(Written { key: key.to_owned(), content: sink.hasher.finish(), n_files: None })
}

/// Ranged reads over the object-store port, for the Parquet reader.
struct PortReader {
    store: Arc<dyn ObjectStore>,
    key: String,
    size: u64,
}

impl AsyncFileReader for PortReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            let mut reader = self.store.reader(&self.key, Some(range.clone())).await.map_err(to_parquet_error)?;
            let mut out = Vec::with_capacity((range.end - range.start) as usize);
            while let Some(chunk) = reader.chunk().await.map_err(to_parquet_error)? {
                out.extend_from_slice(&chunk);
            }
            Ok(Bytes::from(out))
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata =
                ParquetMetaDataReader::new().with_prefetch_hint(Some(FOOTER_HINT)).load_and_finish(self, size).await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// Rows of a Parquet object, from its footer alone (a ranged read of the tail).
pub(crate) async fn parquet_rows(store: Arc<dyn ObjectStore>, key: &str, size: u64) -> Result<u64> {
    let mut reader = PortReader { store, key: key.to_owned(), size };
    let md = reader.get_metadata(None).await.map_err(|e| from_parquet_error("could not read the Parquet footer", e))?;
    Ok(md.file_metadata().num_rows().max(0) as u64)
}

/// A streaming reader over a Parquet artifact: the footer is read first, then each row group
/// is fetched with ranged reads when it is reached, so only what is consumed is downloaded.
pub struct ParquetReader {
    stream: ParquetRecordBatchStream<PortReader>,
    schema: SchemaRef,
    num_rows: u64,
    num_row_groups: usize,
}

impl std::fmt::Debug for ParquetReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetReader")
            .field("num_rows", &self.num_rows)
            .field("num_row_groups", &self.num_row_groups)
            .finish_non_exhaustive()
    }
}

impl ParquetReader {
    /// The Arrow schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Rows in the whole file (from the footer).
    pub fn num_rows(&self) -> u64 {
        self.num_rows
    }

    /// Row groups in the whole file.
    pub fn num_row_groups(&self) -> usize {
        self.num_row_groups
    }

    /// The next record batch, or `None` at the end.
    pub async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        match self.stream.next().await {
            None => Ok(None),
            Some(r) => r.map(Some).map_err(|e| from_parquet_error("could not read the Parquet artifact", e)),
        }
    }

    /// The batches as a stream.
    pub fn into_stream(self) -> impl Stream<Item = Result<RecordBatch>> + Send {
        self.stream.map(|r| r.map_err(|e| from_parquet_error("could not read the Parquet artifact", e)))
    }

    /// Read every remaining batch.
    pub async fn collect(mut self) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::new();
        while let Some(b) = self.next_batch().await? {
            out.push(b);
        }
        Ok(out)
    }
}

/// Open a stored Parquet object (`size` bytes) for streaming, reading only `row_groups` if
/// given. `what` names it in errors.
pub(crate) async fn open_reader(
    store: Arc<dyn ObjectStore>,
    key: String,
    size: u64,
    row_groups: Option<Vec<usize>>,
    what: &str,
) -> Result<ParquetReader> {
    let reader = PortReader { store, key, size };
    let mut builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(|e| from_parquet_error(&format!("could not open {what} as Parquet"), e))?;
    let num_rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
    let num_row_groups = builder.metadata().num_row_groups();
    if let Some(groups) = row_groups {
        if let Some(bad) = groups.iter().find(|g| **g >= num_row_groups) {
            return Err(Error::invalid_input(format!(
                "row group {bad} does not exist: {what} has {num_row_groups} row group(s)"
            )));
        }
        builder = builder.with_row_groups(groups);
    }
    let schema = builder.schema().clone();
    let stream = builder.build().map_err(|e| from_parquet_error(&format!("could not open {what} as Parquet"), e))?;
    Ok(ParquetReader { stream, schema, num_rows, num_row_groups })
}

pub(crate) fn read_csv(data: Bytes, delimiter: u8) -> Result<Vec<RecordBatch>> {
    use arrow_csv::reader::{Format, ReaderBuilder};
    let format = Format::default().with_header(true).with_delimiter(delimiter);
    let (schema, _) = format
        .infer_schema(std::io::Cursor::new(&data[..]), Some(1000))
        .map_err(|e| Error::invalid_input(format!("cannot infer the columns: {e}")))?;
    let reader = ReaderBuilder::new(Arc::new(schema))
        .with_format(format)
        .build(std::io::Cursor::new(data))
        .map_err(|e| Error::invalid_input(e.to_string()))?;
    reader.map(|b| b.map_err(|e| Error::invalid_input(e.to_string()))).collect()
}
