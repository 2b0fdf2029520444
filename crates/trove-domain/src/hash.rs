//! Content hashing (spec 2, section 4).
//!
//! * a file up to [`PART_SIZE`] bytes: MD5 of the content, `hash_type = "md5"`;
//! * a larger file: MD5 over the concatenated MD5 digests of its 50 MiB parts,
//!   `hash_type = "md5-<parts>"` (the S3 ETag of a multipart upload with 50 MiB parts);
//! * a folder: MD5 over `relative_path \0 file_hash \n` for files sorted by path bytes,
//!   `hash_type = "md5-tree"`.
//!
//! Hashes are 22 characters of URL-safe base64 without padding. [`ContentHasher`] is streaming:
//! feed it chunks of any size, in bounded memory.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Part size for multipart hashing and uploads: 50 MiB.
pub const PART_SIZE: u64 = 50 * 1024 * 1024;

/// How a hash was computed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum HashType {
    /// MD5 of the whole content (files up to 50 MiB).
    Md5,
    /// MD5 of the parts' MD5 digests; the number of 50 MiB parts.
    Md5Parts(u32),
    /// A folder's tree hash.
    Md5Tree,
}

impl HashType {
    /// Parse the stored form (`md5`, `md5-3`, `md5-tree`).
    pub fn parse(s: &str) -> Result<HashType> {
        match s {
            "md5" => Ok(HashType::Md5),
            "md5-tree" => Ok(HashType::Md5Tree),
            _ => s
                .strip_prefix("md5-")
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| *n >= 2)
                .map(HashType::Md5Parts)
                .ok_or_else(|| {
                    Error::invalid_input(format!("unknown hash type '{s}': expected md5, md5-<parts> or md5-tree"))
                }),
        }
    }
}

impl fmt::Display for HashType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HashType::Md5 => f.write_str("md5"),
            HashType::Md5Parts(n) => write!(f, "md5-{n}"),
            HashType::Md5Tree => f.write_str("md5-tree"),
        }
    }
}

impl TryFrom<String> for HashType {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        HashType::parse(&s)
    }
}

impl From<HashType> for String {
    fn from(h: HashType) -> String {
        h.to_string()
    }
}

/// URL-safe base64 without padding, as hashes are written.
pub fn b64(digest: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest)
}

/// Decode a 22-character hash back into its 16-byte digest.
pub fn decode_hash(hash: &str) -> Result<[u8; 16]> {
    let bytes = URL_SAFE_NO_PAD
        .decode(hash)
        .map_err(|_| Error::invalid_input(format!("'{hash}' is not a URL-safe base64 hash")))?;
    bytes.try_into().map_err(|_| Error::invalid_input(format!("'{hash}' does not decode to 16 bytes")))
}

/// The result of hashing content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentHash {
    /// 22 characters of URL-safe base64.
    pub hash: String,
    /// How it was computed.
    pub hash_type: HashType,
    /// Bytes hashed.
    pub size: u64,
}

/// Streaming content hasher for one file. Memory use is constant whatever the content size.
#[derive(Clone)]
pub struct ContentHasher {
    part_size: u64,
    part: Md5,
    in_part: u64,
    part_digests: Vec<u8>,
    size: u64,
}

impl Default for ContentHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl ContentHasher {
    /// A hasher with nothing fed yet.
    pub fn new() -> Self {
        Self::with_part_size(PART_SIZE)
    }

    /// A hasher with another part size (Trove always uses [`PART_SIZE`]; other sizes match S3
    /// ETags of uploads with other part sizes, and let tests cross part boundaries cheaply).
    pub fn with_part_size(part_size: u64) -> Self {
        assert!(part_size > 0, "part size must be positive");
        ContentHasher { part_size, part: Md5::new(), in_part: 0, part_digests: Vec::new(), size: 0 }
    }

    /// Feed the next chunk.
    pub fn update(&mut self, mut data: &[u8]) {
        self.size += data.len() as u64;
        while !data.is_empty() {
            if self.in_part == self.part_size {
                let digest = std::mem::take(&mut self.part).finalize();
                self.part_digests.extend_from_slice(&digest);
                self.in_part = 0;
            }
            let room = (self.part_size - self.in_part) as usize;
            let take = room.min(data.len());
            self.part.update(&data[..take]);
            self.in_part += take as u64;
            data = &data[take..];
        }
    }

    /// Bytes fed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Finish: the hash, its type and the size.
    pub fn finish(self) -> ContentHash {
        let last = self.part.finalize();
        if self.part_digests.is_empty() {
            return ContentHash { hash: b64(&last), hash_type: HashType::Md5, size: self.size };
        }
        let mut cat = self.part_digests;
        cat.extend_from_slice(&last);
        let parts = (cat.len() / 16) as u32;
        ContentHash { hash: b64(&Md5::digest(&cat)), hash_type: HashType::Md5Parts(parts), size: self.size }
    }
}

/// Hash a whole in-memory buffer.
pub fn hash_bytes(data: &[u8]) -> ContentHash {
    let mut h = ContentHasher::new();
    h.update(data);
    h.finish()
}

/// Combine the MD5 digests of consecutive 50 MiB parts (hashed separately, e.g. in parallel)
/// into the file's hash. `size` is the total content size.
pub fn combine_part_digests(digests: &[[u8; 16]], size: u64) -> ContentHash {
    if digests.len() <= 1 {
        let d = digests.first().copied().unwrap_or_else(|| Md5::digest(b"").into());
        return ContentHash { hash: b64(&d), hash_type: HashType::Md5, size };
    }
    let cat: Vec<u8> = digests.iter().flatten().copied().collect();
    ContentHash { hash: b64(&Md5::digest(&cat)), hash_type: HashType::Md5Parts(digests.len() as u32), size }
}

/// The MD5 digest of one part (for callers that hash parts in parallel).
pub fn md5_digest(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

/// One file of a folder, for [`folder_hash`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderEntry {
    /// Path relative to the folder, `/`-separated.
    pub path: String,
    /// The file's own hash.
    pub hash: String,
    /// The file's size.
    pub size: u64,
}

/// The hash of a folder: includes file names, so renaming a file changes it.
pub fn folder_hash(entries: &[FolderEntry]) -> ContentHash {
    let mut sorted: Vec<&FolderEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    let mut h = Md5::new();
    for e in &sorted {
        h.update(e.path.as_bytes());
        h.update([0u8]);
        h.update(e.hash.as_bytes());
        h.update([b'\n']);
    }
    ContentHash { hash: b64(&h.finalize()), hash_type: HashType::Md5Tree, size: sorted.iter().map(|e| e.size).sum() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_strings() {
        assert_eq!(hash_bytes(b"a").hash, "DMF1ucDxtqgxw5niaXcmYQ");
        assert_eq!(hash_bytes(b"b").hash, "kutf_uauL-w61xx3dTFXjw");
        assert_eq!(hash_bytes(b"abc").hash, "kAFQmDzST7DWlj99KOF_cg");
        assert_eq!(hash_bytes(b"").hash, "1B2M2Y8AsgTpgAmY7PhCfg");
    }

    #[test]
    fn hash_types_round_trip() {
        for t in [HashType::Md5, HashType::Md5Parts(3), HashType::Md5Tree] {
            assert_eq!(HashType::parse(&t.to_string()).unwrap(), t);
        }
        assert!(HashType::parse("sha1-fl").is_err());
        assert!(HashType::parse("md5-1").is_err());
    }

    #[test]
    fn decode_round_trip() {
        let h = hash_bytes(b"abc");
        assert_eq!(b64(&decode_hash(&h.hash).unwrap()), h.hash);
    }
}
