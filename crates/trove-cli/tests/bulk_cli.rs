//! Bulk forms of the CLI on the embedded default: several paths in one `trove save`,
//! `trove save DIR --each`, lifecycle by `--key-prefix`/`--label`/`--branch`, many uids in one
//! command, and `trove ls --after` paging.

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

struct Shell {
    dir: tempfile::TempDir,
}

impl Shell {
    fn new() -> Self {
        let sh = Shell { dir: tempfile::tempdir().unwrap() };
        sh.ok(&["init", "--storage", "./data"]);
        sh
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, content: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
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

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.cmd(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "trove {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Vec<Value> {
        let mut a = args.to_vec();
        a.push("--json");
        serde_json::from_str::<Value>(&self.ok(&a)).unwrap().as_array().unwrap().clone()
    }

    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(code), "trove {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stderr).unwrap()
    }

    fn keys(&self, args: &[&str]) -> Vec<String> {
        let mut k: Vec<String> = self.json(args).iter().map(|v| v["key"].as_str().unwrap_or("").to_owned()).collect();
        k.sort();
        k
    }
}

#[test]
fn several_paths_and_each_file_of_a_folder() {
    let sh = Shell::new();
    for n in ["a.csv", "b.csv", "c.csv"] {
        sh.write(n, n);
    }
    let saved = sh.json(&["save", "a.csv", "b.csv", "c.csv", "--key-prefix", "raw"]);
    assert_eq!(saved.iter().map(|v| v["outcome"].as_str().unwrap()).collect::<Vec<_>>(), ["created"; 3]);
    assert_eq!(sh.keys(&["ls"]), ["raw/a.csv", "raw/b.csv", "raw/c.csv"]);

    let err = sh.fails(&["save", "a.csv", "b.csv", "--key", "x.csv"], 2);
    assert!(err.contains("--key-prefix"), "{err}");
    sh.write("other/a.csv", "another a");
    let err = sh.fails(&["save", "a.csv", "other/a.csv"], 2);
    assert!(err.contains("nothing was saved"), "{err}");

    sh.write("tree/x.txt", "x");
    sh.write("tree/sub/y.txt", "y");
    sh.write("tree/sub/deeper/z.txt", "z");
    let saved = sh.json(&["save", "tree", "--each", "--key-prefix", "t/"]);
    assert_eq!(saved.len(), 3);
    assert_eq!(sh.keys(&["ls", "--key-prefix", "t/"]), ["t/sub/deeper/z.txt", "t/sub/y.txt", "t/x.txt"]);

    // Identical content again: each item says so, and nothing new is stored.
    let again = sh.json(&["save", "tree", "--each", "--key-prefix", "t/"]);
    assert!(again.iter().all(|v| v["outcome"] == "existing"), "{again:?}");

    // A link below the folder is refused before anything is saved.
    std::os::unix::fs::symlink("/etc/hostname", sh.path("tree/sub/link.txt")).unwrap();
    let before = sh.json(&["ls", "--branch", "all"]).len();
    sh.fails(&["save", "tree", "--each", "--key-prefix", "u/"], 2);
    assert_eq!(sh.json(&["ls", "--branch", "all"]).len(), before);

    // A failing item is reported, the others saved, and the exit status says so.
    sh.write("d.csv", "d");
    let out = sh.run(&["save", "d.csv", "missing.csv", "--key-prefix", "more"]);
    assert!(!out.status.success());
    assert_eq!(sh.keys(&["ls", "--key-prefix", "more/"]), ["more/d.csv"]);
}

#[test]
fn lifecycle_by_query_and_many_uids() {
    let sh = Shell::new();
    for i in 0..6 {
        sh.write(&format!("in/raw{i}.txt"), &format!("raw {i}"));
        sh.write(&format!("in/keep{i}.txt"), &format!("keep {i}"));
    }
    let raw: Vec<String> = (0..6).map(|i| format!("in/raw{i}.txt")).collect();
    let keep: Vec<String> = (0..6).map(|i| format!("in/keep{i}.txt")).collect();
    let mut args = vec!["save"];
    args.extend(raw.iter().map(String::as_str));
    args.extend(["--key-prefix", "raw"]);
    sh.ok(&args);
    let mut args = vec!["save"];
    args.extend(keep.iter().map(String::as_str));
    args.extend(["--key-prefix", "keep"]);
    sh.ok(&args);

    sh.fails(&["delete"], 2);
    sh.fails(&["delete", "raw/raw0.txt", "--key-prefix", "raw/"], 2);
    let moved = sh.json(&["delete", "--key-prefix", "raw/"]);
    assert_eq!(moved.len(), 6);
    assert_eq!(sh.json(&["ls"]).len(), 6);
    assert_eq!(sh.json(&["ls", "--branch", "trash"]).len(), 6);
    let restored = sh.json(&["restore", "--key-prefix", "raw/raw1"]);
    assert_eq!(restored.len(), 1);

    sh.ok(&["label", "create", "gold"]);
    sh.ok(&["label", "add", "gold", "keep/keep0.txt", "keep/keep1.txt"]);
    assert_eq!(sh.json(&["archive", "--label", "gold"]).len(), 2);
    assert_eq!(sh.json(&["ls", "--branch", "archive"]).len(), 2);

    // Permanent deletion of a selection asks first; without a terminal, --yes is required.
    sh.fails(&["delete", "--branch", "trash", "--permanent"], 2);
    let gone = sh.json(&["delete", "--branch", "trash", "--permanent", "--yes"]);
    assert_eq!(gone.len(), 5);
    assert!(sh.json(&["ls", "--branch", "trash"]).is_empty());
    assert!(sh.ok(&["delete", "--key-prefix", "nothing/"]).contains("nothing matched"));

    // Many uids (and keys) in one command.
    let live: Vec<String> = sh.json(&["ls"]).iter().map(|v| v["uid"].as_str().unwrap().to_owned()).collect();
    assert_eq!(live.len(), 5);
    let mut args = vec!["archive"];
    args.extend(live.iter().map(String::as_str));
    let archived = sh.json(&args);
    assert_eq!(archived.len(), 5);
    let err = sh.fails(&["restore", &live[0], "no/such/key.txt"], 3);
    assert!(err.contains("no/such/key.txt"), "{err}");
}

#[test]
fn ls_pages_with_a_cursor() {
    let sh = Shell::new();
    let names: Vec<String> = (0..7).map(|i| format!("p{i}.txt")).collect();
    for n in &names {
        sh.write(n, n);
    }
    let mut args = vec!["save"];
    args.extend(names.iter().map(String::as_str));
    args.extend(["--key-prefix", "pages"]);
    sh.ok(&args);
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut args = vec!["ls", "--limit", "3", "--json"];
        if let Some(a) = &after {
            args.extend(["--after", a.as_str()]);
        }
        let out = sh.run(&args);
        assert!(out.status.success());
        let page: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        seen.extend(page.iter().map(|v| v["key"].as_str().unwrap().to_owned()));
        let stderr = String::from_utf8(out.stderr).unwrap();
        match stderr.lines().find_map(|l| l.strip_prefix("next page: --after ")) {
            Some(c) => after = Some(c.trim().to_owned()),
            None => break,
        }
        assert!(seen.len() <= 7, "paging ends");
    }
    assert_eq!(seen, (0..7).map(|i| format!("pages/p{i}.txt")).collect::<Vec<_>>());
    sh.fails(&["ls", "--after", "garbage"], 2);
}
