//! Logs and progress on stderr.
//!
//! * Logs: the tracing events of Trove and OpenDAL, shown with `-v` (info), `-vv` (debug) or
//!   `-vvv` (trace), or as `RUST_LOG` filters them (which wins when set). Without either, no
//!   subscriber is installed and nothing is logged. Every line goes through the redactor: URLs
//!   lose their passwords ([`redact_urls_in`]), and the secrets this process was given (the
//!   password of a URL argument, `PGPASSWORD`, the AWS secret key and session token) are replaced
//!   wherever they appear.
//! * Progress: a bar (bytes, rate, ETA) for each transfer of at least [`MIN_BAR_BYTES`], only on
//!   a terminal and never with `--quiet`.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing_subscriber::EnvFilter;
use trove::domain::secret::{REDACTED, redact_urls_in, url_secrets};
use trove::{ProgressObserver, TransferKind};

/// Transfers smaller than this show no bar.
pub const MIN_BAR_BYTES: u64 = 4 * 1024 * 1024;

/// The crates whose events `-v` shows.
const CRATES: &[&str] = &["trove", "trove_cli", "trove_storage", "trove_persistence", "trove_domain", "opendal"];

/// Install the log subscriber for `verbose` (the number of `-v`) unless neither it nor
/// `RUST_LOG` asks for logs. `args` are the command line, searched for secrets to hide.
pub fn init(verbose: u8, args: &[String]) {
    let from_env = std::env::var("RUST_LOG").ok().filter(|v| !v.trim().is_empty());
    let filter = match (from_env, verbose) {
        (Some(spec), _) => EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            eprintln!("warning: RUST_LOG={spec:?} is not a valid filter ({e}); using -v levels");
            EnvFilter::new(directives(verbose.max(1)))
        }),
        (None, 0) => return,
        (None, v) => EnvFilter::new(directives(v)),
    };
    let redactor = Redactor::new(args);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || RedactingWriter { redactor: redactor.clone() })
        .with_ansi(std::io::stderr().is_terminal())
        // OpenDAL reports each operation (and each HTTP request) as a span: show it as it ends,
        // with its fields and timing.
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .try_init();
}

fn directives(verbose: u8) -> String {
    let level = match verbose {
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let mut d = String::from("warn");
    for c in CRATES {
        d.push_str(&format!(",{c}={level}"));
    }
    d
}

/// Replaces secrets in log lines.
#[derive(Clone)]
pub struct Redactor {
    secrets: Arc<Vec<String>>,
}

impl Redactor {
    /// The secrets found in `args` (passwords and secret query values of URLs, as written and
    /// decoded) and in the environment.
    pub fn new(args: &[String]) -> Redactor {
        let mut secrets: Vec<String> = args.iter().flat_map(|a| url_secrets(a)).collect();
        for var in ["PGPASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "GOOGLE_OAUTH_ACCESS_TOKEN"] {
            if let Ok(v) = std::env::var(var) {
                secrets.push(v);
            }
        }
        // Too short a "secret" would blank out ordinary text.
        secrets.retain(|s| s.len() >= 3);
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Redactor { secrets: Arc::new(secrets) }
    }

    /// `text` with URL passwords and the known secrets replaced.
    pub fn redact(&self, text: &str) -> String {
        let mut out = redact_urls_in(text);
        for s in self.secrets.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), REDACTED);
            }
        }
        out
    }
}

/// Writes one formatted event to stderr, redacted.
struct RedactingWriter {
    redactor: Redactor,
}

impl Write for RedactingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(self.redactor.redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Whether to draw progress: on a terminal, unless `--quiet`.
pub fn show_progress(quiet: bool, terminal: bool) -> bool {
    terminal && !quiet
}

/// Draws a bar on stderr for each transfer of at least [`MIN_BAR_BYTES`].
#[derive(Default)]
pub struct Bars {
    current: Mutex<Option<ProgressBar>>,
}

impl ProgressObserver for Bars {
    fn started(&self, kind: TransferKind, name: &str, total: u64) {
        if total < MIN_BAR_BYTES {
            return;
        }
        let verb = match kind {
            TransferKind::Save => "saving",
            TransferKind::Download => "downloading",
            _ => "transferring",
        };
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        let short = name.rsplit('/').next().unwrap_or(name);
        bar.set_message(format!("{verb} {short}"));
        if let Some(old) = self.current.lock().unwrap_or_else(|e| e.into_inner()).replace(bar) {
            old.finish_and_clear();
        }
    }

    fn advanced(&self, bytes: u64) {
        if let Some(bar) = self.current.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            bar.inc(bytes);
        }
    }

    fn finished(&self) {
        if let Some(bar) = self.current.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords_and_known_secrets_are_redacted() {
        let args: Vec<String> =
            ["trove", "--db=postgresql://u:s3cr%2Ft@h/db", "ls"].iter().map(|s| s.to_string()).collect();
        let r = Redactor::new(&args);
        let line = "connecting to postgresql://u:s3cr%2Ft@h/db with password s3cr%2Ft (s3cr/t)";
        let out = r.redact(line);
        assert!(!out.contains("s3cr"), "{out}");
        assert!(out.contains("postgresql://u:***@h/db"), "{out}");
    }

    #[test]
    fn progress_only_on_a_terminal_and_never_quiet() {
        assert!(show_progress(false, true));
        assert!(!show_progress(true, true));
        assert!(!show_progress(false, false));
    }
}
