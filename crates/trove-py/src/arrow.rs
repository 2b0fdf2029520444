//! The Arrow C stream interface across the boundary, without copying the data.
//!
//! In: any object with `__arrow_c_stream__` (pyarrow tables and readers, polars and pandas >= 2.2
//! DataFrames) hands over an `ArrowArrayStream` in a capsule named `arrow_array_stream`; its
//! batches are imported as Arrow arrays over the producer's buffers. Out: record batches are
//! exported as a stream in such a capsule, which pyarrow (or polars) imports without a copy.
//!
//! The only `unsafe` of the crate is here: reading the producer's stream struct out of its
//! capsule, which the C stream interface defines as a move.

use std::ffi::CStr;
use std::sync::Mutex;

use arrow_array::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use arrow_array::{RecordBatch, RecordBatchIterator, RecordBatchReader};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyCapsuleMethods};

const STREAM_CAPSULE: &CStr = c"arrow_array_stream";

/// Import every batch of an object implementing the Arrow PyCapsule stream interface.
pub(crate) fn import_stream(data: &Bound<'_, PyAny>) -> PyResult<Vec<RecordBatch>> {
    if !data.hasattr("__arrow_c_stream__")? {
        return Err(PyTypeError::new_err(format!(
            "expected tabular data with the Arrow C stream interface (`__arrow_c_stream__`: a pyarrow Table, a \
             polars DataFrame, a pandas >= 2.2 DataFrame), got {}",
            data.get_type().name()?
        )));
    }
    let capsule = data.call_method0("__arrow_c_stream__")?;
    let capsule = capsule.cast::<PyCapsule>().map_err(|_| {
        PyTypeError::new_err(
            "`__arrow_c_stream__` did not return a capsule: the object does not follow the Arrow PyCapsule interface",
        )
    })?;
    let ptr = capsule.pointer_checked(Some(STREAM_CAPSULE))?;
    // SAFETY: the capsule is named `arrow_array_stream`, so by the Arrow PyCapsule interface its
    // pointer is a valid, aligned `ArrowArrayStream`. `from_raw` moves the struct out and leaves
    // a released (empty) one behind, which the capsule's destructor then ignores, as the
    // interface prescribes for a consumer.
    #[allow(unsafe_code, reason = "the Arrow C stream interface hands over a raw pointer; see SAFETY above")]
    let stream = unsafe { FFI_ArrowArrayStream::from_raw(ptr.as_ptr().cast::<FFI_ArrowArrayStream>()) };
    let reader = RecordBatchStreamReader::try_new(stream)
        .map_err(|e| PyValueError::new_err(format!("could not import the Arrow stream: {e}")))?;
    let schema = reader.schema();
    let mut batches = Vec::new();
    for b in reader {
        batches.push(b.map_err(|e| PyValueError::new_err(format!("could not read the Arrow stream: {e}")))?);
    }
    if batches.is_empty() {
        // A table with no rows still has a schema; Trove saves it as an empty Parquet file.
        batches.push(RecordBatch::new_empty(schema));
    }
    Ok(batches)
}

/// Record batches exported once through the Arrow PyCapsule stream interface: pass it to
/// `pyarrow.table(...)`, `pyarrow.RecordBatchReader.from_stream(...)` or `polars.from_arrow`.
#[pyclass(frozen, module = "trove._native")]
pub(crate) struct ArrowStream {
    batches: Mutex<Option<Vec<RecordBatch>>>,
    schema: arrow_schema::SchemaRef,
}

impl ArrowStream {
    pub(crate) fn new(batches: Vec<RecordBatch>, schema: Option<arrow_schema::SchemaRef>) -> PyResult<Self> {
        let schema = schema
            .or_else(|| batches.first().map(|b| b.schema()))
            .ok_or_else(|| PyValueError::new_err("the table has no record batch, so no schema"))?;
        Ok(ArrowStream { batches: Mutex::new(Some(batches)), schema })
    }
}

#[pymethods]
impl ArrowStream {
    /// Export the batches as an `arrow_array_stream` capsule (once: the stream is consumed).
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema; // the schema is the stored one; consumers cast if they want another
        let batches =
            self.batches.lock().map_err(|_| PyValueError::new_err("the Arrow stream is poisoned"))?.take().ok_or_else(
                || PyValueError::new_err("this Arrow stream was already consumed: load the artifact again"),
            )?;
        let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), self.schema.clone());
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        PyCapsule::new_with_value(py, stream, STREAM_CAPSULE)
    }

    /// Rows in the stream (before it is consumed; 0 after).
    fn num_rows(&self) -> usize {
        self.batches.lock().ok().and_then(|b| b.as_ref().map(|v| v.iter().map(|b| b.num_rows()).sum())).unwrap_or(0)
    }
}
