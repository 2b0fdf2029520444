//! Collections, labels and version high-water marks in [`SeaCatalog`] (spec 1, section 6).
//!
//! The same shape as the artifact units of work in the parent module: one transaction each,
//! set-based statements (a constant number per 500 records), advisory locks on PostgreSQL
//! (`trove/cstem/…` for collection families, `trove/ckey/…` for collection keys, `trove/label/…`
//! for labels, and the artifact families' `trove/stem/…` for members, so that a collection
//! create and a member's `begin_purge` serialize).

use super::*;
use sea_orm::sea_query::{IntoIden, SelectStatement};
use trove_domain::collection::{in_collections_error, validate_collection_key, validate_label_name};
use trove_domain::{
    Collection, CollectionQuery, CollectionTransitionResult, Label, LabelQuery, LabelTransitionResult, Labeled,
    NewCollection, NewLabel,
};

use crate::entity::collection;
use crate::entity::label;
use crate::entity::links::{artifact_label, collection_label, collection_member, family_version};

/// `family_version.record` of artifact families.
pub(super) const ARTIFACT_FAMILY: &str = "artifact";
/// `family_version.record` of collection families.
const COLLECTION_FAMILY: &str = "collection";

fn cstem_lock(stem: &Stem) -> String {
    format!("trove/cstem/{stem}")
}

fn ckey_lock(key: &str) -> String {
    format!("trove/ckey/{key}")
}

fn label_lock(name: &str) -> String {
    format!("trove/label/{name}")
}

// ----- version high-water marks -----

/// The high-water mark of a family, if one was recorded.
pub(super) async fn high_water<C: ConnectionTrait>(c: &C, record: &str, stem: &Stem) -> Result<Option<u32>> {
    let row = family_version::Entity::find()
        .filter(family_version::Column::Record.eq(record))
        .filter(family_version::Column::Stem.eq(stem.as_str()))
        .one(c)
        .await
        .ctx(format_args!("read the version high-water mark of family {stem}"))?;
    row.map(|r| u32::try_from(r.max_version).map_err(|_| corrupt("version high-water mark", r.max_version))).transpose()
}

/// Set a family's high-water mark to `index` (the caller checked that nothing above it was
/// ever handed out).
/// Portable upsert: `INSERT … ON CONFLICT (record, stem) DO UPDATE SET max_version = excluded…`.
pub(super) async fn set_high_water<C: ConnectionTrait>(c: &C, record: &str, stem: &Stem, index: i32) -> Result<()> {
    let stmt = Query::insert()
        .into_table(family_version::Entity)
        .columns([family_version::Column::Record, family_version::Column::Stem, family_version::Column::MaxVersion])
        .values_panic([record.into(), stem.as_str().into(), index.into()])
        .on_conflict(
            OnConflict::columns([family_version::Column::Record, family_version::Column::Stem])
                .update_column(family_version::Column::MaxVersion)
                .to_owned(),
        )
        .to_owned();
    c.execute(&stmt).await.ctx(format_args!("raise the version high-water mark of family {stem}"))?;
    Ok(())
}

fn max_of(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(x), Some(y)) => Some(Ord::max(x, y)),
        (x, y) => x.or(y),
    }
}

/// Highest version of an artifact family: rows and the high-water mark.
pub(super) async fn artifact_max_with_high_water<C: ConnectionTrait>(
    c: &C,
    stem: &Stem,
    rows_max: Option<u32>,
) -> Result<Option<u32>> {
    Ok(max_of(rows_max, high_water(c, ARTIFACT_FAMILY, stem).await?))
}

// ----- label filters shared with artifact queries -----

/// `artifact.id IN (artifacts carrying label NAME)`, one per name (all must match).
pub(super) fn artifact_label_condition(names: &[String]) -> Condition {
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

fn collection_label_condition(names: &[String]) -> Condition {
    let mut c = Condition::all();
    for name in names {
        let sub = Query::select()
            .column((collection_label::Entity, collection_label::Column::CollectionId))
            .from(collection_label::Entity)
            .inner_join(
                label::Entity,
                Expr::col((label::Entity, label::Column::Id))
                    .equals((collection_label::Entity, collection_label::Column::LabelId)),
            )
            .and_where(Expr::col((label::Entity, label::Column::Name)).eq(name.as_str()))
            .to_owned();
        c = c.add(Expr::col((collection::Entity, collection::Column::Id)).in_subquery(sub));
    }
    c
}

/// Collection ids holding any of these artifact uids.
fn collections_holding(uids: &[Uid]) -> SelectStatement {
    Query::select()
        .column((collection_member::Entity, collection_member::Column::CollectionId))
        .from(collection_member::Entity)
        .inner_join(
            artifact::Entity,
            Expr::col((artifact::Entity, artifact::Column::Id))
                .equals((collection_member::Entity, collection_member::Column::ArtifactId)),
        )
        .and_where(Expr::col((artifact::Entity, artifact::Column::Uid)).is_in(uid_list(uids)))
        .to_owned()
}

// ----- protection -----

/// Refuse (Protected, naming the collections) if any of these artifacts belongs to a
/// collection on any branch. Runs inside `begin_purge`'s transaction.
pub(super) async fn check_not_in_collections<C: ConnectionTrait>(c: &C, uids: &[Uid]) -> Result<()> {
    let mut found: Vec<(Uid, String)> = Vec::new();
    for chunk in uids.chunks(CHUNK) {
        let stmt = Query::select()
            .column((artifact::Entity, artifact::Column::Uid))
            .column((collection::Entity, collection::Column::Uid))
            .column((collection::Entity, collection::Column::Key))
            .column((collection::Entity, collection::Column::BranchId))
            .from(collection_member::Entity)
            .inner_join(
                artifact::Entity,
                Expr::col((artifact::Entity, artifact::Column::Id))
                    .equals((collection_member::Entity, collection_member::Column::ArtifactId)),
            )
            .inner_join(
                collection::Entity,
                Expr::col((collection::Entity, collection::Column::Id))
                    .equals((collection_member::Entity, collection_member::Column::CollectionId)),
            )
            .and_where(Expr::col((artifact::Entity, artifact::Column::Uid)).is_in(uid_list(chunk)))
            .order_by((artifact::Entity, artifact::Column::Uid), SqlOrder::Asc)
            .order_by((collection::Entity, collection::Column::Uid), SqlOrder::Asc)
            .to_owned();
        for row in c.query_all(&stmt).await.ctx("read the collections holding the artifacts")? {
            let a: String = row.try_get_by_index(0).ctx("read a membership")?;
            let cu: String = row.try_get_by_index(1).ctx("read a membership")?;
            let key: Option<String> = row.try_get_by_index(2).ctx("read a membership")?;
            let branch: i64 = row.try_get_by_index(3).ctx("read a membership")?;
            let a = Uid::parse(&a).map_err(|e| corrupt("artifact uid", e))?;
            let what = match key {
                Some(k) => format!("collection '{k}' ({cu}, on {})", BranchId(branch)),
                None => format!("collection {cu} (on {})", BranchId(branch)),
            };
            found.push((a, what));
        }
    }
    if found.is_empty() { Ok(()) } else { Err(in_collections_error(&found)) }
}

// ----- collections: reading -----

fn to_collection(m: collection::Model, handle: Option<String>, members: Vec<Uid>) -> Result<Collection> {
    let uid = Uid::parse(&m.uid).map_err(|e| corrupt("collection uid", e))?;
    let created_by =
        handle.ok_or_else(|| corrupt(format!("creator of collection {uid}"), "the user row is missing"))?;
    Ok(Collection {
        key: m.key,
        description: m.description,
        hash: m.hash,
        members,
        is_latest: m.is_latest,
        branch: BranchId(m.branch_id),
        trashed_from: m.trashed_from.map(BranchId),
        branch_changed_at: m.branch_changed_at,
        created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        uid,
    })
}

/// The collections a select finds, with their members in order (one extra query per 500).
async fn fetch_collections<C: ConnectionTrait>(c: &C, select: Select<collection::Entity>) -> Result<Vec<Collection>> {
    let rows = select.find_also_related(user::Entity).all(c).await.ctx("read collections")?;
    let ids: Vec<i64> = rows.iter().map(|(m, _)| m.id).collect();
    let mut members: HashMap<i64, Vec<Uid>> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let stmt = Query::select()
            .column((collection_member::Entity, collection_member::Column::CollectionId))
            .column((artifact::Entity, artifact::Column::Uid))
            .from(collection_member::Entity)
            .inner_join(
                artifact::Entity,
                Expr::col((artifact::Entity, artifact::Column::Id))
                    .equals((collection_member::Entity, collection_member::Column::ArtifactId)),
            )
            .and_where(
                Expr::col((collection_member::Entity, collection_member::Column::CollectionId))
                    .is_in(chunk.iter().copied()),
            )
            .order_by((collection_member::Entity, collection_member::Column::CollectionId), SqlOrder::Asc)
            .order_by((collection_member::Entity, collection_member::Column::Position), SqlOrder::Asc)
            .to_owned();
        for row in c.query_all(&stmt).await.ctx("read collection members")? {
            let id: i64 = row.try_get_by_index(0).ctx("read a member")?;
            let uid: String = row.try_get_by_index(1).ctx("read a member")?;
            members.entry(id).or_default().push(Uid::parse(&uid).map_err(|e| corrupt("member uid", e))?);
        }
    }
    rows.into_iter()
        .map(|(m, u)| {
            let ms = members.remove(&m.id).unwrap_or_default();
            to_collection(m, u.map(|u| u.handle), ms)
        })
        .collect()
}

fn branch_condition(branch: BranchSelection, col: impl ColumnTrait) -> Condition {
    match branch {
        BranchSelection::Default => Condition::all().add(col.eq(BranchId::MAIN.0)),
        BranchSelection::Only(b) => Condition::all().add(col.eq(b.0)),
        BranchSelection::All => Condition::all(),
    }
}

fn collection_condition(q: &CollectionQuery, containing: Option<&[Uid]>) -> Condition {
    let mut c = branch_condition(q.branch, collection::Column::BranchId);
    if let Some(uids) = &q.uids {
        c = c.add(collection::Column::Uid.is_in(uid_list(uids)));
    }
    if let Some(stem) = &q.stem {
        c = c.add(collection::Column::Stem.eq(stem.as_str()));
    }
    if let Some(key) = &q.key {
        c = c.add(collection::Column::Key.eq(key.as_str()));
    }
    if q.latest_only {
        c = c.add(collection::Column::IsLatest.eq(true));
    }
    if let Some(uids) = containing {
        c = c.add(Expr::col((collection::Entity, collection::Column::Id)).in_subquery(collections_holding(uids)));
    }
    if let Some(labels) = &q.labels {
        c = c.add(collection_label_condition(labels));
    }
    c
}

fn newest_first(select: Select<collection::Entity>) -> Select<collection::Entity> {
    select.order_by_desc(collection::Column::CreatedAt).order_by_desc(collection::Column::Uid)
}

async fn collections_by_uid<C: ConnectionTrait>(c: &C, uids: &[Uid]) -> Result<HashMap<Uid, Collection>> {
    let mut out = HashMap::with_capacity(uids.len());
    for chunk in uids.chunks(CHUNK) {
        let select = collection::Entity::find().filter(collection::Column::Uid.is_in(uid_list(chunk)));
        for col in fetch_collections(c, select).await? {
            out.insert(col.uid.clone(), col);
        }
    }
    Ok(out)
}

fn missing_collection(uid: &Uid) -> Error {
    Error::not_found(format!(
        "collection {uid} does not exist (it may have been deleted permanently); nothing was changed; \
         list every branch with `trove collection ls --branch all`"
    ))
}

async fn collection_rows_max<C: ConnectionTrait>(c: &C, stem: &Stem) -> Result<Option<u32>> {
    let stmt = Query::select()
        .expr(Func::max(Expr::col(collection::Column::VersionIndex)))
        .from(collection::Entity)
        .and_where(collection::Column::Stem.eq(stem.as_str()))
        .to_owned();
    let row = c.query_one(&stmt).await.ctx(format_args!("read the highest version of collection family {stem}"))?;
    let max: Option<i32> = match row {
        Some(row) => row.try_get_by_index(0).ctx("read the highest version")?,
        None => None,
    };
    let rows = max.map(|m| u32::try_from(m).map_err(|_| corrupt("version index", m))).transpose()?;
    Ok(max_of(rows, high_water(c, COLLECTION_FAMILY, stem).await?))
}

async fn collection_head_by_key_in<C: ConnectionTrait>(c: &C, key: &str) -> Result<Option<Collection>> {
    let cond = Condition::all()
        .add(collection::Column::Key.eq(key))
        .add(collection::Column::BranchId.ne(BranchId::TRASH.0))
        .add(collection::Column::IsLatest.eq(true));
    let branch_rank = Expr::case(collection::Column::BranchId.eq(BranchId::MAIN.0), 0)
        .case(collection::Column::BranchId.eq(BranchId::ARCHIVE.0), 2)
        .finally(1);
    let select = collection::Entity::find()
        .filter(cond)
        .order_by(Into::<Expr>::into(branch_rank), SqlOrder::Asc)
        .order_by_desc(collection::Column::CreatedAt)
        .order_by_desc(collection::Column::Id)
        .limit(1);
    Ok(fetch_collections(c, select).await?.into_iter().next())
}

/// Set-based head recomputation for collection families (as `recompute_heads` for artifacts).
async fn recompute_collection_heads<C: ConnectionTrait>(c: &C, stems: &BTreeSet<String>) -> Result<()> {
    let stems: Vec<&String> = stems.iter().collect();
    for chunk in stems.chunks(CHUNK) {
        let list = || chunk.iter().map(|s| s.as_str().to_owned());
        let clear = Query::update()
            .table(collection::Entity)
            .value(collection::Column::IsLatest, false)
            .and_where(collection::Column::Stem.is_in(list()))
            .and_where(collection::Column::IsLatest.eq(true))
            .to_owned();
        c.execute(&clear).await.ctx("recompute collection heads (clear)")?;
        let other = Alias::new("other");
        let newest = Query::select()
            .expr(Func::max(Expr::col((other.clone(), collection::Column::VersionIndex))))
            .from_as(collection::Entity, other.clone())
            .and_where(
                Expr::col((other.clone(), collection::Column::Stem))
                    .equals((collection::Entity, collection::Column::Stem)),
            )
            .and_where(
                Expr::col((other.clone(), collection::Column::BranchId))
                    .equals((collection::Entity, collection::Column::BranchId)),
            )
            .to_owned();
        let set = Query::update()
            .table(collection::Entity)
            .value(collection::Column::IsLatest, true)
            .and_where(collection::Column::Stem.is_in(list()))
            .and_where(Expr::col((collection::Entity, collection::Column::VersionIndex)).in_subquery(newest))
            .to_owned();
        c.execute(&set).await.ctx("recompute collection heads (set)")?;
    }
    Ok(())
}

/// Artifact row ids of visible (not purging) artifacts, by uid.
async fn artifact_ids<C: ConnectionTrait>(c: &C, uids: &[Uid]) -> Result<HashMap<Uid, i64>> {
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

async fn collection_ids<C: ConnectionTrait>(c: &C, uids: &[Uid]) -> Result<HashMap<Uid, i64>> {
    let mut out = HashMap::with_capacity(uids.len());
    for chunk in uids.chunks(CHUNK) {
        let rows = collection::Entity::find()
            .filter(collection::Column::Uid.is_in(uid_list(chunk)))
            .all(c)
            .await
            .ctx("read collections")?;
        for r in rows {
            out.insert(Uid::parse(&r.uid).map_err(|e| corrupt("collection uid", e))?, r.id);
        }
    }
    Ok(out)
}

// ----- labels: reading -----

async fn fetch_labels<C: ConnectionTrait>(c: &C, select: Select<label::Entity>) -> Result<Vec<Label>> {
    let rows = select.find_also_related(user::Entity).all(c).await.ctx("read labels")?;
    let ids: Vec<i64> = rows.iter().map(|(m, _)| m.id).collect();
    let mut counts: HashMap<i64, (u64, u64)> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        for (table, label_col, slot) in [
            (artifact_label::Entity.into_iden(), artifact_label::Column::LabelId.into_iden(), 0),
            (collection_label::Entity.into_iden(), collection_label::Column::LabelId.into_iden(), 1),
        ] {
            let stmt = Query::select()
                .column(label_col.clone())
                .expr(Func::count(Expr::col(label_col.clone())))
                .from(table)
                .and_where(Expr::col(label_col.clone()).is_in(chunk.iter().copied()))
                .group_by_col(label_col)
                .to_owned();
            for row in c.query_all(&stmt).await.ctx("count label links")? {
                let id: i64 = row.try_get_by_index(0).ctx("read a label count")?;
                let n: i64 = row.try_get_by_index(1).ctx("read a label count")?;
                let e = counts.entry(id).or_default();
                if slot == 0 {
                    e.0 = to_u64("link count", n)?;
                } else {
                    e.1 = to_u64("link count", n)?;
                }
            }
        }
    }
    rows.into_iter()
        .map(|(m, u)| {
            let (n_artifacts, n_collections) = counts.get(&m.id).copied().unwrap_or_default();
            let created_by =
                u.map(|u| u.handle).ok_or_else(|| corrupt(format!("creator of label '{}'", m.name), "missing"))?;
            Ok(Label {
                name: m.name,
                description: m.description,
                branch: BranchId(m.branch_id),
                trashed_from: m.trashed_from.map(BranchId),
                branch_changed_at: m.branch_changed_at,
                n_artifacts,
                n_collections,
                created_by,
                created_at: m.created_at,
                updated_at: m.updated_at,
            })
        })
        .collect()
}

async fn labels_by_name<C: ConnectionTrait>(c: &C, names: &[String]) -> Result<HashMap<String, Label>> {
    let mut out = HashMap::with_capacity(names.len());
    for chunk in names.chunks(CHUNK) {
        let select = label::Entity::find().filter(label::Column::Name.is_in(chunk.iter().cloned()));
        for l in fetch_labels(c, select).await? {
            out.insert(l.name.clone(), l);
        }
    }
    Ok(out)
}

fn missing_label(name: &str) -> Error {
    Error::not_found(format!(
        "label '{name}' does not exist (it may have been deleted permanently); nothing was changed; \
         list every label with `trove label ls --branch all`"
    ))
}

fn distinct_names(names: &[String]) -> Vec<String> {
    let mut seen = HashSet::with_capacity(names.len());
    names.iter().filter(|n| seen.insert((*n).clone())).cloned().collect()
}

/// The label row with this name (its id and branch), or NotFound.
async fn label_row<C: ConnectionTrait>(c: &C, name: &str) -> Result<label::Model> {
    label::Entity::find()
        .filter(label::Column::Name.eq(name))
        .one(c)
        .await
        .ctx(format_args!("read label '{name}'"))?
        .ok_or_else(|| missing_label(name))
}

/// Split targets into artifact ids and collection ids; any missing target is NotFound.
async fn resolve_targets<C: ConnectionTrait>(c: &C, targets: &[Labeled]) -> Result<(Vec<i64>, Vec<i64>)> {
    let mut a_uids = Vec::new();
    let mut c_uids = Vec::new();
    for t in targets {
        match t {
            Labeled::Artifact(u) => a_uids.push(u.clone()),
            Labeled::Collection(u) => c_uids.push(u.clone()),
        }
    }
    let a_uids = distinct(&a_uids);
    let c_uids = distinct(&c_uids);
    let a_ids = artifact_ids(c, &a_uids).await?;
    let c_ids = collection_ids(c, &c_uids).await?;
    if let Some(u) = a_uids.iter().find(|u| !a_ids.contains_key(*u)) {
        return Err(missing(u));
    }
    if let Some(u) = c_uids.iter().find(|u| !c_ids.contains_key(*u)) {
        return Err(missing_collection(u));
    }
    Ok((a_uids.iter().map(|u| a_ids[u]).collect(), c_uids.iter().map(|u| c_ids[u]).collect()))
}

impl SeaCatalog {
    pub(super) async fn create_collection_in(&self, new: &NewCollection) -> Result<Collection> {
        if let Some(k) = &new.key {
            validate_collection_key(k)?;
        }
        if new.key.is_none() && new.description.is_none() {
            return Err(Error::invalid_input("a collection needs a key or a description"));
        }
        let mut seen = HashSet::with_capacity(new.members.len());
        if let Some(dup) = new.members.iter().find(|m| !seen.insert(*m)) {
            return Err(Error::invalid_input(format!(
                "artifact {dup} is listed twice: a collection holds each artifact once"
            )));
        }
        let stem = new.uid.stem();
        let txn = self.begin_write().await?;
        let mut locks = vec![cstem_lock(&stem)];
        if let Some(k) = &new.key {
            locks.push(ckey_lock(k));
        }
        locks.extend(stems_of(&new.members).iter().map(|s| format!("trove/stem/{s}")));
        self.lock(&txn, locks).await?;

        if let Some(key) = &new.key {
            let head = collection_head_by_key_in(&txn, key).await?;
            let head_uid = head.as_ref().map(|h| &h.uid);
            if head_uid != new.revises.as_ref() {
                let found = head_uid.map_or("no family".to_owned(), |u| format!("head {u}"));
                let expected = new.revises.as_ref().map_or("no family".to_owned(), |u| format!("head {u}"));
                return Err(Error::new(
                    ErrorKind::StaleRevises,
                    format!(
                        "collection key '{key}' now has {found}, not the expected {expected}: a concurrent \
                         writer saved first; reload the key and create again"
                    ),
                ));
            }
        }
        let max = collection_rows_max(&txn, &stem).await?;
        match &new.revises {
            Some(rev) => {
                let want = max.map(|m| m + 1);
                if rev.stem() != stem || Some(new.uid.version_index()) != want {
                    return Err(Error::conflict(format!(
                        "new collection version {} does not follow {rev}: the family's next version is {}; retry",
                        new.uid,
                        want.map_or("unknown (no versions)".to_owned(), |w| w.to_string()),
                    )));
                }
            }
            None if max.is_some() => {
                return Err(Error::conflict(format!(
                    "collection family {stem} already exists, so {} cannot start a new family; retry with a fresh uid",
                    new.uid
                )));
            }
            None => {}
        }

        let ids = artifact_ids(&txn, &new.members).await?;
        let absent: Vec<String> = new.members.iter().filter(|m| !ids.contains_key(*m)).map(|m| m.to_string()).collect();
        if !absent.is_empty() {
            return Err(Error::not_found(format!(
                "cannot create the collection: no artifact with uid {} (it may have been deleted permanently); \
                 nothing was created",
                absent.join(", ")
            )));
        }

        let demote = Query::update()
            .table(collection::Entity)
            .value(collection::Column::IsLatest, false)
            .and_where(collection::Column::Stem.eq(stem.as_str()))
            .and_where(collection::Column::BranchId.eq(BranchId::MAIN.0))
            .and_where(collection::Column::IsLatest.eq(true))
            .to_owned();
        txn.execute(&demote).await.ctx(format_args!("demote the head of collection family {stem}"))?;

        let version_index = i32::try_from(new.uid.version_index())
            .map_err(|_| Error::invalid_input(format!("version index of {} is too large", new.uid)))?;
        let row = collection::ActiveModel {
            uid: Set(new.uid.as_str().to_owned()),
            stem: Set(stem.as_str().to_owned()),
            version_index: Set(version_index),
            key: Set(new.key.clone()),
            description: Set(new.description.clone()),
            hash: Set(new.hash.clone()),
            is_latest: Set(true),
            branch_id: Set(BranchId::MAIN.0),
            trashed_from: Set(None),
            branch_changed_at: Set(None),
            created_by_id: Set(new.created_by.0),
            created_at: Set(new.created_at),
            updated_at: Set(new.created_at),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .ctx(format_args!("insert collection {}", new.uid))?;

        let positions: Vec<(i32, i64)> = new
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| Ok((i32::try_from(i).map_err(|_| Error::invalid_input("too many members"))?, ids[m])))
            .collect::<Result<_>>()?;
        for chunk in positions.chunks(CHUNK) {
            let mut insert = Query::insert();
            insert.into_table(collection_member::Entity).columns([
                collection_member::Column::CollectionId,
                collection_member::Column::Position,
                collection_member::Column::ArtifactId,
            ]);
            for (pos, aid) in chunk {
                insert.values_panic([row.id.into(), (*pos).into(), (*aid).into()]);
            }
            txn.execute(&insert).await.ctx(format_args!("insert the members of collection {}", new.uid))?;
        }
        set_high_water(&txn, COLLECTION_FAMILY, &stem, version_index).await?;

        let created = collections_by_uid(&txn, std::slice::from_ref(&new.uid))
            .await?
            .remove(&new.uid)
            .ok_or_else(|| Error::catalog(format!("collection {} vanished right after its insert", new.uid)))?;
        txn.commit().await.ctx(format_args!("commit collection {}", new.uid))?;
        Ok(created)
    }

    pub(super) async fn collections_in(&self, q: &CollectionQuery) -> Result<Vec<Collection>> {
        if q.uids.as_ref().is_some_and(|u| u.is_empty())
            || q.containing.as_ref().is_some_and(|u| u.is_empty())
            || q.limit == Some(0)
        {
            return Ok(Vec::new());
        }
        let run = |containing: Option<&[Uid]>| {
            let mut select = newest_first(collection::Entity::find().filter(collection_condition(q, containing)));
            if let Some(limit) = q.limit {
                select = select.limit(limit);
            }
            select
        };
        match &q.containing {
            Some(uids) if uids.len() > CHUNK => {
                // Many artifacts: one query per 500, merged (newest first, no repeats).
                let mut all: Vec<Collection> = Vec::new();
                for chunk in uids.chunks(CHUNK) {
                    for c in fetch_collections(&self.db, run(Some(chunk))).await? {
                        if !all.iter().any(|x| x.uid == c.uid) {
                            all.push(c);
                        }
                    }
                }
                all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.uid.cmp(&a.uid)));
                if let Some(limit) = q.limit {
                    all.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
                }
                Ok(all)
            }
            other => fetch_collections(&self.db, run(other.as_deref())).await,
        }
    }

    pub(super) async fn collection_head_by_key_pub(&self, key: &str) -> Result<Option<Collection>> {
        collection_head_by_key_in(&self.db, key).await
    }

    pub(super) async fn max_collection_version_in(&self, stem: &Stem) -> Result<Option<u32>> {
        collection_rows_max(&self.db, stem).await
    }

    pub(super) async fn apply_collection_transition_in(
        &self,
        uids: &[Uid],
        op: Operation,
    ) -> Result<Vec<CollectionTransitionResult>> {
        let uids = distinct(uids);
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.begin_write().await?;
        self.lock(&txn, uids.iter().map(|u| cstem_lock(&u.stem()))).await?;
        let before = collections_by_uid(&txn, &uids).await?;
        let (plan, groups) = plan_moves(&uids, op, "delete collections permanently with purge_collections", |uid| {
            let c = before.get(uid).ok_or_else(|| missing_collection(uid))?;
            Ok((c.state(), c.label()))
        })?;
        let now = self.clock.now();
        let mut moved: Vec<&Uid> = Vec::new();
        for ((from, to), group) in &groups {
            let trashed_from = (*to == BranchId::TRASH.0).then_some(*from);
            for chunk in group.chunks(CHUNK) {
                let stmt = Query::update()
                    .table(collection::Entity)
                    .value(collection::Column::BranchId, *to)
                    .value(collection::Column::IsLatest, false)
                    .value(collection::Column::TrashedFrom, trashed_from)
                    .value(collection::Column::BranchChangedAt, now)
                    .value(collection::Column::UpdatedAt, now)
                    .and_where(collection::Column::Uid.is_in(uid_list(chunk)))
                    .and_where(collection::Column::BranchId.eq(*from))
                    .to_owned();
                let res = txn.execute(&stmt).await.ctx(format_args!("{op} {} collections", chunk.len()))?;
                if res.rows_affected() != chunk.len() as u64 {
                    return Err(Error::conflict(format!(
                        "{op}: some of {} collections changed concurrently; nothing was changed, retry",
                        chunk.len()
                    )));
                }
            }
            moved.extend(group.iter());
        }
        if !moved.is_empty() {
            recompute_collection_heads(&txn, &stems_of(moved)).await?;
        }
        let mut after = collections_by_uid(&txn, &uids).await?;
        let mut out = Vec::with_capacity(plan.len());
        for (uid, t) in plan {
            let collection = after.remove(&uid).ok_or_else(|| missing_collection(&uid))?;
            out.push(CollectionTransitionResult { collection, transition: t });
        }
        txn.commit().await.ctx(format_args!("commit {op} of collections"))?;
        Ok(out)
    }

    pub(super) async fn purge_collections_in(&self, uids: &[Uid]) -> Result<Vec<Collection>> {
        let uids = distinct(uids);
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.begin_write().await?;
        self.lock(&txn, uids.iter().map(|u| cstem_lock(&u.stem()))).await?;
        let mut before = collections_by_uid(&txn, &uids).await?;
        let mut out = Vec::with_capacity(uids.len());
        for uid in &uids {
            let c = before.remove(uid).ok_or_else(|| missing_collection(uid))?;
            match transition(c.state(), Operation::DeletePermanently, &c.label())? {
                Transition::Purge => out.push(c),
                other => {
                    return Err(Error::new(
                        ErrorKind::InvalidTransition,
                        format!("cannot delete {} permanently: the lifecycle says {other:?}", c.label()),
                    ));
                }
            }
        }
        let ids: Vec<i64> = collection_ids(&txn, &uids).await?.into_values().collect();
        for chunk in ids.chunks(CHUNK) {
            let list = || chunk.iter().copied();
            let members = Query::delete()
                .from_table(collection_member::Entity)
                .and_where(collection_member::Column::CollectionId.is_in(list()))
                .to_owned();
            txn.execute(&members).await.ctx("delete membership rows")?;
            let labels = Query::delete()
                .from_table(collection_label::Entity)
                .and_where(collection_label::Column::CollectionId.is_in(list()))
                .to_owned();
            txn.execute(&labels).await.ctx("delete collection label links")?;
            let rows = Query::delete()
                .from_table(collection::Entity)
                .and_where(collection::Column::Id.is_in(list()))
                .to_owned();
            txn.execute(&rows).await.ctx("delete collections")?;
        }
        recompute_collection_heads(&txn, &stems_of(&uids)).await?;
        txn.commit().await.ctx("commit the permanent deletion of collections")?;
        Ok(out)
    }

    pub(super) async fn create_label_in(&self, new: &NewLabel) -> Result<Label> {
        validate_label_name(&new.name)?;
        let txn = self.begin_write().await?;
        self.lock(&txn, [label_lock(&new.name)]).await?;
        if let Some(existing) = label::Entity::find()
            .filter(label::Column::Name.eq(new.name.as_str()))
            .one(&txn)
            .await
            .ctx(format_args!("read label '{}'", new.name))?
        {
            return Err(Error::conflict(format!(
                "label '{}' exists already (on {}); use it, or restore it with `trove label restore`",
                new.name,
                BranchId(existing.branch_id)
            )));
        }
        label::ActiveModel {
            name: Set(new.name.clone()),
            description: Set(new.description.clone()),
            branch_id: Set(BranchId::MAIN.0),
            trashed_from: Set(None),
            branch_changed_at: Set(None),
            created_by_id: Set(new.created_by.0),
            created_at: Set(new.created_at),
            updated_at: Set(new.created_at),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .ctx(format_args!("create label '{}'", new.name))?;
        let created = labels_by_name(&txn, std::slice::from_ref(&new.name))
            .await?
            .remove(&new.name)
            .ok_or_else(|| Error::catalog(format!("label '{}' vanished right after its insert", new.name)))?;
        txn.commit().await.ctx(format_args!("commit label '{}'", new.name))?;
        Ok(created)
    }

    pub(super) async fn labels_in(&self, q: &LabelQuery) -> Result<Vec<Label>> {
        if q.names.as_ref().is_some_and(|n| n.is_empty()) {
            return Ok(Vec::new());
        }
        let mut cond = branch_condition(q.branch, label::Column::BranchId);
        if let Some(names) = &q.names {
            cond = cond.add(label::Column::Name.is_in(names.iter().cloned()));
        }
        match &q.attached_to {
            Some(Labeled::Artifact(uid)) => {
                let sub = Query::select()
                    .column((artifact_label::Entity, artifact_label::Column::LabelId))
                    .from(artifact_label::Entity)
                    .inner_join(
                        artifact::Entity,
                        Expr::col((artifact::Entity, artifact::Column::Id))
                            .equals((artifact_label::Entity, artifact_label::Column::ArtifactId)),
                    )
                    .and_where(Expr::col((artifact::Entity, artifact::Column::Uid)).eq(uid.as_str()))
                    .to_owned();
                cond = cond.add(Expr::col((label::Entity, label::Column::Id)).in_subquery(sub));
            }
            Some(Labeled::Collection(uid)) => {
                let sub = Query::select()
                    .column((collection_label::Entity, collection_label::Column::LabelId))
                    .from(collection_label::Entity)
                    .inner_join(
                        collection::Entity,
                        Expr::col((collection::Entity, collection::Column::Id))
                            .equals((collection_label::Entity, collection_label::Column::CollectionId)),
                    )
                    .and_where(Expr::col((collection::Entity, collection::Column::Uid)).eq(uid.as_str()))
                    .to_owned();
                cond = cond.add(Expr::col((label::Entity, label::Column::Id)).in_subquery(sub));
            }
            None => {}
        }
        fetch_labels(&self.db, label::Entity::find().filter(cond).order_by_asc(label::Column::Name)).await
    }

    pub(super) async fn attach_label_in(&self, name: &str, targets: &[Labeled]) -> Result<u64> {
        if targets.is_empty() {
            return Ok(0);
        }
        let txn = self.begin_write().await?;
        self.lock(&txn, [label_lock(name)]).await?;
        let l = label_row(&txn, name).await?;
        if l.branch_id == BranchId::TRASH.0 {
            return Err(Error::new(
                ErrorKind::InvalidTransition,
                format!("label '{name}' is in the trash; restore it first (`trove label restore {name}`)"),
            ));
        }
        let (a_ids, c_ids) = resolve_targets(&txn, targets).await?;
        let mut n = 0;
        for chunk in a_ids.chunks(CHUNK) {
            let mut insert = Query::insert();
            insert
                .into_table(artifact_label::Entity)
                .columns([artifact_label::Column::ArtifactId, artifact_label::Column::LabelId])
                .on_conflict(
                    OnConflict::columns([artifact_label::Column::ArtifactId, artifact_label::Column::LabelId])
                        .do_nothing()
                        .to_owned(),
                );
            for id in chunk {
                insert.values_panic([(*id).into(), l.id.into()]);
            }
            n += txn.execute(&insert).await.ctx(format_args!("attach label '{name}'"))?.rows_affected();
        }
        for chunk in c_ids.chunks(CHUNK) {
            let mut insert = Query::insert();
            insert
                .into_table(collection_label::Entity)
                .columns([collection_label::Column::CollectionId, collection_label::Column::LabelId])
                .on_conflict(
                    OnConflict::columns([collection_label::Column::CollectionId, collection_label::Column::LabelId])
                        .do_nothing()
                        .to_owned(),
                );
            for id in chunk {
                insert.values_panic([(*id).into(), l.id.into()]);
            }
            n += txn.execute(&insert).await.ctx(format_args!("attach label '{name}'"))?.rows_affected();
        }
        txn.commit().await.ctx(format_args!("commit attaching label '{name}'"))?;
        Ok(n)
    }

    pub(super) async fn detach_label_in(&self, name: &str, targets: &[Labeled]) -> Result<u64> {
        let txn = self.begin_write().await?;
        self.lock(&txn, [label_lock(name)]).await?;
        let l = label_row(&txn, name).await?;
        let mut a_uids = Vec::new();
        let mut c_uids = Vec::new();
        for t in targets {
            match t {
                Labeled::Artifact(u) => a_uids.push(u.clone()),
                Labeled::Collection(u) => c_uids.push(u.clone()),
            }
        }
        let a_ids: Vec<i64> = artifact_ids(&txn, &a_uids).await?.into_values().collect();
        let c_ids: Vec<i64> = collection_ids(&txn, &c_uids).await?.into_values().collect();
        let mut n = 0;
        for chunk in a_ids.chunks(CHUNK) {
            let stmt = Query::delete()
                .from_table(artifact_label::Entity)
                .and_where(artifact_label::Column::LabelId.eq(l.id))
                .and_where(artifact_label::Column::ArtifactId.is_in(chunk.iter().copied()))
                .to_owned();
            n += txn.execute(&stmt).await.ctx(format_args!("detach label '{name}'"))?.rows_affected();
        }
        for chunk in c_ids.chunks(CHUNK) {
            let stmt = Query::delete()
                .from_table(collection_label::Entity)
                .and_where(collection_label::Column::LabelId.eq(l.id))
                .and_where(collection_label::Column::CollectionId.is_in(chunk.iter().copied()))
                .to_owned();
            n += txn.execute(&stmt).await.ctx(format_args!("detach label '{name}'"))?.rows_affected();
        }
        txn.commit().await.ctx(format_args!("commit detaching label '{name}'"))?;
        Ok(n)
    }

    pub(super) async fn apply_label_transition_in(
        &self,
        names: &[String],
        op: Operation,
    ) -> Result<Vec<LabelTransitionResult>> {
        let names = distinct_names(names);
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.begin_write().await?;
        self.lock(&txn, names.iter().map(|n| label_lock(n))).await?;
        let before = labels_by_name(&txn, &names).await?;
        let (plan, groups) = plan_moves(&names, op, "delete labels permanently with purge_labels", |name| {
            let l = before.get(name).ok_or_else(|| missing_label(name))?;
            Ok((l.state(), l.label()))
        })?;
        let now = self.clock.now();
        for ((from, to), group) in &groups {
            let trashed_from = (*to == BranchId::TRASH.0).then_some(*from);
            for chunk in group.chunks(CHUNK) {
                let stmt = Query::update()
                    .table(label::Entity)
                    .value(label::Column::BranchId, *to)
                    .value(label::Column::TrashedFrom, trashed_from)
                    .value(label::Column::BranchChangedAt, now)
                    .value(label::Column::UpdatedAt, now)
                    .and_where(label::Column::Name.is_in(chunk.iter().cloned()))
                    .and_where(label::Column::BranchId.eq(*from))
                    .to_owned();
                let res = txn.execute(&stmt).await.ctx(format_args!("{op} {} labels", chunk.len()))?;
                if res.rows_affected() != chunk.len() as u64 {
                    return Err(Error::conflict(format!(
                        "{op}: some of {} labels changed concurrently; nothing was changed, retry",
                        chunk.len()
                    )));
                }
            }
        }
        let mut after = labels_by_name(&txn, &names).await?;
        let mut out = Vec::with_capacity(plan.len());
        for (name, t) in plan {
            let label = after.remove(&name).ok_or_else(|| missing_label(&name))?;
            out.push(LabelTransitionResult { label, transition: t });
        }
        txn.commit().await.ctx(format_args!("commit {op} of labels"))?;
        Ok(out)
    }

    pub(super) async fn purge_labels_in(&self, names: &[String]) -> Result<Vec<Label>> {
        let names = distinct_names(names);
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.begin_write().await?;
        self.lock(&txn, names.iter().map(|n| label_lock(n))).await?;
        let mut before = labels_by_name(&txn, &names).await?;
        let mut out = Vec::with_capacity(names.len());
        for name in &names {
            let l = before.remove(name).ok_or_else(|| missing_label(name))?;
            transition(l.state(), Operation::DeletePermanently, &l.label())?;
            if l.n_artifacts + l.n_collections > 0 {
                return Err(Error::new(
                    ErrorKind::Protected,
                    format!(
                        "cannot delete label '{name}' permanently: it is still attached to {} artifact(s) and {} \
                         collection(s); detach it first (`trove label remove {name} UID...`). Nothing was deleted",
                        l.n_artifacts, l.n_collections
                    ),
                ));
            }
            out.push(l);
        }
        for chunk in names.chunks(CHUNK) {
            let stmt = Query::delete()
                .from_table(label::Entity)
                .and_where(label::Column::Name.is_in(chunk.iter().cloned()))
                .to_owned();
            txn.execute(&stmt).await.ctx("delete labels")?;
        }
        txn.commit().await.ctx("commit the permanent deletion of labels")?;
        Ok(out)
    }
}
