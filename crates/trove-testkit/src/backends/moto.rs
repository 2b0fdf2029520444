//! An S3 server that honours conditional writes, for what needs them (the catalog of an
//! instance in a bucket, spec 3): moto's server mode (`moto_server`, from the PyPI package
//! `moto[server]`, which `scripts/install-test-deps.sh` installs). garage 2.5 accepts
//! `If-None-Match: *` and `If-Match` on PutObject but ignores them; moto refuses a write whose
//! precondition fails with 412, as AWS S3 does.
//!
//! Started on first use, once per test process, under every provider, when the binary is found
//! (`$TROVE_TEST_MOTO_BIN`, else `moto_server` on `PATH`): a small `sh` wrapper in its own
//! process group runs it and stops it when this process ends, however it ends. In-memory:
//! nothing is left on disk. Buckets are created with an unsigned `PUT /<bucket>`; any key id and
//! secret are accepted.

use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{http, servers};

/// The region moto answers to.
pub const MOTO_REGION: &str = "us-east-1";

/// A running moto server.
#[derive(Debug)]
pub struct MotoServer {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

static MOTO: OnceLock<Result<Option<MotoServer>, String>> = OnceLock::new();

/// The binary, if installed.
fn binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TROVE_TEST_MOTO_BIN").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("moto_server")).find(|p| p.is_file())
}

/// The process's moto server, started on first use; `Ok(None)` when moto is not installed.
pub fn server() -> Result<Option<&'static MotoServer>, String> {
    match MOTO.get_or_init(start) {
        Ok(s) => Ok(s.as_ref()),
        Err(e) => Err(e.clone()),
    }
}

fn start() -> Result<Option<MotoServer>, String> {
    let Some(bin) = binary() else { return Ok(None) };
    let port = servers::free_port()?;
    let log = std::env::temp_dir().join(format!("trove-testkit-moto-{}-{port}.log", std::process::id()));
    // Runs moto, and stops it when the test process (its owner) is gone.
    const SCRIPT: &str = r#"
"$MOTO_BIN" -H 127.0.0.1 -p "$MOTO_PORT" >"$MOTO_LOG" 2>&1 &
m=$!
while kill -0 "$MOTO_OWNER" 2>/dev/null && kill -0 "$m" 2>/dev/null; do sleep 0.5; done
kill "$m" 2>/dev/null
sleep 1
kill -9 "$m" 2>/dev/null
rm -f "$MOTO_LOG"
"#;
    Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .env("MOTO_BIN", &bin)
        .env("MOTO_PORT", port.to_string())
        .env("MOTO_LOG", &log)
        .env("MOTO_OWNER", std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http::request(servers::host_port(&endpoint), "GET", "/", &[], b"")
            && r.status == 200
        {
            return Ok(Some(MotoServer { endpoint }));
        }
        if Instant::now() > deadline {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(format!("moto_server at {endpoint} did not answer within 60 s: {tail}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Create a bucket on `server`.
pub fn create_bucket(server: &MotoServer, bucket: &str) -> Result<(), String> {
    let reply = http::request(servers::host_port(&server.endpoint), "PUT", &format!("/{bucket}"), &[], b"")?;
    if reply.status != 200 {
        return Err(format!("creating bucket {bucket} on moto: {} {}", reply.status, reply.text()));
    }
    Ok(())
}
