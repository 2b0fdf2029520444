//! Password authentication for chosen roles on a test server that otherwise trusts everyone.
//!
//! One `pg_hba.conf` line, placed first so it wins: `host all +trove_scram all scram-sha-256`.
//! It is written by the server itself (as superuser: `pg_read_file`, then `COPY ... TO` the
//! file, under an advisory lock so concurrent test processes never interleave), and the
//! configuration reloaded. Idempotent: a file that already names the group is left alone.

use std::time::{Duration, Instant};

use super::pgwire;
use super::servers::PgServer;

/// The group whose members must give a SCRAM password over TCP.
pub const GROUP: &str = "trove_scram";

/// How long a configuration reload may take to reach new connections.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Make members of [`GROUP`] log in with a password on `server` (see the module docs).
pub fn require_for_group(server: &PgServer) -> Result<(), String> {
    let line = format!("host all +{GROUP} all scram-sha-256");
    // The file is read into a variable before COPY truncates it; the lock (held to the end of
    // this implicit transaction) keeps another process from reading it half written.
    let sql = format!(
        "DO $$ \
         BEGIN CREATE ROLE {GROUP} NOLOGIN; \
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$; \
         DO $$ \
         DECLARE hba text := current_setting('hba_file'); content text; \
         BEGIN \
           PERFORM pg_advisory_xact_lock(7346829175); \
           content := pg_read_file(hba); \
           IF position('+{GROUP} ' IN content) = 0 THEN \
             EXECUTE format('COPY (SELECT l FROM unnest(%L::text[]) WITH ORDINALITY AS t(l, n) ORDER BY n) TO %L', \
               array_prepend('{line}', string_to_array(replace(content, E'\\t', ' '), E'\\n')), hba); \
             PERFORM pg_reload_conf(); \
           END IF; \
         END $$"
    );
    pgwire::simple_query(&server.host, server.port, &server.user, "postgres", &sql)
        .map(drop)
        .map_err(|e| format!("requiring passwords for members of {GROUP} in pg_hba.conf: {e}"))
}

/// Check that `user` cannot connect to `database` without a password (the reload may take a
/// moment to reach new connections): the server must ask for SASL (SCRAM), not trust it.
pub fn check_refused_without_password(server: &PgServer, user: &str, database: &str) -> Result<(), String> {
    let start = Instant::now();
    loop {
        match pgwire::simple_query(&server.host, server.port, user, database, "SELECT 1") {
            Err(e) if e.contains("authentication method 10") => return Ok(()),
            Err(e) => return Err(format!("connecting as {user} without a password: {e}")),
            Ok(_) if start.elapsed() > RELOAD_TIMEOUT => {
                return Err(format!(
                    "{user} connected without a password after {RELOAD_TIMEOUT:?}: the server does not \
                     require passwords for members of {GROUP} (is pg_hba.conf writable by the server?)"
                ));
            }
            Ok(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
