//! DataFrames: Arrow record batches as Parquet artifacts, loaded back, CSV into Arrow, and
//! Parquet streamed by row group through ranged reads (proved by counting the bytes read).

#![cfg(feature = "dataframe")]

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use async_trait::async_trait;
use bytes::Bytes;
use trove::domain::ports::{Capabilities, ObjectMeta, ObjectReader, ObjectStore, ObjectWriter, PutResult};
use trove::{ErrorKind, InitOptions, Loaded, SaveOptions, Trove};
use trove_storage::OpendalStore;

/// Counts the bytes read through it.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn ObjectStore>,
    read: Arc<AtomicU64>,
}

struct CountingReader {
    inner: Box<dyn ObjectReader>,
    read: Arc<AtomicU64>,
}

#[async_trait]
impl ObjectReader for CountingReader {
    async fn chunk(&mut self) -> trove::Result<Option<Bytes>> {
        let c = self.inner.chunk().await?;
        if let Some(c) = &c {
            self.read.fetch_add(c.len() as u64, Ordering::SeqCst);
        }
        Ok(c)
    }
}

#[async_trait]
impl ObjectStore for Counting {
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
    async fn writer(&self, key: &str) -> trove::Result<Box<dyn ObjectWriter>> {
        self.inner.writer(key).await
    }
    async fn reader(&self, key: &str, range: Option<Range<u64>>) -> trove::Result<Box<dyn ObjectReader>> {
        Ok(Box::new(CountingReader { inner: self.inner.reader(key, range).await?, read: self.read.clone() }))
    }
    async fn stat(&self, key: &str) -> trove::Result<Option<ObjectMeta>> {
        self.inner.stat(key).await
    }
    async fn list(&self, prefix: &str) -> trove::Result<Vec<ObjectMeta>> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &str) -> trove::Result<bool> {
        self.inner.delete(key).await
    }
    async fn delete_prefix(&self, prefix: &str) -> trove::Result<u64> {
        self.inner.delete_prefix(prefix).await
    }
    async fn copy(&self, from: &str, to: &str) -> trove::Result<()> {
        self.inner.copy(from, to).await
    }
    async fn rename(&self, from: &str, to: &str) -> trove::Result<()> {
        self.inner.rename(from, to).await
    }
    async fn put(&self, key: &str, data: Bytes) -> trove::Result<PutResult> {
        self.inner.put(key, data).await
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    trove: Trove,
    read: Arc<AtomicU64>,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    Trove::builder().user("tester").init(InitOptions::local(&root)).await.unwrap();
    let read = Arc::new(AtomicU64::new(0));
    let store = Arc::new(Counting { inner: Arc::new(OpendalStore::fs(&root).unwrap()), read: read.clone() });
    let trove = Trove::builder().store(store).location(root.to_str().unwrap()).open().await.unwrap();
    Fixture { _dir: dir, trove, read }
}

fn batch(start: i64, rows: usize) -> RecordBatch {
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(start..start + rows as i64));
    let names: ArrayRef =
        Arc::new(StringArray::from_iter_values((0..rows).map(|i| format!("name-{}-{}", start + i as i64, i * 7919))));
    RecordBatch::try_from_iter([("id", ids), ("name", names)]).unwrap()
}

fn ids(batches: &[RecordBatch]) -> Vec<i64> {
    batches.iter().flat_map(|b| b.column(0).as_any().downcast_ref::<Int64Array>().unwrap().values().to_vec()).collect()
}

#[tokio::test]
async fn save_load_and_replace_a_dataframe() {
    let f = fixture().await;
    let frame = vec![batch(0, 100), batch(100, 50)];
    let saved = f.trove.save_dataframe(&frame, SaveOptions::key("tables/people.parquet")).await.unwrap();
    assert_eq!(saved.name(), "created");
    let a = saved.into_artifact();
    assert_eq!(a.otype.as_deref(), Some("DataFrame"));
    assert_eq!(a.n_observations, Some(150));
    assert_eq!(a.suffix, ".parquet");
    assert!(a.storage_key().ends_with(".parquet"));
    let stored = f.trove.load_bytes(&a).await.unwrap();
    assert_eq!(stored.len() as u64, a.size);
    assert_eq!(&stored[..4], b"PAR1");

    let back = f.trove.load_dataframe(&a).await.unwrap();
    assert_eq!(ids(&back), (0..150).collect::<Vec<_>>());
    assert_eq!(back[0].schema(), frame[0].schema());
    assert!(
        matches!(f.trove.load(&a).await.unwrap(), Loaded::Table(t) if t.iter().map(|b| b.num_rows()).sum::<usize>() == 150)
    );

    // the same frame again is existing content
    assert_eq!(
        f.trove.save_dataframe(&frame, SaveOptions::key("tables/people.parquet")).await.unwrap().name(),
        "existing"
    );
    // the key must end in .parquet
    let e = f.trove.save_dataframe(&frame, SaveOptions::key("tables/people.csv")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidKey);
    // batches must share one schema
    let other = RecordBatch::try_from_iter([("x", Arc::new(Int64Array::from(vec![1])) as ArrayRef)]).unwrap();
    let e = f.trove.save_dataframe(&[batch(0, 1), other], SaveOptions::key("bad.parquet")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);

    // replace with a smaller frame: same uid, rows, size and hash recomputed
    let smaller = f.trove.replace_dataframe(a.uid.as_str(), &[batch(1000, 10)]).await.unwrap().into_artifact();
    assert_eq!(smaller.uid, a.uid);
    assert_eq!(smaller.n_observations, Some(10));
    assert_ne!(smaller.hash, a.hash);
    assert!(smaller.size < a.size);
    assert_eq!(ids(&f.trove.load_dataframe(&smaller).await.unwrap()), (1000..1010).collect::<Vec<_>>());
    assert!(f.trove.fsck(&trove::FsckOptions::default().verify_hashes()).await.unwrap().is_empty());
}

#[tokio::test]
async fn csv_loads_into_arrow_and_other_files_do_not() {
    let f = fixture().await;
    let csv = f
        .trove
        .save(b"id,species\n1,setosa\n2,virginica\n3,setosa\n".to_vec(), SaveOptions::key("iris.csv"))
        .await
        .unwrap()
        .into_artifact();
    let t = f.trove.load_dataframe(&csv).await.unwrap();
    assert_eq!(t.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
    let schema = t[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["id", "species"]);
    assert_eq!(ids(&t), vec![1, 2, 3], "types are inferred");

    let txt = f.trove.save(b"hello".to_vec(), SaveOptions::key("a.txt")).await.unwrap().into_artifact();
    let e = f.trove.load_dataframe(&txt).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("cache"), "{e}");
    assert!(matches!(f.trove.load(&txt).await.unwrap(), Loaded::Bytes(b) if b == "hello"));
    assert_eq!(f.trove.open_parquet(&csv).await.unwrap_err().kind(), ErrorKind::InvalidInput);

    // a CSV replaced by a DataFrame becomes Parquet: the key's suffix follows
    let r = f.trove.replace_dataframe(csv.uid.as_str(), &[batch(0, 3)]).await.unwrap();
    assert_eq!(r.artifact().key.as_ref().unwrap().as_str(), "iris.parquet");
    assert_eq!(r.artifact().n_observations, Some(3));
}

#[tokio::test]
async fn open_streams_row_groups_with_ranged_reads() {
    let f = fixture().await;
    // four row groups (one per batch) of incompressible-ish text
    let frame: Vec<RecordBatch> = (0..4).map(|i| batch(i * 20_000, 20_000)).collect();
    let a = f.trove.save_dataframe(&frame, SaveOptions::key("big.parquet")).await.unwrap().into_artifact();
    assert_eq!(a.n_observations, Some(80_000));

    f.read.store(0, Ordering::SeqCst);
    let mut reader = f.trove.open_parquet(&a).await.unwrap();
    assert_eq!((reader.num_rows(), reader.num_row_groups()), (80_000, 4));
    let first = reader.next_batch().await.unwrap().unwrap();
    assert_eq!(first.column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0), 0);
    let read = f.read.load(Ordering::SeqCst);
    assert!(read > 0 && read < a.size / 2, "read {read} of {} bytes for the first batch", a.size);

    // only the last row group
    f.read.store(0, Ordering::SeqCst);
    let last = f.trove.open_parquet_row_groups(&a, Some(vec![3])).await.unwrap().collect().await.unwrap();
    assert_eq!(ids(&last), (60_000..80_000).collect::<Vec<_>>());
    let read = f.read.load(Ordering::SeqCst);
    assert!(read < a.size / 2, "read {read} of {} bytes for one row group of four", a.size);

    // all of it, streamed
    let all = f.trove.open_parquet(&a).await.unwrap().collect().await.unwrap();
    assert_eq!(ids(&all), (0..80_000).collect::<Vec<_>>());
    let e = f.trove.open_parquet_row_groups(&a, Some(vec![4])).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}
