//! # trove-testkit
//!
//! What every implementation of Trove's ports, and every test of Trove, builds on:
//! * [`catalog_suite`](mod@catalog_suite): the conformance suite every
//!   [`trove_domain::ports::Catalog`] passes;
//! * [`store_suite`](mod@store_suite): the conformance suite every
//!   [`trove_domain::ports::ObjectStore`] passes;
//! * [`check`]: what a check of either suite concludes ([`check::CheckResult`]) and how a run
//!   is reported ([`check::SuiteReport`]);
//! * [`strategies`]: proptest strategies for keys, contents and operation sequences;
//! * [`model`]: a plain reference model of the lifecycle, for state-machine tests;
//! * [`invariants`]: spec 1's invariants checked on rows and the bytes they point at (read and
//!   hashed), for tests to call after every step;
//! * [`files`]: the one walk of a local folder tests compare trees with;
//! * `backends` (feature `harness`): real backends for tests: a fresh, isolated PostgreSQL
//!   database, S3 bucket and GCS bucket per test, from testcontainers, local processes, or
//!   embedded files.
//!
//! A plugin author depends on this crate without default features (`harness` is off by
//! default) and gets the suites without any container tooling; Trove's workspace turns
//! `harness` on for its own tests.
#![deny(missing_docs)]

#[cfg(feature = "harness")]
pub mod backends;
pub mod catalog_suite;
pub mod check;
pub mod files;
pub mod invariants;
pub mod model;
pub mod store_suite;
pub mod strategies;
