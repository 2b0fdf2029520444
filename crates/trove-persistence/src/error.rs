//! Mapping driver errors into [`trove_domain::Error`]. Nothing from SeaORM or sqlx leaves the
//! crate: unique violations, lock timeouts and serialization failures become
//! [`ErrorKind::Conflict`] (retryable), everything else [`ErrorKind::Catalog`].

use std::ops::Deref;

use sea_orm::{DbErr, RuntimeErr, SqlErr};
use trove_domain::{Error, ErrorKind};

/// SQLSTATE / SQLite result codes that mean "a concurrent writer got in the way".
/// PostgreSQL: 40001 serialization failure, 40P01 deadlock, 55P03 lock not available.
/// SQLite: 5 BUSY, 6 LOCKED, 261 BUSY_RECOVERY, 517 BUSY_SNAPSHOT, 773 BUSY_TIMEOUT.
/// SQLSTATE: PostgreSQL refused the password (`invalid_password`).
pub(crate) const INVALID_PASSWORD: &str = "28P01";

const CONFLICT_CODES: &[&str] = &["40001", "40P01", "55P03", "5", "6", "261", "517", "773"];

pub(crate) fn driver_code(err: &DbErr) -> Option<String> {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e))
        | DbErr::Conn(RuntimeErr::SqlxError(e)) => match e.deref() {
            sea_orm::sqlx::Error::Database(d) => d.code().map(|c| c.into_owned()),
            _ => None,
        },
        _ => None,
    }
}

/// Map a driver error met while doing `what` ("insert artifact X", ...).
pub(crate) fn db(what: impl std::fmt::Display, err: DbErr) -> Error {
    if let Some(SqlErr::UniqueConstraintViolation(msg)) = err.sql_err() {
        return Error::new(
            ErrorKind::Conflict,
            format!("{what}: a concurrent change or an existing record conflicts ({msg}); retry"),
        )
        .with_source(err);
    }
    if let Some(code) = driver_code(&err)
        && CONFLICT_CODES.contains(&code.as_str())
    {
        return Error::new(
            ErrorKind::Conflict,
            format!("{what}: the catalog is busy with a concurrent writer (code {code}); retry"),
        )
        .with_source(err);
    }
    Error::new(ErrorKind::Catalog, format!("{what}: catalog database error: {err}")).with_source(err)
}

/// A row that does not decode into a domain value (corrupt or foreign data).
pub(crate) fn corrupt(what: impl std::fmt::Display, problem: impl std::fmt::Display) -> Error {
    Error::catalog(format!("the catalog holds an invalid {what}: {problem}; run `trove fsck`"))
}

/// Extension to map `Result<T, DbErr>` with context.
pub(crate) trait DbResultExt<T> {
    /// Map the error, naming what was being done.
    fn ctx(self, what: impl std::fmt::Display) -> trove_domain::Result<T>;
}

impl<T> DbResultExt<T> for Result<T, DbErr> {
    fn ctx(self, what: impl std::fmt::Display) -> trove_domain::Result<T> {
        self.map_err(|e| db(what, e))
    }
}
