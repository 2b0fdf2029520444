//! The storage root as it really is, read without Trove: the local directory tree (hidden
//! temporary files included, which Trove's own listings skip) or every object of the S3
//! prefix through a plain OpenDAL operator.

use std::path::{Path, PathBuf};

use futures::StreamExt as _;
use opendal::Operator;
use trove_testkit::backends::S3Bucket;

use crate::hash::{self, FileHasher, Hashed};

/// One file or object in the storage root.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RawObject {
    /// Its path relative to the root, `/`-separated.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
}

/// A storage root, read directly.
pub enum RawStore {
    /// A local folder.
    Local(PathBuf),
    /// An S3 bucket and prefix.
    S3(Box<S3Root>),
}

/// An S3 bucket and prefix, read with a plain OpenDAL operator.
pub struct S3Root {
    /// Rooted at the prefix.
    op: Operator,
    /// Drives the operator from synchronous tests.
    rt: tokio::runtime::Runtime,
    /// `s3://bucket/prefix`, for messages.
    uri: String,
    /// Hashes computed here before, by key, ETag and size: an object whose ETag has not
    /// changed holds the same bytes, so large objects are not downloaded again at every check.
    hashed: std::sync::Mutex<std::collections::HashMap<(String, String, u64), Hashed>>,
}

/// Every file under `dir` (symbolic links included, never followed), as relative
/// `/`-separated paths, sorted.
pub fn walk(dir: &Path) -> std::io::Result<Vec<String>> {
    Ok(trove_testkit::files::walk(dir)?.into_iter().filter(|e| !e.is_dir).map(|e| e.rel).collect())
}

impl RawStore {
    /// The bucket's objects under `prefix`, with the bucket's own credentials.
    pub fn s3(bucket: &S3Bucket, prefix: &str) -> RawStore {
        // OpenDAL's HTTP services need a process-wide transport (reqwest on rustls with ring).
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
            opendal_http_transport_reqwest::install_default();
        });
        let builder = opendal::services::S3::default()
            .bucket(&bucket.bucket)
            .root(&format!("/{prefix}"))
            .region(&bucket.region)
            .endpoint(&bucket.endpoint)
            .access_key_id(&bucket.access_key_id)
            .secret_access_key(&bucket.secret_access_key)
            .disable_config_load()
            .disable_ec2_metadata();
        let op = Operator::new(builder).expect("an S3 operator");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
        RawStore::S3(Box::new(S3Root {
            op,
            rt,
            uri: format!("s3://{}/{prefix}", bucket.bucket),
            hashed: Default::default(),
        }))
    }

    /// Where `key` is, for messages.
    pub fn describe(&self, key: &str) -> String {
        match self {
            RawStore::Local(root) => root.join(key).display().to_string(),
            RawStore::S3(s3) => format!("{}/{key}", s3.uri),
        }
    }

    /// Every file or object under the root, sorted by key.
    pub fn list(&self) -> Vec<RawObject> {
        match self {
            RawStore::Local(root) => walk(root)
                .unwrap_or_else(|e| panic!("listing {}: {e}", root.display()))
                .into_iter()
                .map(|key| {
                    let size = std::fs::symlink_metadata(root.join(&key)).map(|m| m.len()).unwrap_or(0);
                    RawObject { key, size }
                })
                .collect(),
            RawStore::S3(s3) => {
                let S3Root { op, rt, uri, .. } = &**s3;
                let entries = rt
                    .block_on(async { op.list_with("").recursive(true).await })
                    .unwrap_or_else(|e| panic!("listing {uri}: {e}"));
                let mut out: Vec<RawObject> = entries
                    .into_iter()
                    .filter(|e| !e.path().ends_with('/'))
                    .map(|e| RawObject { key: e.path().to_owned(), size: e.metadata().content_length() })
                    .collect();
                out.sort();
                out
            }
        }
    }

    /// The hash of the file or object at `key`; `None` if there is none.
    pub fn hash_file(&self, key: &str) -> Option<Hashed> {
        match self {
            RawStore::Local(root) => {
                let p = root.join(key);
                if !std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_file()) {
                    return None;
                }
                Some(hash::of_path(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display())))
            }
            RawStore::S3(s3) => s3.rt.block_on(async {
                let S3Root { op, uri, hashed, .. } = &**s3;
                let meta = match op.stat(key).await {
                    Ok(m) if m.is_file() => m,
                    Ok(_) => return None,
                    Err(e) if e.kind() == opendal::ErrorKind::NotFound => return None,
                    Err(e) => panic!("stat {uri}/{key}: {e}"),
                };
                let etag = meta.etag().unwrap_or_else(|| panic!("{uri}/{key} has no ETag")).to_owned();
                let seen = (key.to_owned(), etag.clone(), meta.content_length());
                if let Some(h) = hashed.lock().unwrap().get(&seen) {
                    return Some(h.clone());
                }
                // Read exactly the version whose ETag was noted.
                let reader =
                    op.reader_with(key).if_match(&etag).await.unwrap_or_else(|e| panic!("reading {uri}/{key}: {e}"));
                let mut stream =
                    reader.into_bytes_stream(..).await.unwrap_or_else(|e| panic!("reading {uri}/{key}: {e}"));
                let mut h = FileHasher::default();
                while let Some(chunk) = stream.next().await {
                    h.update(&chunk.unwrap_or_else(|e| panic!("reading {uri}/{key}: {e}")));
                }
                let h = h.finish();
                hashed.lock().unwrap().insert(seen, h.clone());
                Some(h)
            }),
        }
    }

    /// The tree hash of the files under `key/`, as `listing` (from [`RawStore::list`]) shows
    /// them; `None` if there are none.
    pub fn hash_folder(&self, key: &str, listing: &[RawObject]) -> Option<Hashed> {
        let prefix = format!("{key}/");
        let files: Vec<(String, Hashed)> = listing
            .iter()
            .filter_map(|o| o.key.strip_prefix(&prefix).map(|rel| (rel.to_owned(), o.key.clone())))
            .map(|(rel, full)| {
                let h =
                    self.hash_file(&full).unwrap_or_else(|| panic!("{} vanished while hashed", self.describe(&full)));
                (rel, h)
            })
            .collect();
        (!files.is_empty()).then(|| hash::of_tree(files))
    }

    /// Remove the file or object at `key`, as a user tidying up would (missing is fine).
    pub fn delete(&self, key: &str) {
        match self {
            RawStore::Local(root) => match std::fs::remove_file(root.join(key)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("removing {}: {e}", root.join(key).display()),
            },
            RawStore::S3(s3) => {
                let S3Root { op, rt, uri, .. } = &**s3;
                rt.block_on(op.delete(key)).unwrap_or_else(|e| panic!("deleting {uri}/{key}: {e}"));
            }
        }
    }

    /// Write `bytes` at `key`, as another program writing into the root would.
    pub fn put(&self, key: &str, bytes: Vec<u8>) {
        match self {
            RawStore::Local(root) => {
                let path = root.join(key);
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
                }
                std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
            }
            RawStore::S3(s3) => {
                let S3Root { op, rt, uri, .. } = &**s3;
                rt.block_on(op.write(key, bytes)).unwrap_or_else(|e| panic!("writing {uri}/{key}: {e}"));
            }
        }
    }
}
