//! The add / replace / cache / delete walk-through as one table: every way of creating an
//! artifact (auto key, real key, virtual key, from memory, in place with a virtual key, a
//! folder) on SQLite + local disk and PostgreSQL + S3 (garage). Storage is checked through the
//! object-store port, so the same assertions hold wherever the bytes live. In place on S3, the
//! object is put into the bucket through the test's own store handle and registered by its URI
//! ([`trove::Trove::register`]); the replace, cache and delete checks are the same. After each
//! step, the invariants and the bytes behind every record are checked (`common::check_bytes`).

use std::path::{Path, PathBuf};

use trove::domain::ports::ObjectStore;
use trove::{KeepReason, ReplaceOutcome, SaveOptions, Source, StoragePolicy};
mod common;

use common::{Pairs, instances};

/// How an artifact is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    /// No key (a description only): bytes at `.trove/<uid><suffix>`.
    AutoKey,
    /// A real key: bytes at the key.
    RealKey,
    /// A virtual key (the default): bytes at `.trove/<uid><suffix>`.
    VirtualKey,
    /// Bytes in memory under a virtual key.
    FromMemory,
    /// A file already in storage, registered in place under another (virtual) key.
    InPlaceVirtual,
    /// A folder under a virtual key.
    Folder,
}

struct Case {
    how: How,
    /// The key to save under, if any.
    key: Option<&'static str>,
    /// The source's file name (the suffix comes from it).
    name: &'static str,
    /// The replacement's file name: a different suffix renames.
    new_name: &'static str,
    /// The key after the replace.
    new_key: Option<&'static str>,
    /// Whether `delete_permanently(auto)` removes the bytes.
    auto_deletes: bool,
}

const CASES: &[Case] = &[
    Case { how: How::AutoKey, key: None, name: "iris.csv", new_name: "iris.data", new_key: None, auto_deletes: true },
    Case {
        how: How::RealKey,
        key: Some("real/iris.csv"),
        name: "iris.csv",
        new_name: "iris2.csv",
        new_key: Some("real/iris.csv"),
        auto_deletes: false,
    },
    Case {
        how: How::VirtualKey,
        key: Some("virtual/iris.csv"),
        name: "iris.csv",
        new_name: "iris.data",
        new_key: Some("virtual/iris.data"),
        auto_deletes: true,
    },
    Case {
        how: How::FromMemory,
        key: Some("memory/iris.csv"),
        name: "iris.csv",
        new_name: "iris.data",
        new_key: Some("memory/iris.data"),
        auto_deletes: true,
    },
    Case {
        how: How::InPlaceVirtual,
        key: Some("iris_test.csv"),
        name: "raw/iris.csv",
        new_name: "iris.data",
        new_key: Some("iris_test.data"),
        auto_deletes: false,
    },
    Case {
        how: How::Folder,
        key: Some("scans"),
        name: "scans",
        new_name: "scans2",
        new_key: Some("scans"),
        auto_deletes: true,
    },
];

/// How the add step creates the artifact.
enum Add {
    /// `Trove::save` of a path or bytes.
    Save(Source),
    /// `Trove::register` of an object already in storage, by its full URI.
    Register(String),
}

const OLD: &str = "sepal_length,species\n5.1,setosa\n";
const NEW: &str = "5.1 setosa\n6.3 virginica\n";

fn write_folder(dir: &Path, files: &[(&str, &str)]) {
    for (rel, content) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
}

/// What is stored at a storage key: a file's content, or a folder's files with their content.
async fn stored(store: &dyn ObjectStore, key: &str, folder: bool) -> Option<Vec<(String, String)>> {
    if folder {
        let files = store.list(&format!("{key}/")).await.unwrap();
        if files.is_empty() {
            return None;
        }
        let mut out = Vec::new();
        for f in files {
            let c = store.read_all(&f.key).await.unwrap();
            out.push((f.key[key.len() + 1..].to_owned(), String::from_utf8(c.to_vec()).unwrap()));
        }
        return Some(out);
    }
    store.stat(key).await.unwrap()?;
    Some(vec![(String::new(), String::from_utf8(store.read_all(key).await.unwrap().to_vec()).unwrap())])
}

fn read_local(p: &Path, folder: bool) -> Vec<(String, String)> {
    if !folder {
        return vec![(String::new(), std::fs::read_to_string(p).unwrap())];
    }
    let files = trove_testkit::files::files(p);
    files.into_iter().map(|e| (e.rel, std::fs::read_to_string(&e.path).unwrap())).collect()
}

#[tokio::test]
async fn add_replace_cache_delete_on_every_backend() {
    for inst in instances(Pairs::S3).await {
        let (t, store, backend) = (&inst.trove, inst.store.as_ref(), inst.name);
        let local_root: Option<PathBuf> = store.local_path("");
        for case in CASES {
            let ctx = format!("{backend} {:?}", case.how);
            let inputs = tempfile::tempdir().unwrap();
            let folder = case.how == How::Folder;

            // add: most cases save a source; an object already in cloud storage is registered
            // in place by its URI (on local disk, saving its path is the same registration)
            let (add, old_content): (Add, Vec<(String, String)>) = match case.how {
                How::Folder => {
                    let d = inputs.path().join(case.name);
                    write_folder(&d, &[("a.txt", "a1"), ("sub/b.txt", "b1")]);
                    (Add::Save(d.into()), vec![("a.txt".into(), "a1".into()), ("sub/b.txt".into(), "b1".into())])
                }
                How::FromMemory => (Add::Save(OLD.as_bytes().to_vec().into()), vec![(String::new(), OLD.into())]),
                How::InPlaceVirtual => match &local_root {
                    Some(root) => {
                        let p = root.join(case.name);
                        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                        std::fs::write(&p, OLD).unwrap();
                        (Add::Save(p.into()), vec![(String::new(), OLD.into())])
                    }
                    None => {
                        store.put(case.name, bytes::Bytes::from_static(OLD.as_bytes())).await.unwrap();
                        (Add::Register(format!("{}/{}", store.root(), case.name)), vec![(String::new(), OLD.into())])
                    }
                },
                _ => {
                    let p = inputs.path().join(case.name);
                    std::fs::write(&p, OLD).unwrap();
                    (Add::Save(p.into()), vec![(String::new(), OLD.into())])
                }
            };
            let mut opts = match case.key {
                Some(k) => SaveOptions::key(k),
                None => SaveOptions::description(format!("iris {backend}")),
            };
            if case.how == How::RealKey {
                opts = opts.real_key();
            }
            let a = match add {
                Add::Save(source) => t.save(source, opts).await.unwrap(),
                Add::Register(uri) => t.register(&uri, opts).await.unwrap(),
            };
            inst.check().await;
            assert_eq!(a.name(), "created", "{ctx}");
            let a = a.into_artifact();
            let expected_key = match case.how {
                How::RealKey => case.key.unwrap().to_owned(),
                How::InPlaceVirtual => case.name.to_owned(),
                _ => format!(".trove/{}{}", a.uid, a.suffix),
            };
            assert_eq!(a.storage_key(), expected_key, "{ctx}");
            assert_eq!(stored(store, &expected_key, folder).await, Some(old_content), "{ctx}");

            // replace (a different suffix renames the key and moves the bytes)
            let new_src = inputs.path().join(case.new_name);
            let new_content = if folder {
                write_folder(&new_src, &[("a.txt", "a2"), ("c.txt", "c2")]);
                vec![("a.txt".to_owned(), "a2".to_owned()), ("c.txt".to_owned(), "c2".to_owned())]
            } else {
                std::fs::write(&new_src, NEW).unwrap();
                vec![(String::new(), NEW.to_owned())]
            };
            let out = t.replace(a.uid.as_str(), new_src.as_path()).await.unwrap();
            inst.check().await;
            let ReplaceOutcome::Replaced { artifact: b, renamed, removed_paths, .. } = out else {
                panic!("{ctx}: expected replaced")
            };
            assert_eq!(b.uid, a.uid, "{ctx}");
            assert_eq!(b.key.as_ref().map(|k| k.as_str()), case.new_key, "{ctx}");
            assert_eq!(renamed.is_some(), case.key != case.new_key, "{ctx}");
            let new_key = b.storage_key();
            assert_eq!(new_key != expected_key, !removed_paths.is_empty(), "{ctx}: {removed_paths:?}");
            if new_key != expected_key {
                assert_eq!(stored(store, &expected_key, folder).await, None, "{ctx}: the old object is removed");
            }
            assert_eq!(stored(store, &new_key, folder).await, Some(new_content.clone()), "{ctx}");
            if folder {
                assert_eq!(b.n_files, Some(2), "{ctx}");
            }
            let staging = store.list(".trove/staging/").await.unwrap();
            assert!(staging.is_empty(), "{ctx}: {staging:?}");

            // cache: the stored path on local disk, a cached copy on cloud storage
            let cached = t.cache(&b).await.unwrap();
            inst.check().await;
            assert_eq!(read_local(&cached, folder), new_content, "{ctx}");
            if let Some(root) = &local_root {
                assert_eq!(cached, root.join(&new_key), "{ctx}: local cache is the stored path");
            }

            // delete: trash keeps the bytes; permanent deletion follows the storage policy
            t.trash(std::slice::from_ref(&b.uid)).await.unwrap();
            inst.check().await;
            assert!(stored(store, &new_key, folder).await.is_some(), "{ctx}");
            let report = t.delete_permanently(std::slice::from_ref(&b.uid), StoragePolicy::Auto).await.unwrap();
            inst.check().await;
            assert!(t.get(b.uid.as_str()).await.is_err(), "{ctx}");
            if case.auto_deletes {
                assert_eq!(report.removed_paths().count(), 1, "{ctx}");
                assert_eq!(stored(store, &new_key, folder).await, None, "{ctx}");
            } else {
                let kept: Vec<_> = report.kept_paths().collect();
                assert_eq!(kept.len(), 1, "{ctx}");
                assert_eq!(kept[0].reason, KeepReason::UserVisiblePath, "{ctx}");
                assert!(stored(store, &new_key, folder).await.is_some(), "{ctx}: auto keeps user paths");
            }
        }
        assert!(inst.trove.fsck(&trove::FsckOptions::default().verify_hashes()).await.unwrap().is_empty(), "{backend}");
    }
}
