//! Who owns the test servers, how they are shared, and how they are cleaned up.
//!
//! **Cleanup.** Before any server starts, a *reaper* is spawned: a small `sh` script in its own
//! process group, with no stdout/stderr of the test's (so runners that wait for those pipes do
//! not hang). It waits for the session's owner to end, then removes the session's containers
//! (`docker rm -f -v` by label), kills the local server processes listed in `<dir>/pids`, and
//! deletes the session directory. The owner ending is seen as EOF on the reaper's stdin (the test
//! process holds the write end, which the kernel closes however the process ends: normal exit,
//! panic, `SIGKILL`), or, for a shared session, as the owner's pid disappearing. Rust runs no
//! destructors for statics and the workspace forbids `unsafe` (no `atexit`), so this is what
//! makes "no leaks even when tests fail" hold. As a second line, each start also removes
//! labelled containers and session directories whose owner process is gone (a reaper killed
//! with its owner, a reboot).
//!
//! **Sharing.** Under `cargo nextest` (one process per test; `NEXTEST_RUN_ID` is set) and under
//! `cargo test` (one process per test binary, the parent is `cargo`), the servers are shared by
//! every test process of the run: the first process starts them under a file lock and writes
//! their endpoints to `<dir>/servers.json`; the others read it. The owner is then the runner
//! (nextest or cargo), and the servers go when it exits. A test binary started by hand owns its
//! servers alone.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};

/// The label every test container carries; its value is the session id.
pub const SESSION_LABEL: &str = "trove-testkit.session";
/// The label naming the pid whose end makes a container stale.
pub const OWNER_LABEL: &str = "trove-testkit.owner-pid";

/// One run's servers: who owns them and where their files go.
pub struct Session {
    /// Unique per owner: names the directory and labels the containers.
    pub id: String,
    /// The process whose end ends the servers.
    pub owner_pid: u32,
    /// Whether other test processes may share the servers (through `servers.json`).
    pub shared: bool,
    /// `$TMPDIR/trove-testkit/<id>`: data directories, logs, the pid list, the state file.
    pub dir: PathBuf,
}

/// The root of every session's directory.
pub fn sessions_root() -> PathBuf {
    std::env::temp_dir().join("trove-testkit")
}

impl Session {
    /// The session this process belongs to (see the module docs).
    pub fn current() -> Result<Session, String> {
        let pid = std::process::id();
        let parent = std::os::unix::process::parent_id();
        let (id, owner_pid, shared) = if let Ok(run) = std::env::var("NEXTEST_RUN_ID") {
            (format!("nextest-{run}"), parent, true)
        } else if std::env::var_os("CARGO").is_some() && process_name(parent) == "cargo" {
            let started = process_start_time(parent).unwrap_or_default();
            (format!("cargo-{parent}-{started}"), parent, true)
        } else {
            (format!("pid-{pid}-{:08x}", rand::random::<u32>()), pid, false)
        };
        let dir = sessions_root().join(&id);
        fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let _ = fs::write(dir.join("owner"), owner_pid.to_string());
        Ok(Session { id, owner_pid, shared, dir })
    }

    /// Records a local server process for the reaper: `signal` is a `kill` signal name.
    pub fn record_pid(&self, signal: &str, pid: u32) -> Result<(), String> {
        let path = self.dir.join("pids");
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("opening {}: {e}", path.display()))?;
        writeln!(file, "{signal} {pid}").map_err(|e| format!("writing {}: {e}", path.display()))
    }

    /// Spawns the reaper. For an unshared session, the returned pipe must stay open for the
    /// life of the process (keep it in a static): its closing is the signal.
    pub fn spawn_reaper(&self, remove_containers: bool) -> Result<Option<ChildStdin>, String> {
        const SCRIPT: &str = r#"
trap '' INT TERM HUP
if [ -n "$TROVE_REAP_PID" ]; then
  while kill -0 "$TROVE_REAP_PID" 2>/dev/null; do sleep 0.5; done
else
  cat >/dev/null
fi
if [ -n "$TROVE_REAP_LABEL" ]; then
  ids=$(docker ps -aq --filter "label=$TROVE_REAP_LABEL")
  if [ -n "$ids" ]; then docker rm -f -v $ids; fi
fi
if [ -f "$TROVE_REAP_DIR/pids" ]; then
  while read -r sig pid; do kill -s "$sig" "$pid" 2>/dev/null; done < "$TROVE_REAP_DIR/pids"
  sleep 1
fi
rm -rf "$TROVE_REAP_DIR" 2>/dev/null || { sleep 2; rm -rf "$TROVE_REAP_DIR"; }
"#;
        use std::os::unix::process::CommandExt as _;
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(SCRIPT)
            .env("TROVE_REAP_DIR", &self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        if remove_containers {
            cmd.env("TROVE_REAP_LABEL", format!("{SESSION_LABEL}={}", self.id));
        }
        if self.shared {
            cmd.env("TROVE_REAP_PID", self.owner_pid.to_string()).stdin(Stdio::null());
        } else {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().map_err(|e| format!("cannot spawn the cleanup process (sh): {e}"))?;
        Ok(child.stdin.take())
    }
}

/// Whether the `docker` command, which the reaper uses, is on `PATH`.
pub fn docker_cli_found() -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("docker").is_file()))
}

/// Whether a process exists.
pub fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn process_name(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm")).map(|s| s.trim().to_string()).unwrap_or_default()
}

/// Field 22 of `/proc/<pid>/stat`: tells a pid's incarnations apart.
fn process_start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// Removes what earlier runs left behind when their reaper could not run: containers and
/// session directories whose owner process is gone. Best effort, quiet.
pub fn reap_stale(docker: bool) {
    if docker {
        let listed = Command::new("docker")
            .args([
                "ps",
                "-a",
                "--filter",
                &format!("label={OWNER_LABEL}"),
                "--format",
                &format!("{{{{.ID}}}} {{{{.Label \"{OWNER_LABEL}\"}}}}"),
            ])
            .stderr(Stdio::null())
            .output();
        if let Ok(out) = listed {
            let stale: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|line| {
                    let (id, pid) = line.split_once(' ')?;
                    let pid: u32 = pid.trim().parse().ok()?;
                    (!alive(pid)).then(|| id.to_string())
                })
                .collect();
            if !stale.is_empty() {
                let _ = Command::new("docker")
                    .args(["rm", "-f", "-v"])
                    .args(&stale)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
    let Ok(entries) = fs::read_dir(sessions_root()) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let dir = entry.path();
        let owner = fs::read_to_string(dir.join("owner")).ok().and_then(|s| s.trim().parse::<u32>().ok());
        if owner.is_some_and(alive) {
            continue;
        }
        if let Ok(pids) = fs::read_to_string(dir.join("pids")) {
            for line in pids.lines() {
                if let Some((_, pid)) = line.split_once(' ') {
                    let _ = Command::new("kill").args(["-s", "KILL", pid.trim()]).stderr(Stdio::null()).status();
                }
            }
        }
        let _ = fs::remove_dir_all(&dir);
    }
}
