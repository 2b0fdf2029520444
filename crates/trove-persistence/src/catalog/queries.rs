//! Reading artifacts: one condition per query value (design, section 1: listing, lookup and
//! bulk selection share one code path), the fetches every unit of work reads through, and the
//! label filter shared with collections.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, Order as SqlOrder, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Select,
};
use trove_domain::{
    Artifact, ArtifactQuery, BranchId, BranchSelection, Cursor, Error, Key, Order, Result, Stem, StorageId, Uid,
};

use super::artifacts::ARTIFACTS;
use super::codec::to_artifact;
use super::{CHUNK, uid_list};
use crate::entity::artifact;
use crate::entity::links::artifact_label;
use crate::entity::{label, user};
use crate::error::{DbResultExt, corrupt};

/// Not being purged (purging rows are invisible to every query).
pub(super) fn not_purging() -> Condition {
    ARTIFACTS.visible(artifact::Entity)
}

/// A branch selection on `col`.
pub(super) fn branch_condition(branch: BranchSelection, col: impl ColumnTrait) -> Condition {
    match branch {
        BranchSelection::Default => Condition::all().add(col.eq(BranchId::MAIN.0)),
        BranchSelection::Only(b) => Condition::all().add(col.eq(b.0)),
        BranchSelection::All => Condition::all(),
    }
}

/// Main first, then user branches, then the archive: which head of a key wins.
pub(super) fn branch_rank(col: impl ColumnTrait) -> Expr {
    Expr::case(col.eq(BranchId::MAIN.0), 0).case(col.eq(BranchId::ARCHIVE.0), 2).finally(1).into()
}

/// Literal key-prefix match, on both backends: a `LIKE` with escaped wildcards narrows (and can
/// use an index where the collation allows), and an exact `substr` comparison makes it
/// case-sensitive on SQLite too (whose `LIKE` folds ASCII case).
///
/// On SQLite, whose text comparison is bytewise, the prefix is also a range (`key >= prefix
/// AND key < successor`), which the key indexes serve directly. (PostgreSQL compares text by
/// the database's collation, under which a prefix is not a range, so there the `LIKE` alone
/// narrows.)
fn key_prefix(prefix: &str, backend: DbBackend) -> Condition {
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
    let mut c = Condition::all();
    if backend == DbBackend::Sqlite {
        c = c.add(artifact::Column::Key.gte(prefix));
        if let Some(upper) = prefix_successor(prefix) {
            c = c.add(artifact::Column::Key.lt(upper));
        }
    }
    c.add(Expr::col((artifact::Entity, artifact::Column::Key)).like(LikeExpr::new(pattern).escape('!'))).add(
        Expr::expr(Func::cust("substr").arg(Expr::col((artifact::Entity, artifact::Column::Key))).arg(1).arg(n))
            .eq(prefix),
    )
}

/// The least string greater than every string starting with `prefix`, in code point (and so
/// UTF-8 byte) order; `None` if there is none (every character is the last code point).
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(n) = next {
            chars.push(n);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Does the query name its records by a selective value (uids, a family, keys, a key prefix,
/// hashes), rather than list a branch?
fn is_selective(q: &ArtifactQuery) -> bool {
    q.uids.is_some()
        || q.stem.is_some()
        || q.key.is_some()
        || q.keys.is_some()
        || q.key_prefix.as_deref().is_some_and(|p| !p.is_empty())
        || q.hash.is_some()
        || q.hashes.is_some()
}

/// The branch condition of a query.
///
/// Backend-specific (SQLite): a selective query (a key, uids, a prefix...) states its branch as
/// `+branch_id = ?`, which SQLite's planner cannot serve from an index. Without statistics
/// (`ANALYZE`) the planner rates `branch_id = ?` as selective as `key = ?`, and would walk a
/// whole branch in the order of a branch-leading index rather than seek the key and sort a
/// handful of rows; the unary plus leaves it only the selective indexes. PostgreSQL keeps
/// statistics (autovacuum), so there the plain condition stays.
fn branch_of(q: &ArtifactQuery, backend: DbBackend) -> Condition {
    if backend != DbBackend::Sqlite || !is_selective(q) {
        return branch_condition(q.branch, artifact::Column::BranchId);
    }
    let on = |b: BranchId| Expr::cust_with_values("+\"artifact\".\"branch_id\" = ?", [b.0]);
    match q.branch {
        BranchSelection::Default => Condition::all().add(on(BranchId::MAIN)),
        BranchSelection::Only(b) => Condition::all().add(on(b)),
        BranchSelection::All => Condition::all(),
    }
}

fn query_condition(q: &ArtifactQuery, backend: DbBackend) -> Condition {
    let mut c = branch_of(q, backend);
    if q.exclude_trash {
        c = c.add(artifact::Column::BranchId.ne(BranchId::TRASH.0));
    }
    if let Some(uids) = &q.uids {
        c = c.add(artifact::Column::Uid.is_in(uid_list(uids)));
    }
    if let Some(stem) = &q.stem {
        c = c.add(artifact::Column::Stem.eq(stem.as_str()));
    }
    if let Some(key) = &q.key {
        c = c.add(artifact::Column::Key.eq(key.as_str()));
    }
    if let Some(keys) = &q.keys {
        c = c.add(artifact::Column::Key.is_in(keys.iter().map(String::as_str)));
    }
    if let Some(prefix) = q.key_prefix.as_deref().filter(|p| !p.is_empty()) {
        c = c.add(key_prefix(prefix, backend));
    }
    if let Some(hash) = &q.hash {
        c = c.add(artifact::Column::Hash.eq(hash.as_str()));
    }
    if let Some(hashes) = &q.hashes {
        c = c.add(artifact::Column::Hash.is_in(hashes.iter().map(String::as_str)));
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
        c = c.add(artifact_label_condition(labels));
    }
    if q.include_pending {
        c = c.add(not_purging());
    } else {
        c = c.add(artifact::Column::PendingOp.is_null());
    }
    c
}

/// `artifact.id IN (artifacts carrying label NAME)`, one per name (all must match).
fn artifact_label_condition(names: &[String]) -> Condition {
    let mut c = Condition::all();
    for name in names {
        let sub = Query::select()
            .column((artifact_label::Entity, artifact_label::Column::ArtifactId))
            .from(artifact_label::Entity)
            .inner_join(
                label::Entity,
                Expr::col((label::Entity, label::Column::Id))
                    .equals((artifact_label::Entity, artifact_label::Column::LabelId)),
            )
            .and_where(Expr::col((label::Entity, label::Column::Name)).eq(name.as_str()))
            .to_owned();
        c = c.add(Expr::col((artifact::Entity, artifact::Column::Id)).in_subquery(sub));
    }
    c
}

/// The records a select finds, with their creators.
pub(super) async fn fetch<C: ConnectionTrait>(c: &C, select: Select<artifact::Entity>) -> Result<Vec<Artifact>> {
    let rows = select.find_also_related(user::Entity).all(c).await.ctx("read artifacts")?;
    rows.into_iter().map(|(m, u)| to_artifact(m, u.map(|u| u.handle))).collect()
}

/// The records with these uids (chunked), by uid; purging ones only if `include_purging`.
pub(super) async fn fetch_by_uids<C: ConnectionTrait>(
    c: &C,
    uids: &[Uid],
    include_purging: bool,
) -> Result<HashMap<Uid, Artifact>> {
    let mut out = HashMap::with_capacity(uids.len());
    for chunk in uids.chunks(CHUNK) {
        let mut cond = Condition::all().add(artifact::Column::Uid.is_in(uid_list(chunk)));
        if !include_purging {
            cond = cond.add(not_purging());
        }
        for a in fetch(c, artifact::Entity::find().filter(cond)).await? {
            out.insert(a.uid.clone(), a);
        }
    }
    Ok(out)
}

/// The record with this uid, purging or not (units of work that read before they write).
pub(super) async fn fetch_one<C: ConnectionTrait>(c: &C, uid: &Uid) -> Result<Artifact> {
    fetch_by_uids(c, std::slice::from_ref(uid), true).await?.remove(uid).ok_or_else(|| missing(uid))
}

/// Row ids of visible (not purging) artifacts, by uid.
pub(super) async fn artifact_ids<C: ConnectionTrait>(c: &C, uids: &[Uid]) -> Result<HashMap<Uid, i64>> {
    let mut out = HashMap::with_capacity(uids.len());
    for chunk in uids.chunks(CHUNK) {
        let rows = artifact::Entity::find()
            .filter(Condition::all().add(artifact::Column::Uid.is_in(uid_list(chunk))).add(not_purging()))
            .all(c)
            .await
            .ctx("read member artifacts")?;
        for r in rows {
            out.insert(Uid::parse(&r.uid).map_err(|e| corrupt("artifact uid", e))?, r.id);
        }
    }
    Ok(out)
}

/// The head of the newest non-trashed, non-purging family holding `key` in `storage`.
pub(super) async fn family_head_by_key<C: ConnectionTrait>(
    c: &C,
    storage: StorageId,
    key: &Key,
) -> Result<Option<Artifact>> {
    let cond = Condition::all()
        .add(artifact::Column::StorageId.eq(storage.0))
        .add(artifact::Column::Key.eq(key.as_str()))
        .add(artifact::Column::BranchId.ne(BranchId::TRASH.0))
        .add(artifact::Column::IsLatest.eq(true))
        .add(not_purging());
    // Newest family first among equals.
    let select = artifact::Entity::find()
        .filter(cond)
        .order_by(branch_rank(artifact::Column::BranchId), SqlOrder::Asc)
        .order_by_desc(artifact::Column::CreatedAt)
        .order_by_desc(artifact::Column::Id)
        .limit(1);
    Ok(fetch(c, select).await?.into_iter().next())
}

/// The head of a family on main, if it has one there.
pub(super) async fn main_head<C: ConnectionTrait>(c: &C, stem: &Stem) -> Result<Option<Artifact>> {
    let cond = Condition::all()
        .add(artifact::Column::Stem.eq(stem.as_str()))
        .add(artifact::Column::BranchId.eq(BranchId::MAIN.0))
        .add(artifact::Column::IsLatest.eq(true))
        .add(not_purging());
    Ok(fetch(c, artifact::Entity::find().filter(cond)).await?.into_iter().next())
}

/// The record with this uid on any branch; `None` if missing or being purged.
pub(super) async fn artifact<C: ConnectionTrait>(c: &C, uid: &Uid) -> Result<Option<Artifact>> {
    let cond = Condition::all().add(artifact::Column::Uid.eq(uid.as_str())).add(not_purging());
    Ok(fetch(c, artifact::Entity::find().filter(cond)).await?.into_iter().next())
}

/// Records matching the query, in its order, after its cursor, within its limit and offset.
///
/// Every order is served by an index (migration m0006), so a page costs its own rows, not a
/// sort of the whole table. Keys sort with NULL (keyless records) last on both backends: the
/// keyed records are read first, then, if the page is not full, the keyless ones, each part
/// in index order.
pub(super) async fn artifacts<C: ConnectionTrait>(c: &C, query: &ArtifactQuery) -> Result<Vec<Artifact>> {
    if query.uids.as_ref().is_some_and(|u| u.is_empty())
        || query.keys.as_ref().is_some_and(|k| k.is_empty())
        || query.hashes.as_ref().is_some_and(|h| h.is_empty())
        || query.limit == Some(0)
    {
        return Ok(Vec::new());
    }
    let backend = c.get_database_backend();
    if query.order != Order::Key {
        return fetch(c, limited(ordered_select(query, backend), query.limit, query.offset)).await;
    }
    // Order::Key: keyed records, then keyless ones.
    let mut out = Vec::new();
    let keyed_done = query.after.as_ref().is_some_and(|a| a.key.is_none());
    if !keyed_done {
        out = fetch(c, limited(keyed_select(query, backend), query.limit, query.offset)).await?;
    }
    let room = query.limit.map(|l| l.saturating_sub(out.len() as u64));
    if room == Some(0) {
        return Ok(out);
    }
    // The offset (if any) applies across both parts: what the keyed part did not use.
    let offset = match query.offset {
        Some(o) if !keyed_done => {
            let all = count_artifacts(c, &ArtifactQuery { limit: None, offset: None, ..query.clone() }).await?;
            let keyless = count_keyless(c, query).await?;
            Some(o.saturating_sub(all - keyless))
        }
        o => o,
    };
    out.extend(fetch(c, limited(keyless_select(query, backend), room, offset)).await?);
    Ok(out)
}

/// A listing in `Order::NewestFirst` or `Order::Version`, after the query's cursor.
fn ordered_select(query: &ArtifactQuery, backend: DbBackend) -> Select<artifact::Entity> {
    let mut cond = query_condition(query, backend);
    if let Some(a) = &query.after {
        cond = cond.add(after_condition(query.order, a));
    }
    let select = artifact::Entity::find().filter(cond);
    match query.order {
        Order::NewestFirst => select.order_by_desc(artifact::Column::CreatedAt).order_by_desc(artifact::Column::Uid),
        _ => select.order_by_asc(artifact::Column::Stem).order_by_asc(artifact::Column::VersionIndex),
    }
}

/// The keyed part of an `Order::Key` listing, after the query's cursor.
fn keyed_select(query: &ArtifactQuery, backend: DbBackend) -> Select<artifact::Entity> {
    let mut cond = query_condition(query, backend).add(artifact::Column::Key.is_not_null());
    if let Some(a) = &query.after {
        cond = cond.add(after_condition(Order::Key, a));
    }
    artifact::Entity::find()
        .filter(cond)
        .order_by_asc(artifact::Column::Key)
        .order_by_asc(artifact::Column::Stem)
        .order_by_asc(artifact::Column::VersionIndex)
}

/// The keyless part of an `Order::Key` listing (after the cursor if it is keyless too).
fn keyless_select(query: &ArtifactQuery, backend: DbBackend) -> Select<artifact::Entity> {
    let mut cond = query_condition(query, backend).add(artifact::Column::Key.is_null());
    if let Some(a) = query.after.as_ref().filter(|a| a.key.is_none()) {
        cond = cond.add(after_condition(Order::Version, a));
    }
    artifact::Entity::find()
        .filter(cond)
        .order_by_asc(artifact::Column::Stem)
        .order_by_asc(artifact::Column::VersionIndex)
}

/// How many keyless records match the query.
async fn count_keyless<C: ConnectionTrait>(c: &C, query: &ArtifactQuery) -> Result<u64> {
    let cond = query_condition(query, c.get_database_backend()).add(artifact::Column::Key.is_null());
    artifact::Entity::find().filter(cond).count(c).await.ctx("count artifacts")
}

fn limited(mut select: Select<artifact::Entity>, limit: Option<u64>, offset: Option<u64>) -> Select<artifact::Entity> {
    if let Some(limit) = limit {
        select = select.limit(limit);
    }
    if let Some(offset) = offset.filter(|o| *o > 0) {
        select = select.offset(offset);
    }
    select
}

/// Records strictly after the cursor in `order`, written as `first >= x AND (first > x OR
/// ...)` so that the leading bound is an index range on both backends.
fn after_condition(order: Order, a: &Cursor) -> Condition {
    let vi = i64::from(a.version_index);
    let stem_then_version = || {
        Condition::any().add(artifact::Column::Stem.gt(a.stem.as_str())).add(
            Condition::all().add(artifact::Column::Stem.eq(a.stem.as_str())).add(artifact::Column::VersionIndex.gt(vi)),
        )
    };
    match order {
        Order::NewestFirst => Condition::all().add(artifact::Column::CreatedAt.lte(a.created_at)).add(
            Condition::any()
                .add(artifact::Column::CreatedAt.lt(a.created_at))
                .add(artifact::Column::Uid.lt(a.uid.as_str())),
        ),
        Order::Version => Condition::all().add(artifact::Column::Stem.gte(a.stem.as_str())).add(stem_then_version()),
        Order::Key => match &a.key {
            Some(k) => Condition::all()
                .add(artifact::Column::Key.gte(k.as_str()))
                .add(Condition::any().add(artifact::Column::Key.gt(k.as_str())).add(stem_then_version())),
            // After a keyless record: only keyless records follow (handled by the caller).
            None => Condition::all().add(artifact::Column::Key.is_null()),
        },
    }
}

/// How many records match the query (ignoring limit and offset).
pub(super) async fn count_artifacts<C: ConnectionTrait>(c: &C, query: &ArtifactQuery) -> Result<u64> {
    if query.uids.as_ref().is_some_and(|u| u.is_empty()) {
        return Ok(0);
    }
    if query.keys.as_ref().is_some_and(|k| k.is_empty()) || query.hashes.as_ref().is_some_and(|h| h.is_empty()) {
        return Ok(0);
    }
    let cond = query_condition(query, c.get_database_backend());
    artifact::Entity::find().filter(cond).count(c).await.ctx("count artifacts")
}

/// Every record with a pending marker, purging ones included, oldest first.
pub(super) async fn pending_artifacts<C: ConnectionTrait>(c: &C) -> Result<Vec<Artifact>> {
    let select = artifact::Entity::find()
        .filter(artifact::Column::PendingOp.is_not_null())
        .order_by_asc(artifact::Column::CreatedAt)
        .order_by_asc(artifact::Column::Uid);
    fetch(c, select).await
}

pub(super) fn missing(uid: &Uid) -> Error {
    Error::not_found(format!(
        "artifact {uid} does not exist (it may have been deleted permanently); nothing was changed"
    ))
}

#[cfg(test)]
mod plans {
    //! The listings the CLI offers are served by an index, in index order: SQLite's plan for
    //! each uses an index and no temporary B-tree (no sort of the table). Plans, not timings.

    use sea_orm::{ConnectionTrait, QueryTrait, Statement};

    use super::*;
    use crate::SeaCatalog;

    async fn plan(cat: &SeaCatalog, select: Select<artifact::Entity>) -> String {
        let sql = select.find_also_related(user::Entity).limit(100).build(DbBackend::Sqlite).to_string();
        let rows = cat
            .db
            .query_all_raw(Statement::from_string(DbBackend::Sqlite, format!("EXPLAIN QUERY PLAN {sql}")))
            .await
            .expect("explain");
        rows.iter().map(|r| r.try_get_by_index::<String>(3).expect("detail")).collect::<Vec<_>>().join("; ")
    }

    #[tokio::test]
    async fn listings_use_an_index_and_no_sort() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("plans.db").display());
        let cat = SeaCatalog::connect(&url).await.expect("connect");
        let listing = |q: ArtifactQuery| ArtifactQuery { latest_only: true, order: Order::Key, ..q };
        let cursor = Cursor {
            key: Some("raw/0042.csv".into()),
            stem: "AbCdEfGhIjKlMnOp".into(),
            version_index: 0,
            created_at: chrono::Utc::now(),
            uid: "AbCdEfGhIjKlMnOp0000".into(),
        };
        let cases: Vec<(&str, Select<artifact::Entity>)> = vec![
            ("default ls", keyed_select(&listing(ArtifactQuery::new()), DbBackend::Sqlite)),
            (
                "ls --branch trash",
                keyed_select(
                    &listing(ArtifactQuery::new().branch(BranchSelection::Only(BranchId::TRASH))),
                    DbBackend::Sqlite,
                ),
            ),
            (
                "ls --branch all",
                keyed_select(&listing(ArtifactQuery::new().branch(BranchSelection::All)), DbBackend::Sqlite),
            ),
            ("ls --key-prefix", keyed_select(&listing(ArtifactQuery::new().key_prefix("raw/")), DbBackend::Sqlite)),
            ("ls --label", keyed_select(&listing(ArtifactQuery::new().label("gold")), DbBackend::Sqlite)),
            ("ls --after", keyed_select(&listing(ArtifactQuery::new().after(cursor.clone())), DbBackend::Sqlite)),
            ("ls keyless part", keyless_select(&listing(ArtifactQuery::new()), DbBackend::Sqlite)),
            ("newest first", ordered_select(&ArtifactQuery::new(), DbBackend::Sqlite)),
            ("newest first --after", ordered_select(&ArtifactQuery::new().after(cursor), DbBackend::Sqlite)),
        ];
        for (name, select) in cases {
            let p = plan(&cat, select).await;
            assert!(!p.contains("TEMP B-TREE"), "{name}: sorts instead of reading an index in order: {p}");
            assert!(p.contains("USING INDEX") || p.contains("USING COVERING INDEX"), "{name}: no index: {p}");
        }
        // Lookups seek their key (then sort the few rows found), never walk a branch in order.
        let lookups: Vec<(&str, ArtifactQuery)> = vec![
            ("get by key", ArtifactQuery::new().key("raw/0042.csv").latest_only()),
            ("key prefix, newest first", ArtifactQuery::new().key_prefix("raw/00")),
            ("many keys", ArtifactQuery { keys: Some(vec!["a".into(), "b".into()]), ..ArtifactQuery::new() }),
        ];
        for (name, q) in lookups {
            let p = plan(&cat, ordered_select(&q, DbBackend::Sqlite)).await;
            assert!(
                p.contains("(key=?") || p.contains("(key>") || p.contains("(key<"),
                "{name}: does not seek the key: {p}"
            );
        }
    }
}
