//! Reading collections: conditions, fetches with members in order, the head of a key, and the
//! membership check that protects artifacts from permanent deletion.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order as SqlOrder, QueryFilter, QueryOrder, QuerySelect,
    Select,
};
use trove_domain::collection::in_collections_error;
use trove_domain::{BranchId, Collection, CollectionQuery, Error, Result, Uid};

use super::super::codec::to_collection;
use super::super::queries::{branch_condition, branch_rank};
use super::super::{CHUNK, SeaCatalog, uid_list};
use crate::entity::links::{collection_label, collection_member};
use crate::entity::{artifact, collection, label, user};
use crate::error::{DbResultExt, corrupt};

/// `collection.id IN (collections carrying label NAME)`, one per name (all must match).
fn label_condition(names: &[String]) -> Condition {
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

/// Membership rows joined with their artifacts.
fn members_with_artifacts() -> SelectStatement {
    Query::select()
        .from(collection_member::Entity)
        .inner_join(
            artifact::Entity,
            Expr::col((artifact::Entity, artifact::Column::Id))
                .equals((collection_member::Entity, collection_member::Column::ArtifactId)),
        )
        .to_owned()
}

/// Collection ids holding any of these artifact uids.
fn collections_holding(uids: &[Uid]) -> SelectStatement {
    members_with_artifacts()
        .column((collection_member::Entity, collection_member::Column::CollectionId))
        .and_where(Expr::col((artifact::Entity, artifact::Column::Uid)).is_in(uid_list(uids)))
        .to_owned()
}

/// Refuse (Protected, naming the collections) if any of these artifacts belongs to a
/// collection on any branch. Runs inside `begin_purge`'s transaction.
pub(in super::super) async fn check_not_in_collections<C: ConnectionTrait>(c: &C, uids: &[Uid]) -> Result<()> {
    let mut found: Vec<(Uid, String)> = Vec::new();
    for chunk in uids.chunks(CHUNK) {
        let stmt = members_with_artifacts()
            .column((artifact::Entity, artifact::Column::Uid))
            .column((collection::Entity, collection::Column::Uid))
            .column((collection::Entity, collection::Column::Key))
            .column((collection::Entity, collection::Column::BranchId))
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

/// The collections a select finds, with their members in order (one extra query per 500).
async fn fetch<C: ConnectionTrait>(c: &C, select: Select<collection::Entity>) -> Result<Vec<Collection>> {
    let rows = select.find_also_related(user::Entity).all(c).await.ctx("read collections")?;
    let ids: Vec<i64> = rows.iter().map(|(m, _)| m.id).collect();
    let mut members: HashMap<i64, Vec<Uid>> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let stmt = members_with_artifacts()
            .column((collection_member::Entity, collection_member::Column::CollectionId))
            .column((artifact::Entity, artifact::Column::Uid))
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

fn condition(q: &CollectionQuery, containing: Option<&[Uid]>) -> Condition {
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
        c = c.add(label_condition(labels));
    }
    c
}

/// The collections with these uids, by uid.
pub(super) async fn by_uid<C: ConnectionTrait>(c: &C, uids: &[Uid]) -> Result<HashMap<Uid, Collection>> {
    let mut out = HashMap::with_capacity(uids.len());
    for chunk in uids.chunks(CHUNK) {
        let select = collection::Entity::find().filter(collection::Column::Uid.is_in(uid_list(chunk)));
        for col in fetch(c, select).await? {
            out.insert(col.uid.clone(), col);
        }
    }
    Ok(out)
}

/// Row ids of collections, by uid.
pub(in super::super) async fn collection_ids<C: ConnectionTrait>(c: &C, uids: &[Uid]) -> Result<HashMap<Uid, i64>> {
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

pub(in super::super) fn missing_collection(uid: &Uid) -> Error {
    Error::not_found(format!(
        "collection {uid} does not exist (it may have been deleted permanently); nothing was changed; \
         list every branch with `trove collection ls --branch all`"
    ))
}

/// The head of the newest non-trashed collection family holding `key` (main preferred over
/// user branches over the archive).
pub(super) async fn head_by_key<C: ConnectionTrait>(c: &C, key: &str) -> Result<Option<Collection>> {
    let cond = Condition::all()
        .add(collection::Column::Key.eq(key))
        .add(collection::Column::BranchId.ne(BranchId::TRASH.0))
        .add(collection::Column::IsLatest.eq(true));
    let select = collection::Entity::find()
        .filter(cond)
        .order_by(branch_rank(collection::Column::BranchId), SqlOrder::Asc)
        .order_by_desc(collection::Column::CreatedAt)
        .order_by_desc(collection::Column::Id)
        .limit(1);
    Ok(fetch(c, select).await?.into_iter().next())
}

/// `Catalog::collections`: newest first, members in order.
pub(in super::super) async fn collections(cat: &SeaCatalog, q: &CollectionQuery) -> Result<Vec<Collection>> {
    if q.uids.as_ref().is_some_and(|u| u.is_empty())
        || q.containing.as_ref().is_some_and(|u| u.is_empty())
        || q.limit == Some(0)
    {
        return Ok(Vec::new());
    }
    let run = |containing: Option<&[Uid]>| {
        let mut select = collection::Entity::find()
            .filter(condition(q, containing))
            .order_by_desc(collection::Column::CreatedAt)
            .order_by_desc(collection::Column::Uid);
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
                for c in fetch(&cat.db, run(Some(chunk))).await? {
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
        other => fetch(&cat.db, run(other.as_deref())).await,
    }
}
