//! `fsck` and `gc` as scripts see them (exit statuses, plans applied as shown), and reads that
//! never wait for the write lock, through the real binary on the embedded default.

use std::path::PathBuf;
use std::process::{Child, Command as Process, Stdio};

use assert_cmd::Command;
use serde_json::Value;

struct Shell {
    dir: tempfile::TempDir,
}

impl Shell {
    fn new() -> Self {
        let s = Shell { dir: tempfile::tempdir().unwrap() };
        s.run(&["init", "--storage", "data"], 0);
        s
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

    /// Run, expect this exit status, return stdout.
    fn run(&self, args: &[&str], status: i32) -> String {
        let out = self.cmd(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(status),
            "trove {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn save(&self, name: &str, content: &str) -> Value {
        std::fs::write(self.path(name), content).unwrap();
        let out = self.run(&["save", name, "--key", name, "--json"], 0);
        serde_json::from_str::<Value>(&out).unwrap()[0].clone()
    }
}

#[test]
fn fsck_exit_status_tells_what_it_found() {
    let sh = Shell::new();
    let a = sh.save("a.csv", "a\n1\n");
    sh.save("b.csv", "b\n2\n");
    assert_eq!(sh.run(&["fsck", "--verify"], 0).trim(), "ok: every record's bytes are present and match");

    // Bytes that differ: reported, and not repairable by fsck (nothing to restore them from).
    std::fs::write(a["path"].as_str().unwrap(), "tampered").unwrap();
    let found: Vec<Value> = serde_json::from_str(&sh.run(&["fsck", "--json"], 11)).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["uid"], a["uid"]);
    sh.run(&["fsck", "--repair"], 11);

    // Bytes missing: the same.
    std::fs::remove_file(a["path"].as_str().unwrap()).unwrap();
    let out = sh.run(&["fsck"], 11);
    assert!(out.contains("bytes missing"), "{out}");
    // Deleting the record, keeping (no) bytes, leaves a clean instance.
    sh.run(&["delete", a["uid"].as_str().unwrap(), "--permanent", "--storage", "keep", "--yes"], 0);
    sh.run(&["fsck", "--verify"], 0);
}

#[test]
fn gc_applies_the_plan_it_showed_and_says_so_in_its_status() {
    let sh = Shell::new();
    let a = sh.save("a.csv", "a\n1\n");
    sh.run(&["gc", "--dry-run"], 0);
    sh.run(&["delete", a["uid"].as_str().unwrap(), "--permanent", "--storage", "keep", "--yes"], 0);
    let orphan = a["path"].as_str().unwrap().to_owned();
    // A killed writer's temporary file, hidden from Trove's listings.
    let leftover = sh.path("data/.trove/.trove-tmp-00000000deadbeef");
    std::fs::write(&leftover, vec![7u8; 4096]).unwrap();

    // The minimum grace protects saves in progress: a short one must be asked for.
    sh.run(&["gc", "--grace", "0s", "--yes"], 2);
    // Younger than the (default) grace: nothing planned.
    sh.run(&["gc", "--dry-run"], 0);
    let plan: Value =
        serde_json::from_str(&sh.run(&["gc", "--dry-run", "--grace", "0s", "--allow-short-grace", "--json"], 11))
            .unwrap();
    let planned: Vec<&str> =
        plan["plan"]["items"].as_array().unwrap().iter().map(|i| i["path"].as_str().unwrap()).collect();
    assert!(planned.contains(&orphan.as_str()), "{plan}");
    assert!(planned.iter().any(|p| p.ends_with(".trove-tmp-00000000deadbeef")), "{plan}");
    assert!(leftover.exists() && std::path::Path::new(&orphan).exists(), "a dry run removes nothing");

    let done: Value =
        serde_json::from_str(&sh.run(&["gc", "--grace", "0s", "--allow-short-grace", "--yes", "--json"], 10)).unwrap();
    assert_eq!(done["removed"].as_array().unwrap().len(), 2, "{done}");
    assert!(!leftover.exists() && !std::path::Path::new(&orphan).exists());
    sh.run(&["gc", "--grace", "0s", "--allow-short-grace", "--yes"], 0);
    sh.run(&["fsck", "--verify"], 0);
}

/// Holds SQLite's write lock on the catalog (`BEGIN IMMEDIATE`) until killed, as a long write
/// transaction of another process does.
fn hold_write_lock(db: &std::path::Path) -> Child {
    let script = "import sqlite3, sys, time\n\
                  c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
                  c.execute('BEGIN IMMEDIATE')\n\
                  print('locked', flush=True)\n\
                  time.sleep(120)\n";
    let mut child = Process::new("python3")
        .args(["-c", script, db.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs the lock holder");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.as_mut().unwrap()), &mut line).unwrap();
    assert_eq!(line.trim(), "locked");
    child
}

#[test]
fn reads_never_wait_for_the_write_lock() {
    let sh = Shell::new();
    let a = sh.save("a.csv", "a\n1\n");
    let mut holder = hold_write_lock(&sh.path("data/.trove/trove.db"));
    let uid = a["uid"].as_str().unwrap();
    for args in [
        vec!["ls"],
        vec!["ls", "--branch", "all", "--json"],
        vec!["show", uid],
        vec!["show", "a.csv"],
        vec!["versions", "a.csv"],
        vec!["instance"],
        vec!["fsck", "--verify"],
    ] {
        sh.run(&args, 0);
        // Someone who never wrote to this instance reads without the write lock too.
        let out = sh.cmd(&args).env("TROVE_USER", "newcomer").output().unwrap();
        assert!(out.status.success(), "first-time user: trove {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // A writer waits for the lock (it is not refused at once), and proceeds once it is free.
    std::fs::write(sh.path("c.csv"), "c\n3\n").unwrap();
    let writer = std::process::Command::new(assert_cmd::cargo::cargo_bin("trove"))
        .current_dir(sh.dir.path())
        .env("TROVE_CONFIG_DIR", sh.path("config"))
        .env_remove("TROVE_INSTANCE")
        .args(["save", "c.csv", "--key", "c.csv"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    holder.kill().unwrap();
    holder.wait().unwrap();
    let out = writer.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    sh.run(&["show", "c.csv"], 0);
}

#[test]
fn instance_delete_refuses_while_artifacts_remain_and_then_lists_what_it_keeps_or_deletes() {
    let sh = Shell::new();
    let a = sh.save("a.csv", "a\n1\n");
    std::fs::write(sh.path("r.csv"), "r\n2\n").unwrap();
    sh.run(&["save", "r.csv", "--key", "real/r.csv", "--real-key"], 0);
    let out = sh.cmd(&["instance", "delete", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    // Without a terminal and without --yes: refused, nothing deleted.
    sh.run(&["instance", "delete", "--force"], 2);
    sh.run(&["ls"], 0);

    let out: Value = serde_json::from_str(&sh.run(&["instance", "delete", "--force", "--yes", "--json"], 0)).unwrap();
    let kept: Vec<&str> = out["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["kept_paths"].as_array().unwrap().iter().map(|k| k["path"].as_str().unwrap()))
        .collect();
    assert_eq!(kept.len(), 2, "both artifacts' bytes are kept and listed: {out}");
    assert!(std::path::Path::new(a["path"].as_str().unwrap()).is_file(), "kept bytes stay");
    assert!(sh.path("data/real/r.csv").is_file());
    assert!(!sh.path("data/.trove/trove.db").exists(), "the embedded catalog is gone");
    assert!(!sh.path("data/.trove/storage.json").exists(), "the marker is gone");
    // The config no longer points at it, and the root can hold a new instance.
    let out = sh.cmd(&["ls"]).output().unwrap();
    assert!(!out.status.success());
    sh.run(&["init", "--storage", "data"], 0);
}

#[test]
fn instance_delete_with_storage_delete_removes_the_bytes_it_lists() {
    let sh = Shell::new();
    let a = sh.save("a.csv", "a\n1\n");
    sh.run(&["delete", a["uid"].as_str().unwrap()], 0);
    let out: Value =
        serde_json::from_str(&sh.run(&["instance", "delete", "--force", "--storage", "delete", "--yes", "--json"], 0))
            .unwrap();
    let removed: Vec<&str> = out["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["removed_paths"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()))
        .collect();
    assert_eq!(removed, vec![a["path"].as_str().unwrap()], "the trashed artifact's bytes went: {out}");
    assert!(!std::path::Path::new(a["path"].as_str().unwrap()).exists());
    assert!(!sh.path("data/.trove").exists(), "nothing of Trove is left in the root");
    assert!(sh.path("data").is_dir(), "the root folder itself stays");
}

#[test]
fn cat_prints_a_file_or_one_file_of_a_folder() {
    let sh = Shell::new();
    sh.save("a.csv", "a\n1\n");
    std::fs::create_dir_all(sh.path("img.zarr/0")).unwrap();
    std::fs::write(sh.path("img.zarr/.zattrs"), "{}").unwrap();
    std::fs::write(sh.path("img.zarr/0/0"), "chunk").unwrap();
    sh.run(&["save", "img.zarr", "--key", "data/img.zarr"], 0);
    assert_eq!(sh.run(&["cat", "a.csv"], 0), "a\n1\n");
    assert_eq!(sh.run(&["cat", "data/img.zarr/0/0"], 0), "chunk");
    let listed = sh.run(&["cat", "data/img.zarr", "--list"], 0);
    assert!(listed.contains(".zattrs") && listed.contains("0/0"), "{listed}");
    sh.run(&["cat", "data/img.zarr/0/9"], 3);
    sh.run(&["cat", "data/img.zarr"], 2);
    sh.run(&["cat", "nope.csv"], 3);
}
