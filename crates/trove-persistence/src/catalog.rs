//! [`SeaCatalog`]: the catalog port on SeaORM.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, LikeExpr, OnConflict, Query};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DatabaseTransaction, DbBackend, EntityTrait, IntoActiveModel, Order as SqlOrder, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Select, SelectTwo, Set, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use trove_domain::lifecycle::{RecordState, Transition, transition};
use trove_domain::ports::{Clock, SystemClock};
use trove_domain::secret::redact_url;
use trove_domain::{
    Artifact, ArtifactQuery, ArtifactUpdate, BranchId, BranchSelection, Error, ErrorKind, HashType, Instance,
    InstanceInit, Key, NewArtifact, NewStorage, Operation, Order, Pending, Placement, Result, Stem, StorageId,
    StorageLocation, StoragePolicy, TransitionResult, Uid, User, UserId,
};

use crate::entity::artifact::{self, PURGING};
use crate::entity::{instance, storage, user};
use crate::error::{DbResultExt, corrupt};
use crate::migration::Migrator;

mod collections;
mod connect;

/// Uids per statement in bulk operations: well below SQLite's and PostgreSQL's bind-parameter
/// limits, so N uids cost a constant number of statements per 500.
const CHUNK: usize = 500;

/// Reserved version indexes (migration m0005), consumed by `create_artifact`.
const RESERVATION: &str = "version_reservation";

/// How long a SQLite writer waits for another writer's lock before giving up (as Conflict).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// Connect to `sqlite://PATH?mode=rwc` (or `sqlite::memory:`) or `postgresql://...`, and
    /// bring the schema up to date.
    ///
    /// A PostgreSQL password may be in the URL (`USER:PASSWORD@`, or `?password=`), in
    /// `PGPASSWORD`, or in a pgpass file (`PGPASSFILE`, else `~/.pgpass`, mode 0600). It never
    /// appears in an error: messages show the URL through
    /// [`trove_domain::secret::redact_url`], and a refused password is
    /// [`ErrorKind::Authentication`](trove_domain::ErrorKind::Authentication).
    pub async fn connect(url: &str) -> Result<SeaCatalog> {
        let shown = redact_url(url);
        let mut password_in_url = false;
        let mut opts;
        if url.starts_with("sqlite:") {
            opts = ConnectOptions::new(url.to_owned());
            // Backend-specific connection setup (SQLite): WAL so readers never block the
            // writer, foreign keys enforced, writers wait for each other instead of failing.
            opts.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .foreign_keys(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .synchronous(SqliteSynchronous::Normal)
            });
            if url.contains(":memory:") || url.contains("mode=memory") {
                // Every connection to an in-memory database is a different database.
                opts.max_connections(1).min_connections(1);
            }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // The password bypasses sea-orm, which shows its URL in errors and trace spans.
            let split = connect::split_pg_url(url, &shown)?;
            opts = ConnectOptions::new(split.bare);
            if let Some(password) = split.password {
                password_in_url = true;
                opts.map_sqlx_postgres_opts(move |o| o.password(&password));
            }
        } else {
            return Err(Error::invalid_input(format!(
                "unsupported catalog URL '{shown}': use sqlite://PATH?mode=rwc or postgresql://USER@HOST/DB"
            )));
        }
        opts.sqlx_logging(false);
        let db = Database::connect(opts).await.map_err(|e| connect::connect_error(&shown, password_in_url, e))?;
        Migrator::up(&db, None).await.ctx("bring the catalog schema up to date")?;
        let backend = db.get_database_backend();
        Ok(SeaCatalog { db, backend, clock: Arc::new(SystemClock) })
    }

    /// Use this clock for `updated_at` and `branch_changed_at` (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> SeaCatalog {
        self.clock = clock;
        self
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

    /// Begin a unit of work that writes.
    ///
    /// Backend-specific (SQLite): `BEGIN IMMEDIATE` takes the write lock up front, so a
    /// transaction that reads before it writes cannot fail with SQLITE_BUSY when upgrading;
    /// a second writer (another process too) waits up to the busy timeout. PostgreSQL ignores
    /// the mode; it serializes writers per family with advisory locks (see [`Self::lock`]).
    async fn begin_write(&self) -> Result<DatabaseTransaction> {
        let mut options = TransactionOptions::default();
        if self.backend == DbBackend::Sqlite {
            options.sqlite_transaction_mode = Some(SqliteTransactionMode::Immediate);
        }
        self.db.begin_with_options(options).await.ctx("begin a catalog transaction")
    }

    /// Take the transaction-scoped locks named `names` (families and keys).
    ///
    /// Backend-specific (PostgreSQL): `pg_advisory_xact_lock` on a 64-bit hash of each name,
    /// all in one statement in ascending order, so two units of work can never deadlock on
    /// them (each takes all its locks at once, in the same global order). The locks are held
    /// until commit or rollback. SQLite needs nothing here: `BEGIN IMMEDIATE` already
    /// serializes writers.
    async fn lock(&self, txn: &DatabaseTransaction, names: impl IntoIterator<Item = String>) -> Result<()> {
        if self.backend != DbBackend::Postgres {
            return Ok(());
        }
        let keys: BTreeSet<i64> = names.into_iter().map(|n| lock_key(&n)).collect();
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

/// FNV-1a, 64 bits: a stable hash for advisory lock keys (the same in every process).
fn lock_key(name: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

fn stem_lock(stem: &Stem) -> String {
    format!("trove/stem/{stem}")
}

fn key_lock(storage: StorageId, key: &Key) -> String {
    format!("trove/key/{}/{key}", storage.0)
}

// ----- encoding of domain values in rows -----

fn to_i64(what: &str, v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::invalid_input(format!("{what} {v} is too large for the catalog")))
}

fn to_u64(what: &str, v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| corrupt(what, format_args!("negative value {v}")))
}

fn encode_placement(p: &Placement) -> (&'static str, Option<String>) {
    match p {
        Placement::Managed => ("managed", None),
        Placement::RealKey => ("real_key", None),
        Placement::InPlace { real_path } => ("in_place", Some(real_path.clone())),
        Placement::SharedStore { store_key } => ("shared_store", Some(store_key.clone())),
    }
}

fn decode_placement(kind: &str, real_path: Option<String>) -> Result<Placement> {
    match (kind, real_path) {
        ("managed", _) => Ok(Placement::Managed),
        ("real_key", _) => Ok(Placement::RealKey),
        ("in_place", Some(real_path)) => Ok(Placement::InPlace { real_path }),
        ("shared_store", Some(store_key)) => Ok(Placement::SharedStore { store_key }),
        (other, _) => Err(corrupt("placement", format_args!("'{other}'"))),
    }
}

fn pending_op(p: &Pending) -> &'static str {
    match p {
        Pending::Purging { .. } => PURGING,
        Pending::PlacingRealKey { .. } => "placing_real_key",
        Pending::Replacing { .. } => "replacing",
    }
}

/// (`pending_op`, `pending` JSON) for a pending marker.
fn encode_pending(p: Option<&Pending>) -> Result<(Option<String>, Option<String>)> {
    match p {
        None => Ok((None, None)),
        Some(p) => {
            let json = serde_json::to_string(p)
                .map_err(|e| Error::catalog(format!("cannot encode the pending marker: {e}")))?;
            Ok((Some(pending_op(p).to_owned()), Some(json)))
        }
    }
}

fn to_artifact(m: artifact::Model, handle: Option<String>) -> Result<Artifact> {
    let uid = Uid::parse(&m.uid).map_err(|e| corrupt("artifact uid", e))?;
    let key = m.key.as_deref().map(Key::parse).transpose().map_err(|e| corrupt(format!("key of {uid}"), e))?;
    let hash_type = HashType::parse(&m.hash_type).map_err(|e| corrupt(format!("hash type of {uid}"), e))?;
    let pending = m
        .pending
        .as_deref()
        .map(serde_json::from_str::<Pending>)
        .transpose()
        .map_err(|e| corrupt(format!("pending marker of {uid}"), e))?;
    let created_by = handle.ok_or_else(|| corrupt(format!("creator of {uid}"), "the user row is missing"))?;
    Ok(Artifact {
        key,
        description: m.description,
        suffix: m.suffix,
        kind: m.kind,
        otype: m.otype,
        size: to_u64("size", m.size)?,
        hash: m.hash,
        hash_type,
        n_files: m.n_files.map(|n| to_u64("file count", n)).transpose()?,
        n_observations: m.n_observations.map(|n| to_u64("row count", n)).transpose()?,
        version_tag: m.version_tag,
        is_latest: m.is_latest,
        branch: BranchId(m.branch_id),
        trashed_from: m.trashed_from.map(BranchId),
        branch_changed_at: m.branch_changed_at,
        storage: StorageId(m.storage_id),
        placement: decode_placement(&m.placement, m.real_path)?,
        created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        pending,
        uid,
    })
}

fn to_storage(m: storage::Model) -> Result<StorageLocation> {
    let settings = serde_json::from_str(&m.settings).map_err(|e| corrupt(format!("settings of {}", m.root), e))?;
    Ok(StorageLocation {
        id: StorageId(m.id),
        uid: m.uid,
        root: m.root,
        region: m.region,
        instance_uid: m.instance_uid,
        settings,
        created_at: m.created_at,
    })
}

fn to_instance(m: instance::Model) -> Instance {
    Instance {
        uid: m.uid,
        name: m.name,
        keys_virtual: m.keys_virtual,
        default_storage: m.default_storage_id.map(StorageId),
        created_at: m.created_at,
    }
}

// ----- conditions -----

/// Not being purged (purging rows are invisible to every query).
fn not_purging() -> Condition {
    Condition::any().add(artifact::Column::PendingOp.is_null()).add(artifact::Column::PendingOp.ne(PURGING))
}

/// Literal key-prefix match, on both backends: a `LIKE` with escaped wildcards narrows (and can
/// use an index where the collation allows), and an exact `substr` comparison makes it
/// case-sensitive on SQLite too (whose `LIKE` folds ASCII case).
fn key_prefix(prefix: &str) -> Condition {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '!' | '%' | '_') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    pattern.push('%');
    // `int`, not `bigint`: PostgreSQL has no substr(varchar, int, bigint).
    let n = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
    Condition::all()
        .add(Expr::col((artifact::Entity, artifact::Column::Key)).like(LikeExpr::new(pattern).escape('!')))
        .add(
            Expr::expr(Func::cust("substr").arg(Expr::col((artifact::Entity, artifact::Column::Key))).arg(1).arg(n))
                .eq(prefix),
        )
}

fn query_condition(q: &ArtifactQuery) -> Condition {
    let mut c = Condition::all();
    match q.branch {
        BranchSelection::Default => c = c.add(artifact::Column::BranchId.eq(BranchId::MAIN.0)),
        BranchSelection::Only(b) => c = c.add(artifact::Column::BranchId.eq(b.0)),
        BranchSelection::All => {}
    }
    if q.exclude_trash {
        c = c.add(artifact::Column::BranchId.ne(BranchId::TRASH.0));
    }
    if let Some(uids) = &q.uids {
        c = c.add(artifact::Column::Uid.is_in(uids.iter().map(|u| u.as_str().to_owned())));
    }
    if let Some(stem) = &q.stem {
        c = c.add(artifact::Column::Stem.eq(stem.as_str()));
    }
    if let Some(key) = &q.key {
        c = c.add(artifact::Column::Key.eq(key.as_str()));
    }
    if let Some(prefix) = q.key_prefix.as_deref().filter(|p| !p.is_empty()) {
        c = c.add(key_prefix(prefix));
    }
    if let Some(hash) = &q.hash {
        c = c.add(artifact::Column::Hash.eq(hash.as_str()));
    }
    if let Some(storage) = q.storage {
        c = c.add(artifact::Column::StorageId.eq(storage.0));
    }
    if q.latest_only {
        c = c.add(artifact::Column::IsLatest.eq(true));
    }
    if let Some(before) = q.branch_changed_before {
        c = c.add(artifact::Column::BranchChangedAt.lt(before));
    }
    if let Some(labels) = &q.labels {
        c = c.add(collections::artifact_label_condition(labels));
    }
    if q.include_pending {
        c = c.add(not_purging());
    } else {
        c = c.add(artifact::Column::PendingOp.is_null());
    }
    c
}

fn with_user(select: Select<artifact::Entity>) -> SelectTwo<artifact::Entity, user::Entity> {
    select.find_also_related(user::Entity)
}

async fn fetch<C: ConnectionTrait>(c: &C, select: SelectTwo<artifact::Entity, user::Entity>) -> Result<Vec<Artifact>> {
    let rows = select.all(c).await.ctx("read artifacts")?;
    rows.into_iter().map(|(m, u)| to_artifact(m, u.map(|u| u.handle))).collect()
}

/// The records with these uids (chunked), by uid; purging ones only if `include_purging`.
async fn fetch_by_uids<C: ConnectionTrait>(
    c: &C,
    uids: &[Uid],
    include_purging: bool,
) -> Result<HashMap<Uid, Artifact>> {
    let mut out = HashMap::with_capacity(uids.len());
    for chunk in uids.chunks(CHUNK) {
        let mut cond = Condition::all().add(artifact::Column::Uid.is_in(chunk.iter().map(|u| u.as_str().to_owned())));
        if !include_purging {
            cond = cond.add(not_purging());
        }
        for a in fetch(c, with_user(artifact::Entity::find().filter(cond))).await? {
            out.insert(a.uid.clone(), a);
        }
    }
    Ok(out)
}

async fn max_version_in<C: ConnectionTrait>(c: &C, stem: &Stem) -> Result<Option<u32>> {
    let stmt = Query::select()
        .expr(Func::max(Expr::col(artifact::Column::VersionIndex)))
        .from(artifact::Entity)
        .and_where(artifact::Column::Stem.eq(stem.as_str()))
        .to_owned();
    let row = c.query_one(&stmt).await.ctx(format_args!("read the highest version of family {stem}"))?;
    let max: Option<i32> = match row {
        Some(row) => row.try_get_by_index(0).ctx("read the highest version")?,
        None => None,
    };
    let rows = max.map(|m| u32::try_from(m).map_err(|_| corrupt("version index", m))).transpose()?;
    // Versions deleted permanently still count: suffixes are never reused.
    collections::artifact_max_with_high_water(c, stem, rows).await
}

async fn family_head_by_key_in<C: ConnectionTrait>(c: &C, storage: StorageId, key: &Key) -> Result<Option<Artifact>> {
    let cond = Condition::all()
        .add(artifact::Column::StorageId.eq(storage.0))
        .add(artifact::Column::Key.eq(key.as_str()))
        .add(artifact::Column::BranchId.ne(BranchId::TRASH.0))
        .add(artifact::Column::IsLatest.eq(true))
        .add(not_purging());
    // Main first, then user branches, then the archive; newest family first among equals.
    let branch_rank = Expr::case(artifact::Column::BranchId.eq(BranchId::MAIN.0), 0)
        .case(artifact::Column::BranchId.eq(BranchId::ARCHIVE.0), 2)
        .finally(1);
    let select = artifact::Entity::find()
        .filter(cond)
        .order_by(Into::<Expr>::into(branch_rank), SqlOrder::Asc)
        .order_by_desc(artifact::Column::CreatedAt)
        .order_by_desc(artifact::Column::Id)
        .limit(1);
    Ok(fetch(c, with_user(select)).await?.into_iter().next())
}

/// The head of a family on main, if it has one there.
async fn main_head_in<C: ConnectionTrait>(c: &C, stem: &Stem) -> Result<Option<Artifact>> {
    let cond = Condition::all()
        .add(artifact::Column::Stem.eq(stem.as_str()))
        .add(artifact::Column::BranchId.eq(BranchId::MAIN.0))
        .add(artifact::Column::IsLatest.eq(true))
        .add(not_purging());
    Ok(fetch(c, with_user(artifact::Entity::find().filter(cond))).await?.into_iter().next())
}

/// Set-based head recomputation for these families: clear every head, then mark, per
/// (stem, branch), the non-purging row with the highest version index. Two statements per 500
/// stems, whatever the number of rows.
async fn recompute_heads<C: ConnectionTrait>(c: &C, stems: &BTreeSet<String>) -> Result<()> {
    let stems: Vec<&String> = stems.iter().collect();
    for chunk in stems.chunks(CHUNK) {
        let list = || chunk.iter().map(|s| s.as_str().to_owned());
        let clear = Query::update()
            .table(artifact::Entity)
            .value(artifact::Column::IsLatest, false)
            .and_where(artifact::Column::Stem.is_in(list()))
            .and_where(artifact::Column::IsLatest.eq(true))
            .to_owned();
        c.execute(&clear).await.ctx("recompute family heads (clear)")?;

        let other = Alias::new("other");
        let newest = Query::select()
            .expr(Func::max(Expr::col((other.clone(), artifact::Column::VersionIndex))))
            .from_as(artifact::Entity, other.clone())
            .and_where(
                Expr::col((other.clone(), artifact::Column::Stem)).equals((artifact::Entity, artifact::Column::Stem)),
            )
            .and_where(
                Expr::col((other.clone(), artifact::Column::BranchId))
                    .equals((artifact::Entity, artifact::Column::BranchId)),
            )
            .cond_where(
                Condition::any()
                    .add(Expr::col((other.clone(), artifact::Column::PendingOp)).is_null())
                    .add(Expr::col((other.clone(), artifact::Column::PendingOp)).ne(PURGING)),
            )
            .to_owned();
        let set = Query::update()
            .table(artifact::Entity)
            .value(artifact::Column::IsLatest, true)
            .and_where(artifact::Column::Stem.is_in(list()))
            .cond_where(not_purging())
            .and_where(Expr::col((artifact::Entity, artifact::Column::VersionIndex)).in_subquery(newest))
            .to_owned();
        c.execute(&set).await.ctx("recompute family heads (set)")?;
    }
    Ok(())
}

/// Uids without repeats, in first-seen order.
fn distinct(uids: &[Uid]) -> Vec<Uid> {
    let mut seen = HashSet::with_capacity(uids.len());
    uids.iter().filter(|u| seen.insert((*u).clone())).cloned().collect()
}

fn stems_of<'a>(uids: impl IntoIterator<Item = &'a Uid>) -> BTreeSet<String> {
    uids.into_iter().map(|u| u.stem().as_str().to_owned()).collect()
}

/// A batch planned against the lifecycle table: each record's transition, in input order, and
/// the records that move, grouped by `(from, to)` branch for one set-based UPDATE per group.
pub(crate) type MovePlan<K> = (Vec<(K, Transition)>, BTreeMap<(i64, i64), Vec<K>>);

/// Validate a batch of soft-deletable records (artifacts, collections, labels) against
/// [`transition`]: one missing or invalid record fails the whole batch before anything
/// changes. `state_of` gives a record's state and its name for messages (or the not-found
/// error); `purge_hint` ends the error for an operation that is not a branch move.
pub(crate) fn plan_moves<K: Clone + Ord>(
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

fn missing(uid: &Uid) -> Error {
    Error::not_found(format!(
        "artifact {uid} does not exist (it may have been deleted permanently); nothing was changed"
    ))
}

fn uid_list(chunk: &[Uid]) -> impl Iterator<Item = String> + '_ {
    chunk.iter().map(|u| u.as_str().to_owned())
}

#[async_trait]
impl trove_domain::ports::Catalog for SeaCatalog {
    fn backend(&self) -> &'static str {
        self.backend_name()
    }

    async fn init_instance(&self, init: &InstanceInit) -> Result<Instance> {
        let txn = self.begin_write().await?;
        if let Some(existing) = instance::Entity::find().one(&txn).await.ctx("read the instance")? {
            return Err(Error::new(
                ErrorKind::Instance,
                format!(
                    "this catalog already holds instance '{}' ({}); open it instead of initialising again",
                    existing.name, existing.uid
                ),
            ));
        }
        let storage = insert_storage(&txn, &init.storage).await?;
        ensure_user_in(&txn, &init.user_handle).await?;
        let row = instance::ActiveModel {
            uid: Set(init.uid.clone()),
            name: Set(init.name.clone()),
            keys_virtual: Set(init.keys_virtual),
            default_storage_id: Set(Some(storage.id.0)),
            created_at: Set(init.created_at),
        }
        .insert(&txn)
        .await
        .ctx(format_args!("create instance '{}'", init.name))?;
        txn.commit().await.ctx("commit the new instance")?;
        Ok(to_instance(row))
    }

    async fn instance(&self) -> Result<Option<Instance>> {
        Ok(instance::Entity::find().one(&self.db).await.ctx("read the instance")?.map(to_instance))
    }

    async fn add_storage(&self, new: &NewStorage) -> Result<StorageLocation> {
        let txn = self.begin_write().await?;
        let s = insert_storage(&txn, new).await?;
        txn.commit().await.ctx("commit the new storage location")?;
        Ok(s)
    }

    async fn set_default_storage(&self, id: StorageId) -> Result<Instance> {
        let txn = self.begin_write().await?;
        if storage::Entity::find_by_id(id.0).one(&txn).await.ctx("read the storage location")?.is_none() {
            return Err(Error::not_found(format!(
                "no storage location with id {}: list them with `trove storage ls`",
                id.0
            )));
        }
        let row = instance::Entity::find().one(&txn).await.ctx("read the instance")?.ok_or_else(|| {
            Error::new(ErrorKind::Instance, "this catalog holds no instance: create one with `trove init`")
        })?;
        let mut active = row.into_active_model();
        active.default_storage_id = Set(Some(id.0));
        let row = active.update(&txn).await.ctx("set the default storage location")?;
        txn.commit().await.ctx("commit the default storage location")?;
        Ok(to_instance(row))
    }

    async fn storages(&self) -> Result<Vec<StorageLocation>> {
        let rows = storage::Entity::find()
            .order_by_asc(storage::Column::Id)
            .all(&self.db)
            .await
            .ctx("read the storage locations")?;
        rows.into_iter().map(to_storage).collect()
    }

    async fn ensure_user(&self, handle: &str) -> Result<User> {
        // Read first: opening an instance (every command, reads included) must not need the
        // write lock, which another process may hold for a while (SQLite has one writer).
        let existing = user::Entity::find()
            .filter(user::Column::Handle.eq(handle))
            .one(&self.db)
            .await
            .ctx(format_args!("read user '{handle}'"))?;
        if let Some(row) = existing {
            return Ok(User { id: UserId(row.id), handle: row.handle });
        }
        let txn = self.begin_write().await?;
        let user = ensure_user_in(&txn, handle).await?;
        txn.commit().await.ctx("commit the user")?;
        Ok(user)
    }

    async fn artifact(&self, uid: &Uid) -> Result<Option<Artifact>> {
        let select = artifact::Entity::find()
            .filter(Condition::all().add(artifact::Column::Uid.eq(uid.as_str())).add(not_purging()));
        Ok(fetch(&self.db, with_user(select)).await?.into_iter().next())
    }

    async fn artifacts(&self, query: &ArtifactQuery) -> Result<Vec<Artifact>> {
        if query.uids.as_ref().is_some_and(|u| u.is_empty()) || query.limit == Some(0) {
            return Ok(Vec::new());
        }
        let mut select = artifact::Entity::find().filter(query_condition(query));
        select = match query.order {
            Order::NewestFirst => {
                select.order_by_desc(artifact::Column::CreatedAt).order_by_desc(artifact::Column::Uid)
            }
            // NULL keys last on both backends (SQLite sorts NULL first, PostgreSQL last).
            Order::Key => select
                .order_by(artifact::Column::Key.is_null(), SqlOrder::Asc)
                .order_by_asc(artifact::Column::Key)
                .order_by_asc(artifact::Column::Stem)
                .order_by_asc(artifact::Column::VersionIndex),
            Order::Version => select.order_by_asc(artifact::Column::Stem).order_by_asc(artifact::Column::VersionIndex),
        };
        if let Some(limit) = query.limit {
            select = select.limit(limit);
        }
        if let Some(offset) = query.offset {
            select = select.offset(offset);
        }
        fetch(&self.db, with_user(select)).await
    }

    async fn count_artifacts(&self, query: &ArtifactQuery) -> Result<u64> {
        if query.uids.as_ref().is_some_and(|u| u.is_empty()) {
            return Ok(0);
        }
        artifact::Entity::find().filter(query_condition(query)).count(&self.db).await.ctx("count artifacts")
    }

    async fn max_version(&self, stem: &Stem) -> Result<Option<u32>> {
        max_version_in(&self.db, stem).await
    }

    async fn family_head_by_key(&self, storage: StorageId, key: &Key) -> Result<Option<Artifact>> {
        family_head_by_key_in(&self.db, storage, key).await
    }

    async fn reserve_version(&self, stem: &Stem) -> Result<u32> {
        let txn = self.begin_write().await?;
        self.lock(&txn, [stem_lock(stem)]).await?;
        let max = max_version_in(&txn, stem).await?.ok_or_else(|| {
            Error::not_found(format!("family {stem} does not exist, so it has no next version to reserve"))
        })?;
        let next = max + 1;
        let index = i32::try_from(next)
            .map_err(|_| Error::invalid_input(format!("family {stem} has run out of version numbers")))?;
        collections::set_high_water(&txn, collections::ARTIFACT_FAMILY, stem, index).await?;
        let reserve = Query::insert()
            .into_table(Alias::new(RESERVATION))
            .columns([Alias::new("stem"), Alias::new("version_index")])
            .values_panic([stem.as_str().into(), i64::from(next).into()])
            .to_owned();
        txn.execute(&reserve).await.ctx(format_args!("reserve version {next} of family {stem}"))?;
        txn.commit().await.ctx(format_args!("commit the reservation of version {next} of family {stem}"))?;
        Ok(next)
    }

    async fn release_version(&self, stem: &Stem, index: u32) -> Result<()> {
        let txn = self.begin_write().await?;
        self.lock(&txn, [stem_lock(stem)]).await?;
        let release = Query::delete()
            .from_table(Alias::new(RESERVATION))
            .and_where(Expr::col(Alias::new("stem")).eq(stem.as_str()))
            .and_where(Expr::col(Alias::new("version_index")).eq(i64::from(index)))
            .to_owned();
        let released = txn.execute(&release).await.ctx(format_args!("release version {index} of family {stem}"))?;
        let mark = collections::high_water(&txn, collections::ARTIFACT_FAMILY, stem).await?;
        if released.rows_affected() == 1 && mark == Some(index) && index > 0 {
            let below = i32::try_from(index - 1).map_err(|_| corrupt("version index", index))?;
            collections::set_high_water(&txn, collections::ARTIFACT_FAMILY, stem, below).await?;
        }
        txn.commit().await.ctx(format_args!("commit the release of version {index} of family {stem}"))?;
        Ok(())
    }

    async fn create_artifact(&self, new: &NewArtifact) -> Result<Artifact> {
        let stem = new.uid.stem();
        let txn = self.begin_write().await?;
        let mut locks = vec![stem_lock(&stem)];
        if let Some(key) = &new.key {
            locks.push(key_lock(new.storage, key));
        }
        self.lock(&txn, locks).await?;

        let index = new.uid.version_index();
        if let Some(rev) = &new.revises
            && rev.stem() != stem
            && index > 0
        {
            return Err(Error::conflict(format!(
                "new version {} does not follow {rev}: they belong to different families",
                new.uid
            )));
        }
        let stale = |found: Option<&Uid>, expected: &str| {
            let found = found.map_or("no family".to_owned(), |u| format!("head {u}"));
            Error::new(
                ErrorKind::StaleRevises,
                format!(
                    "{} now has {found}, not {expected}: a concurrent writer saved first; reload and save again",
                    new.key.as_ref().map_or(format!("family {stem}"), |k| format!("key '{k}'"))
                ),
            )
        };
        let key_head = match &new.key {
            Some(key) => family_head_by_key_in(&txn, new.storage, key).await?,
            None => None,
        };
        if index == 0 {
            if max_version_in(&txn, &stem).await?.is_some() {
                return Err(Error::conflict(format!(
                    "family {stem} already exists, so {} cannot start a new family; retry with a fresh uid",
                    new.uid
                )));
            }
            if key_head.is_some() || new.revises.is_some() {
                let expected = new.revises.as_ref().map_or("no family".to_owned(), |u| format!("head {u}"));
                return Err(stale(key_head.as_ref().map(|h| &h.uid), &expected));
            }
        } else {
            // The index must be this writer's reservation, consumed here: no two writers ever
            // commit (or write bytes for) the same uid, and no purged index comes back.
            let consume = Query::delete()
                .from_table(Alias::new(RESERVATION))
                .and_where(Expr::col(Alias::new("stem")).eq(stem.as_str()))
                .and_where(Expr::col(Alias::new("version_index")).eq(i64::from(index)))
                .to_owned();
            let consumed = txn.execute(&consume).await.ctx(format_args!("consume the reservation of {}", new.uid))?;
            if consumed.rows_affected() != 1 {
                return Err(Error::conflict(format!(
                    "version {} was not reserved for this writer (reserve it with reserve_version); retry",
                    new.uid
                )));
            }
            if let Some(h) = &key_head
                && h.stem() != stem
            {
                return Err(stale(Some(&h.uid), &format!("a version of family {stem}")));
            }
            if new.strict_revises {
                let head = match &new.key {
                    Some(_) => key_head.clone(),
                    None => main_head_in(&txn, &stem).await?,
                };
                let expected = new.revises.as_ref().map_or("no family".to_owned(), |u| format!("head {u}"));
                if head.as_ref().map(|h| &h.uid) != new.revises.as_ref() {
                    return Err(stale(head.as_ref().map(|h| &h.uid), &expected));
                }
            }
        }

        let (placement, real_path) = encode_placement(&new.placement);
        let (op, pending) = encode_pending(new.pending.as_ref())?;
        let version_index = i32::try_from(new.uid.version_index())
            .map_err(|_| Error::invalid_input(format!("version index of {} is too large", new.uid)))?;
        artifact::ActiveModel {
            uid: Set(new.uid.as_str().to_owned()),
            stem: Set(stem.as_str().to_owned()),
            version_index: Set(version_index),
            key: Set(new.key.as_ref().map(|k| k.as_str().to_owned())),
            description: Set(new.description.clone()),
            suffix: Set(new.suffix.clone()),
            kind: Set(new.kind.clone()),
            otype: Set(new.otype.clone()),
            size: Set(to_i64("size", new.content.size)?),
            hash: Set(new.content.hash.clone()),
            hash_type: Set(new.content.hash_type.to_string()),
            n_files: Set(new.n_files.map(|n| to_i64("file count", n)).transpose()?),
            n_observations: Set(new.n_observations.map(|n| to_i64("row count", n)).transpose()?),
            version_tag: Set(new.version_tag.clone()),
            // A new family's first record is its head; a new version's head is recomputed
            // below, since a concurrent writer may have committed a higher version already.
            is_latest: Set(index == 0),
            branch_id: Set(BranchId::MAIN.0),
            trashed_from: Set(None),
            branch_changed_at: Set(None),
            storage_id: Set(new.storage.0),
            placement: Set(placement.to_owned()),
            real_path: Set(real_path),
            created_by_id: Set(new.created_by.0),
            created_at: Set(new.created_at),
            updated_at: Set(new.created_at),
            pending_op: Set(op),
            pending: Set(pending),
            dedup_exempt: Set(new.dedup_exempt),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .ctx(format_args!("insert artifact {}", new.uid))?;
        if index == 0 {
            collections::set_high_water(&txn, collections::ARTIFACT_FAMILY, &stem, version_index).await?;
        } else {
            recompute_heads(&txn, &BTreeSet::from([stem.as_str().to_owned()])).await?;
        }

        let created = fetch_by_uids(&txn, std::slice::from_ref(&new.uid), true)
            .await?
            .remove(&new.uid)
            .ok_or_else(|| Error::catalog(format!("artifact {} vanished right after its insert", new.uid)))?;
        txn.commit().await.ctx(format_args!("commit artifact {}", new.uid))?;
        Ok(created)
    }

    async fn apply_transition(&self, uids: &[Uid], op: Operation) -> Result<Vec<TransitionResult>> {
        let uids = distinct(uids);
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.begin_write().await?;
        self.lock(&txn, stems_of(&uids).iter().map(|s| format!("trove/stem/{s}"))).await?;
        let before = fetch_by_uids(&txn, &uids, false).await?;

        // Validate every record first: one invalid record and nothing changes.
        let (plan, groups) = plan_moves(&uids, op, "delete permanently with begin_purge/finish_purge", |uid| {
            let a = before.get(uid).ok_or_else(|| missing(uid))?;
            Ok((a.state(), a.label()))
        })?;

        // One UPDATE per (from, to) group and 500 uids; the expected-current-branch precondition
        // makes a concurrent move show up as a row-count mismatch.
        let now = self.clock.now();
        let mut moved: Vec<&Uid> = Vec::new();
        for ((from, to), group) in &groups {
            let trashed_from = (*to == BranchId::TRASH.0).then_some(*from);
            for chunk in group.chunks(CHUNK) {
                let stmt = Query::update()
                    .table(artifact::Entity)
                    .value(artifact::Column::BranchId, *to)
                    // Moved rows drop their head flag (they may be a head where they come from);
                    // heads are recomputed below, so the one-head index never sees two.
                    .value(artifact::Column::IsLatest, false)
                    .value(artifact::Column::TrashedFrom, trashed_from)
                    .value(artifact::Column::BranchChangedAt, now)
                    .value(artifact::Column::UpdatedAt, now)
                    .and_where(artifact::Column::Uid.is_in(uid_list(chunk)))
                    .and_where(artifact::Column::BranchId.eq(*from))
                    .cond_where(not_purging())
                    .to_owned();
                let res = txn.execute(&stmt).await.ctx(format_args!("{op} {} artifacts", chunk.len()))?;
                if res.rows_affected() != chunk.len() as u64 {
                    return Err(Error::conflict(format!(
                        "{op}: {} of {} artifacts changed concurrently; nothing was changed, retry",
                        chunk.len() as u64 - res.rows_affected(),
                        chunk.len()
                    )));
                }
            }
            moved.extend(group.iter());
        }
        if !moved.is_empty() {
            recompute_heads(&txn, &stems_of(moved)).await?;
        }

        let mut after = fetch_by_uids(&txn, &uids, false).await?;
        let mut results = Vec::with_capacity(plan.len());
        for (uid, t) in plan {
            let artifact = after.remove(&uid).ok_or_else(|| missing(&uid))?;
            results.push(TransitionResult { artifact, transition: t });
        }
        txn.commit().await.ctx(format_args!("commit {op}"))?;
        Ok(results)
    }

    async fn begin_purge(&self, uids: &[Uid], policy: StoragePolicy) -> Result<Vec<Artifact>> {
        let uids = distinct(uids);
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.begin_write().await?;
        let stems = stems_of(&uids);
        self.lock(&txn, stems.iter().map(|s| format!("trove/stem/{s}"))).await?;
        let mut before = fetch_by_uids(&txn, &uids, true).await?;
        if let Some(uid) = uids.iter().find(|u| !before.contains_key(*u)) {
            return Err(missing(uid));
        }
        // Members of any collection (any branch) are protected; checked under the family locks
        // that `create_collection` also takes for its members.
        collections::check_not_in_collections(&txn, &uids).await?;
        let mut out = Vec::with_capacity(uids.len());
        for uid in &uids {
            let a = before.remove(uid).ok_or_else(|| missing(uid))?;
            // Another operation's bytes are in flight: deleting them now could leave its row
            // without bytes, or its finish could resurrect a purged row.
            if let Some(p) = a.pending.as_ref().filter(|p| !matches!(p, Pending::Purging { .. })) {
                return Err(Error::conflict(format!(
                    "cannot delete {} permanently while {} is in progress; retry once it has finished, or run \
                     `trove fsck --repair` if it was interrupted",
                    a.label(),
                    pending_op(p).replace('_', " ")
                )));
            }
            // The lifecycle table decides; every saved state may be deleted permanently.
            match transition(a.state(), Operation::DeletePermanently, &a.label())? {
                Transition::Purge => out.push(a),
                other => {
                    return Err(Error::new(
                        ErrorKind::InvalidTransition,
                        format!("cannot delete {} permanently: the lifecycle says {other:?}", a.label()),
                    ));
                }
            }
        }
        let (op, pending) = encode_pending(Some(&Pending::Purging { policy }))?;
        let now = self.clock.now();
        for chunk in uids.chunks(CHUNK) {
            let stmt = Query::update()
                .table(artifact::Entity)
                .value(artifact::Column::PendingOp, op.clone())
                .value(artifact::Column::Pending, pending.clone())
                .value(artifact::Column::IsLatest, false)
                .value(artifact::Column::UpdatedAt, now)
                .and_where(artifact::Column::Uid.is_in(uid_list(chunk)))
                .to_owned();
            txn.execute(&stmt).await.ctx(format_args!("mark {} artifacts as being purged", chunk.len()))?;
        }
        recompute_heads(&txn, &stems).await?;
        txn.commit().await.ctx("commit the purge marks")?;
        Ok(out)
    }

    async fn finish_purge(&self, uids: &[Uid]) -> Result<u64> {
        let uids = distinct(uids);
        if uids.is_empty() {
            return Ok(0);
        }
        let txn = self.begin_write().await?;
        self.lock(&txn, stems_of(&uids).iter().map(|s| format!("trove/stem/{s}"))).await?;
        let mut n = 0;
        for chunk in uids.chunks(CHUNK) {
            let stmt = Query::delete()
                .from_table(artifact::Entity)
                .and_where(artifact::Column::Uid.is_in(uid_list(chunk)))
                .and_where(artifact::Column::PendingOp.eq(PURGING))
                .to_owned();
            n += txn.execute(&stmt).await.ctx(format_args!("delete {} purged artifacts", chunk.len()))?.rows_affected();
        }
        txn.commit().await.ctx("commit the purge")?;
        Ok(n)
    }

    async fn abort_purge(&self, uids: &[Uid]) -> Result<()> {
        let uids = distinct(uids);
        if uids.is_empty() {
            return Ok(());
        }
        let txn = self.begin_write().await?;
        let stems = stems_of(&uids);
        self.lock(&txn, stems.iter().map(|s| format!("trove/stem/{s}"))).await?;
        let now = self.clock.now();
        for chunk in uids.chunks(CHUNK) {
            let stmt = Query::update()
                .table(artifact::Entity)
                .value(artifact::Column::PendingOp, Option::<String>::None)
                .value(artifact::Column::Pending, Option::<String>::None)
                .value(artifact::Column::UpdatedAt, now)
                .and_where(artifact::Column::Uid.is_in(uid_list(chunk)))
                .and_where(artifact::Column::PendingOp.eq(PURGING))
                .to_owned();
            txn.execute(&stmt).await.ctx(format_args!("clear the purge mark of {} artifacts", chunk.len()))?;
        }
        recompute_heads(&txn, &stems).await?;
        txn.commit().await.ctx("commit the aborted purge")?;
        Ok(())
    }

    async fn update_artifact(&self, uid: &Uid, update: &ArtifactUpdate) -> Result<Artifact> {
        let txn = self.begin_write().await?;
        self.lock(&txn, [stem_lock(&uid.stem())]).await?;
        let row = artifact::Entity::find()
            .filter(artifact::Column::Uid.eq(uid.as_str()))
            .one(&txn)
            .await
            .ctx(format_args!("read artifact {uid}"))?
            .ok_or_else(|| missing(uid))?;
        if let Some(expected) = &update.if_pending {
            let current = row
                .pending
                .as_deref()
                .map(serde_json::from_str::<Pending>)
                .transpose()
                .map_err(|e| corrupt(format!("pending marker of {uid}"), e))?;
            if current.as_ref() != expected.as_ref() {
                let name = |p: Option<&Pending>| p.map_or("none".to_owned(), |p| pending_op(p).replace('_', " "));
                return Err(Error::conflict(format!(
                    "artifact {uid} changed concurrently: its unfinished operation is {}, not {}; nothing was \
                     changed, reload and retry",
                    name(current.as_ref()),
                    name(expected.as_ref())
                )));
            }
        }
        if let Some(hash) = &update.if_hash
            && &row.hash != hash
        {
            return Err(Error::conflict(format!(
                "artifact {uid} changed concurrently: its content is now {}, not {hash}; nothing was changed, reload \
                 and retry",
                row.hash
            )));
        }
        let mut am = row.into_active_model();
        if let Some(p) = &update.placement {
            let (kind, real_path) = encode_placement(p);
            am.placement = Set(kind.to_owned());
            am.real_path = Set(real_path);
        }
        if let Some(p) = &update.pending {
            let (op, json) = encode_pending(p.as_ref())?;
            am.pending_op = Set(op);
            am.pending = Set(json);
        }
        if let Some(c) = &update.content {
            let (kind, real_path) = encode_placement(&c.placement);
            am.suffix = Set(c.suffix.clone());
            am.key = Set(c.key.as_ref().map(|k| k.as_str().to_owned()));
            am.placement = Set(kind.to_owned());
            am.real_path = Set(real_path);
            am.size = Set(to_i64("size", c.size)?);
            am.hash = Set(c.hash.clone());
            am.hash_type = Set(c.hash_type.to_string());
            am.n_files = Set(c.n_files.map(|n| to_i64("file count", n)).transpose()?);
            am.n_observations = Set(c.n_observations.map(|n| to_i64("row count", n)).transpose()?);
            // Replaced content skips de-duplication (spec 2 §6: it is in place), so the row leaves
            // the `(storage, key, hash)` uniqueness like a deliberate duplicate (m0004).
            am.dedup_exempt = Set(true);
        }
        if let Some(d) = &update.description {
            am.description = Set(d.clone());
        }
        if let Some(t) = &update.version_tag {
            am.version_tag = Set(t.clone());
        }
        am.updated_at = Set(self.clock.now());
        am.update(&txn).await.ctx(format_args!("update artifact {uid}"))?;
        let updated =
            fetch_by_uids(&txn, std::slice::from_ref(uid), true).await?.remove(uid).ok_or_else(|| missing(uid))?;
        txn.commit().await.ctx(format_args!("commit the update of artifact {uid}"))?;
        Ok(updated)
    }

    async fn pending_artifacts(&self) -> Result<Vec<Artifact>> {
        let select = artifact::Entity::find()
            .filter(artifact::Column::PendingOp.is_not_null())
            .order_by_asc(artifact::Column::CreatedAt)
            .order_by_asc(artifact::Column::Uid);
        fetch(&self.db, with_user(select)).await
    }

    // Collections and labels: implemented in `catalog/collections.rs`.

    async fn create_collection(&self, new: &trove_domain::NewCollection) -> Result<trove_domain::Collection> {
        self.create_collection_in(new).await
    }

    async fn collections(&self, query: &trove_domain::CollectionQuery) -> Result<Vec<trove_domain::Collection>> {
        self.collections_in(query).await
    }

    async fn collection_head_by_key(&self, key: &str) -> Result<Option<trove_domain::Collection>> {
        self.collection_head_by_key_pub(key).await
    }

    async fn max_collection_version(&self, stem: &Stem) -> Result<Option<u32>> {
        self.max_collection_version_in(stem).await
    }

    async fn apply_collection_transition(
        &self,
        uids: &[Uid],
        op: Operation,
    ) -> Result<Vec<trove_domain::CollectionTransitionResult>> {
        self.apply_collection_transition_in(uids, op).await
    }

    async fn purge_collections(&self, uids: &[Uid]) -> Result<Vec<trove_domain::Collection>> {
        self.purge_collections_in(uids).await
    }

    async fn create_label(&self, new: &trove_domain::NewLabel) -> Result<trove_domain::Label> {
        self.create_label_in(new).await
    }

    async fn labels(&self, query: &trove_domain::LabelQuery) -> Result<Vec<trove_domain::Label>> {
        self.labels_in(query).await
    }

    async fn attach_label(&self, name: &str, targets: &[trove_domain::Labeled]) -> Result<u64> {
        self.attach_label_in(name, targets).await
    }

    async fn detach_label(&self, name: &str, targets: &[trove_domain::Labeled]) -> Result<u64> {
        self.detach_label_in(name, targets).await
    }

    async fn apply_label_transition(
        &self,
        names: &[String],
        op: Operation,
    ) -> Result<Vec<trove_domain::LabelTransitionResult>> {
        self.apply_label_transition_in(names, op).await
    }

    async fn purge_labels(&self, names: &[String]) -> Result<Vec<trove_domain::Label>> {
        self.purge_labels_in(names).await
    }
}

async fn insert_storage(txn: &DatabaseTransaction, new: &NewStorage) -> Result<StorageLocation> {
    let settings = serde_json::to_string(&new.settings)
        .map_err(|e| Error::invalid_input(format!("storage settings are not valid JSON: {e}")))?;
    let row = storage::ActiveModel {
        uid: Set(new.uid.clone()),
        root: Set(new.root.clone()),
        region: Set(new.region.clone()),
        instance_uid: Set(new.instance_uid.clone()),
        settings: Set(settings),
        created_at: Set(new.created_at),
        ..Default::default()
    }
    .insert(txn)
    .await
    .ctx(format_args!(
        "register storage location '{}' (a location with this root or uid may exist already)",
        new.root
    ))?;
    to_storage(row)
}

/// Insert the user unless present (portable `ON CONFLICT DO NOTHING`), then read it.
async fn ensure_user_in(txn: &DatabaseTransaction, handle: &str) -> Result<User> {
    if handle.is_empty() {
        return Err(Error::invalid_input("a user handle cannot be empty"));
    }
    let insert = Query::insert()
        .into_table(user::Entity)
        .columns([user::Column::Handle])
        .values_panic([handle.into()])
        .on_conflict(OnConflict::column(user::Column::Handle).do_nothing().to_owned())
        .to_owned();
    txn.execute(&insert).await.ctx(format_args!("create user '{handle}'"))?;
    let row = user::Entity::find()
        .filter(user::Column::Handle.eq(handle))
        .one(txn)
        .await
        .ctx(format_args!("read user '{handle}'"))?
        .ok_or_else(|| Error::catalog(format!("user '{handle}' vanished right after its insert")))?;
    Ok(User { id: UserId(row.id), handle: row.handle })
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
    fn placements_round_trip() {
        for p in [Placement::Managed, Placement::RealKey, Placement::InPlace { real_path: "raw/a.csv".into() }] {
            let (k, r) = encode_placement(&p);
            assert_eq!(decode_placement(k, r).unwrap(), p);
        }
        assert!(decode_placement("bogus", None).is_err());
    }
}
