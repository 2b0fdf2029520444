//! # trove-domain
//!
//! Trove's protocol crate: the value types (uids, keys, hashes, branches, artifacts), the
//! lifecycle as a pure transition function, and the *ports* (the [`ports::Catalog`],
//! [`ports::ObjectStore`] and [`ports::Clock`] traits) that every other crate meets through.
//!
//! Architecture invariant: this crate does no I/O and depends on no I/O crate (no tokio,
//! SeaORM or OpenDAL). It is checked by `cargo xtask tidy` and by a test.
#![deny(missing_docs)]

pub mod branch;
pub mod collection;
pub mod entity;
pub mod error;
pub mod hash;
pub mod ids;
pub mod key;
pub mod lifecycle;
pub mod ports;
pub mod secret;

pub use branch::{BranchId, BranchSelection};
pub use collection::{
    Collection, CollectionQuery, CollectionTransitionResult, Label, LabelQuery, LabelTransitionResult, Labeled,
    NewCollection, NewLabel,
};
pub use entity::{
    Artifact, ArtifactQuery, ArtifactUpdate, ContentUpdate, Cursor, Instance, InstanceInit, NewArtifact, NewStorage,
    Order, Pending, StorageId, StorageLocation, TransitionResult, User, UserId,
};
pub use error::{Error, ErrorKind, Result};
pub use hash::{ContentHash, ContentHasher, HashType};
pub use ids::{Locator, Stem, Uid};
pub use key::{Key, Placement};
pub use lifecycle::{Operation, RecordState, StoragePolicy, Transition};
