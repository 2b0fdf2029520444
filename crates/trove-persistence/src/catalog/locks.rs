//! Advisory locks: what a unit of work serializes on, named in one place.
//!
//! Backend-specific (PostgreSQL): each unit of work takes transaction-scoped advisory locks on
//! the families and keys it touches, so concurrent writers of one family (or key) run one after
//! the other while others run in parallel. SQLite needs none: `BEGIN IMMEDIATE` already
//! serializes writers (see `connect.rs`).

use std::collections::BTreeSet;

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend};
use trove_domain::{Key, Result, Stem, StorageId};

use super::SeaCatalog;
use crate::error::DbResultExt;

/// What a unit of work locks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LockScope {
    /// An artifact family. `create_collection` takes its members' families too, so that it and
    /// a member's `begin_purge` serialize.
    ArtifactStem(Stem),
    /// An artifact key in a storage location (which family it belongs to).
    ArtifactKey(StorageId, Key),
    /// A collection family.
    CollectionStem(Stem),
    /// A collection key.
    CollectionKey(String),
    /// A label, by name.
    Label(String),
}

/// The lock's name: stable across processes and versions (two Trove versions sharing a catalog
/// must take the same lock for the same thing).
pub(super) fn lock_name(scope: &LockScope) -> String {
    match scope {
        LockScope::ArtifactStem(stem) => format!("trove/stem/{stem}"),
        LockScope::ArtifactKey(storage, key) => format!("trove/key/{}/{key}", storage.0),
        LockScope::CollectionStem(stem) => format!("trove/cstem/{stem}"),
        LockScope::CollectionKey(key) => format!("trove/ckey/{key}"),
        LockScope::Label(name) => format!("trove/label/{name}"),
    }
}

/// FNV-1a, 64 bits: a stable hash for advisory lock keys (the same in every process).
fn lock_key(name: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

impl SeaCatalog {
    /// Take the transaction-scoped locks of `scopes`.
    ///
    /// Backend-specific (PostgreSQL): `pg_advisory_xact_lock` on a 64-bit hash of each name,
    /// all in one statement in ascending order, so two units of work can never deadlock on
    /// them (each takes all its locks at once, in the same global order). The locks are held
    /// until commit or rollback.
    pub(super) async fn lock(
        &self,
        txn: &DatabaseTransaction,
        scopes: impl IntoIterator<Item = LockScope>,
    ) -> Result<()> {
        if self.backend != DbBackend::Postgres {
            return Ok(());
        }
        let keys: BTreeSet<i64> = scopes.into_iter().map(|s| lock_key(&lock_name(&s))).collect();
        if keys.is_empty() {
            return Ok(());
        }
        // The values are integers computed here, not user input: inlining them is safe. A
        // subquery with ORDER BY is not flattened, so the locks are taken in that order.
        let values = keys.iter().map(|k| format!("({k})")).collect::<Vec<_>>().join(",");
        let sql = format!(
            "SELECT pg_advisory_xact_lock(s.k) FROM (SELECT v.k FROM (VALUES {values}) AS v(k) ORDER BY v.k) AS s"
        );
        txn.execute_unprepared(&sql).await.ctx("lock the families being changed")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_are_stable_and_distinct() {
        assert_eq!(lock_key("trove/stem/a"), lock_key("trove/stem/a"));
        assert_ne!(lock_key("trove/stem/a"), lock_key("trove/stem/b"));
    }

    #[test]
    fn lock_names_are_distinct_per_scope_and_unchanged() {
        let stem = Stem::parse("AbCdEfGhIjKlMnOp").expect("stem");
        let key = Key::parse("a/b.csv").expect("key");
        let names = [
            lock_name(&LockScope::ArtifactStem(stem.clone())),
            lock_name(&LockScope::ArtifactKey(StorageId(3), key)),
            lock_name(&LockScope::CollectionStem(stem)),
            lock_name(&LockScope::CollectionKey("a/b.csv".into())),
            lock_name(&LockScope::Label("a/b.csv".into())),
        ];
        // Processes running different versions share these names.
        assert_eq!(
            names,
            [
                "trove/stem/AbCdEfGhIjKlMnOp",
                "trove/key/3/a/b.csv",
                "trove/cstem/AbCdEfGhIjKlMnOp",
                "trove/ckey/a/b.csv",
                "trove/label/a/b.csv"
            ]
        );
    }
}
