//! Connecting, and beginning write transactions: the backend-specific setup of both.
//!
//! PostgreSQL: the password never reaches anything that may show it. sea-orm keeps the URL
//! string it is given and prints it in some errors and in its trace spans, and sqlx logs unknown
//! query parameters with their values. So the password (in the userinfo or as `?password=`) is
//! taken out of the URL here and set on sqlx's options directly. A URL without one lets sqlx do
//! what libpq does: `PGPASSWORD`, else the first matching line of `PGPASSFILE`, else of
//! `~/.pgpass` (either ignored unless mode 0600).
//!
//! SQLite: WAL, foreign keys, a busy timeout, and `BEGIN IMMEDIATE` for writers.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseTransaction, DbBackend, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use trove_domain::ports::SystemClock;
use trove_domain::secret::{REDACTED, is_secret_param, redact_url};
use trove_domain::{Error, ErrorKind, Result};

use super::SeaCatalog;
use crate::error::{DbResultExt, INVALID_PASSWORD, db, driver_code};
use crate::migration::Migrator;

/// How long a SQLite writer waits for another writer's lock before giving up (as Conflict).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl SeaCatalog {
    /// Connect to `sqlite://PATH?mode=rwc` (or `sqlite::memory:`) or `postgresql://...`, and
    /// bring the schema up to date.
    ///
    /// A PostgreSQL password may be in the URL (`USER:PASSWORD@`, or `?password=`), in
    /// `PGPASSWORD`, or in a pgpass file (`PGPASSFILE`, else `~/.pgpass`, mode 0600). It never
    /// appears in an error: messages show the URL through
    /// [`trove_domain::secret::redact_url`], and a refused password is
    /// [`ErrorKind::Authentication`](trove_domain::ErrorKind::Authentication).
    pub async fn connect(url: &str) -> Result<SeaCatalog> {
        let shown = redact_url(url);
        let mut password_in_url = false;
        let mut opts;
        if url.starts_with("sqlite:") {
            opts = ConnectOptions::new(sqlite_url(url, &shown)?);
            // Backend-specific connection setup (SQLite): WAL so readers never block the
            // writer, foreign keys enforced, writers wait for each other instead of failing.
            opts.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .foreign_keys(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .synchronous(SqliteSynchronous::Normal)
            });
            if url.contains(":memory:") || url.contains("mode=memory") {
                // Every connection to an in-memory database is a different database.
                opts.max_connections(1).min_connections(1);
            }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // The password bypasses sea-orm, which shows its URL in errors and trace spans.
            let split = split_pg_url(url, &shown)?;
            opts = ConnectOptions::new(split.bare);
            if let Some(password) = split.password {
                password_in_url = true;
                opts.map_sqlx_postgres_opts(move |o| o.password(&password));
            }
        } else {
            return Err(Error::invalid_input(format!(
                "unsupported catalog URL '{shown}': use sqlite:///ABSOLUTE/PATH.db (created if missing) or \
                 postgresql://USER@HOST/DB"
            )));
        }
        opts.sqlx_logging(false);
        let db = Database::connect(opts).await.map_err(|e| connect_error(&shown, password_in_url, e))?;
        Migrator::up(&db, None).await.ctx("bring the catalog schema up to date")?;
        let backend = db.get_database_backend();
        Ok(SeaCatalog { db, backend, clock: Arc::new(SystemClock) })
    }

    /// Drop every table of Trove's schema (the migrations, rolled back): what remains is the
    /// empty database the catalog was created in.
    pub(super) async fn destroy_schema(&self) -> Result<()> {
        Migrator::down(&self.db, None).await.ctx("remove the catalog's tables")
    }

    /// Begin a unit of work that writes.
    ///
    /// Backend-specific (SQLite): `BEGIN IMMEDIATE` takes the write lock up front, so a
    /// transaction that reads before it writes cannot fail with SQLITE_BUSY when upgrading;
    /// a second writer (another process too) waits up to the busy timeout. PostgreSQL ignores
    /// the mode; it serializes writers per family with advisory locks (see `locks.rs`).
    pub(super) async fn begin_write(&self) -> Result<DatabaseTransaction> {
        let mut options = TransactionOptions::default();
        if self.backend == DbBackend::Sqlite {
            options.sqlite_transaction_mode = Some(SqliteTransactionMode::Immediate);
        }
        self.db.begin_with_options(options).await.ctx("begin a catalog transaction")
    }
}

/// A SQLite URL as sqlx should open it: the file is created when missing (`mode=rwc`, as the
/// embedded default is) unless the URL names a mode itself. Refused, with the fix, before
/// sqlx's bare "unable to open database file": a URL without a path, a path that is a folder,
/// a file in a folder that does not exist.
fn sqlite_url(url: &str, shown: &str) -> Result<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or_default();
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory = path == ":memory:" || query.split('&').any(|p| p == "mode=memory");
    if in_memory {
        return Ok(url.to_owned());
    }
    if path.is_empty() {
        return Err(Error::invalid_input(format!(
            "the catalog URL '{shown}' names no file: use sqlite:///ABSOLUTE/PATH.db (three slashes before an \
             absolute path)"
        )));
    }
    let file = std::path::Path::new(path);
    if file.is_dir() {
        return Err(Error::invalid_input(format!(
            "the catalog URL '{shown}' names a folder, not a database file: use sqlite://{}/trove.db",
            path.trim_end_matches('/')
        )));
    }
    let parent = file.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(parent) = parent
        && !parent.is_dir()
    {
        return Err(Error::invalid_input(format!(
            "the catalog URL '{shown}' names a file in {}, which does not exist: create that folder first, or \
             give another path",
            parent.display()
        )));
    }
    let has_mode = query.split('&').any(|p| p.starts_with("mode="));
    Ok(match (has_mode, query.is_empty()) {
        (true, _) => url.to_owned(),
        (false, true) => format!("{url}?mode=rwc"),
        (false, false) => format!("{url}&mode=rwc"),
    })
}

/// A PostgreSQL URL split into the part that may be shown and its password.
struct PgUrl {
    /// The URL without any password.
    bare: String,
    /// The password the URL carried, decoded as sqlx decodes it.
    password: Option<String>,
}

impl fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgUrl")
            .field("bare", &self.bare)
            .field("password", &self.password.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// Take the password out of `url` (`shown` is its redacted form, for messages). A secret query
/// parameter other than `password` (e.g. `sslpassword`) is refused: sqlx would ignore it, and
/// log its value doing so.
fn split_pg_url(url: &str, shown: &str) -> Result<PgUrl> {
    let mut parsed = url::Url::parse(url).map_err(|e| {
        Error::invalid_input(format!(
            "the catalog URL '{shown}' is not a valid URL ({e}): use postgresql://USER@HOST:PORT/DATABASE, \
             percent-encoding special characters"
        ))
    })?;
    let not_utf8 =
        || Error::invalid_input(format!("the password in the catalog URL '{shown}' is not UTF-8 once percent-decoded"));
    let mut password = match parsed.password() {
        Some(p) => Some(percent_encoding::percent_decode_str(p).decode_utf8().map_err(|_| not_utf8())?.into_owned()),
        None => None,
    };
    if password.is_some() {
        parsed
            .set_password(None)
            .map_err(|()| Error::invalid_input(format!("the catalog URL '{shown}' names no host")))?;
    }
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    if pairs.iter().any(|(name, _)| is_secret_param(name)) {
        let mut kept = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            if name == "password" {
                // sqlx reads the query after the userinfo: the parameter wins.
                password = Some(value);
            } else if is_secret_param(&name) {
                return Err(Error::invalid_input(format!(
                    "the catalog URL parameter '{name}' is not supported (Trove's PostgreSQL driver cannot use it); \
                     remove it, and give the password with PGPASSWORD, ~/.pgpass or the URL (USER:PASSWORD@HOST)"
                )));
            } else {
                kept.push((name, value));
            }
        }
        if kept.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Ok(PgUrl { bare: parsed.into(), password })
}

/// Map a failed connection to `shown` (the redacted URL). A refused password is an
/// [`ErrorKind::Authentication`] error naming where passwords come from.
fn connect_error(shown: &str, password_in_url: bool, err: DbErr) -> Error {
    if driver_code(&err).as_deref() != Some(INVALID_PASSWORD) {
        return db(format_args!("connect to the catalog at '{shown}'"), err);
    }
    let pgpassword = std::env::var_os("PGPASSWORD").is_some_and(|v| !v.is_empty());
    let refused = if password_in_url {
        "PostgreSQL refused the password given in the URL"
    } else if pgpassword {
        "PostgreSQL refused the password from PGPASSWORD"
    } else {
        "PostgreSQL wants a password and none was accepted (the URL and PGPASSWORD give none; a pgpass \
         file had no matching line, or a wrong one)"
    };
    let mut message = format!(
        "connect to the catalog at '{shown}': {refused} ({err}): give the right password with PGPASSWORD, a \
         line HOST:PORT:DATABASE:USER:PASSWORD in ~/.pgpass (or in the file PGPASSFILE names; mode 0600), or \
         in the URL (postgresql://USER:PASSWORD@HOST/DATABASE)"
    );
    if !password_in_url && !pgpassword {
        for note in ignored_pgpass_files() {
            message.push_str("; note: ");
            message.push_str(&note);
        }
    }
    Error::new(ErrorKind::Authentication, message).with_source(err)
}

/// The pgpass files that exist but are ignored because others may read them (as libpq and
/// sqlx do on Unix), each with the fix.
fn ignored_pgpass_files() -> Vec<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let candidates = [
            std::env::var_os("PGPASSFILE").filter(|p| !p.is_empty()).map(std::path::PathBuf::from),
            std::env::home_dir().map(|h| h.join(".pgpass")),
        ];
        candidates
            .into_iter()
            .flatten()
            .filter_map(|path| {
                let mode = std::fs::metadata(&path).ok()?.permissions().mode() & 0o777;
                (mode & 0o077 != 0).then(|| {
                    format!(
                        "{} is ignored because others may read it (mode {mode:o}): chmod 600 {}",
                        path.display(),
                        path.display()
                    )
                })
            })
            .collect()
    }
    #[cfg(not(unix))]
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_create_missing_files_and_bad_ones_name_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("new.db");
        let url = |s: &str| sqlite_url(s, s);
        assert_eq!(url(&format!("sqlite://{}", db.display())).unwrap(), format!("sqlite://{}?mode=rwc", db.display()));
        assert_eq!(
            url(&format!("sqlite:{}?cache=shared", db.display())).unwrap(),
            format!("sqlite:{}?cache=shared&mode=rwc", db.display())
        );
        let as_given = format!("sqlite://{}?mode=ro", db.display());
        assert_eq!(url(&as_given).unwrap(), as_given, "a mode the user named stays");
        assert_eq!(url("sqlite::memory:").unwrap(), "sqlite::memory:");
        for (bad, fix) in [
            ("sqlite://".to_owned(), "three slashes"),
            (format!("sqlite://{}", dir.path().display()), "trove.db"),
            (format!("sqlite://{}/missing/x.db", dir.path().display()), "create that folder"),
        ] {
            let err = url(&bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}");
            assert!(err.message().contains(fix), "{bad}: {err}");
        }
    }

    #[tokio::test]
    async fn a_sqlite_url_to_a_new_file_creates_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("fresh.db");
        let catalog = SeaCatalog::connect(&format!("sqlite://{}", db.display())).await.unwrap();
        assert!(db.is_file());
        catalog.close().await.unwrap();
    }

    fn split(url: &str) -> PgUrl {
        split_pg_url(url, &trove_domain::secret::redact_url(url)).unwrap()
    }

    #[test]
    fn passwords_leave_the_url() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("postgresql://u:pw@h:5432/db", "postgresql://u@h:5432/db", Some("pw")),
            ("postgresql://u:p%40ss%2B@h/db", "postgresql://u@h/db", Some("p@ss+")),
            ("postgresql://u@h/db?password=q%26r&sslmode=disable", "postgresql://u@h/db?sslmode=disable", Some("q&r")),
            ("postgresql://u:pw@h/db?password=q", "postgresql://u@h/db", Some("q")),
            ("postgresql://u@h/db?sslmode=disable", "postgresql://u@h/db?sslmode=disable", None),
            ("postgresql://u@h/db", "postgresql://u@h/db", None),
        ];
        for (url, bare, password) in cases {
            let s = split(url);
            assert_eq!(&s.bare, bare, "{url}");
            assert_eq!(s.password.as_deref(), *password, "{url}");
            assert!(!format!("{s:?}").contains("pw"), "Debug hides the password");
        }
    }

    #[test]
    fn other_secret_parameters_are_refused_without_their_value() {
        for url in ["postgresql://u@h/db?sslpassword=hunter2", "postgresql://u@h/db?PASSWORD=hunter2"] {
            let err = split_pg_url(url, &trove_domain::secret::redact_url(url)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(!err.message().contains("hunter2"), "{err}");
            assert!(err.message().contains("PGPASSWORD"), "{err}");
        }
    }

    #[test]
    fn an_invalid_url_is_refused_without_its_password() {
        let url = "postgresql://u:hunter2@h:notaport/db";
        let err = split_pg_url(url, &trove_domain::secret::redact_url(url)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
    }
}
