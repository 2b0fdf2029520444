//! The object-store checks, re-exported from [`crate::store_suite`], and the helpers they share.

use std::sync::Arc;

use bytes::Bytes;
use trove_domain::ErrorKind;
use trove_domain::hash::{PART_SIZE, decode_hash, hash_bytes, md5_digest};
use trove_domain::ports::{ObjectMeta, ObjectStore};

use super::{CheckResult, Outcome};

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

macro_rules! ensure_eq {
    ($left:expr, $right:expr, $what:expr) => {{
        let (l, r) = (&$left, &$right);
        if l != r {
            return Err(format!("{}: got {:?}, expected {:?}", $what, l, r));
        }
    }};
}

/// `?` for the store's errors, naming the step.
trait Step<T> {
    fn step(self, what: &str) -> Result<T, String>;
}

impl<T> Step<T> for trove_domain::Result<T> {
    fn step(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: unexpected error ({}): {e}", e.kind()))
    }
}

/// Deterministic, non-repeating-looking content of `len` bytes.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    let mut x = 0x9E37_79B9u32 ^ u32::from(seed);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

async fn put(store: &Arc<dyn ObjectStore>, key: &str, data: &[u8]) -> Result<(), String> {
    let r = store.put(key, Bytes::copy_from_slice(data)).await.step(&format!("put '{key}'"))?;
    ensure_eq!(r.size, data.len() as u64, format!("PutResult.size of '{key}'"));
    Ok(())
}

async fn read(store: &Arc<dyn ObjectStore>, key: &str) -> Result<Vec<u8>, String> {
    Ok(store.read_all(key).await.step(&format!("read '{key}'"))?.to_vec())
}

async fn keys(store: &Arc<dyn ObjectStore>, prefix: &str) -> Result<Vec<String>, String> {
    Ok(store.list(prefix).await.step(&format!("list '{prefix}'"))?.into_iter().map(|m| m.key).collect())
}

async fn stat(store: &Arc<dyn ObjectStore>, key: &str) -> Result<Option<ObjectMeta>, String> {
    store.stat(key).await.step(&format!("stat '{key}'"))
}

/// Compare without printing megabytes.
fn same_bytes(got: &[u8], want: &[u8], what: &str) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("{what}: got {} bytes, expected {}", got.len(), want.len()));
    }
    if let Some(i) = got.iter().zip(want).position(|(a, b)| a != b) {
        return Err(format!("{what}: first difference at byte {i}"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// the checks

/// A small object reads back as written; stat reports its size.
pub async fn round_trip_small(s: Arc<dyn ObjectStore>) -> CheckResult {
    let key = "round_trip_small/hello.txt";
    put(&s, key, b"hello, trove").await?;
    ensure_eq!(read(&s, key).await?, b"hello, trove".to_vec(), "content");
    let meta = stat(&s, key).await?.ok_or("stat after put: missing")?;
    ensure_eq!(meta.size, 12, "stat size");
    ensure_eq!(meta.key.as_str(), key, "stat key");
    Ok(Outcome::Passed)
}

/// An empty object exists, has size 0, and its reader ends at once.
pub async fn empty_object(s: Arc<dyn ObjectStore>) -> CheckResult {
    let key = "empty_object/empty.bin";
    let w = s.writer(key).await.step("open writer")?;
    let r = w.close().await.step("close without writing")?;
    ensure_eq!(r.size, 0, "PutResult.size");
    let meta = stat(&s, key).await?.ok_or("an empty object must exist after close")?;
    ensure_eq!(meta.size, 0, "stat size");
    let mut reader = s.reader(key, None).await.step("open reader")?;
    let first = reader.chunk().await.step("first chunk")?;
    ensure!(first.as_ref().is_none_or(|c| c.is_empty()), "empty object yielded {:?}", first.map(|c| c.len()));
    ensure_eq!(keys(&s, "empty_object/").await?, vec![key.to_string()], "list");
    Ok(Outcome::Passed)
}

/// Many chunks of uneven sizes make one object; streaming reads give it back.
pub async fn multi_chunk_object(s: Arc<dyn ObjectStore>) -> CheckResult {
    let key = "multi_chunk_object/data.bin";
    let data = pattern(3 * 1024 * 1024 + 12_345, 1);
    let mut w = s.writer(key).await.step("open writer")?;
    let mut written = 0;
    for (i, size) in [1usize, 7, 65_536, 1_000_000, 3, 2_000_000].iter().cycle().enumerate() {
        if written == data.len() {
            break;
        }
        let end = (written + size + i).min(data.len());
        w.write(Bytes::copy_from_slice(&data[written..end])).await.step("write chunk")?;
        written = end;
    }
    let r = w.close().await.step("close")?;
    ensure_eq!(r.size, data.len() as u64, "PutResult.size");
    let mut reader = s.reader(key, None).await.step("open reader")?;
    let mut got = Vec::new();
    while let Some(c) = reader.chunk().await.step("chunk")? {
        got.extend_from_slice(&c);
    }
    same_bytes(&got, &data, "content")?;
    Ok(Outcome::Passed)
}

/// An object larger than one part ([`PART_SIZE`]) round-trips; on multipart stores whose
/// ETags are MD5s, its ETag is Trove's `md5-<parts>` hash (spec 2, section 4).
pub async fn large_object_spanning_parts(s: Arc<dyn ObjectStore>) -> CheckResult {
    let key = "large_object_spanning_parts/big.bin";
    let len = PART_SIZE as usize + 1024 * 1024 + 17;
    let data = pattern(len, 2);
    let mut w = s.writer(key).await.step("open writer")?;
    for c in data.chunks(4 * 1024 * 1024 - 1) {
        w.write(Bytes::copy_from_slice(c)).await.step("write chunk")?;
    }
    let r = w.close().await.step("close")?;
    ensure_eq!(r.size, len as u64, "PutResult.size");
    let meta = stat(&s, key).await?.ok_or("missing after close")?;
    ensure_eq!(meta.size, len as u64, "stat size");
    same_bytes(&read(&s, key).await?, &data, "content")?;
    let caps = s.capabilities();
    if caps.multipart && caps.etag_is_md5 {
        let h = hash_bytes(&data);
        let want = format!("{}-2", hex(&decode_hash(&h.hash).map_err(|e| e.to_string())?));
        ensure_eq!(r.etag.as_deref(), Some(want.as_str()), "multipart ETag from close (Trove's md5-2 hash)");
        ensure_eq!(meta.etag.as_deref(), Some(want.as_str()), "multipart ETag from stat");
        ensure_eq!(meta.content_md5, None, "content_md5 of a multipart object (its ETag is no MD5)");
    }
    s.delete(key).await.step("delete")?;
    Ok(Outcome::Passed)
}

/// Ranges read exactly their bytes; an empty range reads nothing; a range past the end is cut
/// at the end.
pub async fn range_reads(s: Arc<dyn ObjectStore>) -> CheckResult {
    let key = "range_reads/r.bin";
    let data = pattern(100_000, 3);
    put(&s, key, &data).await?;
    for r in [0..1, 0..10, 10..20, 99_990..100_000, 5_000..95_000, 0..100_000, 500..500, 99_999..200_000] {
        let mut reader = s.reader(key, Some(r.clone())).await.step(&format!("open range {r:?}"))?;
        let mut got = Vec::new();
        while let Some(c) = reader.chunk().await.step("chunk")? {
            got.extend_from_slice(&c);
        }
        let end = (r.end as usize).min(data.len());
        same_bytes(&got, &data[r.start as usize..end], &format!("range {r:?}"))?;
    }
    Ok(Outcome::Passed)
}

/// Reading a missing object is `NotFound`.
pub async fn read_missing_is_not_found(s: Arc<dyn ObjectStore>) -> CheckResult {
    for range in [None, Some(0..10)] {
        match s.reader("read_missing_is_not_found/nope", range.clone()).await {
            Ok(mut r) => match r.chunk().await {
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                other => return Err(format!("reading a missing object ({range:?}): {other:?}, expected NotFound")),
            },
            Err(e) => ensure_eq!(e.kind(), ErrorKind::NotFound, format!("error kind ({range:?})")),
        }
    }
    Ok(Outcome::Passed)
}

/// Stat is `None` for missing objects and prefixes, and names key and size otherwise.
pub async fn stat_present_and_missing(s: Arc<dyn ObjectStore>) -> CheckResult {
    ensure_eq!(stat(&s, "stat_present_and_missing/none").await?, None, "stat of a missing key");
    put(&s, "stat_present_and_missing/dir/file.txt", b"abc").await?;
    ensure_eq!(stat(&s, "stat_present_and_missing/dir").await?, None, "stat of a prefix (a directory)");
    let m = stat(&s, "stat_present_and_missing/dir/file.txt").await?.ok_or("missing")?;
    ensure_eq!(m.key.as_str(), "stat_present_and_missing/dir/file.txt", "key");
    ensure_eq!(m.size, 3, "size");
    if let Some(etag) = &m.etag {
        ensure!(!etag.starts_with('"') && !etag.ends_with('"'), "ETag must be unquoted: {etag}");
    }
    Ok(Outcome::Passed)
}

/// Where a store reports `content_md5`, it is the MD5 of the content (in stat and list).
pub async fn content_md5_is_exact_when_given(s: Arc<dyn ObjectStore>) -> CheckResult {
    let key = "content_md5_is_exact_when_given/a";
    put(&s, key, b"abc").await?;
    let want = md5_digest(b"abc");
    let from_stat = stat(&s, key).await?.ok_or("missing")?.content_md5;
    let from_list = s.list("content_md5_is_exact_when_given/").await.step("list")?.pop().and_then(|m| m.content_md5);
    for (what, got) in [("stat", from_stat), ("list", from_list)] {
        if let Some(got) = got {
            ensure_eq!(got, want, format!("content_md5 from {what}"));
        }
    }
    if s.capabilities().etag_is_md5 {
        ensure!(from_stat.is_some(), "a store whose ETags are MD5s must report content_md5 of a single-part object");
    }
    Ok(Outcome::Passed)
}

/// With [`trove_domain::ports::Capabilities::etag_is_md5`], a single-part write's ETag (from
/// close and from stat) is the content's hex MD5.
pub async fn single_part_etag_is_md5(s: Arc<dyn ObjectStore>) -> CheckResult {
    if !s.capabilities().etag_is_md5 {
        return Ok(Outcome::Skipped("ETags are not MD5s (capability etag_is_md5)".into()));
    }
    let key = "single_part_etag_is_md5/a";
    let r = s.put(key, Bytes::from_static(b"a")).await.step("put")?;
    let want = hex(&md5_digest(b"a"));
    ensure_eq!(r.etag.as_deref(), Some(want.as_str()), "ETag from close");
    let m = stat(&s, key).await?.ok_or("missing")?;
    ensure_eq!(m.etag.as_deref(), Some(want.as_str()), "ETag from stat");
    Ok(Outcome::Passed)
}

/// `list` is recursive, sorted by key, relative to the root, files only, and stays inside the
/// prefix (`p/` does not match `p_other/`).
pub async fn list_is_recursive_sorted_relative(s: Arc<dyn ObjectStore>) -> CheckResult {
    let base = "list_is_recursive_sorted_relative";
    let mut want: Vec<String> = ["z.txt", "a/1.txt", "a/2/deep/x.bin", "b c/ü.txt", "a.txt", "A.txt"]
        .iter()
        .map(|k| format!("{base}/{k}"))
        .collect();
    for (i, k) in want.iter().enumerate() {
        put(&s, k, &pattern(i * 10, i as u8)).await?;
    }
    put(&s, &format!("{base}_other/x"), b"not below the prefix").await?;
    let listed = s.list(&format!("{base}/")).await.step("list")?;
    want.sort();
    let got: Vec<String> = listed.iter().map(|m| m.key.clone()).collect();
    ensure_eq!(got, want, "keys");
    for m in &listed {
        let i = ["z.txt", "a/1.txt", "a/2/deep/x.bin", "b c/ü.txt", "a.txt", "A.txt"]
            .iter()
            .position(|k| format!("{base}/{k}") == m.key)
            .ok_or("unexpected key")?;
        ensure_eq!(m.size, (i * 10) as u64, format!("size of {}", m.key));
    }
    let sub = keys(&s, &format!("{base}/a/")).await?;
    ensure_eq!(sub, vec![format!("{base}/a/1.txt"), format!("{base}/a/2/deep/x.bin")], "list of a sub-prefix");
    Ok(Outcome::Passed)
}

/// A prefix that does not end in `/` matches keys by string prefix (as on S3).
pub async fn list_prefix_without_slash_matches_by_string(s: Arc<dyn ObjectStore>) -> CheckResult {
    let base = "list_prefix_without_slash_matches_by_string";
    for k in ["data/1", "data.csv", "database/x", "other"] {
        put(&s, &format!("{base}/{k}"), b"x").await?;
    }
    let got = keys(&s, &format!("{base}/data")).await?;
    let want: Vec<String> = ["data.csv", "data/1", "database/x"].iter().map(|k| format!("{base}/{k}")).collect();
    ensure_eq!(got, want, "keys");
    Ok(Outcome::Passed)
}

/// Listing a prefix with nothing below it is an empty list, not an error.
pub async fn list_of_missing_prefix_is_empty(s: Arc<dyn ObjectStore>) -> CheckResult {
    ensure_eq!(keys(&s, "list_of_missing_prefix_is_empty/nothing/here/").await?, Vec::<String>::new(), "keys");
    Ok(Outcome::Passed)
}

/// Deleting a missing object is `Ok(false)`; deleting an existing one is `Ok(true)` and it
/// is gone; repeating is safe.
pub async fn delete_missing_is_false(s: Arc<dyn ObjectStore>) -> CheckResult {
    let key = "delete_missing_is_false/a";
    ensure_eq!(s.delete(key).await.step("delete missing")?, false, "delete of a missing key");
    put(&s, key, b"x").await?;
    ensure_eq!(s.delete(key).await.step("delete")?, true, "delete of an existing key");
    ensure_eq!(stat(&s, key).await?, None, "stat after delete");
    ensure_eq!(s.delete(key).await.step("delete again")?, false, "second delete");
    Ok(Outcome::Passed)
}

/// `delete_prefix` removes every object below the prefix (and only those), returns how many,
/// and on local disk leaves no directory behind.
pub async fn delete_prefix_removes_everything_below(s: Arc<dyn ObjectStore>) -> CheckResult {
    let base = "delete_prefix_removes_everything_below";
    for k in ["dir/a", "dir/sub/b", "dir/sub/deeper/c", "dir2/d", "dirx"] {
        put(&s, &format!("{base}/{k}"), b"x").await?;
    }
    let n = s.delete_prefix(&format!("{base}/dir/")).await.step("delete_prefix")?;
    ensure_eq!(n, 3, "objects deleted");
    ensure_eq!(keys(&s, &format!("{base}/")).await?, vec![format!("{base}/dir2/d"), format!("{base}/dirx")], "left");
    if let Some(p) = s.local_path(&format!("{base}/dir")) {
        ensure!(!p.exists(), "the emptied directory {} must be removed", p.display());
    }
    ensure_eq!(s.delete_prefix(&format!("{base}/dir/")).await.step("delete_prefix again")?, 0, "second time");
    Ok(Outcome::Passed)
}

/// Copy makes an independent object (new directories included), overwrites a target, and a
/// missing source is `NotFound`.
pub async fn copy_objects(s: Arc<dyn ObjectStore>) -> CheckResult {
    let base = "copy_objects";
    let data = pattern(200_000, 5);
    put(&s, &format!("{base}/src"), &data).await?;
    s.copy(&format!("{base}/src"), &format!("{base}/new/dir/dst")).await.step("copy")?;
    same_bytes(&read(&s, &format!("{base}/new/dir/dst")).await?, &data, "copy")?;
    same_bytes(&read(&s, &format!("{base}/src")).await?, &data, "source after copy")?;
    put(&s, &format!("{base}/other"), b"old").await?;
    s.copy(&format!("{base}/src"), &format!("{base}/other")).await.step("copy onto an existing key")?;
    same_bytes(&read(&s, &format!("{base}/other")).await?, &data, "overwritten target")?;
    s.delete(&format!("{base}/src")).await.step("delete source")?;
    ensure!(stat(&s, &format!("{base}/new/dir/dst")).await?.is_some(), "the copy must not depend on the source");
    match s.copy(&format!("{base}/missing"), &format!("{base}/x")).await {
        Err(e) => ensure_eq!(e.kind(), ErrorKind::NotFound, "copy of a missing source"),
        Ok(()) => return Err("copy of a missing source succeeded".into()),
    }
    ensure_eq!(stat(&s, &format!("{base}/x")).await?, None, "target of a failed copy");
    Ok(Outcome::Passed)
}

/// With native rename: rename moves (into new directories, over an existing key), a missing
/// source is `NotFound`. Without: `Unsupported`, and nothing changes.
pub async fn rename_per_capability(s: Arc<dyn ObjectStore>) -> CheckResult {
    let base = "rename_per_capability";
    let (from, to) = (format!("{base}/from"), format!("{base}/to/nested/key"));
    put(&s, &from, b"moving").await?;
    if !s.capabilities().native_rename {
        match s.rename(&from, &to).await {
            Err(e) => ensure_eq!(e.kind(), ErrorKind::Unsupported, "rename without native_rename"),
            Ok(()) => return Err("rename succeeded but native_rename is false".into()),
        }
        ensure_eq!(read(&s, &from).await?, b"moving".to_vec(), "source after refused rename");
        ensure_eq!(stat(&s, &to).await?, None, "target after refused rename");
        return Ok(Outcome::Passed);
    }
    s.rename(&from, &to).await.step("rename")?;
    ensure_eq!(stat(&s, &from).await?, None, "source after rename");
    ensure_eq!(read(&s, &to).await?, b"moving".to_vec(), "target after rename");
    put(&s, &from, b"second").await?;
    s.rename(&from, &to).await.step("rename onto an existing key")?;
    ensure_eq!(read(&s, &to).await?, b"second".to_vec(), "overwritten target");
    match s.rename(&format!("{base}/missing"), &format!("{base}/x")).await {
        Err(e) => ensure_eq!(e.kind(), ErrorKind::NotFound, "rename of a missing source"),
        Ok(()) => return Err("rename of a missing source succeeded".into()),
    }
    Ok(Outcome::Passed)
}

/// Overwriting: readers see the old content until the new writer closes, then the new.
pub async fn overwrite_becomes_visible_at_close(s: Arc<dyn ObjectStore>) -> CheckResult {
    let key = "overwrite_becomes_visible_at_close/k";
    put(&s, key, b"version one").await?;
    let mut w = s.writer(key).await.step("open writer")?;
    w.write(Bytes::from_static(b"version two, longer")).await.step("write")?;
    ensure_eq!(read(&s, key).await?, b"version one".to_vec(), "content before close");
    ensure_eq!(stat(&s, key).await?.map(|m| m.size), Some(11), "size before close");
    w.close().await.step("close")?;
    ensure_eq!(read(&s, key).await?, b"version two, longer".to_vec(), "content after close");
    ensure_eq!(stat(&s, key).await?.map(|m| m.size), Some(19), "size after close");
    Ok(Outcome::Passed)
}

/// A new object is invisible (stat, list) until its writer closes.
pub async fn new_object_invisible_until_close(s: Arc<dyn ObjectStore>) -> CheckResult {
    let base = "new_object_invisible_until_close";
    let key = format!("{base}/sub/new");
    let mut w = s.writer(&key).await.step("open writer")?;
    w.write(Bytes::from(pattern(100_000, 6))).await.step("write")?;
    ensure_eq!(stat(&s, &key).await?, None, "stat before close");
    ensure_eq!(keys(&s, &format!("{base}/")).await?, Vec::<String>::new(), "list before close");
    w.close().await.step("close")?;
    ensure_eq!(keys(&s, &format!("{base}/")).await?, vec![key.clone()], "list after close");
    Ok(Outcome::Passed)
}

/// An aborted writer leaves nothing: no new object, an existing one unchanged, nothing listed.
pub async fn aborted_writer_leaves_nothing(s: Arc<dyn ObjectStore>) -> CheckResult {
    let base = "aborted_writer_leaves_nothing";
    let mut w = s.writer(&format!("{base}/new")).await.step("open writer")?;
    w.write(Bytes::from(pattern(300_000, 7))).await.step("write")?;
    w.abort().await.step("abort")?;
    ensure_eq!(stat(&s, &format!("{base}/new")).await?, None, "aborted new object");
    put(&s, &format!("{base}/old"), b"kept").await?;
    let mut w = s.writer(&format!("{base}/old")).await.step("open writer")?;
    w.write(Bytes::from_static(b"discarded")).await.step("write")?;
    w.abort().await.step("abort")?;
    ensure_eq!(read(&s, &format!("{base}/old")).await?, b"kept".to_vec(), "existing object after abort");
    ensure_eq!(keys(&s, &format!("{base}/")).await?, vec![format!("{base}/old")], "list after aborts");
    if let Some(dir) = s.local_path(&format!("{base}/old")).and_then(|p| p.parent().map(|d| d.to_path_buf())) {
        let names: Vec<String> = std::fs::read_dir(&dir)
            .map_err(|e| format!("read_dir {}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        ensure_eq!(names, vec!["old".to_string()], format!("files left in {}", dir.display()));
    }
    Ok(Outcome::Passed)
}

/// A writer dropped without close or abort makes nothing visible.
pub async fn dropped_writer_leaves_nothing(s: Arc<dyn ObjectStore>) -> CheckResult {
    let base = "dropped_writer_leaves_nothing";
    let mut w = s.writer(&format!("{base}/k")).await.step("open writer")?;
    w.write(Bytes::from(pattern(10_000, 8))).await.step("write")?;
    drop(w);
    ensure_eq!(stat(&s, &format!("{base}/k")).await?, None, "stat after drop");
    ensure_eq!(keys(&s, &format!("{base}/")).await?, Vec::<String>::new(), "list after drop");
    if let Some(dir) = s.local_path(&format!("{base}/k")).and_then(|p| p.parent().map(|d| d.to_path_buf())) {
        let left = std::fs::read_dir(&dir).map(|rd| rd.count()).unwrap_or(0);
        ensure_eq!(left, 0, format!("files left in {}", dir.display()));
    }
    Ok(Outcome::Passed)
}

/// A write interrupted without close or abort (its process killed; `mem::forget` stands for
/// that here, since dropping a writer aborts it) makes nothing visible, and what it left is in
/// `leftovers` until `delete_leftover` removes it (then `false`): once, under its prefix only,
/// at a name no write accepts, with no more bytes than were written and a time around the
/// write (so `gc`'s grace period protects a write in progress). `delete_leftover` refuses an
/// object's key and leaves the object alone. A leftover is expected where an interrupted write
/// leaves one: local disk (the temporary file) and multipart stores (the upload, begun once
/// more than two parts were written); elsewhere nothing may be listed. Skipped where the store
/// declares that `leftovers` cannot find everything (`finds_leftovers`).
pub async fn interrupted_write_is_a_leftover_until_deleted(s: Arc<dyn ObjectStore>) -> CheckResult {
    let caps = s.capabilities();
    if !caps.finds_leftovers {
        return Ok(Outcome::Skipped("the store's leftovers do not include every interrupted write".into()));
    }
    let base = "interrupted_write_is_a_leftover_until_deleted";
    let (key, kept) = (format!("{base}/sub/big.bin"), format!("{base}/kept"));
    put(&s, &kept, b"kept").await?;
    let leftovers = async |prefix: &str| s.leftovers(prefix).await.step(&format!("leftovers('{prefix}')"));
    ensure_eq!(leftovers(&format!("{base}/")).await?, Vec::<ObjectMeta>::new(), "leftovers before the write");
    let expect_one = caps.multipart || s.local_path(&key).is_some();
    let len = if caps.multipart { 2 * PART_SIZE as usize + 1024 * 1024 } else { 1024 * 1024 };
    let started = chrono::Utc::now();
    let mut w = s.writer(&key).await.step("open writer")?;
    for c in pattern(len, 11).chunks(4 * 1024 * 1024 - 1) {
        w.write(Bytes::copy_from_slice(c)).await.step("write chunk")?;
    }
    std::mem::forget(w);
    ensure_eq!(stat(&s, &key).await?, None, "stat of the interrupted write's key");
    ensure_eq!(keys(&s, &format!("{base}/")).await?, vec![kept.clone()], "list after the interrupted write");
    let found = leftovers(&format!("{base}/")).await?;
    if !expect_one {
        ensure_eq!(found, Vec::<ObjectMeta>::new(), "leftovers of a store whose interrupted writes leave nothing");
        return Ok(Outcome::Passed);
    }
    let [left] = found.as_slice() else {
        return Err(format!("leftovers after one interrupted write: {found:?}, expected exactly one"));
    };
    ensure_eq!(leftovers(&format!("{base}/sub/")).await?, found.clone(), "leftovers under the write's folder");
    ensure_eq!(leftovers(&format!("{base}/other/")).await?, Vec::<ObjectMeta>::new(), "leftovers under another prefix");
    ensure!(left.size <= len as u64, "leftover {} holds {} bytes, more than the {len} written", left.key, left.size);
    let at =
        left.last_modified.ok_or_else(|| format!("leftover {} has no time: no grace period protects it", left.key))?;
    let slack = chrono::Duration::minutes(5);
    ensure!(
        at >= started - slack && at <= chrono::Utc::now() + slack,
        "leftover {} is dated {at}, the write began at {started}: a grace period would not protect it",
        left.key
    );
    match s.writer(&left.key).await {
        Ok(w) => {
            let _ = w.abort().await;
            return Err(format!("writer('{}') was accepted: a leftover's name must not be an object key", left.key));
        }
        Err(e) => ensure_eq!(e.kind(), ErrorKind::InvalidKey, format!("writer('{}')", left.key)),
    }
    match s.delete_leftover(&kept).await {
        Ok(gone) => return Err(format!("delete_leftover('{kept}') of an object answered {gone}")),
        Err(e) => ensure_eq!(e.kind(), ErrorKind::InvalidKey, format!("delete_leftover('{kept}')")),
    }
    ensure_eq!(read(&s, &kept).await?, b"kept".to_vec(), "the object after delete_leftover refused it");
    ensure_eq!(s.delete_leftover(&left.key).await.step("delete_leftover")?, true, "delete_leftover");
    ensure_eq!(leftovers(&format!("{base}/")).await?, Vec::<ObjectMeta>::new(), "leftovers after delete_leftover");
    ensure_eq!(s.delete_leftover(&left.key).await.step("delete_leftover again")?, false, "delete_leftover again");
    ensure_eq!(keys(&s, &format!("{base}/")).await?, vec![kept.clone()], "list at the end");
    s.delete(&kept).await.step("delete")?;
    Ok(Outcome::Passed)
}

/// Two writers to one key: each close replaces the object whole; the last close wins and
/// contents never mix.
pub async fn concurrent_writers_last_close_wins(s: Arc<dyn ObjectStore>) -> CheckResult {
    let key = "concurrent_writers_last_close_wins/k";
    let a = pattern(50_000, 9);
    let b = pattern(40_000, 10);
    let mut wa = s.writer(key).await.step("open writer a")?;
    let mut wb = s.writer(key).await.step("open writer b")?;
    wa.write(Bytes::copy_from_slice(&a[..25_000])).await.step("write a")?;
    wb.write(Bytes::copy_from_slice(&b[..20_000])).await.step("write b")?;
    wa.write(Bytes::copy_from_slice(&a[25_000..])).await.step("write a")?;
    wb.write(Bytes::copy_from_slice(&b[20_000..])).await.step("write b")?;
    wa.close().await.step("close a")?;
    same_bytes(&read(&s, key).await?, &a, "after the first close")?;
    wb.close().await.step("close b")?;
    same_bytes(&read(&s, key).await?, &b, "after the second close")?;
    Ok(Outcome::Passed)
}

/// Keys with spaces, accents, CJK and emoji work everywhere: put, stat, read, list, copy,
/// delete.
pub async fn keys_with_spaces_and_unicode(s: Arc<dyn ObjectStore>) -> CheckResult {
    let base = "keys_with_spaces_and_unicode";
    let names = ["with space/naïve file ü.txt", "日本語/データ.csv", "emoji 🎉.bin", "plus+and&percent%20.txt"];
    let mut want = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let key = format!("{base}/{n}");
        put(&s, &key, n.as_bytes()).await?;
        ensure_eq!(read(&s, &key).await?, n.as_bytes().to_vec(), format!("content of '{key}'"));
        ensure_eq!(stat(&s, &key).await?.map(|m| m.size), Some(n.len() as u64), format!("size of '{key}'"));
        if i == 0 {
            s.copy(&key, &format!("{base}/copie été/{n}")).await.step("copy")?;
            want.push(format!("{base}/copie été/{n}"));
        }
        want.push(key);
    }
    want.sort();
    ensure_eq!(keys(&s, &format!("{base}/")).await?, want, "list");
    for k in &want {
        ensure_eq!(s.delete(k).await.step("delete")?, true, format!("delete '{k}'"));
    }
    ensure_eq!(keys(&s, &format!("{base}/")).await?, Vec::<String>::new(), "list after delete");
    Ok(Outcome::Passed)
}

/// Keys that could escape or alias the root (`..`, empty segments, absolute) are refused with
/// `InvalidKey` or `InvalidInput`, and nothing is written.
pub async fn escaping_keys_are_refused(s: Arc<dyn ObjectStore>) -> CheckResult {
    for bad in ["../escape", "escaping_keys_are_refused/../../x", "/abs", "escaping_keys_are_refused//x", ""] {
        match s.writer(bad).await {
            Ok(w) => {
                let _ = w.abort().await;
                return Err(format!("writer('{bad}') was accepted"));
            }
            Err(e) => ensure!(
                matches!(e.kind(), ErrorKind::InvalidKey | ErrorKind::InvalidInput),
                "writer('{bad}'): kind {}, expected invalid_key or invalid_input",
                e.kind()
            ),
        }
        ensure!(s.stat(bad).await.is_err(), "stat('{bad}') must be refused too");
    }
    Ok(Outcome::Passed)
}

/// Keys a path normaliser would rewrite into another key (surrounding whitespace, `.` segments,
/// control characters) are refused with `InvalidKey` by every call, so `a/y` and `a/y ` can
/// never share an object: the valid neighbour keeps its bytes and nothing else is written.
pub async fn aliasing_keys_are_refused_on_every_call(s: Arc<dyn ObjectStore>) -> CheckResult {
    let base = "aliasing_keys_are_refused_on_every_call";
    let good = format!("{base}/y");
    put(&s, &good, b"good").await?;
    let bad_keys = [
        format!("{base}/y "),
        format!(" {base}/y"),
        format!("{base}/\u{3000}y"),
        format!("{base}/./y"),
        format!("{base}/y\t"),
        format!("{base}/{}", "n".repeat(256)),
    ];
    for bad in &bad_keys {
        let refused = |what: &str, r: Result<(), trove_domain::Error>| match r {
            Ok(()) => Err(format!("{what}({bad:?}) was accepted")),
            Err(e) if e.kind() == ErrorKind::InvalidKey => Ok(()),
            Err(e) => Err(format!("{what}({bad:?}): kind {}, expected invalid_key", e.kind())),
        };
        refused("writer", s.writer(bad).await.map(|_| ()))?;
        refused("put", s.put(bad, Bytes::from_static(b"bad")).await.map(|_| ()))?;
        refused("reader", s.reader(bad, None).await.map(|_| ()))?;
        refused("stat", s.stat(bad).await.map(|_| ()))?;
        refused("delete", s.delete(bad).await.map(|_| ()))?;
        refused("copy to", s.copy(&good, bad).await)?;
        refused("copy from", s.copy(bad, &format!("{base}/z")).await)?;
        refused("list", s.list(&format!("{bad}/")).await.map(|_| ()))?;
        refused("delete_prefix", s.delete_prefix(&format!("{bad}/")).await.map(|_| ()))?;
    }
    ensure_eq!(keys(&s, &format!("{base}/")).await?, vec![good.clone()], "only the valid key was written");
    ensure_eq!(s.read_all(&good).await.map_err(|e| e.to_string())?.to_vec(), b"good".to_vec(), "its bytes");
    s.delete(&good).await.map_err(|e| e.to_string())?;
    Ok(Outcome::Passed)
}

/// `display_path` ends with the key; a `local_path`, where there is one, is absolute, is what
/// `display_path` shows, and holds the bytes.
pub async fn paths_name_the_key(s: Arc<dyn ObjectStore>) -> CheckResult {
    let key = "paths_name_the_key/a b/c.txt";
    put(&s, key, b"here").await?;
    let shown = s.display_path(key);
    ensure!(shown.ends_with(key), "display_path '{shown}' must end with the key");
    if let Some(p) = s.local_path(key) {
        ensure!(p.is_absolute(), "local_path {} must be absolute", p.display());
        ensure_eq!(shown, p.display().to_string(), "display_path of a local store");
        let on_disk = std::fs::read(&p).map_err(|e| format!("read {}: {e}", p.display()))?;
        ensure_eq!(on_disk, b"here".to_vec(), "bytes at local_path");
    } else {
        ensure!(shown.contains("://"), "display_path '{shown}' of a non-local store must be a URL");
    }
    Ok(Outcome::Passed)
}
