//! The byte path (issue 11): saves hash every byte in the same pass as the copy, the 50 MiB
//! parts in parallel, and downloads into the cache are ranged and concurrent. Files around the
//! part boundaries (0, 1, 50 MiB - 1, 50 MiB, 50 MiB + 1 bytes, and three parts) are saved on
//! local disk, S3 and GCS; the recorded hash and size must be those of the streaming hasher of
//! spec 2, the stored bytes must be the source's, a cold `cache()` must download them whole,
//! and every record must own matching bytes (`trove_testkit::invariants`). Progress observers
//! see every byte. No timing here: speed is `cargo xtask bench` (W5, W6).

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::{Pairs, instances};
use trove::domain::hash::{PART_SIZE, hash_bytes};
use trove::{HashType, ProgressObserver, SaveOptions, TransferKind};

/// Deterministic bytes, distinct per `seed`.
fn pattern(n: usize, seed: u64) -> Vec<u8> {
    let mut v: Vec<u8> = (0..n).map(|i| ((i as u64 + seed) % 251) as u8).collect();
    if n >= 8 {
        v[..8].copy_from_slice(&seed.to_le_bytes());
    }
    v
}

fn sizes() -> Vec<usize> {
    let p = PART_SIZE as usize;
    vec![0, 1, p - 1, p, p + 1, 2 * p + 12_345]
}

#[derive(Default)]
struct Counted {
    started: Mutex<Vec<(TransferKind, u64)>>,
    bytes: AtomicU64,
    finished: AtomicU64,
}

impl ProgressObserver for Counted {
    fn started(&self, kind: TransferKind, _name: &str, total: u64) {
        self.started.lock().unwrap().push((kind, total));
    }
    fn advanced(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
    fn finished(&self) {
        self.finished.fetch_add(1, Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_around_part_boundaries_keep_their_bytes_and_hash_on_every_backend() {
    for inst in instances(Pairs::S3AndGcs).await {
        let name = inst.name;
        let inputs = tempfile::tempdir().unwrap();
        let counted = Arc::new(Counted::default());
        let trove = inst.trove.with_progress(counted.clone());
        for (i, n) in sizes().into_iter().enumerate() {
            let data = pattern(n, i as u64 + 1);
            let want = hash_bytes(&data);
            let path = inputs.path().join(format!("f{i}.bin"));
            std::fs::write(&path, &data).unwrap();
            let before = counted.bytes.load(Ordering::Relaxed);

            let a = trove.save(path.as_path(), SaveOptions::key(format!("bp/f{i}.bin"))).await.unwrap().into_artifact();
            assert_eq!((a.hash.as_str(), a.size), (want.hash.as_str(), n as u64), "{name}: size {n}");
            let parts = (n as u64).div_ceil(PART_SIZE);
            let want_type = if parts <= 1 { HashType::Md5 } else { HashType::Md5Parts(parts as u32) };
            assert_eq!(a.hash_type, want_type, "{name}: size {n}");
            assert_eq!(counted.bytes.load(Ordering::Relaxed) - before, n as u64, "{name}: every byte reported");
            let stored = inst.store.read_all(&a.storage_key()).await.unwrap();
            assert!(stored == data, "{name}: size {n}: the stored bytes are the source's");
            drop(stored);

            // Cloud: a cold cache downloads the object whole (ranged, concurrent requests).
            if inst.store.local_path("").is_none() {
                let seeded = trove.cache(&a).await.unwrap();
                std::fs::remove_file(&seeded).unwrap();
                let downloads = counted.started.lock().unwrap().len();
                let cached = trove.cache_verify(&a).await.unwrap();
                assert_eq!(cached, seeded);
                assert!(std::fs::read(&cached).unwrap() == data, "{name}: size {n}: the cached bytes are the source's");
                let started = counted.started.lock().unwrap();
                assert_eq!(started.len(), downloads + 1, "{name}: one download");
                assert_eq!(started.last().unwrap(), &(TransferKind::Download, n as u64));
            }
        }
        let started = counted.started.lock().unwrap().len() as u64;
        assert_eq!(counted.finished.load(Ordering::Relaxed), started, "{name}: every transfer finished");
        inst.check().await;
    }
}

/// A folder whose files straddle the part size is copied file by file with the same rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folders_with_multi_part_files_keep_their_bytes() {
    for inst in instances(Pairs::S3).await {
        let dir = tempfile::tempdir().unwrap();
        let p = PART_SIZE as usize;
        let files = [("a.bin", pattern(p + 1, 7)), ("sub/b.bin", pattern(3, 8)), ("sub/c.bin", pattern(0, 9))];
        for (rel, data) in &files {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, data).unwrap();
        }
        let a = inst.trove.save(dir.path(), SaveOptions::key("bp/folder")).await.unwrap().into_artifact();
        assert_eq!(a.n_files, Some(3), "{}", inst.name);
        assert_eq!(a.size, (p + 4) as u64);
        for (rel, data) in &files {
            let stored = inst.store.read_all(&format!("{}/{rel}", a.storage_key())).await.unwrap();
            assert!(stored == data.as_slice(), "{}: {rel}", inst.name);
        }
        inst.check().await;
    }
}
