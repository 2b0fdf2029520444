//! Real backends for tests: a fresh, isolated PostgreSQL database, S3 bucket and GCS bucket per
//! test, cleaned up afterwards even when the test fails.
//!
//! ```no_run
//! # async fn example() {
//! use trove_testkit::backends::backends;
//!
//! let b = backends().await; // starts the servers once per test run, prints which
//! if let Some(db) = b.postgres_db().await {
//!     // db.url: "postgres://postgres@127.0.0.1:PORT/trove_…", a database of its own,
//!     // dropped when `db` is.
//! }
//! if let Some(bucket) = b.s3_bucket().await {
//!     // bucket.endpoint / region / bucket / access_key_id / secret_access_key
//! }
//! if let Some(bucket) = b.gcs_bucket().await {
//!     // bucket.endpoint / bucket
//! }
//! let sqlite = b.sqlite_db(); // every provider: a fresh SQLite file
//! # }
//! ```
//!
//! # Providers
//!
//! `TROVE_TEST_BACKENDS` picks one:
//! * `containers`: PostgreSQL 15, garage (a production S3 server) and fake-gcs-server as
//!   containers from the local image `trove-test-servers:1`, which `cargo xtask test-images`
//!   builds (no image registry is reachable). Image names are configurable:
//!   `TROVE_TEST_SERVERS_IMAGE`, or one per server with `TROVE_TEST_PG_IMAGE`,
//!   `TROVE_TEST_S3_IMAGE`, `TROVE_TEST_GCS_IMAGE` (official `postgres`, `dxflrs/garage` and
//!   `fsouza/fake-gcs-server` images work where they can be pulled).
//! * `local`: the same servers as local processes (PostgreSQL run as the `postgres` user when
//!   root; garage and fake-gcs-server from the cache `cargo xtask test-images` fills).
//! * `embedded`: no servers; [`TestBackends::postgres_db`], [`TestBackends::s3_bucket`] and
//!   [`TestBackends::gcs_bucket`] return `None`, and tests use [`TestBackends::sqlite_db`] and
//!   [`TestBackends::local_dir`].
//!
//! Unset: `containers` if a Docker engine answers and has the images, else `local` if
//! PostgreSQL's server binaries are found, else `embedded`. A provider asked for by name fails
//! loudly (every fixture call panics with the reason and the fix) instead of testing less.
//!
//! The chosen provider and its endpoints are printed to stderr once per test process, e.g.
//! `backends: containers (postgres 15.14 at 127.0.0.1:32768, garage at http://127.0.0.1:32769,
//! fake-gcs-server at http://127.0.0.1:41234)`.
//!
//! # Passwords
//!
//! The servers trust every connection, so a wrong password would go unnoticed. For tests of
//! credentials, [`PgDatabase::password_user`] makes a role that must log in with its password:
//! the first call on a server prepends one line to its `pg_hba.conf`,
//! `host all +trove_scram all scram-sha-256` (members of the group `trove_scram` give a SCRAM
//! password over TCP), and reloads the configuration. Nothing else connects as such a member,
//! so every other test still connects as `postgres` without a password; the image and the
//! servers' start-up are unchanged.
//!
//! # Sharing and cleanup
//!
//! The servers start lazily, once per test run: under `cargo test` every test binary of one
//! cargo invocation shares them, under `cargo nextest` every test process of the run does (the
//! first process starts them under a file lock). They are removed when the runner exits, by a
//! reaper process that also runs when a test process panics or is killed; leftovers of an
//! earlier run whose reaper could not run are removed at the next start. Each database and
//! bucket has a random name, so tests never see each other's data. Databases are dropped when
//! their [`PgDatabase`] is; buckets go with their server.

mod containers;
mod http;
mod local;
mod moto;
mod password_auth;
mod pgwire;
mod servers;
mod session;

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ChildStdin;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use servers::{GARAGE_REGION, GcsServer, PgServer, S3Server, Servers};
use session::Session;

pub use pgwire::Row;

/// Which servers back the tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// PostgreSQL, garage and fake-gcs-server in containers (testcontainers).
    Containers,
    /// The same servers as local processes.
    Local,
    /// No servers: SQLite files and local directories only.
    Embedded,
}

impl Provider {
    /// The name `TROVE_TEST_BACKENDS` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Containers => "containers",
            Provider::Local => "local",
            Provider::Embedded => "embedded",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The servers of this test run; get it with [`backends`] or [`backends_blocking`].
pub struct TestBackends {
    servers: Servers,
    summary: String,
    /// For an unshared session, the reaper's stdin: closed (by the kernel) when the process
    /// ends, which tells the reaper to clean up. Never read.
    _reaper: Mutex<Option<ChildStdin>>,
}

impl fmt::Debug for TestBackends {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary)
    }
}

static BACKENDS: OnceLock<Result<TestBackends, String>> = OnceLock::new();

/// The test run's backends, starting the servers on first use (once per test process, or
/// shared by the run's processes; see the module docs). Panics, with the reason and the fix,
/// when the chosen provider cannot start.
pub async fn backends() -> &'static TestBackends {
    if let Some(ready) = BACKENDS.get() {
        return unwrap_backends(ready);
    }
    tokio::task::spawn_blocking(backends_blocking).await.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// [`backends`] for synchronous code (e.g. proptest state machines holding their own runtime).
/// Blocks while the servers start.
pub fn backends_blocking() -> &'static TestBackends {
    unwrap_backends(BACKENDS.get_or_init(|| {
        let result = init();
        let line = match &result {
            Ok(b) => format!("trove-testkit {}", b.summary),
            Err(e) => format!("trove-testkit backends: FAILED: {e}"),
        };
        // Straight to stderr (not eprintln!, which the test harness captures).
        let _ = writeln!(std::io::stderr(), "{line}");
        result
    }))
}

fn unwrap_backends(ready: &'static Result<TestBackends, String>) -> &'static TestBackends {
    match ready {
        Ok(b) => b,
        Err(e) => panic!("trove-testkit: the test backends could not start: {e}"),
    }
}

/// The one-line summary of the backends in use, starting them if needed:
/// `backends: containers (postgres 15.14 at …, garage at …, fake-gcs-server at …)`.
pub fn describe() -> &'static str {
    backends_blocking().describe()
}

/// `TROVE_TEST_BACKENDS`, or the automatic choice.
fn choose_provider() -> Result<Provider, String> {
    match std::env::var("TROVE_TEST_BACKENDS").as_deref() {
        Ok("containers") => Ok(Provider::Containers),
        Ok("local") => Ok(Provider::Local),
        Ok("embedded") => Ok(Provider::Embedded),
        Ok("") | Err(std::env::VarError::NotPresent) => {
            if containers::docker_answers() {
                let missing = containers::missing_images();
                if missing.is_empty() {
                    return Ok(Provider::Containers);
                }
                let _ = writeln!(
                    std::io::stderr(),
                    "trove-testkit: Docker answers but lacks {} (`cargo xtask test-images` builds it); not using containers",
                    missing.join(", ")
                );
            }
            Ok(if local::postgres_bindir().is_some() { Provider::Local } else { Provider::Embedded })
        }
        Ok(other) => Err(format!("TROVE_TEST_BACKENDS={other:?}: expected containers, local or embedded")),
        Err(e) => Err(format!("TROVE_TEST_BACKENDS: {e}")),
    }
}

fn init() -> Result<TestBackends, String> {
    let provider = choose_provider()?;
    if provider == Provider::Embedded {
        return Ok(TestBackends::new(Servers { provider, postgres: None, s3: None, gcs: None }, None));
    }
    if provider == Provider::Containers && !containers::docker_answers() {
        return Err("TROVE_TEST_BACKENDS=containers, but no Docker engine answers \
             (is the daemon running? DOCKER_HOST?)"
            .into());
    }
    let docker = provider == Provider::Containers;
    if docker && !session::docker_cli_found() {
        let _ = writeln!(
            std::io::stderr(),
            "trove-testkit: warning: no `docker` command on PATH: this run's containers cannot be \
             removed when it ends (install the Docker CLI)"
        );
    }
    session::reap_stale(docker);
    let session = Session::current()?;
    let start = |session: &Session| match provider {
        Provider::Containers => containers::start(session),
        _ => local::start(session),
    };
    if !session.shared {
        let reaper = session.spawn_reaper(docker)?;
        let servers = start(&session)?;
        return Ok(TestBackends::new(servers, reaper));
    }
    // Shared by the run's test processes: the first one starts the servers.
    let lock_path = session.dir.join("lock");
    let lock = fs::File::create(&lock_path).map_err(|e| format!("creating {}: {e}", lock_path.display()))?;
    lock.lock().map_err(|e| format!("locking {}: {e}", lock_path.display()))?;
    let state_path = session.dir.join(format!("servers-{provider}.json"));
    if let Some(servers) = fs::read_to_string(&state_path)
        .ok()
        .and_then(|text| serde_json::from_str::<Servers>(&text).ok())
        .filter(still_up)
    {
        return Ok(TestBackends::new(servers, None));
    }
    session.spawn_reaper(docker)?;
    let servers = start(&session)?;
    let text = serde_json::to_string_pretty(&servers).map_err(|e| e.to_string())?;
    fs::write(&state_path, text).map_err(|e| format!("writing {}: {e}", state_path.display()))?;
    drop(lock);
    Ok(TestBackends::new(servers, None))
}

/// Whether shared servers from the state file still answer.
fn still_up(servers: &Servers) -> bool {
    servers.postgres.as_ref().is_none_or(|pg| {
        std::net::TcpStream::connect_timeout(
            &match format!("{}:{}", pg.host, pg.port).parse() {
                Ok(addr) => addr,
                Err(_) => return false,
            },
            Duration::from_secs(2),
        )
        .is_ok()
    })
}

impl TestBackends {
    fn new(servers: Servers, reaper: Option<ChildStdin>) -> TestBackends {
        TestBackends { summary: servers.summary(), servers, _reaper: Mutex::new(reaper) }
    }

    /// The provider in use.
    pub fn provider(&self) -> Provider {
        self.servers.provider
    }

    /// One line naming the provider and each server's address, for test output.
    pub fn describe(&self) -> &str {
        &self.summary
    }

    /// A fresh PostgreSQL database (`CREATE DATABASE` with a random name), dropped when the
    /// returned value is; `None` only under the `embedded` provider. Panics if the server
    /// refuses.
    pub async fn postgres_db(&self) -> Option<PgDatabase> {
        let server = self.servers.postgres.clone()?;
        Some(
            tokio::task::spawn_blocking(move || PgDatabase::create(server))
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())),
        )
    }

    /// [`TestBackends::postgres_db`] for synchronous code.
    pub fn postgres_db_blocking(&self) -> Option<PgDatabase> {
        Some(PgDatabase::create(self.servers.postgres.clone()?))
    }

    /// A fresh S3 bucket on garage, with a key that may read, write and own it; `None` only
    /// under the `embedded` provider. Panics if the server refuses.
    pub async fn s3_bucket(&self) -> Option<S3Bucket> {
        let server = self.servers.s3.clone()?;
        Some(
            tokio::task::spawn_blocking(move || S3Bucket::create(&server))
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())),
        )
    }

    /// [`TestBackends::s3_bucket`] for synchronous code.
    pub fn s3_bucket_blocking(&self) -> Option<S3Bucket> {
        Some(S3Bucket::create(self.servers.s3.as_ref()?))
    }

    /// A fresh S3 bucket on a server that honours conditional writes (`If-None-Match: *`,
    /// `If-Match`), which garage ignores: moto's server mode, started on first use in this
    /// process under every provider; `None` (with a note) when `moto_server` is not installed
    /// (`scripts/install-test-deps.sh` installs it) and no provider was asked for. Such a
    /// bucket has no [`S3Bucket::unfinished_uploads`]. Panics if the server does not start or
    /// refuses, and when `moto_server` is missing although `TROVE_TEST_BACKENDS` asks for real
    /// backends (as CI does): a broken install must not silently test less.
    pub fn conditional_s3_bucket_blocking(&self) -> Option<S3Bucket> {
        let server = match moto::server() {
            Ok(Some(s)) => s,
            Ok(None) => {
                let msg = "trove-testkit: no moto_server (pip install 'moto[server]', or run \
                           scripts/install-test-deps.sh): no S3 server with conditional writes";
                if std::env::var_os("TROVE_TEST_BACKENDS").is_some_and(|v| !v.is_empty()) {
                    panic!("{msg}, but TROVE_TEST_BACKENDS asks for the real backends");
                }
                let _ = writeln!(std::io::stderr(), "{msg}");
                return None;
            }
            Err(e) => panic!("trove-testkit: {e}"),
        };
        let bucket = format!("trove-{}", servers::random_hex(8));
        moto::create_bucket(server, &bucket).unwrap_or_else(|e| panic!("trove-testkit: {e}"));
        Some(S3Bucket {
            endpoint: server.endpoint.clone(),
            region: moto::MOTO_REGION.to_string(),
            bucket,
            access_key_id: "trove-test".into(),
            secret_access_key: "trove-test-secret".into(),
            admin: None,
        })
    }

    /// [`TestBackends::conditional_s3_bucket_blocking`] for async code.
    pub async fn conditional_s3_bucket(&self) -> Option<S3Bucket> {
        tokio::task::spawn_blocking(|| backends_blocking().conditional_s3_bucket_blocking())
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }

    /// A fresh bucket on the GCS emulator; `None` only under the `embedded` provider. Panics if
    /// the server refuses.
    pub async fn gcs_bucket(&self) -> Option<GcsBucket> {
        let server = self.servers.gcs.clone()?;
        Some(
            tokio::task::spawn_blocking(move || GcsBucket::create(&server))
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())),
        )
    }

    /// [`TestBackends::gcs_bucket`] for synchronous code.
    pub fn gcs_bucket_blocking(&self) -> Option<GcsBucket> {
        Some(GcsBucket::create(self.servers.gcs.as_ref()?))
    }

    /// A fresh SQLite database file in a temporary directory (every provider), removed when
    /// the returned value is dropped.
    pub fn sqlite_db(&self) -> SqliteDatabase {
        let dir = temp_dir();
        let path = dir.path().join("trove.sqlite");
        SqliteDatabase { url: format!("sqlite://{}?mode=rwc", path.display()), path, _dir: dir }
    }

    /// A fresh empty directory (every provider), e.g. for a filesystem object store; removed
    /// when the returned value is dropped.
    pub fn local_dir(&self) -> tempfile::TempDir {
        temp_dir()
    }
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("trove-test-")
        .tempdir()
        .unwrap_or_else(|e| panic!("trove-testkit: creating a temporary directory: {e}"))
}

/// A PostgreSQL database of one test's own; dropped (`DROP DATABASE … WITH (FORCE)`) when this
/// value is, which also ends connections still open to it.
#[derive(Debug)]
pub struct PgDatabase {
    /// Connection URL: `postgres://postgres@HOST:PORT/NAME` (no password: the test server
    /// trusts local connections).
    pub url: String,
    /// The database's name: `trove_` and 16 random hex digits.
    pub name: String,
    server: PgServer,
    /// Roles made by [`PgDatabase::password_user`], dropped after the database.
    roles: Mutex<Vec<String>>,
}

impl PgDatabase {
    fn create(server: PgServer) -> PgDatabase {
        let name = format!("trove_{}", servers::random_hex(8));
        pgwire::simple_query(
            &server.host,
            server.port,
            &server.user,
            "postgres",
            &format!("CREATE DATABASE \"{name}\""),
        )
        .unwrap_or_else(|e| panic!("trove-testkit: creating database {name}: {e}"));
        PgDatabase {
            url: format!("postgres://{}@{}:{}/{name}", server.user, server.host, server.port),
            name,
            server,
            roles: Mutex::new(Vec::new()),
        }
    }

    /// Runs SQL on this database with the testkit's own minimal client (simple-query protocol,
    /// values as text): for checks and set-up, not for the code under test.
    pub fn simple_query(&self, sql: &str) -> Result<Vec<Row>, String> {
        pgwire::simple_query(&self.server.host, self.server.port, &self.server.user, &self.name, sql)
    }

    /// A new login role that owns this database and must give its password: the server asks
    /// it for SCRAM-SHA-256 over TCP, while every other connection of the run stays on trust
    /// (see the module docs). Checked before it is returned: a connection without the
    /// password is refused. Dropped with the database. Panics if the server refuses.
    pub fn password_user(&self) -> PgPasswordUser {
        let server = &self.server;
        password_auth::require_for_group(server).unwrap_or_else(|e| panic!("trove-testkit: {e}"));
        let user = format!("trove_pw_{}", servers::random_hex(6));
        let password = servers::random_hex(16);
        self.roles.lock().unwrap_or_else(|e| e.into_inner()).push(user.clone());
        pgwire::simple_query(
            &server.host,
            server.port,
            &server.user,
            "postgres",
            &format!(
                "SET password_encryption = 'scram-sha-256'; \
                 CREATE ROLE \"{user}\" LOGIN PASSWORD '{password}' IN ROLE {group}; \
                 ALTER DATABASE \"{db}\" OWNER TO \"{user}\"",
                group = password_auth::GROUP,
                db = self.name
            ),
        )
        .unwrap_or_else(|e| panic!("trove-testkit: creating role {user}: {e}"));
        password_auth::check_refused_without_password(server, &user, &self.name)
            .unwrap_or_else(|e| panic!("trove-testkit: {e}"));
        PgPasswordUser { user, password, host: server.host.clone(), port: server.port, database: self.name.clone() }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Best effort: the whole server goes at the end of the run anyway.
        let _ = pgwire::simple_query(
            &self.server.host,
            self.server.port,
            &self.server.user,
            "postgres",
            &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
        );
        for role in self.roles.get_mut().unwrap_or_else(|e| e.into_inner()).drain(..) {
            let _ = pgwire::simple_query(
                &self.server.host,
                self.server.port,
                &self.server.user,
                "postgres",
                &format!("DROP ROLE IF EXISTS \"{role}\""),
            );
        }
    }
}

/// A PostgreSQL login role that must authenticate with its password (SCRAM-SHA-256), owner of
/// one test database ([`PgDatabase::password_user`]).
#[derive(Clone)]
pub struct PgPasswordUser {
    /// The role's name: `trove_pw_` and 12 random hex digits.
    pub user: String,
    /// Its password: 32 random hex digits (no character needs encoding in a URL).
    pub password: String,
    /// Host to connect to (over TCP).
    pub host: String,
    /// Port to connect to.
    pub port: u16,
    /// The database it owns.
    pub database: String,
}

impl PgPasswordUser {
    /// `postgres://USER@HOST:PORT/DATABASE`: no password, for PGPASSWORD or a pgpass file.
    pub fn url(&self) -> String {
        format!("postgres://{}@{}:{}/{}", self.user, self.host, self.port, self.database)
    }

    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE`.
    pub fn url_with_password(&self) -> String {
        format!("postgres://{}:{}@{}:{}/{}", self.user, self.password, self.host, self.port, self.database)
    }

    /// The line of a pgpass file that gives this role its password.
    pub fn pgpass_line(&self) -> String {
        format!("{}:{}:{}:{}:{}\n", self.host, self.port, self.database, self.user, self.password)
    }
}

impl fmt::Debug for PgPasswordUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgPasswordUser")
            .field("user", &self.user)
            .field("password", &trove_domain::secret::REDACTED)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .finish()
    }
}

/// An S3 bucket of one test's own on garage, and credentials for it. Use path-style
/// addressing (OpenDAL's default) and these exact values; the bucket lives until the server
/// stops at the end of the run.
#[derive(Clone, Debug)]
pub struct S3Bucket {
    /// `http://HOST:PORT` of the S3 API.
    pub endpoint: String,
    /// The region garage answers to: `garage`.
    pub region: String,
    /// The bucket's name: `trove-` and 16 random hex digits.
    pub bucket: String,
    /// Access key id allowed to read, write and own the bucket.
    pub access_key_id: String,
    /// The access key's secret.
    pub secret_access_key: String,
    /// `host:port` and bearer token of garage's admin API, for [`S3Bucket::unfinished_uploads`]
    /// (`None` on moto).
    admin: Option<(String, String)>,
}

/// Multipart uploads begun in a bucket and neither completed nor aborted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnfinishedUploads {
    /// How many.
    pub uploads: u64,
    /// The bytes their uploaded parts hold.
    pub bytes: u64,
}

impl S3Bucket {
    /// The multipart uploads left unfinished in this bucket (garage's `GetBucketInfo`). No
    /// listing shows them, yet their parts take space until they are aborted: a writer killed
    /// during a large upload leaves one. Panics if the admin API does not answer.
    pub fn unfinished_uploads(&self) -> UnfinishedUploads {
        let Some((addr, token)) = &self.admin else {
            panic!(
                "trove-testkit: bucket {} is on moto, which has no admin API to count unfinished uploads",
                self.bucket
            )
        };
        let auth = format!("Bearer {token}");
        let path = format!("/v2/GetBucketInfo?globalAlias={}", self.bucket);
        let reply = http::request(addr, "GET", &path, &[("Authorization", &auth)], b"")
            .unwrap_or_else(|e| panic!("trove-testkit: reading bucket {}: {e}", self.bucket));
        if reply.status != 200 {
            panic!("trove-testkit: reading bucket {}: garage answered {}: {}", self.bucket, reply.status, reply.text());
        }
        let info: serde_json::Value = serde_json::from_slice(&reply.body)
            .unwrap_or_else(|e| panic!("trove-testkit: reading bucket {}: {e}: {}", self.bucket, reply.text()));
        let field = |name: &str| {
            info[name].as_u64().unwrap_or_else(|| panic!("trove-testkit: GetBucketInfo has no `{name}`: {info}"))
        };
        UnfinishedUploads {
            uploads: field("unfinishedMultipartUploads"),
            bytes: field("unfinishedMultipartUploadBytes"),
        }
    }

    fn create(server: &S3Server) -> S3Bucket {
        let bucket = format!("trove-{}", servers::random_hex(8));
        let body = serde_json::json!({
            "globalAlias": bucket,
            "localAlias": {
                "accessKeyId": server.access_key_id,
                "alias": bucket,
                "allow": { "read": true, "write": true, "owner": true },
            },
        })
        .to_string();
        let auth = format!("Bearer {}", server.admin_token);
        let reply = http::request(
            &server.admin_addr,
            "POST",
            "/v2/CreateBucket",
            &[("Authorization", &auth), ("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .unwrap_or_else(|e| panic!("trove-testkit: creating S3 bucket {bucket}: {e}"));
        if reply.status != 200 {
            panic!("trove-testkit: creating S3 bucket {bucket}: garage answered {}: {}", reply.status, reply.text());
        }
        S3Bucket {
            endpoint: server.endpoint.clone(),
            region: GARAGE_REGION.to_string(),
            bucket,
            access_key_id: server.access_key_id.clone(),
            secret_access_key: server.secret_access_key.clone(),
            admin: Some((server.admin_addr.clone(), server.admin_token.clone())),
        }
    }
}

/// A GCS bucket of one test's own on the emulator (fake-gcs-server: no authentication, any
/// token is accepted; single-shot uploads, reads, listing, copy and per-object delete work,
/// resumable/multipart uploads and batch delete do not). The bucket lives until the server
/// stops at the end of the run.
#[derive(Clone, Debug)]
pub struct GcsBucket {
    /// `http://HOST:PORT` of the JSON API (OpenDAL's GCS `endpoint`).
    pub endpoint: String,
    /// The bucket's name: `trove-` and 16 random hex digits.
    pub bucket: String,
}

impl GcsBucket {
    fn create(server: &GcsServer) -> GcsBucket {
        let bucket = format!("trove-{}", servers::random_hex(8));
        let body = serde_json::json!({ "name": bucket }).to_string();
        let reply = http::request(
            servers::host_port(&server.endpoint),
            "POST",
            "/storage/v1/b?project=trove-test",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .unwrap_or_else(|e| panic!("trove-testkit: creating GCS bucket {bucket}: {e}"));
        if reply.status != 200 {
            panic!(
                "trove-testkit: creating GCS bucket {bucket}: the emulator answered {}: {}",
                reply.status,
                reply.text()
            );
        }
        GcsBucket { endpoint: server.endpoint.clone(), bucket }
    }
}

/// A SQLite database file of one test's own, removed (with its directory) on drop.
#[derive(Debug)]
pub struct SqliteDatabase {
    /// Connection URL: `sqlite:///tmp/trove-test-…/trove.sqlite?mode=rwc` (created on connect).
    pub url: String,
    /// The database file's path.
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}
