//! Logs and progress on stderr (issue 11): `-v`/`-vv` and `RUST_LOG` show the tracing events
//! of Trove and OpenDAL, with every secret redacted; without them nothing is logged. Progress
//! bars appear only on a terminal (a pseudo-terminal from `script`, where available) and never
//! with `--quiet`; stdout stays the command's output either way.

use std::path::PathBuf;
use std::process::{Command, Output};

const SECRET: &str = "Sup3rS3cretPassw0rd";

struct Shell {
    dir: tempfile::TempDir,
}

impl Shell {
    fn new() -> Shell {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        Shell { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_trove"));
        self.env(&mut c, env);
        c.args(args);
        c
    }

    fn env(&self, c: &mut Command, env: &[(&str, &str)]) {
        c.current_dir(self.dir.path())
            .env("TROVE_CONFIG_DIR", self.path("config"))
            .env("TROVE_CACHE_DIR", self.path("cache"))
            .env("HOME", self.path("home"));
        for v in ["TROVE_INSTANCE", "PGPASSWORD", "PGPASSFILE", "RUST_LOG"] {
            c.env_remove(v);
        }
        for (k, v) in env {
            c.env(k, v);
        }
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(args, env).output().unwrap()
    }

    /// An embedded instance with a 6 MiB file `big.bin` to save.
    fn with_instance() -> Shell {
        let sh = Shell::new();
        let out = sh.run(&["init", "--storage", sh.path("storage").to_str().unwrap()], &[]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let data: Vec<u8> = (0..6 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
        std::fs::write(sh.path("big.bin"), data).unwrap();
        sh
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn url() -> String {
    // Nothing listens on port 1: the connection fails after the URL was handled and logged.
    format!("postgresql://someone:{SECRET}@127.0.0.1:1/trove_db")
}

#[test]
fn verbose_logs_show_events_and_never_a_password() {
    let sh = Shell::new();
    let url = url();
    for (args, env) in [
        (vec!["-vv", "--instance", url.as_str(), "ls", "--json"], vec![]),
        (vec!["--instance", url.as_str(), "ls"], vec![("RUST_LOG", "trace")]),
        (vec!["init", "--storage", "st", &format!("--db={url}"), "-vvv"], vec![("PGPASSWORD", SECRET)]),
    ] {
        let out = sh.run(&args, &env);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        let shown = args.join(" ").replace(SECRET, "<secret>");
        assert!(!out.status.success(), "{shown}: nothing listens there");
        assert!(stderr.contains("connecting to the catalog"), "{shown}: the library's events are shown: {stderr}");
        assert!(stderr.contains("someone:***@127.0.0.1"), "{shown}: redacted, recognisable: {stderr}");
        for (what, s) in [("stdout", &stdout), ("stderr", &stderr)] {
            assert!(!s.contains(SECRET), "{shown}: the password appears in {what}: {}", s.replace(SECRET, "<SECRET>"));
        }
    }
}

#[test]
fn without_verbose_nothing_is_logged_and_verbose_shows_opendal() {
    let sh = Shell::with_instance();
    let out = sh.run(&["save", "big.bin", "--key", "big.bin"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "", "no logs, and no progress on a non-terminal");
    assert!(text(&out.stdout).contains("big.bin"));

    let out = sh.run(&["-vv", "save", "big.bin", "--key", "again.bin", "--allow-duplicate"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("copied and hashed"), "Trove's events: {stderr}");
    assert!(stderr.contains("opendal") || stderr.contains("stat"), "OpenDAL's operations: {stderr}");
    assert!(!text(&out.stdout).contains("copied and hashed"), "logs never go to stdout");

    // -v: info only, so the debug events stay hidden.
    let out = sh.run(&["-v", "ls"], &[]);
    assert!(out.status.success());
    assert!(!text(&out.stderr).contains("DEBUG"), "{}", text(&out.stderr));
}

/// `script` runs the command on a pseudo-terminal; its transcript holds what was drawn.
fn on_terminal(sh: &Shell, args: &[&str]) -> Option<String> {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no `script` to make a pseudo-terminal");
        return None;
    }
    let line = std::iter::once(env!("CARGO_BIN_EXE_trove"))
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut c = Command::new("script");
    sh.env(&mut c, &[("COLUMNS", "100"), ("LINES", "30")]);
    c.args(["-qec", &format!("stty cols 100 rows 30 2>/dev/null; {line}"), "/dev/null"]);
    let out = c.output().unwrap();
    assert!(out.status.success(), "{line}: {}", text(&out.stdout));
    Some(text(&out.stdout))
}

#[test]
fn progress_bars_only_on_a_terminal_and_not_with_quiet() {
    let sh = Shell::with_instance();
    let Some(shown) = on_terminal(&sh, &["save", "big.bin", "--key", "big.bin"]) else { return };
    assert!(shown.contains("saving big.bin"), "a bar on a terminal: {shown:?}");
    let Some(quiet) = on_terminal(&sh, &["--quiet", "save", "big.bin", "--key", "b2.bin", "--allow-duplicate"]) else {
        return;
    };
    assert!(!quiet.contains("saving"), "--quiet: no bar: {quiet:?}");
    // Small files never get a bar.
    std::fs::write(sh.path("small.csv"), "a\n1\n").unwrap();
    let small = on_terminal(&sh, &["save", "small.csv", "--key", "small.csv"]).unwrap();
    assert!(!small.contains("saving"), "{small:?}");
}
