//! # trove-testkit
//!
//! What every implementation of Trove's ports, and every test of Trove, builds on:
//! * [`backends`]: real backends for tests: a fresh, isolated PostgreSQL database, S3 bucket
//!   and GCS bucket per test, from testcontainers, local processes, or embedded files;
//! * [`catalog_suite`]: the conformance suite every [`trove_domain::ports::Catalog`] passes;
//! * [`store_suite`]: the conformance suite every [`trove_domain::ports::ObjectStore`] passes;
//! * [`strategies`]: proptest strategies for keys, contents and operation sequences;
//! * [`model`]: a plain reference model of the lifecycle, for state-machine tests;
//! * [`invariants`]: spec 1's invariants checked on rows and the bytes they point at (read and
//!   hashed), for tests to call after every step.
#![deny(missing_docs)]

pub mod backends;
pub mod catalog_suite;
pub mod invariants;
pub mod model;
pub mod store_suite;
pub mod strategies;
