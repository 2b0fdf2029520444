//! The hostile input suite (issue 9): bad keys, bad paths, special files, links, names that
//! cannot be keys, files changing while they are saved, each with the typed error it must give
//! and the check that nothing was written: the catalog holds as many records as before, the
//! storage listing (the managed area `.trove/` included) is unchanged, on local disk so is the
//! raw directory tree (hidden temporary files count), and the artifact a failed replace aimed at
//! still has its content, re-hashed. Save (virtual and real key) and replace run for every row
//! where they apply, on SQLite + local disk and PostgreSQL + S3. No row may hang: each call has
//! a generous deadline, and a FIFO or `/dev/zero` that blocked or streamed would miss it.

mod common;

use std::collections::BTreeSet;
use std::ops::Range;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use common::{Instance, Pairs, instances_wrapped};
use trove::domain::ports::{Capabilities, ObjectMeta, ObjectReader, ObjectStore, ObjectWriter, PutResult};
use trove::{Artifact, ArtifactQuery, BranchSelection, ErrorKind, SaveOptions};

/// A store layer that, once armed with a path, appends to that file while the next chunk is
/// written: the source of a save changes in the middle of its copy, deterministically.
#[derive(Debug)]
struct ChangeSource {
    inner: Arc<dyn ObjectStore>,
    armed: Arc<Mutex<Option<PathBuf>>>,
}

struct ChangeWriter {
    inner: Box<dyn ObjectWriter>,
    armed: Arc<Mutex<Option<PathBuf>>>,
}

#[async_trait]
impl ObjectWriter for ChangeWriter {
    async fn write(&mut self, chunk: Bytes) -> trove::Result<()> {
        if let Some(p) = self.armed.lock().unwrap().take() {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
            f.write_all(b"appended while being saved\n").unwrap();
        }
        self.inner.write(chunk).await
    }
    async fn close(self: Box<Self>) -> trove::Result<PutResult> {
        self.inner.close().await
    }
    async fn abort(self: Box<Self>) -> trove::Result<()> {
        self.inner.abort().await
    }
}

#[async_trait]
impl ObjectStore for ChangeSource {
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
        let inner = self.inner.writer(key).await?;
        Ok(Box::new(ChangeWriter { inner, armed: self.armed.clone() }))
    }
    async fn reader(&self, key: &str, range: Option<Range<u64>>) -> trove::Result<Box<dyn ObjectReader>> {
        self.inner.reader(key, range).await
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
}

/// What "nothing was written" compares.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    records: u64,
    objects: BTreeSet<(String, u64)>,
    disk: BTreeSet<String>,
}

fn is_catalog_file(rel: &str) -> bool {
    rel.starts_with(".trove/trove.db")
}

/// Every file and folder (`name/`) below `root`, the catalog's files aside.
fn walk_disk(root: &Path) -> BTreeSet<String> {
    let entries = trove_testkit::files::walk(root).unwrap();
    entries
        .into_iter()
        .filter_map(|e| {
            if e.is_dir {
                // Folders count too: a refused operation leaves no empty folder behind either
                // (`.trove/staging/` itself is part of the managed area's layout, like `.trove/`).
                (e.rel != ".trove/staging").then(|| format!("{}/", e.rel))
            } else {
                (!is_catalog_file(&e.rel)).then_some(e.rel)
            }
        })
        .collect()
}

async fn snapshot(i: &Instance) -> Snapshot {
    let records = i
        .trove
        .count(&ArtifactQuery { branch: BranchSelection::All, include_pending: true, ..ArtifactQuery::default() })
        .await
        .unwrap();
    let objects = i
        .store
        .list("")
        .await
        .unwrap()
        .into_iter()
        .filter(|m| !is_catalog_file(&m.key))
        .map(|m| (m.key, m.size))
        .collect();
    let disk = i.store.local_path("").map(|root| walk_disk(&root)).unwrap_or_default();
    Snapshot { records, objects, disk }
}

/// The artifact is as it was, and its bytes still hash to its record.
async fn assert_intact(i: &Instance, before: &Artifact, what: &str) {
    let now = i.trove.get(before.uid.as_str()).await.unwrap();
    assert_eq!((&now.hash, now.size, now.storage_key()), (&before.hash, before.size, before.storage_key()), "{what}");
    i.trove.cache_verify(&now).await.unwrap_or_else(|e| panic!("{what}: bytes of the target: {e}"));
}

/// Where a row's source is, relative to the sources folder or absolute.
#[derive(Clone)]
struct Row {
    name: String,
    source: PathBuf,
    key: Option<String>,
    expect: ErrorKind,
    /// Replace the file target (`Some(false)`) or the folder target (`Some(true)`) with it too.
    replace: Option<bool>,
    /// Arm the changing-source layer with this file before each call.
    arm: Option<PathBuf>,
}

fn row(name: &str, source: impl Into<PathBuf>, key: Option<&str>, expect: ErrorKind, replace: Option<bool>) -> Row {
    Row { name: name.to_owned(), source: source.into(), key: key.map(str::to_owned), expect, replace, arm: None }
}

fn write(p: &Path, content: &[u8]) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

fn symlink(target: impl AsRef<Path>, link: &Path) {
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, link).unwrap();
}

fn mkfifo(p: &Path) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    let st = std::process::Command::new("mkfifo").arg(p).status().unwrap();
    assert!(st.success(), "mkfifo {}", p.display());
}

/// Root cannot be refused a read by permissions, so the unreadable-file row needs another user.
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// Build every hostile source below `dir`; returns the rows and what must outlive them.
fn hostile_rows(dir: &Path) -> (Vec<Row>, Vec<std::os::unix::net::UnixListener>) {
    use ErrorKind::*;
    let good = dir.join("good.csv");
    write(&good, b"a,b\n1,2\n");
    let mut rows = Vec::new();
    let mut keep = Vec::new();

    // Bad keys (the source is fine): whitespace around segments, control characters, lengths,
    // escapes, the managed area, temporary-file names, backslashes, empty.
    let long_key = format!("{}.csv", "k".repeat(1021));
    let long_segment = format!("{}.csv", "s".repeat(252));
    let long_suffix = format!("x.{}", "c".repeat(240));
    for (name, key) in [
        ("trailing space", "sp/y.csv "),
        ("leading space", " sp/y.csv"),
        ("space before a slash", "sp /y.csv"),
        ("ideographic space", "sp/y.csv\u{3000}"),
        ("no-break space", "\u{a0}sp/y.csv"),
        ("tab", "sp/\ty.csv"),
        ("newline", "a\nb.csv"),
        ("NUL", "a\0b.csv"),
        ("DEL", "a\u{7f}b.csv"),
        ("C1 control", "a\u{85}b.csv"),
        ("over-long key", long_key.as_str()),
        ("over-long segment", long_segment.as_str()),
        ("over-long suffix", long_suffix.as_str()),
        ("parent segment", "../x.csv"),
        ("inner parent segment", "a/../../x.csv"),
        ("dot segment", "./x.csv"),
        ("managed area", ".trove/x.csv"),
        ("inner managed area", "a/.trove/x.csv"),
        ("temporary-file name", "a/.trove-tmp-0123.csv"),
        ("backslash", "a\\b.csv"),
        ("empty", ""),
        ("absolute", "/abs.csv"),
        ("empty segment", "a//b.csv"),
    ] {
        rows.push(row(&format!("key: {name}"), &good, Some(key), InvalidKey, None));
    }

    // Bad paths and special files, named directly.
    rows.push(row("missing path", dir.join("missing.csv"), None, SourceNotFound, Some(false)));
    let fifo = dir.join("fifo.csv");
    mkfifo(&fifo);
    rows.push(row("FIFO", &fifo, None, UnsupportedSource, Some(false)));
    let socket = dir.join("socket.csv");
    keep.push(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    rows.push(row("socket", &socket, None, UnsupportedSource, Some(false)));
    rows.push(row("/dev/zero", "/dev/zero", None, UnsupportedSource, Some(false)));
    rows.push(row("/dev/null", "/dev/null", None, UnsupportedSource, Some(false)));
    let dangling = dir.join("dangling.csv");
    symlink(dir.join("nowhere.csv"), &dangling);
    rows.push(row("dangling link", &dangling, None, SourceNotFound, Some(false)));
    symlink(dir.join("loop_b.csv"), &dir.join("loop_a.csv"));
    symlink(dir.join("loop_a.csv"), &dir.join("loop_b.csv"));
    rows.push(row("link loop", dir.join("loop_a.csv"), None, UnsupportedSource, Some(false)));
    let fifo_link = dir.join("fifo_link.csv");
    symlink(&fifo, &fifo_link);
    rows.push(row("link to a FIFO", &fifo_link, None, UnsupportedSource, Some(false)));
    let long_suffix_file = dir.join(format!("f.{}", "s".repeat(250)));
    write(&long_suffix_file, b"x");
    rows.push(row("file with an over-long suffix", &long_suffix_file, None, InvalidInput, Some(false)));
    // A regular file whose size (0) is not what reading it yields.
    rows.push(row("file whose size lies (/proc)", "/proc/self/status", None, SourceChanged, Some(false)));
    let changing = dir.join("changing.csv");
    write(&changing, &vec![b'x'; 1 << 20]);
    rows.push(Row {
        arm: Some(changing.clone()),
        ..row("file changing during the copy", &changing, None, SourceChanged, Some(false))
    });
    if running_as_root() {
        eprintln!("skipped the unreadable-file row: running as root, which permissions do not stop");
    } else {
        let unreadable = dir.join("unreadable.csv");
        write(&unreadable, b"secret");
        std::fs::set_permissions(&unreadable, std::fs::Permissions::from_mode(0o000)).unwrap();
        rows.push(row("unreadable file", &unreadable, None, SourceNotFound, Some(false)));
    }

    // Folders holding what is not content, or names that cannot be keys.
    let folder = |name: &str| {
        let d = dir.join(name);
        write(&d.join("a.txt"), b"a");
        d
    };
    let d = folder("link_in");
    symlink("a.txt", &d.join("link.txt"));
    rows.push(row("folder: link to a file inside", &d, None, UnsupportedSource, Some(true)));
    let d = folder("link_out");
    symlink("/etc/hostname", &d.join("hostname"));
    rows.push(row("folder: link to a file outside", &d, None, UnsupportedSource, Some(true)));
    let d = folder("dirlink_out");
    symlink("/etc", &d.join("sub/etc"));
    rows.push(row("folder: link to a folder outside", &d, None, UnsupportedSource, Some(true)));
    let d = folder("ancestor");
    symlink("..", &d.join("sub/up"));
    rows.push(row("folder: link to an ancestor", &d, None, UnsupportedSource, Some(true)));
    let d = folder("inner_loop");
    symlink("l2", &d.join("l1"));
    symlink("l1", &d.join("l2"));
    rows.push(row("folder: link loop", &d, None, UnsupportedSource, Some(true)));
    let d = folder("fifo_in");
    mkfifo(&d.join("pipe"));
    rows.push(row("folder: FIFO inside", &d, None, UnsupportedSource, Some(true)));
    let d = folder("socket_in");
    keep.push(std::os::unix::net::UnixListener::bind(d.join("sock")).unwrap());
    rows.push(row("folder: socket inside", &d, None, UnsupportedSource, Some(true)));
    for (name, file) in [
        ("trailing space", "y.txt "),
        ("leading space", " y.txt"),
        ("trailing ideographic space", "y.txt\u{3000}"),
        ("newline", "y\n.txt"),
        ("control character", "y\u{1}.txt"),
        ("temporary-file name", ".trove-tmp-1"),
        ("managed-area folder", ".trove/x.txt"),
        ("space-ended folder", "sub /x.txt"),
    ] {
        let d = folder(&format!("names_{}", name.replace(' ', "_")));
        write(&d.join(file), b"y");
        rows.push(row(&format!("folder: name with {name}"), &d, None, InvalidKey, Some(true)));
    }
    let d = folder("too_deep");
    let deep: PathBuf = (0..5).map(|i| format!("{i}{}", "d".repeat(240))).collect();
    write(&d.join(deep).join("x.txt"), b"deep");
    rows.push(row("folder: path over 1024 bytes", &d, None, InvalidKey, Some(true)));
    let d = folder("keyed");
    let long_folder_key = (0..4).map(|_| "k".repeat(254)).collect::<Vec<_>>().join("/");
    rows.push(row("folder: files too long under the key", &d, Some(long_folder_key.as_str()), InvalidKey, None));
    let d = dir.join("empty_dir");
    std::fs::create_dir_all(&d).unwrap();
    rows.push(row("empty folder", &d, None, InvalidInput, Some(true)));
    let d = folder("changing_dir");
    write(&d.join("b.txt"), b"b");
    rows.push(Row {
        arm: Some(d.join("a.txt")),
        ..row("folder: file changing during the copy", &d, None, SourceChanged, Some(true))
    });
    (rows, keep)
}

async fn expect_refused(
    i: &Instance,
    armed: &Mutex<Option<PathBuf>>,
    r: &Row,
    what: &str,
    call: impl std::future::Future<Output = trove::Result<String>>,
) {
    let label = format!("{}: {} ({what})", i.name, r.name);
    let before = snapshot(i).await;
    *armed.lock().unwrap() = r.arm.clone();
    // A deadline only to turn a hang (a FIFO, /dev/zero) into a failure; never a timing claim.
    let result = tokio::time::timeout(Duration::from_secs(120), call).await;
    *armed.lock().unwrap() = None;
    match result {
        Err(_) => panic!("{label}: hung"),
        Ok(Ok(outcome)) => panic!("{label}: accepted ({outcome})"),
        Ok(Err(e)) => {
            assert_eq!(e.kind(), r.expect, "{label}: {}", e.message());
            assert!(!e.message().is_empty() && !e.message().contains('\n') || r.name.contains("newline"), "{label}");
        }
    }
    assert_eq!(snapshot(i).await, before, "{label}: something was written");
}

#[tokio::test]
async fn hostile_inputs_are_refused_with_typed_errors_and_write_nothing() {
    let armed = Arc::new(Mutex::new(None));
    let wrap_armed = armed.clone();
    let instances = instances_wrapped(Pairs::S3, &move |inner| {
        Arc::new(ChangeSource { inner, armed: wrap_armed.clone() }) as Arc<dyn ObjectStore>
    })
    .await;
    let sources = tempfile::tempdir().unwrap();
    let (mut rows, _listeners) = hostile_rows(sources.path());
    // `HOSTILE_ROWS=folder` runs only the rows whose name contains "folder" (for debugging).
    if let Ok(only) = std::env::var("HOSTILE_ROWS") {
        rows.retain(|r| r.name.contains(&only));
    }
    let target_file = sources.path().join("target.csv");
    write(&target_file, b"t,u\n3,4\n");
    let target_dir = sources.path().join("target_dir");
    write(&target_dir.join("a.txt"), b"target a");
    write(&target_dir.join("sub/b.txt"), b"target b");

    for i in &instances {
        let t = &i.trove;
        let file = t.save(target_file.as_path(), SaveOptions::key("targets/target.csv")).await.unwrap().into_artifact();
        let folder = t.save(target_dir.as_path(), SaveOptions::key("targets/dir")).await.unwrap().into_artifact();
        let mut calls = 0;
        for r in &rows {
            let opts = match &r.key {
                Some(k) => SaveOptions::key(k.clone()),
                None => SaveOptions::description(r.name.clone()),
            };
            let describe = |o: trove::SaveOutcome| o.describe();
            expect_refused(i, &armed, r, "save", async {
                t.save(r.source.as_path(), opts.clone()).await.map(describe)
            })
            .await;
            calls += 1;
            if r.key.is_some() {
                let real = opts.clone().real_key();
                expect_refused(i, &armed, r, "save --real-key", async {
                    t.save(r.source.as_path(), real).await.map(describe)
                })
                .await;
                calls += 1;
            }
            if let Some(is_folder) = r.replace {
                let target = if is_folder { &folder } else { &file };
                expect_refused(i, &armed, r, "replace", async {
                    t.replace(target.uid.as_str(), r.source.as_path()).await.map(|o| o.describe())
                })
                .await;
                assert_intact(i, target, &format!("{}: {} (replace)", i.name, r.name)).await;
                calls += 1;
            }
        }
        assert_intact(i, &file, i.name).await;
        assert_intact(i, &folder, i.name).await;
        eprintln!("hostile inputs on {}: {} rows, {calls} refused calls, nothing written", i.name, rows.len());
    }
}

/// In-place registration checks the object in storage: keys through the key rules on every
/// backend, and on local disk links and special files inside the root are refused too.
#[tokio::test]
async fn in_place_registration_refuses_bad_paths() {
    for i in common::instances(Pairs::S3).await {
        let t = &i.trove;
        for bad in ["raw/x.csv ", " raw/x.csv", "raw /x.csv", "raw/\u{3000}x.csv", "raw/.trove-tmp-1"] {
            let before = snapshot(&i).await;
            let err = t.register(bad, SaveOptions::default()).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidKey, "{}: {bad:?}: {}", i.name, err.message());
            assert_eq!(snapshot(&i).await, before, "{}: {bad:?}", i.name);
        }
        let Some(root) = i.store.local_path("") else { continue };
        symlink("/etc/hostname", &root.join("raw/link.csv"));
        mkfifo(&root.join("raw/pipe.csv"));
        write(&root.join("raw/folder/a.txt"), b"a");
        symlink("/etc", &root.join("raw/folder/etc"));
        let before = snapshot(&i).await;
        for (rel, expect) in [
            ("raw/link.csv", ErrorKind::UnsupportedSource),
            ("raw/pipe.csv", ErrorKind::UnsupportedSource),
            ("raw/folder", ErrorKind::UnsupportedSource),
        ] {
            let call = t.register(rel, SaveOptions::default());
            let err = tokio::time::timeout(Duration::from_secs(120), call).await.expect("hung").unwrap_err();
            assert_eq!(err.kind(), expect, "{}: register {rel}: {}", i.name, err.message());
            // Saving the path itself (found inside the root) is refused the same way.
            let path = root.join(rel);
            if rel != "raw/link.csv" {
                let call = t.save(path.as_path(), SaveOptions::description("in place"));
                let err = tokio::time::timeout(Duration::from_secs(120), call).await.expect("hung").unwrap_err();
                assert_eq!(err.kind(), expect, "{}: save {rel}: {}", i.name, err.message());
            }
        }
        assert_eq!(snapshot(&i).await, before, "{}: in-place refusals wrote something", i.name);
    }
}

/// The path a user names may be a link: it is followed (like `cp`) and the target's bytes are
/// saved, on every backend, for files and folders.
#[tokio::test]
async fn a_named_link_is_followed_to_its_file_or_folder() {
    let sources = tempfile::tempdir().unwrap();
    let target = sources.path().join("real.csv");
    write(&target, b"x,y\n1,2\n");
    let link = sources.path().join("latest.csv");
    symlink(&target, &link);
    let dir = sources.path().join("real_dir");
    write(&dir.join("a.txt"), b"a");
    let dir_link = sources.path().join("dir_link");
    symlink(&dir, &dir_link);
    for i in common::instances(Pairs::S3).await {
        let a = i.trove.save(link.as_path(), SaveOptions::key("linked.csv")).await.unwrap().into_artifact();
        assert_eq!(i.trove.load_bytes(&a).await.unwrap().as_ref(), b"x,y\n1,2\n", "{}", i.name);
        let f = i.trove.save(dir_link.as_path(), SaveOptions::key("linked_dir")).await.unwrap().into_artifact();
        assert_eq!(f.n_files, Some(1), "{}", i.name);
        i.trove.cache_verify(&f).await.unwrap();
        // Replace follows a named link too.
        let r = i.trove.replace(a.uid.as_str(), link.as_path()).await.unwrap();
        assert_eq!(r.name(), "unchanged", "{}", i.name);
    }
}
