//! One Trove instance on a pair of real backends, and the `trove` processes that use it.
//!
//! Every process runs as an *actor*: its own `TROVE_CONFIG_DIR` and `TROVE_CACHE_DIR` (like a
//! separate shell or machine), the instance named by `TROVE_INSTANCE`, and for S3 the standard
//! `AWS_*` variables of the test bucket.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use trove_testkit::backends::{PgDatabase, S3Bucket, backends_blocking};

use crate::binary::trove_bin;
use crate::raw::RawStore;

/// Files in the storage root that belong to no artifact by design.
const INSTANCE_FILES: &[&str] = &[
    ".trove/storage.json",
    ".trove/trove.db",
    ".trove/trove.db-wal",
    ".trove/trove.db-shm",
    // An instance in a bucket: its write lease and its writers' mode.
    ".trove/lease",
    ".trove/catalog.json",
];

/// An initialised instance, removed (database, folders) when dropped.
pub struct Instance {
    /// `sqlite+fs` or `postgres+s3`, for messages.
    pub name: &'static str,
    /// The default storage root: a local folder or `s3://bucket/prefix`.
    pub root: String,
    /// What `TROVE_INSTANCE` says: the root folder (embedded catalog) or the catalog URL.
    pub locator: String,
    /// A catalog URL for the test's own connections (e.g. to hold a write transaction).
    pub catalog_url: String,
    /// The storage root read directly.
    pub raw: RawStore,
    env: Vec<(&'static str, String)>,
    work: tempfile::TempDir,
    bucket: Option<S3Bucket>,
    _db: Option<PgDatabase>,
}

/// A finished `trove` process.
#[derive(Debug, Clone)]
pub struct Run {
    /// Who ran it.
    pub actor: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// The exit code; `None` if a signal ended it.
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Whether it exited 0.
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// The command, its exit and its error output, for messages.
    pub fn describe(&self) -> String {
        format!(
            "[{}] trove {} -> exit {:?}: {}",
            self.actor,
            self.args.join(" "),
            self.code,
            self.stderr.trim().lines().last().unwrap_or("(no error output)")
        )
    }

    /// The JSON it printed, if it succeeded.
    pub fn json(&self) -> Result<Value, String> {
        if !self.ok() {
            return Err(self.describe());
        }
        serde_json::from_str(&self.stdout)
            .map_err(|e| format!("{}: output is not JSON ({e}): {}", self.describe(), self.stdout))
    }

    /// The first object of the JSON array it printed (`save`, `replace`, `show`).
    pub fn first(&self) -> Result<Value, String> {
        let v = self.json()?;
        v.as_array()
            .and_then(|a| a.first())
            .cloned()
            .ok_or_else(|| format!("{}: expected a JSON array: {v}", self.describe()))
    }
}

impl Instance {
    /// A fresh instance on SQLite (embedded in the root) and a local folder.
    pub fn sqlite_fs() -> Instance {
        let work = tempfile::Builder::new().prefix("trove-e2e-").tempdir().expect("a temporary folder");
        let root_dir = work.path().join("root");
        let root = root_dir.display().to_string();
        let inst = Instance {
            name: "sqlite+fs",
            catalog_url: format!("sqlite://{}?mode=rw", root_dir.join(".trove/trove.db").display()),
            locator: root.clone(),
            raw: RawStore::Local(root_dir),
            root,
            env: Vec::new(),
            work,
            bucket: None,
            _db: None,
        };
        inst.init(&[]);
        inst
    }

    /// A fresh instance on PostgreSQL and an S3 bucket from the test harness; `None` (with a
    /// note) when the harness's provider has no servers.
    pub fn postgres_s3() -> Option<Instance> {
        let b = backends_blocking();
        let (Some(db), Some(bucket)) = (b.postgres_db_blocking(), b.s3_bucket_blocking()) else {
            eprintln!("skipped on postgres+s3: provider {} gives no PostgreSQL/S3", b.provider());
            return None;
        };
        let work = tempfile::Builder::new().prefix("trove-e2e-").tempdir().expect("a temporary folder");
        let prefix = "e2e";
        let env = vec![
            ("AWS_ENDPOINT_URL", bucket.endpoint.clone()),
            ("AWS_REGION", bucket.region.clone()),
            ("AWS_ACCESS_KEY_ID", bucket.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", bucket.secret_access_key.clone()),
        ];
        let inst = Instance {
            name: "postgres+s3",
            root: format!("s3://{}/{prefix}", bucket.bucket),
            locator: db.url.clone(),
            catalog_url: db.url.clone(),
            raw: RawStore::s3(&bucket, prefix),
            env,
            work,
            bucket: Some(bucket),
            _db: Some(db),
        };
        let db_url = inst.catalog_url.clone();
        inst.init(&["--db", &db_url]);
        Some(inst)
    }

    /// A fresh instance entirely in an S3 bucket on garage from the test harness: the SQLite
    /// catalog at `<root>/.trove/trove.db` in the bucket, no database server (spec 3).
    /// garage ignores conditional writes, so the instance is in single-writer mode
    /// (`init --single-writer`). `TROVE_INSTANCE` is the root URL. `None` (with a note) when
    /// the harness's provider has no S3 server.
    pub fn bucket_s3() -> Option<Instance> {
        let b = backends_blocking();
        let Some(bucket) = b.s3_bucket_blocking() else {
            eprintln!("skipped on bucket+s3: provider {} gives no S3", b.provider());
            return None;
        };
        Some(Instance::in_bucket("bucket+s3 (garage, single writer)", bucket, true, &[], &["--single-writer"]))
    }

    /// A fresh instance entirely in an S3 bucket on a server that honours conditional writes
    /// (moto, from the harness), with `extra_env` for every process (e.g. `TROVE_LEASE_TTL`):
    /// many writers, coordinated by the lease. `None` (with a note) without such a server.
    pub fn bucket_conditional(extra_env: &[(&'static str, &str)]) -> Option<Instance> {
        let Some(bucket) = backends_blocking().conditional_s3_bucket_blocking() else {
            eprintln!("skipped on bucket+s3 (conditional writes): no such server");
            return None;
        };
        Some(Instance::in_bucket("bucket+s3 (moto, many writers)", bucket, false, extra_env, &[]))
    }

    fn in_bucket(
        name: &'static str,
        bucket: S3Bucket,
        garage: bool,
        extra_env: &[(&'static str, &str)],
        init: &[&str],
    ) -> Instance {
        let work = tempfile::Builder::new().prefix("trove-e2e-").tempdir().expect("a temporary folder");
        let prefix = "e2e";
        let mut env = vec![
            ("AWS_ENDPOINT_URL", bucket.endpoint.clone()),
            ("AWS_REGION", bucket.region.clone()),
            ("AWS_ACCESS_KEY_ID", bucket.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", bucket.secret_access_key.clone()),
        ];
        env.extend(extra_env.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let root = format!("s3://{}/{prefix}", bucket.bucket);
        let inst = Instance {
            name,
            locator: root.clone(),
            catalog_url: String::new(),
            raw: RawStore::s3(&bucket, prefix),
            root,
            env,
            work,
            // Only garage counts unfinished multipart uploads for the checks.
            bucket: garage.then_some(bucket),
            _db: None,
        };
        inst.init(init);
        inst
    }

    fn init(&self, extra: &[&str]) {
        let mut args = vec!["init", "--storage", &self.root, "--name", "e2e"];
        args.extend_from_slice(extra);
        let r = self.run("admin", &args);
        assert!(r.ok(), "{}: {}", self.name, r.describe());
    }

    /// The S3 bucket, for `postgres+s3` and `bucket+s3`.
    pub fn bucket(&self) -> Option<&S3Bucket> {
        self.bucket.as_ref()
    }

    /// A scratch folder for the test's inputs (outside the storage root).
    pub fn scratch(&self, name: &str) -> PathBuf {
        let p = self.work.path().join("scratch").join(name);
        std::fs::create_dir_all(&p).expect("a scratch folder");
        p
    }

    /// Whether `key` (relative to the root) is one of the instance's own files (marker,
    /// embedded catalog).
    pub fn is_instance_file(key: &str) -> bool {
        INSTANCE_FILES.contains(&key)
    }

    /// `trove ARGS` as `actor`, not started.
    pub fn command(&self, actor: &str, args: &[&str]) -> Command {
        let home = self.work.path().join("actors").join(actor);
        let mut c = Command::new(trove_bin());
        c.current_dir(self.work.path())
            .env("TROVE_CONFIG_DIR", home.join("config"))
            .env("TROVE_CACHE_DIR", home.join("cache"))
            .env("TROVE_INSTANCE", &self.locator)
            .env("TROVE_USER", format!("e2e-{actor}"))
            .env_remove("TROVE_CACHE_MAX_BYTES")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// `trove ARGS` as `actor`, started.
    pub fn spawn(&self, actor: &str, args: &[&str]) -> Child {
        self.command(actor, args).spawn().unwrap_or_else(|e| panic!("starting {}: {e}", trove_bin().display()))
    }

    /// `trove ARGS` as `actor`, to the end.
    pub fn run(&self, actor: &str, args: &[&str]) -> Run {
        finish(actor, args, self.spawn(actor, args))
    }

    /// `trove ARGS --json` as `actor`; the JSON, or the failure described.
    pub fn json(&self, actor: &str, args: &[&str]) -> Result<Value, String> {
        let mut a = args.to_vec();
        a.push("--json");
        self.run(actor, &a).json()
    }

    /// `trove gc` with a grace period of zero (the tests run it only once no other process
    /// writes), plus `extra`. Binaries that enforce a minimum grace period need
    /// `--allow-short-grace` for that; older ones do not know the flag.
    pub fn gc_args<'a>(&self, extra: &[&'a str]) -> Vec<&'a str> {
        static NEEDS_FLAG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let needs_flag = *NEEDS_FLAG.get_or_init(|| {
            let help = self.run("admin", &["gc", "--help"]);
            help.stdout.contains("--allow-short-grace")
        });
        let mut args = vec!["gc", "--grace", "0s"];
        if needs_flag {
            args.push("--allow-short-grace");
        }
        args.extend_from_slice(extra);
        args
    }
}

/// Wait for `child` (started from `trove ARGS`) and collect what it printed.
pub fn finish(actor: &str, args: &[&str], child: Child) -> Run {
    let out = child.wait_with_output().expect("waiting for trove");
    Run {
        actor: actor.to_owned(),
        args: args.iter().map(|s| s.to_string()).collect(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
