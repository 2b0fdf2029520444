//! SeaORM entities: one module per table. Internal to the crate; the public API speaks in
//! `trove_domain` types only.

pub(crate) mod artifact;
pub(crate) mod collection;
pub(crate) mod instance;
pub(crate) mod label;
pub(crate) mod links;
pub(crate) mod storage;
pub(crate) mod user;
