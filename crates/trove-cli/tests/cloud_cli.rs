//! The CLI on S3 (garage) with a PostgreSQL catalog, configured only through the standard AWS
//! variables: `trove init --storage s3://<bucket>/prefix --db postgresql://...`, saves with
//! and without keys, `trove cache`, in-place registration of an object already in the bucket,
//! and `trove storage add/ls/set-default`. Skipped (with a note) under the `embedded` provider.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use trove_storage::{OpendalStore, S3Config};
use trove_testkit::backends::{S3Bucket, backends_blocking};

struct Shell {
    dir: tempfile::TempDir,
    bucket: S3Bucket,
}

impl Shell {
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("trove").unwrap();
        c.current_dir(self.dir.path())
            .env("TROVE_CONFIG_DIR", self.path("config"))
            .env("TROVE_CACHE_DIR", self.path("cache"))
            .env_remove("TROVE_INSTANCE")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env("TROVE_USER", "alice")
            .env("AWS_ENDPOINT_URL", &self.bucket.endpoint)
            .env("AWS_REGION", &self.bucket.region)
            .env("AWS_ACCESS_KEY_ID", &self.bucket.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.bucket.secret_access_key)
            .args(args);
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().unwrap();
        assert!(out.status.success(), "trove {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        serde_json::from_str(&self.ok(&a)).unwrap()
    }

    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.cmd(args).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "trove {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stderr).unwrap()
    }

    fn store(&self) -> OpendalStore {
        let mut cfg = S3Config::new(&self.bucket.bucket, "prefix");
        cfg.endpoint = Some(self.bucket.endpoint.clone());
        cfg.region = self.bucket.region.clone();
        cfg.access_key_id = Some(self.bucket.access_key_id.clone());
        cfg.secret_access_key = Some(self.bucket.secret_access_key.clone());
        OpendalStore::s3(cfg).unwrap()
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn cli_on_s3_with_postgresql() {
    let b = backends_blocking();
    let (Some(db), Some(bucket)) = (b.postgres_db_blocking(), b.s3_bucket_blocking()) else {
        eprintln!("skipped: provider {} gives no PostgreSQL/S3", b.provider());
        return;
    };
    let sh = Shell { dir: tempfile::tempdir().unwrap(), bucket };
    let root = format!("s3://{}/prefix", sh.bucket.bucket);
    std::fs::write(sh.path("iris.csv"), "sepal_length,species\n5.1,setosa\n").unwrap();

    sh.ok(&["init", "--storage", &root, "--db", &db.url]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store = sh.store();
    use trove::domain::ports::ObjectStore as _;
    let marker = rt.block_on(store.read_all(".trove/storage.json")).unwrap();
    let marker: Value = serde_json::from_slice(&marker).unwrap();
    assert!(marker["instance_uid"].is_string(), "the marker is written in the bucket: {marker}");

    // No key: <root>/.trove/<uid>.csv.
    let a = &sh.json(&["save", "iris.csv", "--description", "iris"])[0];
    let uid = a["uid"].as_str().unwrap();
    assert_eq!(a["storage_key"], format!(".trove/{uid}.csv"));
    assert_eq!(a["path"], format!("{root}/.trove/{uid}.csv"));

    // Real key: <root>/iris.csv; the cache path names bucket and prefix.
    std::fs::write(sh.path("iris.csv"), "sepal_length,species\n7.0,versicolor\n").unwrap();
    let r = &sh.json(&["save", "iris.csv", "--key", "iris.csv", "--real-key"])[0];
    assert_eq!(r["path"], format!("{root}/iris.csv"));
    let cached = PathBuf::from(sh.ok(&["cache", "iris.csv"]).trim());
    assert_eq!(cached, sh.path("cache").join(&sh.bucket.bucket).join("prefix/iris.csv"));
    assert_eq!(read(&cached), "sepal_length,species\n7.0,versicolor\n");
    let verified = PathBuf::from(sh.ok(&["cache", "iris.csv", "--verify"]).trim());
    assert_eq!(verified, cached);
    // The first artifact, from a fresh cache: downloaded.
    let first = PathBuf::from(sh.ok(&["cache", uid]).trim());
    assert_eq!(read(&first), "sepal_length,species\n5.1,setosa\n");

    // An object already in the bucket: registered in place, not copied.
    rt.block_on(store.put("raw/x.csv", bytes::Bytes::from_static(b"x,y\n1,2\n"))).unwrap();
    let x = &sh.json(&["save", &format!("{root}/raw/x.csv")])[0];
    assert_eq!((x["key"].as_str(), x["storage_key"].as_str()), (Some("raw/x.csv"), Some("raw/x.csv")));
    assert_eq!(x["outcome"], "created");

    // Storage locations: a second (local) root, the default, and listing.
    let ls = sh.json(&["storage", "ls"]);
    assert_eq!(ls.as_array().unwrap().len(), 1);
    assert_eq!((ls[0]["root"].as_str(), ls[0]["default"].as_bool()), (Some(root.as_str()), Some(true)));
    assert_eq!(ls[0]["settings"]["endpoint"], sh.bucket.endpoint.as_str(), "the endpoint is kept, never secrets");
    assert!(!ls[0].to_string().contains(&sh.bucket.secret_access_key));
    let local = sh.path("local-root");
    sh.ok(&["storage", "add", local.to_str().unwrap(), "--default"]);
    assert!(local.join(".trove/storage.json").is_file());
    let table = sh.ok(&["storage", "ls"]);
    assert!(table.contains("read-write") && table.contains(local.to_str().unwrap()), "{table}");
    std::fs::write(sh.path("b.csv"), "b\n").unwrap();
    let saved = &sh.json(&["save", "b.csv", "--key", "b.csv"])[0];
    assert!(saved["path"].as_str().unwrap().starts_with(local.to_str().unwrap()), "{saved}");
    sh.ok(&["storage", "set-default", &root]);
    let saved = &sh.json(&["save", "b.csv", "--key", "b2.csv", "--allow-duplicate"])[0];
    assert!(saved["path"].as_str().unwrap().starts_with(&root), "{saved}");
    let err = sh.fails(&["storage", "set-default", "s3://nowhere/x"], 3);
    assert!(err.contains("storage ls"), "{err}");
}
