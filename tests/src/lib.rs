//! End-to-end tests of Trove as a user runs it: the real `trove` binary, many processes at
//! once and processes killed mid-command, on SQLite + local disk and on PostgreSQL + S3 (from
//! `trove-testkit`'s harness).
//!
//! The scenarios are the integration tests in `tests/` (`multi_process.rs`, `crash.rs`); this
//! library is their harness:
//! * [`binary`] finds (or builds) the `trove` binary;
//! * [`instance`] creates an instance on a backend pair and runs `trove` as separate actors;
//! * [`hash`] is Trove's content hash written again from the spec, and [`raw`] reads the
//!   storage root without Trove, so the checks never take Trove's word for its own bytes;
//! * [`check`] holds the invariants every scenario ends with;
//! * [`content`] writes distinct, reproducible inputs.
//!
//! Knobs (environment): `TROVE_E2E_SEED` replays a run, `TROVE_E2E_SCALE` multiplies the
//! amount of work (processes' rounds, kill points) for a soak run, `TROVE_E2E_BIN` names the
//! binary to test.

#![deny(missing_docs)]

pub mod binary;
pub mod check;
pub mod content;
pub mod hash;
pub mod instance;
pub mod raw;

use std::io::Write as _;

/// The run's seed: `TROVE_E2E_SEED`, else one drawn now. Printed by the caller so that a
/// failure can be replayed.
pub fn seed() -> u64 {
    match std::env::var("TROVE_E2E_SEED") {
        Ok(s) if !s.is_empty() => s.parse().unwrap_or_else(|_| panic!("TROVE_E2E_SEED={s:?} is not a number")),
        _ => rand::random(),
    }
}

/// `TROVE_E2E_SCALE` (default 1): how many times the default amount of work to do.
pub fn scale() -> usize {
    match std::env::var("TROVE_E2E_SCALE") {
        Ok(s) if !s.is_empty() => s.parse().unwrap_or_else(|_| panic!("TROVE_E2E_SCALE={s:?} is not a number")),
        _ => 1,
    }
}

/// Print a line to the real stderr (the test harness captures `eprintln!`), so that summaries
/// and progress show in CI logs even when the test passes.
pub fn say(line: impl AsRef<str>) {
    let _ = writeln!(std::io::stderr(), "{}", line.as_ref());
}
