//! Provider `local`: PostgreSQL, garage and fake-gcs-server as local processes, for machines
//! without Docker.
//!
//! * PostgreSQL: the first of `$TROVE_TEST_PG_BINDIR`, `/usr/lib/postgresql/15/bin`, then any
//!   other `/usr/lib/postgresql/*/bin`. PostgreSQL refuses to run as root, so as root `initdb`
//!   and `postgres` run as the `postgres` user, on a data directory it owns.
//! * garage: `$TROVE_TEST_GARAGE_BIN`, the binary `cargo xtask test-images` caches, or `garage`
//!   on `PATH`.
//! * fake-gcs-server: `$TROVE_TEST_FAKE_GCS_BIN`, the cached binary, or `fake-gcs-server` on
//!   `PATH`.
//!
//! Each server gets a free port on 127.0.0.1, its files and log under the session directory;
//! the processes are listed for the reaper, which kills them when the session ends. A missing
//! server is an error that names the fix.

use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::Provider;
use super::servers::{
    self, FAKE_GCS_WHEEL_VERSION, GARAGE_VERSION, GcsServer, PgServer, S3Server, Servers, garage_config,
    garage_secrets, garage_server_args,
};
use super::session::Session;

const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// `$TROVE_TEST_CACHE`, else `~/.cache/trove-test-images` (as in `cargo xtask test-images`).
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TROVE_TEST_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/trove-test-images")
}

/// The directory of PostgreSQL's server binaries, if any is installed.
pub fn postgres_bindir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("TROVE_TEST_PG_BINDIR") {
        return Some(PathBuf::from(dir));
    }
    let preferred = PathBuf::from("/usr/lib/postgresql/15/bin");
    if preferred.join("postgres").is_file() {
        return Some(preferred);
    }
    let mut others: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("postgres").is_file() && bin.join("initdb").is_file())
        .collect();
    others.sort();
    others.pop()
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_string_lossy().split(':').map(|dir| Path::new(dir).join(program)).find(|p| p.is_file())
}

fn find_binary(env: &str, cached: PathBuf, program: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    if cached.is_file() {
        return Some(cached);
    }
    on_path(program)
}

/// The uid and gid of the `postgres` user, when running as root (PostgreSQL refuses root).
fn postgres_identity() -> Result<Option<(u32, u32)>, String> {
    let me = fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1);
    if me != 0 {
        return Ok(None);
    }
    let passwd = fs::read_to_string("/etc/passwd").map_err(|e| format!("reading /etc/passwd: {e}"))?;
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&"postgres") && fields.len() > 3)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                .flatten()
        })
        .map(Some)
        .ok_or_else(|| {
            "running as root, and PostgreSQL refuses root, but there is no `postgres` user \
             (install postgresql-15, or run the tests as another user)"
                .to_string()
        })
}

fn log_file(path: &Path) -> Result<(Stdio, Stdio), String> {
    let file = fs::File::create(path).map_err(|e| format!("creating {}: {e}", path.display()))?;
    let copy = file.try_clone().map_err(|e| format!("opening {}: {e}", path.display()))?;
    Ok((file.into(), copy.into()))
}

fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn start_postgres(session: &Session) -> Result<PgServer, String> {
    let bindir = postgres_bindir().ok_or(
        "PostgreSQL's server binaries are missing (apt-get install postgresql-15, \
         or set TROVE_TEST_PG_BINDIR)",
    )?;
    let identity = postgres_identity()?;
    let data = session.dir.join("pg");
    fs::create_dir_all(&data).map_err(|e| format!("creating {}: {e}", data.display()))?;
    if let Some((uid, gid)) = identity {
        std::os::unix::fs::chown(&data, Some(uid), Some(gid)).map_err(|e| format!("chown {}: {e}", data.display()))?;
    }
    let as_postgres = |program: &str| {
        let mut cmd = Command::new(bindir.join(program));
        if let Some((uid, gid)) = identity {
            cmd.uid(uid).gid(gid);
        }
        cmd.env_remove("PGDATA").stdin(Stdio::null());
        cmd
    };
    let initdb_log = session.dir.join("initdb.log");
    let (out, err) = log_file(&initdb_log)?;
    let status = as_postgres("initdb")
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"])
        .stdout(out)
        .stderr(err)
        .status()
        .map_err(|e| format!("running {}/initdb: {e}", bindir.display()))?;
    if !status.success() {
        return Err(format!("initdb failed ({status}):\n{}", tail(&initdb_log)));
    }
    let port = servers::free_port()?;
    let log = session.dir.join("postgres.log");
    let (out, err) = log_file(&log)?;
    let child = as_postgres("postgres")
        .arg("-D")
        .arg(&data)
        .arg("-p")
        .arg(port.to_string())
        .arg("-k")
        .arg(&data)
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=300",
        ])
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting {}/postgres: {e}", bindir.display()))?;
    // SIGQUIT: immediate shutdown; the data directory is thrown away.
    session.record_pid("QUIT", child.id())?;
    let version = servers::wait_postgres("127.0.0.1", port, READY_TIMEOUT)
        .map_err(|e| format!("{e}\n{}:\n{}", log.display(), tail(&log)))?;
    Ok(PgServer { host: "127.0.0.1".into(), port, user: "postgres".into(), version })
}

fn start_garage(session: &Session) -> Result<S3Server, String> {
    let cached = cache_dir().join(format!("garage-{GARAGE_VERSION}/bin/garage"));
    let binary = find_binary("TROVE_TEST_GARAGE_BIN", cached.clone(), "garage").ok_or_else(|| {
        format!(
            "garage is missing (looked at $TROVE_TEST_GARAGE_BIN, {}, PATH): \
             `cargo xtask test-images` installs it",
            cached.display()
        )
    })?;
    let dir = session.dir.join("garage");
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let (admin_token, key_id, secret) = garage_secrets();
    let ports = (servers::free_port()?, servers::free_port()?, servers::free_port()?);
    let config = dir.join("garage.toml");
    let dir_text = dir.to_string_lossy().into_owned();
    fs::write(&config, garage_config(&dir_text, "127.0.0.1", ports, &admin_token))
        .map_err(|e| format!("writing {}: {e}", config.display()))?;
    let log = session.dir.join("garage.log");
    let (out, err) = log_file(&log)?;
    let child = Command::new(&binary)
        .args(garage_server_args(&config.to_string_lossy()))
        .env("GARAGE_DEFAULT_ACCESS_KEY", &key_id)
        .env("GARAGE_DEFAULT_SECRET_KEY", &secret)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", binary.display()))?;
    session.record_pid("KILL", child.id())?;
    let server = S3Server {
        endpoint: format!("http://127.0.0.1:{}", ports.0),
        admin_addr: format!("127.0.0.1:{}", ports.2),
        admin_token,
        access_key_id: key_id,
        secret_access_key: secret,
    };
    servers::wait_garage(&server, READY_TIMEOUT).map_err(|e| format!("{e}\n{}:\n{}", log.display(), tail(&log)))?;
    Ok(server)
}

fn start_gcs(session: &Session) -> Result<GcsServer, String> {
    let cached = cache_dir().join(format!("fake-gcs-server-{FAKE_GCS_WHEEL_VERSION}/fake-gcs-server"));
    let binary = find_binary("TROVE_TEST_FAKE_GCS_BIN", cached.clone(), "fake-gcs-server").ok_or_else(|| {
        format!(
            "fake-gcs-server is missing (looked at $TROVE_TEST_FAKE_GCS_BIN, {}, PATH): \
                 `cargo xtask test-images` installs it",
            cached.display()
        )
    })?;
    let port = servers::free_port()?;
    let endpoint = format!("http://127.0.0.1:{port}");
    let log = session.dir.join("fake-gcs-server.log");
    let (out, err) = log_file(&log)?;
    let child = Command::new(&binary)
        .args(["-scheme", "http", "-host", "127.0.0.1", "-port"])
        .arg(port.to_string())
        .args(["-backend", "memory", "-log-level", "warn", "-external-url"])
        .arg(&endpoint)
        .arg("-public-host")
        .arg(servers::host_port(&endpoint))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", binary.display()))?;
    session.record_pid("KILL", child.id())?;
    let server = GcsServer { endpoint };
    servers::wait_gcs(&server, READY_TIMEOUT).map_err(|e| format!("{e}\n{}:\n{}", log.display(), tail(&log)))?;
    Ok(server)
}

fn joined<T>(name: &str, result: std::thread::Result<Result<T, String>>) -> Result<T, String> {
    result.map_err(|_| format!("starting {name} panicked"))?
}

/// Starts the three servers concurrently and waits until each answers.
pub fn start(session: &Session) -> Result<Servers, String> {
    std::thread::scope(|scope| {
        let pg = scope.spawn(|| start_postgres(session));
        let s3 = scope.spawn(|| start_garage(session));
        let gcs = scope.spawn(|| start_gcs(session));
        let pg = joined("PostgreSQL", pg.join());
        let s3 = joined("garage", s3.join());
        let gcs = joined("fake-gcs-server", gcs.join());
        let errors: Vec<String> =
            [pg.as_ref().err(), s3.as_ref().err(), gcs.as_ref().err()].into_iter().flatten().cloned().collect();
        if !errors.is_empty() {
            return Err(errors.join("\n"));
        }
        Ok(Servers { provider: Provider::Local, postgres: pg.ok(), s3: s3.ok(), gcs: gcs.ok() })
    })
}
