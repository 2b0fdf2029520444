//! Progress of long transfers, told to an observer the caller installs
//! ([`crate::TroveBuilder::progress`], [`crate::Trove::with_progress`]). The library never
//! prints: a command-line tool draws a bar from these calls, a service may log them, and without
//! an observer nothing is reported.

use std::fmt;
use std::sync::Arc;

/// What a transfer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransferKind {
    /// A save or replace copying a local file into storage (hashing it on the way).
    Save,
    /// A download into the local cache.
    Download,
}

/// Told about byte transfers as they run: one `started`, any number of `advanced`, one
/// `finished` per transfer, also when it fails. Every transfer is reported, however small (an
/// observer decides what is worth showing). Calls may come from worker threads, for one
/// transfer at a time per operation: keep them cheap.
pub trait ProgressObserver: Send + Sync {
    /// A transfer of `total` bytes starts; `name` is the file (a local path or a storage key).
    fn started(&self, kind: TransferKind, name: &str, total: u64);
    /// `bytes` more bytes of the current transfer are done.
    fn advanced(&self, bytes: u64);
    /// The current transfer ended (completed or failed).
    fn finished(&self);
}

/// The observer of one [`crate::Trove`], if any.
#[derive(Clone, Default)]
pub(crate) struct Progress(Option<Arc<dyn ProgressObserver>>);

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Progress(observed)" } else { "Progress(none)" })
    }
}

impl Progress {
    pub(crate) fn new(observer: Arc<dyn ProgressObserver>) -> Progress {
        Progress(Some(observer))
    }

    /// Report the start of a transfer; the returned handle reports its bytes, and its end when
    /// dropped.
    pub(crate) fn start(&self, kind: TransferKind, name: &str, total: u64) -> Transfer {
        if let Some(o) = &self.0 {
            o.started(kind, name, total);
        }
        Transfer(self.0.clone())
    }
}

/// One running transfer; reports `finished` when dropped.
pub(crate) struct Transfer(Option<Arc<dyn ProgressObserver>>);

impl Transfer {
    /// A transfer nobody observes.
    pub(crate) fn none() -> Transfer {
        Transfer(None)
    }

    /// `bytes` more are done.
    pub(crate) fn add(&self, bytes: u64) {
        if let Some(o) = &self.0 {
            o.advanced(bytes);
        }
    }
}

impl Drop for Transfer {
    fn drop(&mut self) {
        if let Some(o) = &self.0 {
            o.finished();
        }
    }
}
