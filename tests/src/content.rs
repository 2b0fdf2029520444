//! Distinct, reproducible test content, written fast enough for hundreds of MiB in a debug
//! build: a random 1 MiB block per seed, each MiB stamped with the seed and its index, so two
//! seeds never give the same bytes (nor the same 50 MiB part).

use std::io::Write as _;
use std::path::Path;

use rand::{Rng as _, RngCore as _, SeedableRng as _};

use crate::hash::{self, FileHasher, Hashed};

const BLOCK: usize = 1 << 20;

fn block(seed: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len.max(16)];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut b);
    b
}

/// Write `size` bytes made from `seed` to `path` (replacing it), returning their hash.
pub fn write_file(path: &Path, seed: u64, size: u64) -> Hashed {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("creating the input's folder");
    }
    let mut base = block(seed, (size as usize).min(BLOCK));
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("creating an input file"));
    let mut h = FileHasher::default();
    let mut left = size;
    let mut index = 0u64;
    while left > 0 {
        base[..8].copy_from_slice(&seed.to_le_bytes());
        base[8..16].copy_from_slice(&index.to_le_bytes());
        let n = left.min(BLOCK as u64) as usize;
        f.write_all(&base[..n]).expect("writing an input file");
        h.update(&base[..n]);
        left -= n as u64;
        index += 1;
    }
    f.flush().expect("writing an input file");
    h.finish()
}

/// Write a folder of `files` files (sizes up to `max_file` bytes, some empty, some nested)
/// made from `seed` to `dir` (replacing it), returning its tree hash.
pub fn write_folder(dir: &Path, seed: u64, files: usize, max_file: u64) -> Hashed {
    let _ = std::fs::remove_dir_all(dir);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for i in 0..files {
        let rel = match i % 3 {
            0 => format!("f{i:04}.bin"),
            1 => format!("sub{}/f{i:04}.csv", i % 7),
            _ => format!("sub{}/deep/f{i:04}.txt", i % 5),
        };
        let size = if i % 17 == 5 { 0 } else { rng.random_range(1..=max_file) };
        write_file(&dir.join(rel), seed.wrapping_mul(1_000_003).wrapping_add(i as u64), size);
    }
    hash::of_path(dir).expect("hashing the input folder")
}
