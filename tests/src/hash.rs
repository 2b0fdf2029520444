//! Trove's content hash (spec 2 section 4; `shared/spec/gen_hash_vectors.py`), written again
//! here on purpose: the tests check Trove's hashes, so they must not reuse Trove's hasher.
//!
//! * a file of at most 50 MiB: `b64(md5(content))`, type `md5`;
//! * a larger file: `b64(md5(md5(part_1) || ... || md5(part_k)))` over 50 MiB parts, `md5-k`;
//! * a folder: `b64(md5(concat(path || 0x00 || file_hash || 0x0A)))` over its files sorted by
//!   relative path bytes, type `md5-tree`.
//!
//! `b64` is URL-safe base64 without padding.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use md5::{Digest, Md5};

/// 50 MiB.
pub const PART: u64 = 50 * 1024 * 1024;

/// A content hash as Trove records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashed {
    /// 22 characters of URL-safe base64.
    pub hash: String,
    /// `md5`, `md5-<parts>` or `md5-tree`.
    pub hash_type: String,
    /// Bytes hashed (a folder: the sum over its files).
    pub size: u64,
    /// A folder's file count.
    pub n_files: Option<u64>,
}

/// Streaming hash of one file's bytes.
#[derive(Default)]
pub struct FileHasher {
    part: Md5,
    in_part: u64,
    digests: Vec<u8>,
    size: u64,
}

impl FileHasher {
    /// Feed the next chunk.
    pub fn update(&mut self, mut data: &[u8]) {
        self.size += data.len() as u64;
        while !data.is_empty() {
            if self.in_part == PART {
                self.digests.extend_from_slice(&std::mem::take(&mut self.part).finalize());
                self.in_part = 0;
            }
            let take = ((PART - self.in_part) as usize).min(data.len());
            self.part.update(&data[..take]);
            self.in_part += take as u64;
            data = &data[take..];
        }
    }

    /// The hash of everything fed.
    pub fn finish(mut self) -> Hashed {
        if self.digests.is_empty() {
            let hash = URL_SAFE_NO_PAD.encode(self.part.finalize());
            return Hashed { hash, hash_type: "md5".into(), size: self.size, n_files: None };
        }
        self.digests.extend_from_slice(&self.part.finalize());
        let parts = self.digests.len() / 16;
        let hash = URL_SAFE_NO_PAD.encode(Md5::digest(&self.digests));
        Hashed { hash, hash_type: format!("md5-{parts}"), size: self.size, n_files: None }
    }
}

/// The hash of `data`.
pub fn of_bytes(data: &[u8]) -> Hashed {
    let mut h = FileHasher::default();
    h.update(data);
    h.finish()
}

/// The tree hash of a folder, given each file's relative `/`-separated path and hash.
pub fn of_tree(mut files: Vec<(String, Hashed)>) -> Hashed {
    files.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut md5 = Md5::new();
    for (path, h) in &files {
        md5.update(path.as_bytes());
        md5.update([0u8]);
        md5.update(h.hash.as_bytes());
        md5.update(b"\n");
    }
    Hashed {
        hash: URL_SAFE_NO_PAD.encode(md5.finalize()),
        hash_type: "md5-tree".into(),
        size: files.iter().map(|(_, h)| h.size).sum(),
        n_files: Some(files.len() as u64),
    }
}

/// The hash of a local file or folder.
pub fn of_path(path: &std::path::Path) -> std::io::Result<Hashed> {
    if path.is_dir() {
        let mut files = Vec::new();
        for rel in crate::raw::walk(path)? {
            files.push((rel.clone(), of_file(&path.join(&rel))?));
        }
        return Ok(of_tree(files));
    }
    of_file(path)
}

fn of_file(path: &std::path::Path) -> std::io::Result<Hashed> {
    use std::io::Read as _;
    let mut f = std::fs::File::open(path)?;
    let mut h = FileHasher::default();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(h.finish());
        }
        h.update(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec's generator: `pattern(n, seed, mul)[i] = (i * mul + seed) % 251`.
    fn pattern(n: usize, seed: usize, mul: usize) -> Vec<u8> {
        let period: Vec<u8> = (0..251).map(|i| ((i * mul + seed) % 251) as u8).collect();
        let mut out = period.repeat(n / 251);
        out.extend_from_slice(&period[..n % 251]);
        out
    }

    /// Vectors from `shared/spec/hash_vectors.json` (as copied into trove-domain's tests).
    #[test]
    fn matches_the_spec_vectors() {
        let doc: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../crates/trove-domain/tests/data/hash_vectors.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let n = |v: &serde_json::Value| v.as_u64().unwrap() as usize;
        let mut checked = 0;
        for f in doc["files"].as_array().unwrap() {
            let got = of_bytes(&pattern(n(&f["n"]), n(&f["seed"]), n(&f["mul"])));
            assert_eq!(
                (got.hash.as_str(), got.hash_type.as_str()),
                (f["hash"].as_str().unwrap(), f["hash_type"].as_str().unwrap()),
                "{}",
                f["name"]
            );
            checked += 1;
        }
        for d in doc["folders"].as_array().unwrap() {
            let files = d["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    (
                        f["path"].as_str().unwrap().to_owned(),
                        of_bytes(&pattern(n(&f["n"]), n(&f["seed"]), n(&f["mul"]))),
                    )
                })
                .collect();
            let got = of_tree(files);
            assert_eq!(got.hash, d["hash"].as_str().unwrap(), "{}", d["name"]);
            assert_eq!(got.n_files, d["n_files"].as_u64());
            checked += 1;
        }
        assert!(checked >= 10, "the vectors file was read");
    }
}
