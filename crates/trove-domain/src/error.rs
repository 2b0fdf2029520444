//! The one error type every Trove boundary speaks.
//!
//! An [`Error`] carries a [`ErrorKind`] that callers match on, a message that names the problem
//! *and* the fix, and optionally the underlying cause. Backends map their driver errors into it
//! in their own `error.rs`; no third-party error type appears in a public signature.

use std::fmt;

/// What went wrong, for callers that branch on it. New kinds may be added.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A key violates the key rules (spec 2, section 2).
    InvalidKey,
    /// An argument is malformed (a uid, a branch name, a missing key and description...).
    InvalidInput,
    /// A source path to save or replace from does not exist or cannot be read.
    SourceNotFound,
    /// A source is neither a regular file nor a folder of regular files: a FIFO, a socket, a
    /// device, or a symbolic link inside a folder. Only regular files and folders are content.
    UnsupportedSource,
    /// A source file changed (size, modification time, or identity) while it was being saved;
    /// nothing was kept. Saving it again once it is stable succeeds.
    SourceChanged,
    /// No record matches the uid, stem or key.
    NotFound,
    /// The record is already in the trash; deleting it again needs the permanent form.
    AlreadyInTrash,
    /// The operation is not allowed in the record's current state.
    InvalidTransition,
    /// A concurrent writer got there first (unique constraint, stale head); retrying may work.
    Conflict,
    /// `revises` named a version that is no longer the head of its family.
    StaleRevises,
    /// Another writer holds the instance's write lease (an instance in a bucket) and kept it
    /// for as long as this writer would wait; not retried: the message names the holder.
    Locked,
    /// A file already exists at a real key's path and belongs to no artifact.
    PathOccupied,
    /// The storage location is managed by another instance or is read-only.
    NotManaged,
    /// The backend does not support the operation (see its capabilities).
    Unsupported,
    /// The record is protected (a member of a collection, a label still attached...).
    Protected,
    /// Bytes in storage do not match the record (size or hash), or an upload was corrupted.
    Integrity,
    /// The instance does not exist, or exists already where one was to be created.
    Instance,
    /// A backend refused the credentials given (or found none): a wrong or missing password.
    /// The message names where credentials come from; it never contains one.
    Authentication,
    /// The catalog database failed.
    Catalog,
    /// The object store failed.
    Storage,
    /// A local file-system operation failed.
    Io,
}

impl ErrorKind {
    /// A short, stable, snake_case name (used in JSON error output).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidKey => "invalid_key",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::SourceNotFound => "source_not_found",
            ErrorKind::UnsupportedSource => "unsupported_source",
            ErrorKind::SourceChanged => "source_changed",
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyInTrash => "already_in_trash",
            ErrorKind::InvalidTransition => "invalid_transition",
            ErrorKind::Conflict => "conflict",
            ErrorKind::StaleRevises => "stale_revises",
            ErrorKind::Locked => "locked",
            ErrorKind::PathOccupied => "path_occupied",
            ErrorKind::NotManaged => "not_managed",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Protected => "protected",
            ErrorKind::Integrity => "integrity",
            ErrorKind::Instance => "instance",
            ErrorKind::Authentication => "authentication",
            ErrorKind::Catalog => "catalog",
            ErrorKind::Storage => "storage",
            ErrorKind::Io => "io",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Trove's error: a kind, a message that names the problem and the fix, and an optional cause.
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// `Result` with Trove's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with a message that should say what is wrong and how to fix it.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), source: None }
    }

    /// Attach the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Attach an already boxed cause.
    pub fn with_boxed_source(mut self, source: Box<dyn std::error::Error + Send + Sync>) -> Self {
        self.source = Some(source);
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the cause.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether retrying the whole operation may succeed (concurrent writers).
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::Conflict)
    }

    /// Shorthand for [`ErrorKind::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::NotFound, message)
    }

    /// Shorthand for [`ErrorKind::InvalidInput`].
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidInput, message)
    }

    /// Shorthand for [`ErrorKind::Conflict`].
    pub fn conflict(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Conflict, message)
    }

    /// Shorthand for [`ErrorKind::Catalog`].
    pub fn catalog(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Catalog, message)
    }

    /// Shorthand for [`ErrorKind::Storage`].
    pub fn storage(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Storage, message)
    }

    /// Shorthand for [`ErrorKind::Io`] with the path that failed.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        let kind =
            if source.kind() == std::io::ErrorKind::NotFound { ErrorKind::SourceNotFound } else { ErrorKind::Io };
        Error::new(kind, format!("{}: {source}", context.into())).with_source(source)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind).field("message", &self.message);
        if let Some(s) = &self.source {
            d.field("source", &s.to_string());
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}
