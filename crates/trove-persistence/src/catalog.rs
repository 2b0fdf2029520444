//! [`SeaCatalog`]: the catalog port on SeaORM.
//!
//! One module per seam, each readable on its own:
//! * `connect`: connecting (SQLite pragmas, the PostgreSQL password kept from sea-orm) and
//!   beginning write transactions;
//! * `locks`: the one naming of advisory locks ([`locks::LockScope`]) and taking them;
//! * `codec`: domain values in rows and back;
//! * `queries`: artifact conditions and fetches (listing, lookup and bulk selection share them);
//! * `moves`: the one executor of branch moves and head recomputation for every soft-deletable
//!   table (artifacts, collections, labels), described by a [`moves::Table`];
//! * `versions`: version high-water marks and reservations;
//! * `instance`, `artifacts`, `marks` (the units of work of the byte protocols: purge, replace,
//!   placement marks), `collections`, `labels`: the units of work;
//! * `port`: the [`trove_domain::ports::Catalog`] implementation, one line per method.

use std::collections::HashSet;
use std::hash::Hash;
use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbBackend};
use trove_domain::ports::Clock;
use trove_domain::{Result, Uid};

use crate::error::DbResultExt;

mod artifacts;
mod codec;
mod collections;
mod connect;
mod instance;
mod labels;
mod locks;
mod marks;
mod moves;
mod port;
mod queries;
mod versions;

/// Keys per statement in bulk operations: well below SQLite's and PostgreSQL's bind-parameter
/// limits, so N records cost a constant number of statements per 500.
const CHUNK: usize = 500;

/// The SQL catalog on SQLite or PostgreSQL, through SeaORM.
///
/// Connect with [`SeaCatalog::connect`]; migrations run on connect. Every
/// [`trove_domain::ports::Catalog`] method is one database transaction.
pub struct SeaCatalog {
    db: DatabaseConnection,
    backend: DbBackend,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SeaCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeaCatalog").field("backend", &self.backend_name()).finish_non_exhaustive()
    }
}

impl SeaCatalog {
    /// Use this clock for `updated_at` and `branch_changed_at` (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> SeaCatalog {
        self.clock = clock;
        self
    }

    /// The user with this handle, if the catalog has one: a read, never a write (unlike
    /// [`Catalog::ensure_user`](trove_domain::ports::Catalog::ensure_user)).
    pub async fn user(&self, handle: &str) -> Result<Option<trove_domain::User>> {
        instance::user(self, handle).await
    }

    /// Close the connection pool.
    pub async fn close(self) -> Result<()> {
        self.db.close().await.ctx("close the catalog")
    }

    fn backend_name(&self) -> &'static str {
        match self.backend {
            DbBackend::Postgres => "postgresql",
            DbBackend::Sqlite => "sqlite",
            _ => "other",
        }
    }
}

/// Keys without repeats, in first-seen order.
fn distinct<K: Clone + Eq + Hash>(keys: &[K]) -> Vec<K> {
    let mut seen = HashSet::with_capacity(keys.len());
    keys.iter().filter(|k| seen.insert((*k).clone())).cloned().collect()
}

/// Uids as the text of their column.
fn uid_list(chunk: &[Uid]) -> impl Iterator<Item = String> + '_ {
    chunk.iter().map(|u| u.as_str().to_owned())
}
