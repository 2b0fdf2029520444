"""DataFrames across the boundary through the Arrow C stream interface.

pandas and pyarrow are optional: they are imported only when a DataFrame is saved or loaded."""

from __future__ import annotations

from typing import Any, List


def is_tabular(data: Any) -> bool:
    """Whether ``data`` is a table Trove can save (Arrow C stream, or pandas)."""
    if hasattr(data, "__arrow_c_stream__"):
        return True
    mod = type(data).__module__ or ""
    return mod.startswith("pandas") and hasattr(data, "columns")


def to_stream(data: Any) -> Any:
    """An object with ``__arrow_c_stream__`` for ``data``: pyarrow tables, polars DataFrames and
    pandas >= 2.2 DataFrames have one; older pandas goes through ``pyarrow.Table.from_pandas``."""
    mod = type(data).__module__ or ""
    if mod.startswith("pandas"):
        import pyarrow as pa

        # The index is data only when it is not the default RangeIndex (as pandas' own to_parquet).
        return pa.Table.from_pandas(data, preserve_index=None)
    if hasattr(data, "__arrow_c_stream__"):
        return data
    raise TypeError(
        f"cannot save a {type(data).__name__} as a DataFrame: give a pandas or polars DataFrame, or a "
        "pyarrow Table (anything with __arrow_c_stream__)"
    )


def from_stream(stream: Any) -> Any:
    """A pandas DataFrame (pyarrow table if pandas is absent) from an Arrow C stream."""
    import pyarrow as pa

    table = pa.RecordBatchReader.from_stream(stream).read_all()
    try:
        import pandas  # noqa: F401
    except ImportError:
        return table
    return table.to_pandas()


def records_frame(rows: List[dict], columns: List[str]) -> Any:
    """A pandas DataFrame of listing rows (a pyarrow table if pandas is absent)."""
    try:
        import pandas as pd
    except ImportError:
        import pyarrow as pa

        return pa.table({c: [r.get(c) for r in rows] for c in columns})
    frame = pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)
    if "created_at" in frame and len(frame):
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, format="ISO8601")
    return frame
