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

/// S3 credentials, region and endpoint only from a named profile of the AWS shared files
/// (`AWS_PROFILE`, `AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`): no `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION` or `AWS_ENDPOINT_URL` in the child's environment, and
/// `HOME` pointing at an empty folder so no real `~/.aws` is read.
#[test]
fn cli_on_s3_with_credentials_from_an_aws_profile() {
    let b = backends_blocking();
    let Some(bucket) = b.s3_bucket_blocking() else {
        eprintln!("skipped: provider {} gives no S3 server", b.provider());
        return;
    };
    let sh = Shell { dir: tempfile::tempdir().unwrap(), bucket };
    std::fs::create_dir_all(sh.path("home")).unwrap();
    std::fs::create_dir_all(sh.path("aws")).unwrap();
    std::fs::write(
        sh.path("aws/credentials"),
        format!(
            "[default]\naws_access_key_id = wrong\naws_secret_access_key = wrong\n\n\
             # the harness bucket's key\n[garage-test]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            sh.bucket.access_key_id, sh.bucket.secret_access_key
        ),
    )
    .unwrap();
    std::fs::write(
        sh.path("aws/config"),
        format!("[profile garage-test]\nregion = {}\nendpoint_url = {}\n", sh.bucket.region, sh.bucket.endpoint),
    )
    .unwrap();
    let cmd = |profile: &str, args: &[&str]| {
        let mut c = Command::cargo_bin("trove").unwrap();
        c.current_dir(sh.dir.path())
            .env("TROVE_CONFIG_DIR", sh.path("config"))
            .env("TROVE_CACHE_DIR", sh.path("cache"))
            .env("TROVE_USER", "alice")
            .env("HOME", sh.path("home"))
            .env("AWS_PROFILE", profile)
            .env("AWS_SHARED_CREDENTIALS_FILE", sh.path("aws/credentials"))
            .env("AWS_CONFIG_FILE", sh.path("aws/config"));
        for v in [
            "TROVE_INSTANCE",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL",
        ] {
            c.env_remove(v);
        }
        c.args(args);
        c
    };
    let ok = |args: &[&str]| {
        let out = cmd("garage-test", args).output().unwrap();
        assert!(out.status.success(), "trove {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let root = format!("s3://{}/profile", sh.bucket.bucket);
    let db = format!("sqlite://{}?mode=rwc", sh.path("catalog.db").display());
    std::fs::write(sh.path("iris.csv"), "sepal_length,species\n5.1,setosa\n").unwrap();

    ok(&["init", "--storage", &root, "--db", &db]);
    let saved: Value =
        serde_json::from_str(&ok(&["save", "iris.csv", "--key", "iris.csv", "--real-key", "--json"])).unwrap();
    assert_eq!(saved[0]["path"], format!("{root}/iris.csv"));

    // The object is in the bucket (read back with the harness's own credentials).
    let mut cfg = S3Config::new(&sh.bucket.bucket, "profile");
    cfg.endpoint = Some(sh.bucket.endpoint.clone());
    cfg.region = sh.bucket.region.clone();
    cfg.access_key_id = Some(sh.bucket.access_key_id.clone());
    cfg.secret_access_key = Some(sh.bucket.secret_access_key.clone());
    let store = OpendalStore::s3(cfg).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    use trove::domain::ports::ObjectStore as _;
    assert_eq!(rt.block_on(store.read_all("iris.csv")).unwrap(), &b"sepal_length,species\n5.1,setosa\n"[..]);

    // Downloaded into a fresh cache through the profile's credentials.
    std::fs::remove_dir_all(sh.path("cache")).ok();
    let cached = PathBuf::from(ok(&["cache", "iris.csv", "--verify"]).trim());
    assert_eq!(read(&cached), "sepal_length,species\n5.1,setosa\n");

    // A profile that is in neither file: invalid input naming the profile and the files.
    let out = cmd("no-such-profile", &["save", "iris.csv", "--key", "again.csv"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no-such-profile") && err.contains(&sh.path("aws/credentials").display().to_string()),
        "{err}"
    );
}
