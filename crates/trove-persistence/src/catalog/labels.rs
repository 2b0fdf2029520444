//! Label units of work: named, soft-deletable tags linked to artifacts and collections.
//! Branch moves go through the shared executor (`moves.rs`); labels have no versions, so no
//! heads. A unit of work locks the label's name.

use std::collections::HashMap;

use sea_orm::sea_query::{DynIden, Expr, ExprTrait, Func, IntoIden, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Select,
    Set,
};
use trove_domain::collection::validate_label_name;
use trove_domain::lifecycle::RecordState;
use trove_domain::{
    BranchId, Error, ErrorKind, Label, LabelQuery, LabelTransitionResult, Labeled, NewLabel, Operation, Result, Uid,
};

use super::codec::{to_label, to_u64};
use super::collections::{collection_ids, missing_collection};
use super::locks::LockScope;
use super::moves::{SoftDeletable, Table, check_purgeable};
use super::queries::{artifact_ids, branch_condition, missing};
use super::{CHUNK, SeaCatalog, distinct};
use crate::entity::links::{artifact_label, collection_label};
use crate::entity::{artifact, collection, label, user};
use crate::error::DbResultExt;

/// The label table for the move executor: no families, no purge marks.
const LABELS: Table<label::Entity> = Table {
    entity: label::Entity,
    noun: "labels",
    key: label::Column::Name,
    branch: label::Column::BranchId,
    trashed_from: label::Column::TrashedFrom,
    branch_changed_at: label::Column::BranchChangedAt,
    updated_at: label::Column::UpdatedAt,
    family: None,
    pending_op: None,
    purge_hint: "delete labels permanently with purge_labels",
};

/// Labels, by name.
struct Labels;

impl SoftDeletable for Labels {
    type Entity = label::Entity;
    type Key = String;
    type Record = Label;
    const TABLE: Table<label::Entity> = LABELS;

    fn key_text(name: &String) -> String {
        name.clone()
    }

    fn stem(_: &String) -> Option<String> {
        None
    }

    fn lock(name: &String) -> LockScope {
        LockScope::Label(name.clone())
    }

    fn state(l: &Label) -> (RecordState, String) {
        (l.state(), l.label())
    }

    fn missing(name: &String) -> Error {
        missing_label(name)
    }

    async fn load(txn: &DatabaseTransaction, names: &[String]) -> Result<HashMap<String, Label>> {
        labels_by_name(txn, names).await
    }
}

/// A link table (its label and target id columns) and the table of the records it links.
struct Links {
    table: DynIden,
    label: DynIden,
    target: DynIden,
    records: DynIden,
    record_id: DynIden,
    record_uid: DynIden,
}

fn artifact_links() -> Links {
    Links {
        table: artifact_label::Entity.into_iden(),
        label: artifact_label::Column::LabelId.into_iden(),
        target: artifact_label::Column::ArtifactId.into_iden(),
        records: artifact::Entity.into_iden(),
        record_id: artifact::Column::Id.into_iden(),
        record_uid: artifact::Column::Uid.into_iden(),
    }
}

fn collection_links() -> Links {
    Links {
        table: collection_label::Entity.into_iden(),
        label: collection_label::Column::LabelId.into_iden(),
        target: collection_label::Column::CollectionId.into_iden(),
        records: collection::Entity.into_iden(),
        record_id: collection::Column::Id.into_iden(),
        record_uid: collection::Column::Uid.into_iden(),
    }
}

/// The labels a select finds, with their link counts (two extra queries per 500).
async fn fetch<C: ConnectionTrait>(c: &C, select: Select<label::Entity>) -> Result<Vec<Label>> {
    let rows = select.find_also_related(user::Entity).all(c).await.ctx("read labels")?;
    let ids: Vec<i64> = rows.iter().map(|(m, _)| m.id).collect();
    let mut counts: HashMap<i64, (u64, u64)> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        for (links, slot) in [(artifact_links(), 0), (collection_links(), 1)] {
            let stmt = Query::select()
                .column(links.label.clone())
                .expr(Func::count(Expr::col(links.label.clone())))
                .from(links.table)
                .and_where(Expr::col(links.label.clone()).is_in(chunk.iter().copied()))
                .group_by_col(links.label)
                .to_owned();
            for row in c.query_all(&stmt).await.ctx("count label links")? {
                let id: i64 = row.try_get_by_index(0).ctx("read a label count")?;
                let n = to_u64("link count", row.try_get_by_index(1).ctx("read a label count")?)?;
                let e = counts.entry(id).or_default();
                if slot == 0 {
                    e.0 = n;
                } else {
                    e.1 = n;
                }
            }
        }
    }
    rows.into_iter()
        .map(|(m, u)| {
            let n = counts.get(&m.id).copied().unwrap_or_default();
            to_label(m, u.map(|u| u.handle), n)
        })
        .collect()
}

async fn labels_by_name<C: ConnectionTrait>(c: &C, names: &[String]) -> Result<HashMap<String, Label>> {
    let mut out = HashMap::with_capacity(names.len());
    for chunk in names.chunks(CHUNK) {
        let select = label::Entity::find().filter(label::Column::Name.is_in(chunk.iter().cloned()));
        for l in fetch(c, select).await? {
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

/// The label row with this name (its id and branch), or NotFound.
async fn label_row<C: ConnectionTrait>(c: &C, name: &str) -> Result<label::Model> {
    label::Entity::find()
        .filter(label::Column::Name.eq(name))
        .one(c)
        .await
        .ctx(format_args!("read label '{name}'"))?
        .ok_or_else(|| missing_label(name))
}

/// Row ids of the targets: artifacts, collections. With `strict`, a missing target is
/// NotFound; otherwise it is skipped.
async fn resolve_targets<C: ConnectionTrait>(c: &C, targets: &[Labeled], strict: bool) -> Result<[Vec<i64>; 2]> {
    let mut a_uids = Vec::new();
    let mut c_uids = Vec::new();
    for t in targets {
        match t {
            Labeled::Artifact(u) => a_uids.push(u.clone()),
            Labeled::Collection(u) => c_uids.push(u.clone()),
        }
    }
    let (a_uids, c_uids) = (distinct(&a_uids), distinct(&c_uids));
    let a_ids = artifact_ids(c, &a_uids).await?;
    let c_ids = collection_ids(c, &c_uids).await?;
    if strict {
        if let Some(u) = a_uids.iter().find(|u| !a_ids.contains_key(*u)) {
            return Err(missing(u));
        }
        if let Some(u) = c_uids.iter().find(|u| !c_ids.contains_key(*u)) {
            return Err(missing_collection(u));
        }
    }
    let ids = |uids: &[Uid], found: &HashMap<Uid, i64>| uids.iter().filter_map(|u| found.get(u).copied()).collect();
    Ok([ids(&a_uids, &a_ids), ids(&c_uids, &c_ids)])
}

/// `Catalog::create_label`.
pub(super) async fn create_label(cat: &SeaCatalog, new: &NewLabel) -> Result<Label> {
    validate_label_name(&new.name)?;
    let txn = cat.begin_write().await?;
    cat.lock(&txn, [LockScope::Label(new.name.clone())]).await?;
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

/// `Catalog::labels`: by name.
pub(super) async fn labels(cat: &SeaCatalog, q: &LabelQuery) -> Result<Vec<Label>> {
    if q.names.as_ref().is_some_and(|n| n.is_empty()) {
        return Ok(Vec::new());
    }
    let mut cond = branch_condition(q.branch, label::Column::BranchId);
    if let Some(names) = &q.names {
        cond = cond.add(label::Column::Name.is_in(names.iter().cloned()));
    }
    if let Some(target) = &q.attached_to {
        let (links, uid) = match target {
            Labeled::Artifact(uid) => (artifact_links(), uid),
            Labeled::Collection(uid) => (collection_links(), uid),
        };
        let sub = Query::select()
            .column((links.table.clone(), links.label))
            .from(links.table.clone())
            .inner_join(
                links.records.clone(),
                Expr::col((links.records.clone(), links.record_id)).equals((links.table, links.target)),
            )
            .and_where(Expr::col((links.records, links.record_uid)).eq(uid.as_str()))
            .to_owned();
        cond = cond.add(Expr::col((label::Entity, label::Column::Id)).in_subquery(sub));
    }
    fetch(&cat.db, label::Entity::find().filter(cond).order_by_asc(label::Column::Name)).await
}

/// `Catalog::attach_label`.
pub(super) async fn attach_label(cat: &SeaCatalog, name: &str, targets: &[Labeled]) -> Result<u64> {
    if targets.is_empty() {
        return Ok(0);
    }
    let txn = cat.begin_write().await?;
    cat.lock(&txn, [LockScope::Label(name.to_owned())]).await?;
    let l = label_row(&txn, name).await?;
    if l.branch_id == BranchId::TRASH.0 {
        return Err(Error::new(
            ErrorKind::InvalidTransition,
            format!("label '{name}' is in the trash; restore it first (`trove label restore {name}`)"),
        ));
    }
    let mut n = 0;
    for (links, ids) in
        [artifact_links(), collection_links()].into_iter().zip(resolve_targets(&txn, targets, true).await?)
    {
        for chunk in ids.chunks(CHUNK) {
            let mut insert = Query::insert();
            insert
                .into_table(links.table.clone())
                .columns([links.target.clone(), links.label.clone()])
                .on_conflict(OnConflict::columns([links.target.clone(), links.label.clone()]).do_nothing().to_owned());
            for id in chunk {
                insert.values_panic([(*id).into(), l.id.into()]);
            }
            n += txn.execute(&insert).await.ctx(format_args!("attach label '{name}'"))?.rows_affected();
        }
    }
    txn.commit().await.ctx(format_args!("commit attaching label '{name}'"))?;
    Ok(n)
}

/// `Catalog::detach_label`.
pub(super) async fn detach_label(cat: &SeaCatalog, name: &str, targets: &[Labeled]) -> Result<u64> {
    let txn = cat.begin_write().await?;
    cat.lock(&txn, [LockScope::Label(name.to_owned())]).await?;
    let l = label_row(&txn, name).await?;
    let mut n = 0;
    for (links, ids) in
        [artifact_links(), collection_links()].into_iter().zip(resolve_targets(&txn, targets, false).await?)
    {
        for chunk in ids.chunks(CHUNK) {
            let stmt = Query::delete()
                .from_table(links.table.clone())
                .and_where(Expr::col(links.label.clone()).eq(l.id))
                .and_where(Expr::col(links.target.clone()).is_in(chunk.iter().copied()))
                .to_owned();
            n += txn.execute(&stmt).await.ctx(format_args!("detach label '{name}'"))?.rows_affected();
        }
    }
    txn.commit().await.ctx(format_args!("commit detaching label '{name}'"))?;
    Ok(n)
}

/// `Catalog::apply_label_transition`.
pub(super) async fn apply_label_transition(
    cat: &SeaCatalog,
    names: &[String],
    op: Operation,
) -> Result<Vec<LabelTransitionResult>> {
    let moved = cat.apply_branch_op::<Labels>(names, op).await?;
    Ok(moved.into_iter().map(|(label, transition)| LabelTransitionResult { label, transition }).collect())
}

/// `Catalog::purge_labels`.
pub(super) async fn purge_labels(cat: &SeaCatalog, names: &[String]) -> Result<Vec<Label>> {
    let names = distinct(names);
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let txn = cat.begin_write().await?;
    cat.lock(&txn, names.iter().map(Labels::lock)).await?;
    let mut before = labels_by_name(&txn, &names).await?;
    let mut out = Vec::with_capacity(names.len());
    for name in &names {
        let l = before.remove(name).ok_or_else(|| missing_label(name))?;
        check_purgeable(Labels::state(&l))?;
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
