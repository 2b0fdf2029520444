//! # trove-persistence
//!
//! Trove's SQL catalog: SeaORM entities and migrations, and [`SeaCatalog`], the implementation
//! of [`trove_domain::ports::Catalog`] on SQLite (embedded, the default) and PostgreSQL.
//!
//! The same portable SeaORM / sea-query code serves both backends. The few places where a
//! backend needs its own form are marked and kept in one spot each:
//! * transaction start (`catalog/connect.rs`): SQLite write transactions begin `IMMEDIATE` (the
//!   write lock is taken at `BEGIN`, so a transaction never fails to upgrade from reader to
//!   writer, and `busy_timeout` makes a second writer wait instead of failing);
//! * family locks (`catalog/locks.rs`): on PostgreSQL each unit of work takes
//!   transaction-scoped advisory locks on the families (and keys) it touches, so concurrent
//!   writers serialize per family;
//! * connection setup (`catalog/connect.rs`): SQLite pragmas (WAL, foreign keys, busy timeout,
//!   `synchronous=NORMAL`).
//!
//! No SeaORM or sqlx type appears in the public API; every driver error becomes a
//! [`trove_domain::Error`] (see `error.rs`).
#![deny(missing_docs)]

mod catalog;
mod entity;
mod error;
mod migration;

pub use catalog::SeaCatalog;
