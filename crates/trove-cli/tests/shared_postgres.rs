//! A team's shared instance: one PostgreSQL catalog used from two machines (here: two
//! processes with their own config folders), and `trove` processes saving at the same time.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use trove_testkit::backends::backends;

fn trove(config: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trove"))
        .current_dir(cwd)
        .env("TROVE_CONFIG_DIR", config)
        .env_remove("TROVE_INSTANCE")
        .args(args)
        .output()
        .unwrap()
}

fn ok(config: &Path, cwd: &Path, args: &[&str]) -> String {
    let out = trove(config, cwd, args);
    assert!(out.status.success(), "trove {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn json(config: &Path, cwd: &Path, args: &[&str]) -> Vec<Value> {
    let mut a = args.to_vec();
    a.push("--json");
    serde_json::from_str::<Value>(&ok(config, cwd, &a)).unwrap().as_array().unwrap().clone()
}

#[tokio::test]
async fn two_machines_share_one_postgres_catalog() {
    let b = backends().await;
    let Some(db) = b.postgres_db().await else {
        eprintln!("skipped: provider {} gives no PostgreSQL", b.provider().as_str());
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cfg_a, cfg_b) = (dir.path().join("machine-a"), dir.path().join("machine-b"));
    let root = dir.path().join("shared-storage");
    let root_s = root.to_str().unwrap();
    std::fs::write(dir.path().join("a.csv"), "x\n1\n").unwrap();

    let init = ok(&cfg_a, dir.path(), &["init", "--storage", root_s, "--db", &db.url]);
    assert!(init.contains("postgresql"), "{init}");
    assert!(!root.join(".trove/trove.db").exists(), "no SQLite file when the catalog is PostgreSQL");
    let saved = json(&cfg_a, dir.path(), &["save", "a.csv", "--key", "team/a.csv"]);
    let uid = saved[0]["uid"].as_str().unwrap().to_owned();

    // machine B attaches to the same instance and sees the same artifacts
    let attach = ok(&cfg_b, dir.path(), &["init", "--storage", root_s, "--db", &db.url, "--json"]);
    let info_a = json_obj(&ok(&cfg_a, dir.path(), &["instance", "--json"]));
    let info_b: Value = serde_json::from_str(&attach).unwrap();
    assert_eq!(info_a["uid"], info_b["uid"], "same instance");
    let listed = json(&cfg_b, dir.path(), &["ls"]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["uid"], uid.as_str());
    // B trashes it; A sees it in the trash
    ok(&cfg_b, dir.path(), &["delete", &uid]);
    assert!(json(&cfg_a, dir.path(), &["ls"]).is_empty());
    assert_eq!(json(&cfg_a, dir.path(), &["ls", "--branch", "trash"]).len(), 1);
    // --instance with the URL works without any config
    let empty_cfg = dir.path().join("nobody");
    assert_eq!(json(&empty_cfg, dir.path(), &["ls", "--branch", "all", "--instance", &db.url]).len(), 1);
}

fn json_obj(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

#[tokio::test]
async fn concurrent_processes_lose_nothing() {
    let b = backends().await;
    let Some(db) = b.postgres_db().await else {
        eprintln!("skipped: provider {} gives no PostgreSQL", b.provider().as_str());
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("cfg");
    let root = dir.path().join("storage");
    ok(&cfg, dir.path(), &["init", "--storage", root.to_str().unwrap(), "--db", &db.url]);
    let n = 6;
    let mut children = Vec::new();
    for i in 0..n {
        let f = dir.path().join(format!("v{i}.csv"));
        std::fs::write(&f, format!("v\n{i}\n")).unwrap();
        // half save new versions of one key, half save their own keys
        let key = if i % 2 == 0 { "same/key.csv".to_owned() } else { format!("own/k{i}.csv") };
        children.push(
            Command::new(env!("CARGO_BIN_EXE_trove"))
                .current_dir(dir.path())
                .env("TROVE_CONFIG_DIR", &cfg)
                .args(["save", f.to_str().unwrap(), "--key", &key, "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        );
    }
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let all = json(&cfg, dir.path(), &["ls", "--all-versions"]);
    assert_eq!(all.len(), n, "every save is there");
    let same: Vec<&Value> = all.iter().filter(|a| a["key"] == "same/key.csv").collect();
    let mut versions: Vec<&str> = same.iter().map(|a| a["version"].as_str().unwrap()).collect();
    versions.sort();
    assert_eq!(versions, vec!["0000", "0001", "0002"], "consecutive versions, none lost or duplicated");
    assert_eq!(same.iter().filter(|a| a["is_latest"] == true).count(), 1);
}
