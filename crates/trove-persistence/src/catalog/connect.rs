//! Connecting to PostgreSQL without handing the password to anything that may show it.
//!
//! sea-orm keeps the URL string it is given and prints it in some errors and in its trace
//! spans, and sqlx logs unknown query parameters with their values. So the password (in the
//! userinfo or as `?password=`) is taken out of the URL here and set on sqlx's options
//! directly. A URL without one lets sqlx do what libpq does: `PGPASSWORD`, else the first
//! matching line of `PGPASSFILE`, else of `~/.pgpass` (either ignored unless mode 0600).

use std::fmt;

use sea_orm::DbErr;
use trove_domain::secret::{REDACTED, is_secret_param};
use trove_domain::{Error, ErrorKind, Result};

use crate::error::{INVALID_PASSWORD, db, driver_code};

/// A PostgreSQL URL split into the part that may be shown and its password.
pub(crate) struct PgUrl {
    /// The URL without any password.
    pub(crate) bare: String,
    /// The password the URL carried, decoded as sqlx decodes it.
    pub(crate) password: Option<String>,
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
pub(crate) fn split_pg_url(url: &str, shown: &str) -> Result<PgUrl> {
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
pub(crate) fn connect_error(shown: &str, password_in_url: bool, err: DbErr) -> Error {
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
