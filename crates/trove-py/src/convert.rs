//! Records to Python dictionaries, errors to `trove.errors` exceptions.

use chrono::{DateTime, SecondsFormat, Utc};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use trove::{Artifact, Collection, ErrorKind, Label, Placement, Trove};

/// An ISO 8601 timestamp with microseconds and `+00:00`, as `datetime.fromisoformat` reads it.
pub(crate) fn iso(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// An artifact record as a dictionary (the Python `Artifact` keeps it and reads its fields).
pub(crate) fn artifact_dict<'py>(py: Python<'py>, trove: &Trove, a: &Artifact) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("uid", a.uid.as_str())?;
    d.set_item("key", a.key.as_ref().map(|k| k.as_str()))?;
    d.set_item("description", a.description.as_deref())?;
    d.set_item("suffix", &a.suffix)?;
    d.set_item("kind", a.kind.as_deref())?;
    d.set_item("otype", a.otype.as_deref())?;
    d.set_item("size", a.size)?;
    d.set_item("hash", &a.hash)?;
    d.set_item("hash_type", a.hash_type.to_string())?;
    d.set_item("n_files", a.n_files)?;
    d.set_item("n_observations", a.n_observations)?;
    d.set_item("version_tag", a.version_tag.as_deref())?;
    d.set_item("is_latest", a.is_latest)?;
    d.set_item("branch_id", a.branch.0)?;
    d.set_item("trashed_from", a.trashed_from.map(|b| b.0))?;
    d.set_item("storage_id", a.storage.0)?;
    d.set_item("created_by", &a.created_by)?;
    d.set_item("created_at", iso(&a.created_at))?;
    d.set_item("updated_at", iso(&a.updated_at))?;
    d.set_item("is_folder", a.is_folder())?;
    d.set_item("storage_key", a.storage_key())?;
    let (placement, real_path) = match &a.placement {
        Placement::Managed => ("managed", None),
        Placement::RealKey => ("real_key", None),
        Placement::InPlace { real_path } => ("in_place", Some(real_path.as_str())),
        Placement::SharedStore { .. } => ("shared_store", None),
    };
    d.set_item("placement", placement)?;
    d.set_item("real_path", real_path)?;
    // A record whose storage is not open in this session has no path; reading it says so.
    d.set_item("path", trove.path(a).ok())?;
    d.set_item("storage_root", trove.storage_root(a).ok())?;
    Ok(d)
}

/// A collection record as a dictionary.
pub(crate) fn collection_dict<'py>(py: Python<'py>, c: &Collection) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("uid", c.uid.as_str())?;
    d.set_item("key", c.key.as_deref())?;
    d.set_item("description", c.description.as_deref())?;
    d.set_item("hash", &c.hash)?;
    d.set_item("members", c.members.iter().map(|u| u.as_str()).collect::<Vec<_>>())?;
    d.set_item("is_latest", c.is_latest)?;
    d.set_item("branch_id", c.branch.0)?;
    d.set_item("created_by", &c.created_by)?;
    d.set_item("created_at", iso(&c.created_at))?;
    d.set_item("updated_at", iso(&c.updated_at))?;
    Ok(d)
}

/// A label record as a dictionary.
pub(crate) fn label_dict<'py>(py: Python<'py>, l: &Label) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &l.name)?;
    d.set_item("description", l.description.as_deref())?;
    d.set_item("branch_id", l.branch.0)?;
    d.set_item("n_artifacts", l.n_artifacts)?;
    d.set_item("n_collections", l.n_collections)?;
    d.set_item("created_by", &l.created_by)?;
    d.set_item("created_at", iso(&l.created_at))?;
    Ok(d)
}

/// The `trove.errors` class for an error kind.
fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidKey | ErrorKind::InvalidInput | ErrorKind::UnsupportedSource => "InvalidInputError",
        ErrorKind::SourceNotFound => "SourceNotFoundError",
        ErrorKind::NotFound => "DoesNotExist",
        ErrorKind::AlreadyInTrash => "AlreadyInTrashError",
        ErrorKind::InvalidTransition => "NotAllowedError",
        ErrorKind::NotManaged => "NotManagedError",
        ErrorKind::Protected => "ProtectedError",
        ErrorKind::Authentication => "AuthenticationError",
        ErrorKind::Conflict | ErrorKind::StaleRevises | ErrorKind::SourceChanged => "ConflictError",
        ErrorKind::PathOccupied => "PathOccupiedError",
        ErrorKind::Unsupported => "UnsupportedError",
        ErrorKind::Integrity => "IntegrityError",
        ErrorKind::Instance => "InstanceError",
        ErrorKind::Catalog | ErrorKind::Storage | ErrorKind::Io => "StorageError",
        _ => "TroveError",
    }
}

/// A Trove error as the matching `trove.errors` exception, carrying `kind` (the stable
/// snake_case name) and Trove's message.
pub(crate) fn to_py_err(py: Python<'_>, e: trove::Error) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let errors = py.import("trove.errors")?;
        let class = errors.getattr(class_name(e.kind()))?;
        let exc = class.call1((e.message().to_owned(),))?;
        exc.setattr("kind", e.kind().as_str())?;
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|import_err| import_err)
}

/// [`to_py_err`] where no `Python` token is at hand.
pub(crate) fn to_py_err_nogil(e: trove::Error) -> PyErr {
    Python::attach(|py| to_py_err(py, e))
}
