//! # trove-storage
//!
//! Trove's object stores: [`OpendalStore`] implements the object-store port
//! ([`trove_domain::ports::ObjectStore`]) over Apache OpenDAL for local disk, memory, S3 and
//! GCS; [`open_root`] resolves a root URI (`/path`, `file://`, `s3://`, `gs://`, `memory://`)
//! at the one edge where schemes are interpreted.
//!
//! Cross-cutting concerns are layers, not per-backend code: every operator carries OpenDAL's
//! tracing layer, cloud operators its timeout and retry layers, and [`FaultInjection`] wraps
//! any store to make chosen calls fail (for tests).
//!
//! Architecture invariant: no OpenDAL type appears in a public signature; errors are mapped to
//! [`trove_domain::Error`] in `error.rs`. Every store passes `trove-testkit`'s object-store
//! conformance suite (`tests/conformance.rs`).
#![deny(missing_docs)]

mod aws_profile;
mod conditional;
mod config;
mod error;
mod fault;
mod fs;
mod keys;
mod s3_uploads;
mod store;
mod transport;
mod uri;

pub use config::{DEFAULT_IO_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, DEFAULT_WRITE_CONCURRENCY, GcsConfig, S3Config};
pub use fault::{FaultInjection, FaultOp, FaultTiming};
pub use keys::{check_key, check_prefix};
pub use store::{OpendalStore, READ_CHUNK, READ_CONCURRENCY};
pub use uri::open_root;
