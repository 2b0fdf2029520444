//! Moving and hashing bytes fast: every byte is hashed (spec 2, section 4: `md5` up to 50 MiB,
//! `md5-<parts>` over 50 MiB parts above), the parts in parallel on all cores, in the same pass
//! as the copy, in bounded memory.
//!
//! * [`copy_parallel`]: local file to local file (or to nothing, to hash only). Each worker
//!   thread takes whole 50 MiB parts in turn and reads, hashes and writes them with positional
//!   I/O, so the parts of one file proceed side by side; a syncer thread flushes finished parts
//!   to disk meanwhile, so the final `fsync` has little left to do. Memory: one chunk buffer
//!   per worker.
//! * [`PartHashers`]: for sequential streams (uploads): chunks are handed to one hashing task
//!   per part, at most one part per core at a time, while the stream goes on to the writer.
//! * [`hash_parallel`]: a buffer already in memory.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use bytes::Bytes;
use trove_domain::hash::{PART_SIZE, combine_part_digests, decode_hash, md5_digest};
use trove_domain::{ContentHash, ContentHasher, Error, Result};

use crate::progress::Transfer;

/// Read size of the copy workers: small enough to stay in the CPU cache between the read, the
/// hash and the write.
const CHUNK: usize = 1024 * 1024;

/// Worker threads for hashing: one per core.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The number of 50 MiB parts of `size` bytes (an empty file is one empty part).
fn parts_of(size: u64) -> u64 {
    size.div_ceil(PART_SIZE).max(1)
}

/// The MD5 digest of one part fed to a [`ContentHasher`] (never more than one part).
fn part_digest(h: ContentHasher) -> [u8; 16] {
    decode_hash(&h.finish().hash).expect("a hasher's own hash decodes")
}

/// What went wrong in [`copy_parallel`]: reading the source or writing the destination.
#[derive(Debug)]
pub(crate) enum CopyError {
    /// Reading the source failed.
    Read(io::Error),
    /// Writing the destination failed.
    Write(io::Error),
}

/// What [`copy_parallel`] did: the hash of the first `size` bytes, and how many bytes the
/// source had (fewer than `size` if it shrank meanwhile, more if it had bytes beyond `size`;
/// the caller compares).
#[derive(Debug)]
pub(crate) struct Copied {
    pub(crate) content: ContentHash,
    pub(crate) read: u64,
}

/// Whether [`copy_parallel`] flushes finished parts of its destination to disk as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flush {
    /// The destination will be synced when it is closed (a save): start the writeback early.
    AsPartsFinish,
    /// The destination need not be durable (a cache copy): leave writeback to the kernel.
    Never,
}

/// Read the first `size` bytes of `src`, hash them and (with `dst`) write them at the same
/// offsets of `dst`, parts in parallel (see the module docs). Blocking: call it from
/// `spawn_blocking`. With [`Flush::AsPartsFinish`], `dst` is synced as parts finish but not at
/// the end: the caller's close does the final `fsync`.
pub(crate) fn copy_parallel(
    src: &File,
    dst: Option<&File>,
    size: u64,
    flush: Flush,
    transfer: &Transfer,
) -> std::result::Result<Copied, CopyError> {
    let parts = parts_of(size);
    let workers = cores().min(parts as usize).max(1);
    let next = AtomicU64::new(0);
    let read = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let digests = Mutex::new(vec![[0u8; 16]; parts as usize]);
    let first_error: Mutex<Option<CopyError>> = Mutex::new(None);
    let (done_tx, done_rx) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        if let Some(dst) = dst.filter(|_| parts > 1 && flush == Flush::AsPartsFinish) {
            // Flush finished parts while later ones are still read and hashed; errors show up
            // again at the final fsync, which is the one that counts.
            scope.spawn(move || {
                while done_rx.recv().is_ok() {
                    while done_rx.try_recv().is_ok() {}
                    let _ = dst.sync_data();
                }
            });
        } else {
            drop(done_rx);
        }
        for _ in 0..workers {
            let done_tx = done_tx.clone();
            let (next, read, failed, digests, first_error) = (&next, &read, &failed, &digests, &first_error);
            scope.spawn(move || {
                let mut buf = vec![0u8; CHUNK];
                loop {
                    let p = next.fetch_add(1, Ordering::Relaxed);
                    if p >= parts || failed.load(Ordering::Relaxed) {
                        return;
                    }
                    match copy_part(src, dst, p, size, &mut buf, transfer) {
                        Ok((digest, n)) => {
                            digests.lock().unwrap_or_else(|e| e.into_inner())[p as usize] = digest;
                            read.fetch_add(n, Ordering::Relaxed);
                            let _ = done_tx.send(());
                        }
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            first_error.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
                            return;
                        }
                    }
                }
            });
        }
        drop(done_tx);
    });
    if let Some(e) = first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let digests = digests.into_inner().unwrap_or_else(|e| e.into_inner());
    // A file with more bytes than its size said (it grew, or it is a procfs file whose size
    // is 0) counts the extra byte as read, so the caller sees the mismatch.
    let mut probe = [0u8; 1];
    let beyond = loop {
        match src.read_at(&mut probe, size) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
            Ok(n) => break n as u64,
        }
    };
    Ok(Copied { content: combine_part_digests(&digests, size), read: read.into_inner() + beyond })
}

/// One part: read, hash, write; stops early (returning fewer bytes) if the source ends.
fn copy_part(
    src: &File,
    dst: Option<&File>,
    part: u64,
    size: u64,
    buf: &mut [u8],
    transfer: &Transfer,
) -> std::result::Result<([u8; 16], u64), CopyError> {
    let start = part * PART_SIZE;
    let end = (start + PART_SIZE).min(size);
    let mut hasher = ContentHasher::new();
    let mut off = start;
    while off < end {
        let want = (end - off).min(buf.len() as u64) as usize;
        let n = match src.read_at(&mut buf[..want], off) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        hasher.update(&buf[..n]);
        if let Some(dst) = dst {
            dst.write_all_at(&buf[..n], off).map_err(CopyError::Write)?;
        }
        off += n as u64;
        transfer.add(n as u64);
    }
    Ok((part_digest(hasher), off - start))
}

/// Hash a buffer in memory, its 50 MiB parts in parallel.
pub(crate) fn hash_parallel(data: &[u8]) -> ContentHash {
    let parts: Vec<&[u8]> = if data.is_empty() { vec![data] } else { data.chunks(PART_SIZE as usize).collect() };
    if parts.len() == 1 {
        return combine_part_digests(&[md5_digest(parts[0])], data.len() as u64);
    }
    let next = AtomicU64::new(0);
    let digests = Mutex::new(vec![[0u8; 16]; parts.len()]);
    std::thread::scope(|scope| {
        for _ in 0..cores().min(parts.len()) {
            let (next, digests, parts) = (&next, &digests, &parts);
            scope.spawn(move || {
                loop {
                    let p = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(part) = parts.get(p) else { return };
                    let d = md5_digest(part);
                    digests.lock().unwrap_or_else(|e| e.into_inner())[p] = d;
                }
            });
        }
    });
    combine_part_digests(&digests.into_inner().unwrap_or_else(|e| e.into_inner()), data.len() as u64)
}

/// Hashes a stream of chunks, each 50 MiB part on a blocking task of its own, at most one
/// part per core at a time (so memory holds at most that many parts' pending chunks).
pub(crate) struct PartHashers {
    permits: Arc<tokio::sync::Semaphore>,
    current: Option<mpsc::Sender<Bytes>>,
    in_part: u64,
    size: u64,
    tasks: Vec<tokio::task::JoinHandle<[u8; 16]>>,
}

impl PartHashers {
    pub(crate) fn new() -> PartHashers {
        PartHashers {
            permits: Arc::new(tokio::sync::Semaphore::new(cores())),
            current: None,
            in_part: 0,
            size: 0,
            tasks: Vec::new(),
        }
    }

    /// Feed the next chunk (shared, not copied).
    pub(crate) async fn update(&mut self, mut chunk: Bytes) {
        self.size += chunk.len() as u64;
        while !chunk.is_empty() {
            if self.current.is_none() || self.in_part == PART_SIZE {
                self.start_part().await;
            }
            let take = ((PART_SIZE - self.in_part) as usize).min(chunk.len());
            let piece = chunk.split_to(take);
            self.in_part += take as u64;
            if let Some(tx) = &self.current {
                // The task only ends when the sender is dropped.
                let _ = tx.send(piece);
            }
        }
    }

    async fn start_part(&mut self) {
        self.current = None;
        // The semaphore is never closed.
        let permit = self.permits.clone().acquire_owned().await.expect("semaphore open");
        let (tx, rx) = mpsc::channel::<Bytes>();
        self.tasks.push(tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut h = ContentHasher::new();
            while let Ok(piece) = rx.recv() {
                h.update(&piece);
            }
            part_digest(h)
        }));
        self.current = Some(tx);
        self.in_part = 0;
    }

    /// The hash of everything fed.
    pub(crate) async fn finish(mut self) -> Result<ContentHash> {
        if self.tasks.is_empty() {
            self.start_part().await;
        }
        self.current = None;
        let mut digests = Vec::with_capacity(self.tasks.len());
        for t in self.tasks {
            digests.push(t.await.map_err(|e| Error::storage(format!("hashing failed: {e}")))?);
        }
        Ok(combine_part_digests(&digests, self.size))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use trove_domain::hash::hash_bytes;

    use super::*;

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 251) as u8).collect()
    }

    /// Sizes around the part boundary, where the parallel paths split work.
    fn sizes() -> Vec<usize> {
        let p = PART_SIZE as usize;
        vec![0, 1, p - 1, p, p + 1, 2 * p + 3]
    }

    #[test]
    fn parallel_copies_and_hashes_agree_with_the_streaming_hasher() {
        let dir = tempfile::tempdir().unwrap();
        for n in sizes() {
            let data = pattern(n);
            let want = hash_bytes(&data);
            let src_path = dir.path().join("src");
            std::fs::File::create(&src_path).unwrap().write_all(&data).unwrap();
            let src = File::open(&src_path).unwrap();
            let dst_path = dir.path().join("dst");
            let dst = File::create(&dst_path).unwrap();
            let copied = copy_parallel(&src, Some(&dst), n as u64, Flush::AsPartsFinish, &Transfer::none()).unwrap();
            assert_eq!(copied.content, want, "size {n}");
            assert_eq!(copied.read, n as u64);
            drop(dst);
            assert!(std::fs::read(&dst_path).unwrap() == data, "size {n}: the copy holds the same bytes");
            let hashed = copy_parallel(&src, None, n as u64, Flush::Never, &Transfer::none()).unwrap();
            assert_eq!(hashed.content, want);
            assert_eq!(hash_parallel(&data), want, "size {n}");
        }
    }

    #[test]
    fn a_source_shorter_or_longer_than_announced_shows_in_the_count() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("src");
        std::fs::write(&p, b"abc").unwrap();
        let copied = copy_parallel(&File::open(&p).unwrap(), None, 10, Flush::Never, &Transfer::none()).unwrap();
        assert_eq!(copied.read, 3);
        let copied = copy_parallel(&File::open(&p).unwrap(), None, 2, Flush::Never, &Transfer::none()).unwrap();
        assert!(copied.read > 2, "bytes beyond the announced size are noticed");
        // procfs: size 0, content nonetheless.
        let proc = File::open("/proc/self/status").unwrap();
        assert!(copy_parallel(&proc, None, 0, Flush::Never, &Transfer::none()).unwrap().read > 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn part_hashers_agree_with_the_streaming_hasher_whatever_the_chunking() {
        for n in sizes() {
            let data = Bytes::from(pattern(n));
            let mut h = PartHashers::new();
            // Odd chunk sizes, so chunks straddle part boundaries.
            for c in data.chunks(7 * 1024 * 1024 + 13) {
                h.update(data.slice_ref(c)).await;
            }
            assert_eq!(h.finish().await.unwrap(), hash_bytes(&data), "size {n}");
        }
    }
}
