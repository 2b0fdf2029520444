//! The one executor of branch moves and head recomputation, for every soft-deletable table.
//!
//! Artifacts, collections and labels move between branches the same way (spec 1, section 2):
//! the batch is validated against [`trove_domain::lifecycle::transition`] first (one missing or
//! invalid record and nothing changes), then one set-based UPDATE per `(from, to)` group and
//! 500 records, each with the expected-current-branch precondition (a concurrent move shows up
//! as a row-count mismatch, a `Conflict`), then the heads of the touched families are
//! recomputed. A [`Table`] describes what differs: columns, whether rows are grouped in
//! version families (artifacts, collections) and whether some are invisible while being purged
//! (artifacts). [`SoftDeletable`] adds how records are keyed, locked and read.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::hash::Hash;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, IntoIden, Query};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait};
use trove_domain::lifecycle::{RecordState, Transition, transition};
use trove_domain::{BranchId, Error, ErrorKind, Operation, Result};

use super::locks::LockScope;
use super::{CHUNK, SeaCatalog, distinct};
use crate::entity::artifact::PURGING;
use crate::error::DbResultExt;

/// The columns of a table whose rows form version families with one head per branch.
pub(super) struct Family<C> {
    /// `family_version.record` of these families (their version high-water marks).
    pub(super) record: &'static str,
    /// The family stem.
    pub(super) stem: C,
    /// The numeric version index.
    pub(super) version_index: C,
    /// The head flag (at most one per family and branch, a partial unique index).
    pub(super) is_latest: C,
}

/// A soft-deletable table: the columns the executor reads and writes.
pub(super) struct Table<E: EntityTrait> {
    /// The table.
    pub(super) entity: E,
    /// What its rows are, plural, for messages ("artifacts").
    pub(super) noun: &'static str,
    /// The column naming a record (uid or name).
    pub(super) key: E::Column,
    /// The branch.
    pub(super) branch: E::Column,
    /// The branch a trashed record came from.
    pub(super) trashed_from: E::Column,
    /// When the record last changed branch.
    pub(super) branch_changed_at: E::Column,
    /// When the record last changed.
    pub(super) updated_at: E::Column,
    /// Version families, if the table has them.
    pub(super) family: Option<Family<E::Column>>,
    /// The pending-operation column, if rows can be marked purging (invisible to every query,
    /// every move and every head).
    pub(super) pending_op: Option<E::Column>,
    /// What to call for [`Operation::DeletePermanently`], which is not a branch move.
    pub(super) purge_hint: &'static str,
}

/// A soft-deletable kind of record: its table and how its records are keyed, locked and read.
pub(super) trait SoftDeletable {
    /// The table's entity.
    type Entity: EntityTrait;
    /// What names a record (a uid, a label name).
    type Key: Clone + Ord + Hash + Send + Sync;
    /// The domain record.
    type Record: Send;
    /// The table.
    const TABLE: Table<Self::Entity>;
    /// The key as the text of the key column.
    fn key_text(key: &Self::Key) -> String;
    /// The record's family stem, for tables with families.
    fn stem(key: &Self::Key) -> Option<String>;
    /// What a unit of work changing this record locks.
    fn lock(key: &Self::Key) -> LockScope;
    /// The record's state and its name for messages.
    fn state(record: &Self::Record) -> (RecordState, String);
    /// The not-found error for a key.
    fn missing(key: &Self::Key) -> Error;
    /// The visible records with these keys.
    fn load(
        txn: &DatabaseTransaction,
        keys: &[Self::Key],
    ) -> impl Future<Output = Result<HashMap<Self::Key, Self::Record>>> + Send;
}

impl<E: EntityTrait> Table<E> {
    /// Rows that are not being purged, of this table under the name `table` (itself or an
    /// alias). Every row of a table without purge marks.
    pub(super) fn visible(&self, table: impl IntoIden) -> Condition {
        let table = table.into_iden();
        match self.pending_op {
            Some(op) => {
                Condition::any().add(Expr::col((table.clone(), op)).is_null()).add(Expr::col((table, op)).ne(PURGING))
            }
            None => Condition::all(),
        }
    }

    /// One UPDATE per `(from, to)` group and 500 keys, each only where the row is still on
    /// `from` and visible; any shortfall is a `Conflict` (the caller's transaction rolls back).
    async fn move_groups<K>(
        &self,
        txn: &DatabaseTransaction,
        groups: &BTreeMap<(i64, i64), Vec<K>>,
        key_text: impl Fn(&K) -> String,
        op: Operation,
        now: DateTime<Utc>,
    ) -> Result<()> {
        for ((from, to), group) in groups {
            let trashed_from = (*to == BranchId::TRASH.0).then_some(*from);
            for chunk in group.chunks(CHUNK) {
                let mut stmt = Query::update();
                stmt.table(self.entity)
                    .value(self.branch, *to)
                    .value(self.trashed_from, trashed_from)
                    .value(self.branch_changed_at, now)
                    .value(self.updated_at, now)
                    .and_where(self.key.is_in(chunk.iter().map(&key_text)))
                    .and_where(self.branch.eq(*from))
                    .cond_where(self.visible(self.entity));
                if let Some(f) = &self.family {
                    // Moved rows drop their head flag (they may be a head where they come
                    // from); heads are recomputed next, so the one-head index never sees two.
                    stmt.value(f.is_latest, false);
                }
                let res = txn.execute(&stmt).await.ctx(format_args!("{op} {} {}", chunk.len(), self.noun))?;
                if res.rows_affected() != chunk.len() as u64 {
                    return Err(Error::conflict(format!(
                        "{op}: {} of {} {} changed concurrently; nothing was changed, retry",
                        chunk.len() as u64 - res.rows_affected(),
                        chunk.len(),
                        self.noun
                    )));
                }
            }
        }
        Ok(())
    }

    /// Set-based head recomputation for these families: clear every head, then mark, per
    /// (stem, branch), the visible row with the highest version index. Two statements per 500
    /// stems, whatever the number of rows. A table without families has no heads.
    pub(super) async fn recompute_heads<C: ConnectionTrait>(&self, c: &C, stems: &BTreeSet<String>) -> Result<()> {
        let Some(f) = &self.family else { return Ok(()) };
        let stems: Vec<&String> = stems.iter().collect();
        for chunk in stems.chunks(CHUNK) {
            let list = || chunk.iter().map(|s| s.as_str().to_owned());
            let clear = Query::update()
                .table(self.entity)
                .value(f.is_latest, false)
                .and_where(f.stem.is_in(list()))
                .and_where(f.is_latest.eq(true))
                .to_owned();
            c.execute(&clear).await.ctx(format_args!("recompute the heads of {} (clear)", self.noun))?;

            let other = Alias::new("other");
            let newest = Query::select()
                .expr(Func::max(Expr::col((other.clone(), f.version_index))))
                .from_as(self.entity, other.clone())
                .and_where(Expr::col((other.clone(), f.stem)).equals((self.entity, f.stem)))
                .and_where(Expr::col((other.clone(), self.branch)).equals((self.entity, self.branch)))
                .cond_where(self.visible(other))
                .to_owned();
            let set = Query::update()
                .table(self.entity)
                .value(f.is_latest, true)
                .and_where(f.stem.is_in(list()))
                .cond_where(self.visible(self.entity))
                .and_where(Expr::col((self.entity, f.version_index)).in_subquery(newest))
                .to_owned();
            c.execute(&set).await.ctx(format_args!("recompute the heads of {} (set)", self.noun))?;
        }
        Ok(())
    }
}

impl SeaCatalog {
    /// Apply a branch operation to records of one kind, in one transaction: lock, validate
    /// every record, move set-based, recompute the touched families' heads. Returns each
    /// record after the operation with its transition, in input order, without repeats.
    pub(super) async fn apply_branch_op<T: SoftDeletable>(
        &self,
        keys: &[T::Key],
        op: Operation,
    ) -> Result<Vec<(T::Record, Transition)>> {
        let keys = distinct(keys);
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let table = T::TABLE;
        let txn = self.begin_write().await?;
        self.lock(&txn, keys.iter().map(T::lock)).await?;
        let before = T::load(&txn, &keys).await?;
        let (plan, groups) = plan_moves(&keys, op, table.purge_hint, |k| {
            let r = before.get(k).ok_or_else(|| T::missing(k))?;
            Ok(T::state(r))
        })?;
        table.move_groups(&txn, &groups, T::key_text, op, self.clock.now()).await?;
        let stems: BTreeSet<String> = groups.values().flatten().filter_map(T::stem).collect();
        if !stems.is_empty() {
            table.recompute_heads(&txn, &stems).await?;
        }
        let mut after = T::load(&txn, &keys).await?;
        let mut results = Vec::with_capacity(plan.len());
        for (k, t) in plan {
            results.push((after.remove(&k).ok_or_else(|| T::missing(&k))?, t));
        }
        txn.commit().await.ctx(format_args!("commit {op} of {}", table.noun))?;
        Ok(results)
    }
}

/// A batch planned against the lifecycle table: each record's transition, in input order, and
/// the records that move, grouped by `(from, to)` branch for one set-based UPDATE per group.
type MovePlan<K> = (Vec<(K, Transition)>, BTreeMap<(i64, i64), Vec<K>>);

/// Validate a batch against [`transition`]: one missing or invalid record fails the whole batch
/// before anything changes. `state_of` gives a record's state and its name for messages (or the
/// not-found error); `purge_hint` ends the error for an operation that is not a branch move.
fn plan_moves<K: Clone>(
    keys: &[K],
    op: Operation,
    purge_hint: &str,
    mut state_of: impl FnMut(&K) -> Result<(RecordState, String)>,
) -> Result<MovePlan<K>> {
    let mut plan = Vec::with_capacity(keys.len());
    let mut groups: BTreeMap<(i64, i64), Vec<K>> = BTreeMap::new();
    for k in keys {
        let (state, label) = state_of(k)?;
        let t = transition(state, op, &label)?;
        match t {
            Transition::Move { from, to } => groups.entry((from.0, to.0)).or_default().push(k.clone()),
            Transition::Purge => {
                return Err(Error::invalid_input(format!("{op} is not a branch move: {purge_hint}")));
            }
            Transition::NoOp { .. } => {}
        }
        plan.push((k.clone(), t));
    }
    Ok((plan, groups))
}

/// Refuse a record the lifecycle does not let be deleted permanently (`state`, and its name).
pub(super) fn check_purgeable((state, label): (RecordState, String)) -> Result<()> {
    match transition(state, Operation::DeletePermanently, &label)? {
        Transition::Purge => Ok(()),
        other => Err(Error::new(
            ErrorKind::InvalidTransition,
            format!("cannot delete {label} permanently: the lifecycle says {other:?}"),
        )),
    }
}
