//! Reproduce every vector of the spec's `hash_vectors.json` (copied into tests/data; the
//! inputs are regenerated from (n, seed, mul), nothing large is shipped).

use serde_json::Value;
use trove_domain::hash::{FolderEntry, folder_hash, hash_bytes};
use trove_domain::{ContentHasher, HashType};
use trove_testkit::strategies::pattern_period;

fn vectors() -> Value {
    serde_json::from_str(include_str!("data/hash_vectors.json")).unwrap()
}

/// Hash pattern(n, seed, mul) streaming, in 1 MiB chunks, never holding it whole.
fn hash_pattern(n: u64, seed: u64, mul: u64) -> trove_domain::ContentHash {
    let period = pattern_period(seed, mul);
    let block: Vec<u8> = period.iter().copied().cycle().take(251 * 4096).collect();
    let mut h = ContentHasher::new();
    let mut left = n;
    while left > 0 {
        let take = left.min(block.len() as u64) as usize;
        h.update(&block[..take]);
        left -= take as u64;
    }
    h.finish()
}

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap()
}

#[test]
fn file_vectors() {
    let doc = vectors();
    let files = doc["files"].as_array().unwrap();
    assert!(files.len() >= 11);
    for f in files {
        let got = hash_pattern(u(f, "n"), u(f, "seed"), u(f, "mul"));
        assert_eq!(got.hash, f["hash"].as_str().unwrap(), "{}", f["name"]);
        assert_eq!(got.hash_type, HashType::parse(f["hash_type"].as_str().unwrap()).unwrap(), "{}", f["name"]);
        assert_eq!(got.size, u(f, "size"));
    }
}

#[test]
fn folder_vectors() {
    let doc = vectors();
    for folder in doc["folders"].as_array().unwrap() {
        let entries: Vec<FolderEntry> = folder["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let c = hash_pattern(u(f, "n"), u(f, "seed"), u(f, "mul"));
                FolderEntry { path: f["path"].as_str().unwrap().to_owned(), hash: c.hash, size: c.size }
            })
            .collect();
        let got = folder_hash(&entries);
        assert_eq!(got.hash, folder["hash"].as_str().unwrap(), "{}", folder["name"]);
        assert_eq!(got.hash_type, HashType::Md5Tree);
        assert_eq!(got.size, u(folder, "size"));
        assert_eq!(entries.len() as u64, u(folder, "n_files"));
    }
}

#[test]
fn string_vectors() {
    let doc = vectors();
    for (s, want) in doc["strings"].as_object().unwrap() {
        assert_eq!(hash_bytes(s.as_bytes()).hash, want.as_str().unwrap());
    }
}
