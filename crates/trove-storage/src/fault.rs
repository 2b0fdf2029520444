//! [`FaultInjection`]: an [`ObjectStore`] layer that makes chosen calls fail. For tests.

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use trove_domain::ports::{
    Capabilities, ObjectMeta, ObjectReader, ObjectStore, ObjectWriter, PutIf, PutResult, WriteCondition,
};
use trove_domain::{Error, Result};

/// An operation of the object-store port that faults can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultOp {
    /// [`ObjectStore::writer`] (opening a write).
    OpenWriter,
    /// [`ObjectWriter::write`] (one chunk).
    Write,
    /// [`ObjectWriter::close`].
    Close,
    /// [`ObjectStore::reader`] (opening a read).
    OpenReader,
    /// [`ObjectReader::chunk`].
    ReadChunk,
    /// [`ObjectStore::stat`].
    Stat,
    /// [`ObjectStore::list`].
    List,
    /// [`ObjectStore::delete`].
    Delete,
    /// [`ObjectStore::delete_prefix`].
    DeletePrefix,
    /// [`ObjectStore::copy`].
    Copy,
    /// [`ObjectStore::rename`].
    Rename,
}

/// When an injected failure happens relative to the real operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultTiming {
    /// The call fails and the inner store is not touched (a refused request). A failed
    /// [`FaultOp::Close`] aborts the inner write, so nothing becomes visible.
    Before,
    /// The inner store performs the operation, then the caller sees an error (a reply lost
    /// after the server acted). Tests that steps are safe to repeat.
    After,
}

#[derive(Debug, Clone, Copy)]
struct Rule {
    op: FaultOp,
    /// `None`: every call.
    nth: Option<u64>,
    timing: FaultTiming,
}

#[derive(Debug, Default)]
struct State {
    calls: HashMap<FaultOp, u64>,
    rules: Vec<Rule>,
    injected: u64,
    corrupt_etags: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
}

impl Shared {
    /// Count a call of `op` and say whether (and when) it fails.
    fn hit(&self, op: FaultOp) -> Option<FaultTiming> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let n = {
            let count = state.calls.entry(op).or_insert(0);
            *count += 1;
            *count
        };
        let timing = state.rules.iter().find(|r| r.op == op && r.nth.is_none_or(|k| k == n)).map(|r| r.timing);
        if timing.is_some() {
            state.injected += 1;
        }
        timing
    }
}

fn injected(op: FaultOp, key: &str) -> Error {
    Error::storage(format!("injected fault: {op:?} of '{key}' failed (FaultInjection, for tests)"))
}

/// Wraps any [`ObjectStore`] and makes chosen calls fail with [`trove_domain::ErrorKind::Storage`].
/// **For tests**: crash-safety and retry paths ("the upload fails after the staging copy",
/// "the delete's reply is lost") without a misbehaving server.
///
/// Calls are counted per [`FaultOp`] from 1, across all keys and writers of this wrapper:
///
/// ```
/// # use std::sync::Arc;
/// # use trove_storage::{FaultInjection, FaultOp, OpendalStore};
/// let store = Arc::new(FaultInjection::new(Arc::new(OpendalStore::memory())));
/// store.fail_nth(FaultOp::Close, 2); // the second close fails, nothing is made visible
/// ```
#[derive(Debug)]
pub struct FaultInjection {
    inner: Arc<dyn ObjectStore>,
    shared: Arc<Shared>,
}

impl FaultInjection {
    /// Wrap `inner`, with no faults planned yet.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        FaultInjection { inner, shared: Arc::new(Shared::default()) }
    }

    fn add(&self, rule: Rule) {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner()).rules.push(rule);
    }

    /// The `n`th call (from 1) of `op` fails before reaching the inner store.
    pub fn fail_nth(&self, op: FaultOp, n: u64) -> &Self {
        self.add(Rule { op, nth: Some(n), timing: FaultTiming::Before });
        self
    }

    /// The `n`th call (from 1) of `op` reaches the inner store and then reports failure.
    pub fn fail_nth_after(&self, op: FaultOp, n: u64) -> &Self {
        self.add(Rule { op, nth: Some(n), timing: FaultTiming::After });
        self
    }

    /// Every call of `op` fails before reaching the inner store.
    pub fn fail_all(&self, op: FaultOp) -> &Self {
        self.add(Rule { op, nth: None, timing: FaultTiming::Before });
        self
    }

    /// Remove every planned fault (call counts are kept).
    pub fn clear(&self) {
        let mut state = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
        state.rules.clear();
        state.corrupt_etags = false;
    }

    /// From now on, every successful close reports a wrong ETag (its first hex digit flipped),
    /// as if the bytes the server stored differed from those sent: the write itself happens.
    /// Tests upload verification.
    pub fn corrupt_etags(&self) -> &Self {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner()).corrupt_etags = true;
        self
    }

    /// How many calls of `op` were made so far.
    pub fn calls(&self, op: FaultOp) -> u64 {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner()).calls.get(&op).copied().unwrap_or(0)
    }

    /// How many failures were injected so far.
    pub fn injected(&self) -> u64 {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner()).injected
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }
}

/// Run `call` under the rule for `op`.
async fn guarded<T>(
    shared: &Shared,
    op: FaultOp,
    key: &str,
    call: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match shared.hit(op) {
        None => call.await,
        Some(FaultTiming::Before) => Err(injected(op, key)),
        Some(FaultTiming::After) => {
            call.await?;
            Err(injected(op, key))
        }
    }
}

#[async_trait]
impl ObjectStore for FaultInjection {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn root(&self) -> &str {
        self.inner.root()
    }

    fn display_path(&self, key: &str) -> String {
        self.inner.display_path(key)
    }

    fn local_path(&self, key: &str) -> Option<PathBuf> {
        self.inner.local_path(key)
    }

    async fn writer(&self, key: &str) -> Result<Box<dyn ObjectWriter>> {
        let inner = match self.shared.hit(FaultOp::OpenWriter) {
            None => self.inner.writer(key).await?,
            Some(FaultTiming::Before) => return Err(injected(FaultOp::OpenWriter, key)),
            Some(FaultTiming::After) => {
                self.inner.writer(key).await?.abort().await?;
                return Err(injected(FaultOp::OpenWriter, key));
            }
        };
        Ok(Box::new(FaultWriter { inner: Some(inner), key: key.to_string(), shared: self.shared.clone() }))
    }

    async fn reader(&self, key: &str, range: Option<Range<u64>>) -> Result<Box<dyn ObjectReader>> {
        let inner = guarded(&self.shared, FaultOp::OpenReader, key, self.inner.reader(key, range)).await?;
        Ok(Box::new(FaultReader { inner, key: key.to_string(), shared: self.shared.clone() }))
    }

    async fn stat(&self, key: &str) -> Result<Option<ObjectMeta>> {
        guarded(&self.shared, FaultOp::Stat, key, self.inner.stat(key)).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        guarded(&self.shared, FaultOp::List, prefix, self.inner.list(prefix)).await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        guarded(&self.shared, FaultOp::Delete, key, self.inner.delete(key)).await
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        guarded(&self.shared, FaultOp::DeletePrefix, prefix, self.inner.delete_prefix(prefix)).await
    }

    async fn copy(&self, from: &str, to: &str) -> Result<()> {
        guarded(&self.shared, FaultOp::Copy, from, self.inner.copy(from, to)).await
    }

    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        guarded(&self.shared, FaultOp::Rename, from, self.inner.rename(from, to)).await
    }

    async fn leftovers(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        guarded(&self.shared, FaultOp::List, prefix, self.inner.leftovers(prefix)).await
    }

    async fn delete_leftover(&self, key: &str) -> Result<bool> {
        guarded(&self.shared, FaultOp::Delete, key, self.inner.delete_leftover(key)).await
    }

    async fn version(&self, key: &str) -> Result<Option<String>> {
        guarded(&self.shared, FaultOp::Stat, key, self.inner.version(key)).await
    }

    async fn read_versioned(&self, key: &str) -> Result<Option<(Bytes, String)>> {
        guarded(&self.shared, FaultOp::OpenReader, key, self.inner.read_versioned(key)).await
    }

    async fn put_if(&self, key: &str, data: Bytes, condition: &WriteCondition) -> Result<PutIf> {
        guarded(&self.shared, FaultOp::Close, key, self.inner.put_if(key, data, condition)).await
    }
}

struct FaultWriter {
    inner: Option<Box<dyn ObjectWriter>>,
    key: String,
    shared: Arc<Shared>,
}

impl FaultWriter {
    fn inner(&mut self) -> Result<&mut Box<dyn ObjectWriter>> {
        self.inner.as_mut().ok_or_else(|| Error::storage(format!("write '{}': the writer already failed", self.key)))
    }

    fn take_inner(&mut self) -> Result<Box<dyn ObjectWriter>> {
        self.inner.take().ok_or_else(|| Error::storage(format!("write '{}': the writer already failed", self.key)))
    }

    async fn abort_inner(&mut self) {
        if let Some(w) = self.inner.take() {
            let _ = w.abort().await;
        }
    }
}

#[async_trait]
impl ObjectWriter for FaultWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        match self.shared.hit(FaultOp::Write) {
            None => self.inner()?.write(chunk).await,
            Some(FaultTiming::Before) => {
                self.abort_inner().await;
                Err(injected(FaultOp::Write, &self.key))
            }
            Some(FaultTiming::After) => {
                self.inner()?.write(chunk).await?;
                Err(injected(FaultOp::Write, &self.key))
            }
        }
    }

    async fn close(mut self: Box<Self>) -> Result<PutResult> {
        match self.shared.hit(FaultOp::Close) {
            None => {
                let mut put = self.take_inner()?.close().await?;
                if self.shared.state.lock().unwrap_or_else(|p| p.into_inner()).corrupt_etags {
                    put.etag = put.etag.map(|e| {
                        let flipped = if e.starts_with('0') { '1' } else { '0' };
                        format!("{flipped}{}", e.get(1..).unwrap_or_default())
                    });
                }
                Ok(put)
            }
            Some(FaultTiming::Before) => {
                self.abort_inner().await;
                Err(injected(FaultOp::Close, &self.key))
            }
            Some(FaultTiming::After) => {
                self.take_inner()?.close().await?;
                Err(injected(FaultOp::Close, &self.key))
            }
        }
    }

    async fn abort(mut self: Box<Self>) -> Result<()> {
        match self.inner.take() {
            Some(w) => w.abort().await,
            None => Ok(()),
        }
    }
}

struct FaultReader {
    inner: Box<dyn ObjectReader>,
    key: String,
    shared: Arc<Shared>,
}

#[async_trait]
impl ObjectReader for FaultReader {
    async fn chunk(&mut self) -> Result<Option<Bytes>> {
        guarded(&self.shared, FaultOp::ReadChunk, &self.key, self.inner.chunk()).await
    }
}

#[cfg(test)]
mod tests {
    use trove_domain::ErrorKind;

    use super::*;
    use crate::OpendalStore;

    fn wrapped() -> FaultInjection {
        FaultInjection::new(Arc::new(OpendalStore::memory()))
    }

    #[tokio::test]
    async fn the_nth_close_fails_and_leaves_nothing_visible() {
        let s = wrapped();
        s.fail_nth(FaultOp::Close, 2);
        s.put("a", Bytes::from_static(b"1")).await.unwrap();
        let err = s.put("b", Bytes::from_static(b"2")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
        assert!(err.message().contains("injected"));
        assert!(s.stat("b").await.unwrap().is_none());
        s.put("c", Bytes::from_static(b"3")).await.unwrap();
        assert_eq!(s.calls(FaultOp::Close), 3);
        assert_eq!(s.injected(), 1);
    }

    #[tokio::test]
    async fn after_timing_performs_the_operation_then_fails() {
        let s = wrapped();
        s.put("a", Bytes::from_static(b"1")).await.unwrap();
        s.fail_nth_after(FaultOp::Delete, 1);
        assert!(s.delete("a").await.is_err());
        assert!(s.inner().stat("a").await.unwrap().is_none(), "the delete happened");
        assert!(!s.delete("a").await.unwrap(), "repeating is safe");
    }

    #[tokio::test]
    async fn fail_all_and_clear() {
        let s = wrapped();
        s.fail_all(FaultOp::Copy).fail_all(FaultOp::Rename).fail_nth(FaultOp::Write, 1);
        s.put("a", Bytes::from_static(b"1")).await.unwrap_err();
        assert!(s.stat("a").await.unwrap().is_none());
        s.put("a", Bytes::from_static(b"1")).await.unwrap();
        for _ in 0..3 {
            assert!(s.copy("a", "b").await.is_err());
        }
        assert!(s.inner().stat("b").await.unwrap().is_none(), "a refused copy does nothing");
        s.clear();
        s.copy("a", "b").await.unwrap();
        assert_eq!(s.read_all("b").await.unwrap(), Bytes::from_static(b"1"));
    }

    #[tokio::test]
    async fn read_chunks_can_fail() {
        let s = wrapped();
        s.put("a", Bytes::from_static(b"1")).await.unwrap();
        s.fail_nth(FaultOp::ReadChunk, 1);
        assert!(s.read_all("a").await.is_err());
        assert_eq!(s.read_all("a").await.unwrap(), Bytes::from_static(b"1"));
    }
}
