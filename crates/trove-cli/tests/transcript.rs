//! The README's CLI transcript, run against the real binary on the embedded default.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

struct Shell {
    dir: tempfile::TempDir,
}

impl Shell {
    fn new() -> Self {
        Shell { dir: tempfile::tempdir().unwrap() }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("trove").unwrap();
        c.current_dir(self.dir.path())
            .env("TROVE_CONFIG_DIR", self.path("config"))
            .env_remove("TROVE_INSTANCE")
            .env("TROVE_USER", "alice")
            .args(args);
        c
    }

    /// Run and expect success; return stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().unwrap();
        assert!(out.status.success(), "trove {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run with --json and parse the array.
    fn json(&self, args: &[&str]) -> Vec<Value> {
        let mut a = args.to_vec();
        a.push("--json");
        serde_json::from_str::<Value>(&self.ok(&a)).unwrap().as_array().unwrap().clone()
    }

    /// Run and expect failure with this exit code; return stderr.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.cmd(args).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "trove {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "one-line error: {err}");
        err
    }
}

fn uids(items: &[Value]) -> Vec<String> {
    items.iter().map(|v| v["uid"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn the_readme_transcript() {
    let sh = Shell::new();
    std::fs::write(sh.path("iris.csv"), "sepal_length,species\n5.1,setosa\n").unwrap();
    sh.ok(&["init", "--storage", "./data"]);
    let root = sh.path("data");
    assert!(root.join(".trove/trove.db").is_file());

    let saved = sh.json(&["save", "iris.csv", "--key", "datasets/iris.csv", "--description", "the iris data"]);
    assert_eq!(saved.len(), 1);
    let a = &saved[0];
    assert_eq!(a["outcome"], "created");
    for field in [
        "uid",
        "key",
        "description",
        "suffix",
        "kind",
        "otype",
        "size",
        "hash",
        "hash_type",
        "n_files",
        "n_observations",
        "version_tag",
        "is_latest",
        "branch",
        "storage",
        "created_by",
        "created_at",
        "updated_at",
        "path",
    ] {
        assert!(a.get(field).is_some(), "missing field {field}");
    }
    assert_eq!(a["branch"], "main");
    assert_eq!(a["created_by"], "alice");
    let uid = a["uid"].as_str().unwrap().to_owned();
    let bytes = PathBuf::from(a["path"].as_str().unwrap());
    assert!(bytes.is_absolute() && bytes.is_file());
    assert_eq!(uids(&sh.json(&["ls"])), vec![uid.clone()]);
    assert!(sh.ok(&["ls"]).contains("datasets/iris.csv"), "a table for people");

    // identical content again: the existing artifact, said so
    let again = sh.json(&["save", "iris.csv", "--key", "datasets/iris.csv"]);
    assert_eq!(again[0]["outcome"], "existing");
    assert_eq!(again[0]["uid"], uid.as_str());

    sh.ok(&["delete", &uid]);
    assert!(sh.json(&["ls"]).is_empty());
    let trash = sh.json(&["ls", "--branch", "trash"]);
    assert_eq!(uids(&trash), vec![uid.clone()]);
    assert_eq!(trash[0]["branch"], "trash");
    assert!(bytes.is_file(), "bytes stay while in the trash");

    sh.ok(&["restore", &uid]);
    assert_eq!(uids(&sh.json(&["ls"])), vec![uid.clone()]);
    sh.ok(&["archive", &uid]);
    assert!(sh.json(&["ls"]).is_empty());
    assert_eq!(uids(&sh.json(&["ls", "--branch", "archive"])), vec![uid.clone()]);
    sh.ok(&["restore", &uid]);
    assert_eq!(sh.json(&["show", "datasets/iris.csv"])[0]["uid"], uid.as_str());

    // deleting twice: the second asks; with no terminal and no --yes it refuses
    sh.ok(&["delete", &uid]);
    let err = sh.fails(&["delete", &uid], 2);
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(sh.json(&["show", &uid])[0]["branch"], "trash", "nothing happened");
    let gone = sh.json(&["delete", &uid, "--yes"]);
    assert_eq!(gone[0]["removed_paths"][0], bytes.to_str().unwrap());
    assert!(!bytes.exists());
    assert!(sh.json(&["ls", "--branch", "all"]).is_empty());
    sh.fails(&["show", &uid], 3);

    // a real key: --permanent with the default storage policy keeps the file and says where
    let real = sh.json(&["save", "iris.csv", "--key", "real/iris.csv", "--real-key"]);
    let real_path = root.join("real/iris.csv");
    assert_eq!(Path::new(real[0]["path"].as_str().unwrap()), real_path);
    let out = sh.ok(&["delete", "real/iris.csv", "--permanent", "--yes"]);
    assert!(out.contains(&format!("kept {}", real_path.display())), "{out}");
    assert!(real_path.is_file());
}

#[test]
fn versions_and_instances() {
    let sh = Shell::new();
    let csv = sh.path("m.csv");
    std::fs::write(&csv, "v,0\n").unwrap();
    // no instance yet: a one-line error that says how to create one
    let err = sh.fails(&["ls"], 1);
    assert!(err.contains("trove init"), "{err}");
    sh.ok(&["init", "--storage", "one"]);
    sh.json(&["save", "m.csv", "--key", "m.csv"]);
    std::fs::write(&csv, "v,1\n").unwrap();
    let v1 = sh.json(&["save", "m.csv", "--key", "m.csv"]);
    assert_eq!(v1[0]["outcome"], "new_version");
    assert_eq!(v1[0]["version"], "0001");
    let versions = sh.json(&["versions", "m.csv"]);
    assert_eq!(versions.len(), 2);
    assert_eq!(versions.iter().filter(|v| v["is_latest"] == true).count(), 1);
    assert_eq!(sh.json(&["ls"]).len(), 1, "ls shows the latest version of each family");
    assert_eq!(sh.json(&["ls", "--all-versions"]).len(), 2);

    // a second instance; --instance and TROVE_INSTANCE pick one explicitly
    sh.ok(&["init", "--storage", "two"]);
    assert!(sh.json(&["ls"]).is_empty(), "init made `two` current");
    let one = sh.path("one");
    assert_eq!(sh.json(&["ls", "--instance", one.to_str().unwrap()]).len(), 1);
    let out = sh.cmd(&["ls", "--json"]).env("TROVE_INSTANCE", &one).output().unwrap();
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);

    // bad input: typed, one line, non-zero
    let err = sh.fails(&["save", "m.csv", "--key", "../escape.csv"], 2);
    assert!(err.contains("'..'"), "{err}");
    let err = sh.fails(&["save", "m.csv", "--key", "m.txt"], 2);
    assert!(err.contains("does not match"), "{err}");
    sh.fails(&["save", "missing.csv", "--key", "x.csv"], 3);
    sh.fails(&["delete", "AAAAAAAAAAAAAAAA0000"], 3);
    sh.fails(&["ls", "--branch", "nowhere"], 2);
}

#[test]
fn demo_runs() {
    let sh = Shell::new();
    let out = sh.ok(&["demo", "--dir", sh.path("demo").to_str().unwrap()]);
    assert!(out.contains("Demo complete"), "{out}");
    assert!(!out.contains("expectation failed"));
}

#[test]
fn keys_work_for_trashed_and_archived_records() {
    let sh = Shell::new();
    std::fs::write(sh.path("k.csv"), "k\n1\n").unwrap();
    sh.ok(&["init", "--storage", "d"]);
    let uid = sh.json(&["save", "k.csv", "--key", "k.csv"])[0]["uid"].as_str().unwrap().to_owned();
    sh.ok(&["delete", "k.csv"]);
    // `show` by key looks at main only, as every default view; restore finds it in the trash
    sh.fails(&["show", "k.csv"], 3);
    assert_eq!(sh.json(&["restore", "k.csv"])[0]["branch"], "main");
    sh.ok(&["archive", "k.csv"]);
    assert_eq!(sh.json(&["restore", "k.csv"])[0]["uid"], uid.as_str());
    // deleting by key twice: the second finds it in the trash and asks
    sh.ok(&["delete", "k.csv"]);
    let err = sh.fails(&["delete", "k.csv"], 2);
    assert!(err.contains("--yes"), "{err}");
    sh.ok(&["delete", "k.csv", "--yes"]);
    sh.fails(&["restore", "k.csv"], 3);
}

/// Collections and labels get the artifacts' confirmation rules: a delete moves to the trash;
/// a delete of one already there, or with --permanent, asks first (--yes skips; no terminal and
/// no --yes refuses, changing nothing). Their artifacts are never touched.
#[test]
fn collections_and_labels_ask_before_deleting_for_good() {
    let sh = Shell::new();
    std::fs::write(sh.path("a.csv"), "a\n1\n").unwrap();
    sh.ok(&["init", "--storage", "data"]);
    let saved = sh.json(&["save", "a.csv", "--key", "a.csv"]);
    let (a, bytes) = (saved[0]["uid"].as_str().unwrap().to_owned(), PathBuf::from(saved[0]["path"].as_str().unwrap()));
    let trash = -1;

    let c = sh.json(&["collection", "create", "set", &a])[0]["uid"].as_str().unwrap().to_owned();
    let moved = sh.json(&["collection", "delete", "set"]);
    assert_eq!((uids(&moved), &moved[0]["branch"]), (vec![c.clone()], &Value::from(trash)));
    // by key again: found in the trash, so it asks; with no terminal it refuses
    let err = sh.fails(&["collection", "delete", "set"], 2);
    assert!(err.contains("already in the trash") && err.contains("--yes"), "{err}");
    assert_eq!(uids(&sh.json(&["collection", "ls", "--branch", "trash"])), vec![c.clone()], "nothing happened");
    let gone = sh.json(&["collection", "delete", "set", "--yes"]);
    assert_eq!(uids(&gone), vec![c.clone()]);
    assert!(sh.json(&["collection", "ls", "--branch", "all"]).is_empty());
    // --permanent asks too, from main
    let c2 = sh.json(&["collection", "create", "set2", &a])[0]["uid"].as_str().unwrap().to_owned();
    let err = sh.fails(&["collection", "delete", "set2", "--permanent"], 2);
    assert!(err.contains("permanently?") && err.contains("--yes"), "{err}");
    assert_eq!(uids(&sh.json(&["collection", "ls"])), vec![c2.clone()], "nothing happened");
    let out = sh.ok(&["collection", "delete", &c2, "--permanent", "-y"]);
    assert!(out.contains("deleted collection 'set2'") && out.contains("permanently"), "{out}");
    assert!(sh.json(&["collection", "ls", "--branch", "all"]).is_empty());
    assert_eq!(sh.json(&["show", &a])[0]["branch"], "main", "the member artifact stays");
    assert_eq!(std::fs::read_to_string(&bytes).unwrap(), "a\n1\n", "and so do its bytes");

    sh.ok(&["label", "create", "raw"]);
    let moved = sh.json(&["label", "delete", "raw"]);
    assert_eq!((&moved[0]["name"], &moved[0]["branch"]), (&Value::from("raw"), &Value::from(trash)));
    let err = sh.fails(&["label", "delete", "raw"], 2);
    assert!(err.contains("label 'raw' already in the trash") && err.contains("--yes"), "{err}");
    assert_eq!(sh.json(&["label", "ls", "--branch", "trash"]).len(), 1, "nothing happened");
    assert_eq!(sh.json(&["label", "delete", "raw", "--yes"])[0]["name"], "raw");
    assert!(sh.json(&["label", "ls", "--branch", "all"]).is_empty());
    sh.ok(&["label", "create", "tmp"]);
    let err = sh.fails(&["label", "delete", "tmp", "--permanent"], 2);
    assert!(err.contains("delete label 'tmp' permanently?"), "{err}");
    assert_eq!(sh.json(&["label", "ls"]).len(), 1, "nothing happened");
    // confirmed, an attached label is still protected: detach it first
    sh.ok(&["label", "add", "tmp", &a]);
    sh.fails(&["label", "delete", "tmp", "--permanent", "--yes"], 4);
    sh.ok(&["label", "remove", "tmp", &a]);
    sh.ok(&["label", "delete", "tmp", "--permanent", "--yes"]);
    assert!(sh.json(&["label", "ls", "--branch", "all"]).is_empty());
    sh.fails(&["label", "delete", "nothing-here"], 3);
}

/// Every file under `dir`, relative, sorted (the catalog files excepted: they are the catalog).
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = trove_testkit::files::file_paths(dir);
    out.retain(|rel| !rel.starts_with(".trove/trove.db"));
    out
}

/// Hostile input through the CLI (issue 9): each refusal exits with its code (2 bad input, 3
/// missing, 5 changed while saved), says so in one line on stderr, prints nothing on stdout, and
/// writes nothing; nothing hangs on a FIFO or streams `/dev/zero` forever.
#[test]
fn hostile_input_is_refused_in_one_line() {
    let sh = Shell::new();
    sh.ok(&["init", "--storage", "data"]);
    std::fs::write(sh.path("ok.csv"), "a\n1\n").unwrap();
    sh.ok(&["save", "ok.csv", "--key", "ok.csv"]);
    let fifo = sh.path("pipe.csv");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let _socket = std::os::unix::net::UnixListener::bind(sh.path("sock.csv")).unwrap();
    std::fs::create_dir_all(sh.path("linked/sub")).unwrap();
    std::fs::write(sh.path("linked/a.txt"), "a").unwrap();
    std::os::unix::fs::symlink("/etc", sh.path("linked/sub/etc")).unwrap();
    std::fs::create_dir_all(sh.path("badname")).unwrap();
    std::fs::write(sh.path("badname/a.txt "), "a").unwrap();
    std::os::unix::fs::symlink(sh.path("nowhere.csv"), sh.path("dangling.csv")).unwrap();
    let before = (sh.json(&["ls", "--branch", "all"]).len(), files_under(&sh.path("data")));
    let rows: &[(&[&str], i32, &str)] = &[
        (&["save", "ok.csv", "--key", "sp/y.csv "], 2, "whitespace"),
        (&["save", "ok.csv", "--key", "sp/y.csv ", "--real-key"], 2, "whitespace"),
        (&["save", "ok.csv", "--key", "a/.trove-tmp-1.csv"], 2, ".trove-tmp-"),
        (&["save", "pipe.csv", "--key", "p.csv"], 2, "FIFO"),
        (&["save", "sock.csv", "--key", "s.csv"], 2, "socket"),
        (&["save", "/dev/zero", "--description", "zeros"], 2, "character device"),
        (&["save", "linked", "--key", "linked"], 2, "symbolic link"),
        (&["save", "badname", "--key", "badname"], 2, "whitespace"),
        (&["save", "missing.csv", "--key", "m.csv"], 3, "no file or folder"),
        (&["save", "dangling.csv", "--key", "d.csv"], 3, "does not exist"),
        (&["save", "/proc/self/status", "--description", "changes"], 5, "changed while it was being saved"),
        (&["replace", "ok.csv", "pipe.csv"], 2, "FIFO"),
        (&["replace", "ok.csv", "/dev/zero"], 2, "character device"),
    ];
    for (args, code, needle) in rows {
        let out = sh.cmd(args).timeout(std::time::Duration::from_secs(120)).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(*code), "trove {args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "trove {args:?}: one-line error: {err}");
        assert!(err.starts_with("error: ") && err.contains(needle), "trove {args:?}: {err}");
        assert!(out.stdout.is_empty(), "trove {args:?} printed {}", String::from_utf8_lossy(&out.stdout));
    }
    let after = (sh.json(&["ls", "--branch", "all"]).len(), files_under(&sh.path("data")));
    assert_eq!(after, before, "refused commands wrote nothing");
}
