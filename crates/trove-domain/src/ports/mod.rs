//! The ports: traits every other layer meets through.
//!
//! * [`Catalog`]: the SQL catalog, speaking in *units of work* (each method is one atomic
//!   change in domain terms; implementations run it in one database transaction);
//! * [`ObjectStore`]: bytes in a storage root (local disk, S3, GCS, memory);
//! * [`Clock`]: time, injectable for tests.

mod catalog;
mod clock;
mod object_store;

pub use catalog::Catalog;
pub use clock::{Clock, SystemClock};
pub use object_store::{
    Capabilities, ObjectMeta, ObjectReader, ObjectStore, ObjectWriter, PutIf, PutResult, WriteCondition,
};
