//! Secrets through the CLI: a PostgreSQL password (in the URL's userinfo or query, in
//! `PGPASSWORD`, in a pgpass file) and an S3 secret key never appear in any output, error,
//! marker or catalog row, and the one file that keeps a password (the config file) is readable
//! by its owner only. A failed `init` leaves nothing behind.
//!
//! The PostgreSQL tests log in as a role that must give its password
//! (`PgDatabase::password_user`: SCRAM over TCP), so a wrong or missing password fails for real.
//! Skipped (with a note) where the provider gives no PostgreSQL or S3.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use trove_testkit::backends::{PgPasswordUser, backends};

/// A scratch folder with its own config and cache folders and `HOME` (so no real `~/.pgpass`
/// is read), and a clean PostgreSQL/AWS environment plus `env`.
struct Shell {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Shell {
    fn new() -> Shell {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        Shell { dir, env: Vec::new() }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_trove"));
        c.current_dir(self.dir.path())
            .env("TROVE_CONFIG_DIR", self.path("config"))
            .env("TROVE_CACHE_DIR", self.path("cache"))
            .env("HOME", self.path("home"));
        for v in ["TROVE_INSTANCE", "PGPASSWORD", "PGPASSFILE", "PGUSER", "PGHOST", "PGDATABASE", "RUST_LOG"] {
            c.env_remove(v);
        }
        for (k, v) in &self.env {
            c.env(k, v);
        }
        for (k, v) in env {
            c.env(k, v);
        }
        c.args(args).output().unwrap()
    }

    /// Runs `trove args`, asserts success, and that `secret` is in neither stream.
    fn ok(&self, secret: &str, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = self.run(args, env);
        let (stdout, stderr) = streams(&out);
        assert!(out.status.success(), "trove {}: {stderr}", shown(args, secret));
        assert_hidden(secret, &stdout, &format!("stdout of trove {}", shown(args, secret)));
        assert_hidden(secret, &stderr, &format!("stderr of trove {}", shown(args, secret)));
        stdout
    }

    /// Runs `trove args`, asserts it fails with `code`, and that `secret` is in neither stream.
    fn fails(&self, secret: &str, args: &[&str], env: &[(&str, &str)], code: i32) -> String {
        let out = self.run(args, env);
        let (stdout, stderr) = streams(&out);
        assert_eq!(out.status.code(), Some(code), "trove {}: {stderr}", shown(args, secret));
        assert_hidden(secret, &stdout, &format!("stdout of trove {}", shown(args, secret)));
        assert_hidden(secret, &stderr, &format!("stderr of trove {}", shown(args, secret)));
        stderr
    }
}

fn streams(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The arguments for a failure message, without the secret (the assertion must not leak it).
fn shown(args: &[&str], secret: &str) -> String {
    args.join(" ").replace(secret, "<secret>")
}

fn assert_hidden(secret: &str, text: &str, what: &str) {
    assert!(!text.contains(secret), "the secret appears in {what}: {}", text.replace(secret, "<SECRET>"));
}

/// Every regular file below `dir`.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    trove_testkit::files::files(dir).into_iter().map(|e| e.path).filter(|p| p.is_file()).collect()
}

/// The secret is in no file below `dirs`, except in `allowed`, whose mode must be 0600 (and its
/// folder's 0700).
fn assert_stored_only_in(secret: &str, dirs: &[PathBuf], allowed: Option<&Path>) {
    for dir in dirs {
        for f in files_below(dir) {
            let bytes = std::fs::read(&f).unwrap();
            let holds = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            if Some(f.as_path()) == allowed {
                continue;
            }
            assert!(!holds, "the secret is stored in {}", f.display());
        }
    }
    if let Some(file) = allowed {
        assert_eq!(mode(file), 0o600, "{} holds a password: owner only", file.display());
        assert_eq!(mode(file.parent().unwrap()), 0o700, "its folder too");
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// Every text value of every row of every table of the catalog, as one string.
fn catalog_dump(db: &trove_testkit::backends::PgDatabase) -> String {
    let tables = db
        .simple_query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        .unwrap()
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect::<Vec<_>>();
    assert!(tables.iter().any(|t| t == "storage"), "the catalog has its tables: {tables:?}");
    let mut dump = String::new();
    for t in tables {
        for row in db.simple_query(&format!("SELECT t::text FROM \"{t}\" t")).unwrap() {
            dump.extend(row.into_iter().flatten());
        }
    }
    dump
}

/// init, instance, ls, show, storage add/ls, an error, and the files written, for one way of
/// putting the password into the URL.
fn password_in_url_is_never_shown(pw: &PgPasswordUser, url: &str, db: &trove_testkit::backends::PgDatabase) {
    let secret = pw.password.as_str();
    let sh = Shell::new();
    let root = sh.path("storage");
    let root_s = root.to_str().unwrap();
    std::fs::write(sh.path("a.csv"), "x\n1\n").unwrap();

    let init = sh.ok(secret, &["init", "--storage", root_s, "--db", url], &[]);
    assert!(init.contains("postgresql"), "{init}");
    // A second init attaches: --json prints the (redacted) location.
    let attach = json(&sh.ok(secret, &["init", "--storage", root_s, "--db", url, "--json"], &[]));
    let location = attach["location"].as_str().unwrap();
    assert!(location.contains("***") && location.contains(&pw.user), "redacted, still recognisable: {location}");

    let info = json(&sh.ok(secret, &["instance", "--json"], &[]));
    assert_eq!(info["uid"], attach["uid"]);
    assert_eq!(info["location"], attach["location"]);
    let table = sh.ok(secret, &["instance"], &[]);
    assert!(table.contains(&format!("location  {location}")), "{table}");

    let saved = json(&sh.ok(secret, &["save", "a.csv", "--key", "a.csv", "--json"], &[]));
    let uid = saved[0]["uid"].as_str().unwrap().to_owned();
    assert_eq!(json(&sh.ok(secret, &["ls", "--json"], &[]))[0]["uid"], uid.as_str());
    sh.ok(secret, &["ls"], &[]);
    sh.ok(secret, &["show", &uid], &[]);
    let other = sh.path("other-root");
    sh.ok(secret, &["storage", "add", other.to_str().unwrap()], &[]);
    sh.ok(secret, &["storage", "ls", "--json"], &[]);
    sh.ok(secret, &["--instance", url, "ls"], &[]);

    // Errors: a wrong database name, in both output forms.
    let wrong_db = url.replace(&pw.database, "no_such_database");
    for extra in [&[][..], &["--json"][..]] {
        let mut args = vec!["--instance", wrong_db.as_str(), "ls"];
        args.extend(extra);
        let err = sh.fails(secret, &args, &[], 1);
        assert!(err.contains("no_such_database"), "the error names the problem: {err}");
    }
    // Misused arguments: clap's own errors, which quote unexpected arguments back.
    sh.fails(secret, &["ls", url], &[], 2);
    sh.fails(secret, &["ls", "--db", url], &[], 2);
    sh.fails(secret, &["ls", &format!("--db={url}")], &[], 2);

    // Stored: only the config file has the password, and only its owner can read it.
    let config = sh.path("config/config.json");
    assert!(std::fs::read_to_string(&config).unwrap().contains(secret), "the config keeps what reopens the instance");
    assert_stored_only_in(secret, &[sh.path("config"), root.clone(), other.clone(), sh.path("cache")], Some(&config));
    let marker = std::fs::read_to_string(root.join(".trove/storage.json")).unwrap();
    assert!(marker.contains(&pw.user), "the marker names the catalog, redacted: {marker}");
    assert_hidden(secret, &catalog_dump(db), "the catalog's rows");
}

#[tokio::test]
async fn a_password_in_the_url_is_never_shown_and_stored_owner_only() {
    let b = backends().await;
    let (Some(db1), Some(db2)) = (b.postgres_db().await, b.postgres_db().await) else {
        eprintln!("skipped: provider {} gives no PostgreSQL", b.provider());
        return;
    };
    let pw = db1.password_user();
    password_in_url_is_never_shown(&pw, &pw.url_with_password(), &db1);
    let pw = db2.password_user();
    let url = format!("{}?sslmode=disable&password={}", pw.url(), pw.password);
    password_in_url_is_never_shown(&pw, &url, &db2);
}

#[tokio::test]
async fn pgpassword_and_pgpass_files_supply_the_password() {
    let b = backends().await;
    let Some(db) = b.postgres_db().await else {
        eprintln!("skipped: provider {} gives no PostgreSQL", b.provider());
        return;
    };
    let pw = db.password_user();
    let secret = pw.password.as_str();
    let url = pw.url();
    let sh = Shell::new();
    let root = sh.path("storage");

    // PGPASSWORD: the URL carries none, and none is stored.
    sh.ok(secret, &["init", "--storage", root.to_str().unwrap(), "--db", &url], &[("PGPASSWORD", secret)]);
    sh.ok(secret, &["ls"], &[("PGPASSWORD", secret)]);
    assert_stored_only_in(secret, &[sh.path("config"), root.clone()], None);

    // No password anywhere: a typed error naming every way to give one.
    let err = json(sh.fails(secret, &["ls", "--json"], &[], 1).trim());
    assert_eq!(err["error"]["kind"], "authentication", "{err}");
    let message = err["error"]["message"].as_str().unwrap();
    for fix in ["PGPASSWORD", "~/.pgpass", "PGPASSFILE", "postgresql://USER:PASSWORD@"] {
        assert!(message.contains(fix), "the message names {fix}: {message}");
    }

    // A wrong password, from PGPASSWORD or the URL: refused, and shown nowhere either.
    let wrong = "0123456789abcdef0123456789abcdef";
    let err = sh.fails(secret, &["ls"], &[("PGPASSWORD", wrong)], 1);
    assert_hidden(wrong, &err, "the error");
    assert!(err.contains("refused the password from PGPASSWORD"), "{err}");
    let wrong_url = url.replace(&format!("{}@", pw.user), &format!("{}:{wrong}@", pw.user));
    let err = sh.fails(secret, &["--instance", &wrong_url, "ls"], &[], 1);
    assert_hidden(wrong, &err, "the error");
    assert!(err.contains("refused the password given in the URL"), "{err}");

    // PGPASSFILE, mode 0600.
    let pgpass = sh.path("pgpass");
    std::fs::write(&pgpass, format!("# test\notherhost:*:*:*:nope\n{}", pw.pgpass_line())).unwrap();
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let pgpass_s = pgpass.to_str().unwrap();
    sh.ok(secret, &["ls"], &[("PGPASSFILE", pgpass_s)]);

    // ~/.pgpass.
    let home_pgpass = sh.path("home/.pgpass");
    std::fs::copy(&pgpass, &home_pgpass).unwrap();
    std::fs::set_permissions(&home_pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    sh.ok(secret, &["ls"], &[]);

    // A pgpass file others may read is ignored, as libpq does; the error says so and how to fix it.
    std::fs::set_permissions(&home_pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = sh.fails(secret, &["ls"], &[], 1);
    assert!(err.contains("chmod 600") && err.contains(".pgpass"), "{err}");

    assert_stored_only_in(secret, &[sh.path("config"), root], None);
}

/// A failed `init` removes what it created, and leaves a folder that existed as it was. Runs on
/// every provider: a URL that cannot be parsed fails after the folders would be created.
#[tokio::test]
async fn a_failed_init_leaves_nothing_behind() {
    let sh = Shell::new();
    let secret = "hunter2hunter2";
    let bad_urls = [
        format!("postgresql://u:{secret}@127.0.0.1:notaport/db"),
        format!("postgresql://u@127.0.0.1/db?sslpassword={secret}"),
        format!("mysql://u:{secret}@127.0.0.1/db"),
    ];
    let mut cases: Vec<(String, i32)> = bad_urls.iter().map(|u| (u.clone(), 2)).collect();
    let b = backends().await;
    let db = b.postgres_db().await;
    if let Some(db) = &db {
        let pw = db.password_user();
        // A refused password and a database that does not exist.
        let wrong = pw.url_with_password().replace(&pw.password, secret);
        cases.push((wrong, 1));
        cases.push((pw.url_with_password().replace(&pw.database, "no_such_database"), 1));
    } else {
        eprintln!("note: provider {} gives no PostgreSQL: only the URLs refused before connecting", b.provider());
    }
    for (url, code) in &cases {
        let new_root = sh.path("new/nested/root");
        sh.fails(secret, &["init", "--storage", new_root.to_str().unwrap(), "--db", url], &[], *code);
        assert!(!sh.path("new").exists(), "the folders init created are gone ({})", shown(&[url], secret));

        let existing = sh.path("existing");
        std::fs::create_dir_all(existing.join("sub")).unwrap();
        std::fs::write(existing.join("sub/data.csv"), "x\n").unwrap();
        sh.fails(secret, &["init", "--storage", existing.to_str().unwrap(), "--db", url], &[], *code);
        let mut left: Vec<PathBuf> = files_below(&existing);
        left.sort();
        assert_eq!(left, vec![existing.join("sub/data.csv")], "an existing folder stays as it was");
        assert_eq!(std::fs::read_dir(&existing).unwrap().count(), 1, "no .trove/");
        assert!(!sh.path("config").exists(), "no config written");
    }
}

/// The config file: created 0600 in a 0700 folder; an older, looser one is tightened on read.
#[test]
fn the_config_file_is_owner_only() {
    let sh = Shell::new();
    let root = sh.path("data");
    sh.ok("unused-secret", &["init", "--storage", root.to_str().unwrap()], &[]);
    let config = sh.path("config/config.json");
    assert_eq!((mode(&config), mode(&sh.path("config"))), (0o600, 0o700));

    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    sh.ok("unused-secret", &["ls"], &[]);
    assert_eq!(mode(&config), 0o600, "tightened when read");
    let files: Vec<_> = std::fs::read_dir(sh.path("config")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(files, vec![std::ffi::OsString::from("config.json")], "no temporary file left");
}

/// An S3 secret key (from the environment) appears in no output, error, marker or catalog row.
#[tokio::test]
async fn an_s3_secret_key_is_never_shown_or_stored() {
    let b = backends().await;
    let (Some(db), Some(bucket)) = (b.postgres_db().await, b.s3_bucket().await) else {
        eprintln!("skipped: provider {} gives no PostgreSQL/S3", b.provider());
        return;
    };
    let secret = bucket.secret_access_key.clone();
    let mut sh = Shell::new();
    sh.env = vec![
        ("AWS_ENDPOINT_URL".into(), bucket.endpoint.clone()),
        ("AWS_REGION".into(), bucket.region.clone()),
        ("AWS_ACCESS_KEY_ID".into(), bucket.access_key_id.clone()),
        ("AWS_SECRET_ACCESS_KEY".into(), secret.clone()),
    ];
    let root = format!("s3://{}/prefix", bucket.bucket);
    std::fs::write(sh.path("a.csv"), "x\n1\n").unwrap();
    sh.ok(&secret, &["init", "--storage", &root, "--db", &db.url, "--json"], &[]);
    sh.ok(&secret, &["instance", "--json"], &[]);
    sh.ok(&secret, &["instance"], &[]);
    sh.ok(&secret, &["save", "a.csv", "--key", "a.csv", "--json"], &[]);
    sh.ok(&secret, &["ls", "--json"], &[]);
    sh.ok(&secret, &["cache", "a.csv"], &[]);
    sh.ok(&secret, &["storage", "ls", "--json"], &[]);
    sh.fails(&secret, &["save", "missing.csv", "--key", "m.csv"], &[], 3);
    // A wrong secret: the storage error names neither.
    let wrong = "ffffffffffffffffffffffffffffffff";
    let err = sh.fails(&secret, &["save", "a.csv", "--key", "b.csv"], &[("AWS_SECRET_ACCESS_KEY", wrong)], 1);
    assert_hidden(wrong, &err, "the error");
    // Credentials inside the root URI are refused, not recorded.
    let with_creds = format!("s3://{}:{secret}@{}/x", bucket.access_key_id, bucket.bucket);
    sh.fails(&secret, &["storage", "add", &with_creds], &[], 2);

    assert_hidden(&secret, &catalog_dump(&db), "the catalog's rows");
    let mut cfg = trove_storage::S3Config::new(&bucket.bucket, "prefix");
    cfg.endpoint = Some(bucket.endpoint.clone());
    cfg.region = bucket.region.clone();
    cfg.access_key_id = Some(bucket.access_key_id.clone());
    cfg.secret_access_key = Some(secret.clone());
    assert_hidden(&secret, &format!("{cfg:?}"), "S3Config's Debug");
    let store = trove_storage::OpendalStore::s3(cfg).unwrap();
    use trove::domain::ports::ObjectStore as _;
    let objects = store.list("").await.unwrap();
    assert!(objects.iter().any(|o| o.key == ".trove/storage.json"), "{objects:?}");
    for o in objects {
        let bytes = store.read_all(&o.key).await.unwrap();
        assert_hidden(&secret, &String::from_utf8_lossy(&bytes), &o.key);
    }
    assert_stored_only_in(&secret, &[sh.path("config"), sh.path("cache")], None);
}

/// Argument errors quote the offending argument back: a URL among them is redacted.
#[test]
fn argument_errors_redact_urls() {
    let sh = Shell::new();
    let secret = "hunter2hunter2";
    let url = format!("postgresql://u:{secret}@h/db?sslmode=disable");
    let err = sh.fails(secret, &["ls", &url], &[], 2);
    assert!(err.contains("postgresql://u:***@h/db"), "still says which argument: {err}");
    sh.fails(secret, &["instance", &format!("--db={url}")], &[], 2);
    sh.fails(secret, &["init", "--db", &url], &[], 2);
}
