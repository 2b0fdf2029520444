//! Collection units of work (spec 1, section 6): versioned, soft-deletable ordered sets of
//! artifacts. Branch moves and heads go through the shared executor (`moves.rs`); reading is
//! in `collections/read.rs`.
//!
//! A collection create locks its family and key and its members' families (the artifact family
//! locks), so that it and a member's `begin_purge` serialize: the purge either sees the
//! membership or makes the member invisible first.

use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::Query;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, Set};
use trove_domain::collection::validate_collection_key;
use trove_domain::lifecycle::RecordState;
use trove_domain::{
    BranchId, Collection, CollectionTransitionResult, Error, ErrorKind, NewCollection, Operation, Result, Stem, Uid,
};

use super::artifacts::stems_of;
use super::codec::version_index;
use super::locks::LockScope;
use super::moves::{Family, SoftDeletable, Table, check_purgeable};
use super::queries::artifact_ids;
use super::versions::{COLLECTION_FAMILY, set_high_water};
use super::{CHUNK, SeaCatalog, distinct};
use crate::entity::collection;
use crate::entity::links::{collection_label, collection_member};
use crate::error::DbResultExt;

mod read;

pub(super) use read::{check_not_in_collections, collection_ids, collections, missing_collection};

/// The collection table for the move executor: version families, no purge marks.
const COLLECTIONS: Table<collection::Entity> = Table {
    entity: collection::Entity,
    noun: "collections",
    key: collection::Column::Uid,
    branch: collection::Column::BranchId,
    trashed_from: collection::Column::TrashedFrom,
    branch_changed_at: collection::Column::BranchChangedAt,
    updated_at: collection::Column::UpdatedAt,
    family: Some(Family {
        record: COLLECTION_FAMILY,
        stem: collection::Column::Stem,
        version_index: collection::Column::VersionIndex,
        is_latest: collection::Column::IsLatest,
    }),
    pending_op: None,
    purge_hint: "delete collections permanently with purge_collections",
};

/// Collections, by uid.
struct Collections;

impl SoftDeletable for Collections {
    type Entity = collection::Entity;
    type Key = Uid;
    type Record = Collection;
    const TABLE: Table<collection::Entity> = COLLECTIONS;

    fn key_text(uid: &Uid) -> String {
        uid.as_str().to_owned()
    }

    fn stem(uid: &Uid) -> Option<String> {
        Some(uid.stem().as_str().to_owned())
    }

    fn lock(uid: &Uid) -> LockScope {
        LockScope::CollectionStem(uid.stem())
    }

    fn state(c: &Collection) -> (RecordState, String) {
        (c.state(), c.label())
    }

    fn missing(uid: &Uid) -> Error {
        missing_collection(uid)
    }

    async fn load(txn: &DatabaseTransaction, uids: &[Uid]) -> Result<HashMap<Uid, Collection>> {
        read::by_uid(txn, uids).await
    }
}

/// `Catalog::collection_head_by_key`.
pub(super) async fn collection_head_by_key(cat: &SeaCatalog, key: &str) -> Result<Option<Collection>> {
    read::head_by_key(&cat.db, key).await
}

/// `Catalog::max_collection_version`.
pub(super) async fn max_collection_version(cat: &SeaCatalog, stem: &Stem) -> Result<Option<u32>> {
    COLLECTIONS.max_version(&cat.db, stem).await
}

/// `Catalog::apply_collection_transition`.
pub(super) async fn apply_collection_transition(
    cat: &SeaCatalog,
    uids: &[Uid],
    op: Operation,
) -> Result<Vec<CollectionTransitionResult>> {
    let moved = cat.apply_branch_op::<Collections>(uids, op).await?;
    Ok(moved
        .into_iter()
        .map(|(collection, transition)| CollectionTransitionResult { collection, transition })
        .collect())
}

/// `Catalog::create_collection`.
pub(super) async fn create_collection(cat: &SeaCatalog, new: &NewCollection) -> Result<Collection> {
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
    let txn = cat.begin_write().await?;
    let mut locks = vec![LockScope::CollectionStem(stem.clone())];
    if let Some(k) = &new.key {
        locks.push(LockScope::CollectionKey(k.clone()));
    }
    locks.extend(new.members.iter().map(|m| LockScope::ArtifactStem(m.stem())));
    cat.lock(&txn, locks).await?;
    check_new_version(&txn, new).await?;

    let ids = artifact_ids(&txn, &new.members).await?;
    let absent: Vec<String> = new.members.iter().filter(|m| !ids.contains_key(*m)).map(|m| m.to_string()).collect();
    if !absent.is_empty() {
        return Err(Error::not_found(format!(
            "cannot create the collection: no artifact with uid {} (it may have been deleted permanently); \
             nothing was created",
            absent.join(", ")
        )));
    }

    let index = version_index(&new.uid)?;
    // As for artifacts: a new family's first record is its head; a new version lands on main,
    // and the family's heads are recomputed (it follows every version, so it is main's head).
    let row = collection::ActiveModel {
        uid: Set(new.uid.as_str().to_owned()),
        stem: Set(stem.as_str().to_owned()),
        version_index: Set(index),
        key: Set(new.key.clone()),
        description: Set(new.description.clone()),
        hash: Set(new.hash.clone()),
        is_latest: Set(index == 0),
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
    if index > 0 {
        COLLECTIONS.recompute_heads(&txn, &stems_of([&new.uid])).await?;
    }

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
    set_high_water(&txn, COLLECTION_FAMILY, &stem, index).await?;

    let created = read::by_uid(&txn, std::slice::from_ref(&new.uid))
        .await?
        .remove(&new.uid)
        .ok_or_else(|| Error::catalog(format!("collection {} vanished right after its insert", new.uid)))?;
    txn.commit().await.ctx(format_args!("commit collection {}", new.uid))?;
    Ok(created)
}

/// With a key, `revises` must still be the key's head; the version index must follow the
/// family's high-water mark (a new family: the stem never existed).
async fn check_new_version<C: ConnectionTrait>(txn: &C, new: &NewCollection) -> Result<()> {
    let stem = new.uid.stem();
    if let Some(key) = &new.key {
        let head = read::head_by_key(txn, key).await?;
        let head_uid = head.as_ref().map(|h| &h.uid);
        if head_uid != new.revises.as_ref() {
            let found = head_uid.map_or("no family".to_owned(), |u| format!("head {u}"));
            let expected = new.revises.as_ref().map_or("no family".to_owned(), |u| format!("head {u}"));
            return Err(Error::new(
                ErrorKind::StaleRevises,
                format!(
                    "collection key '{key}' now has {found}, not the expected {expected}: a concurrent writer \
                     saved first; reload the key and create again"
                ),
            ));
        }
    }
    let max = COLLECTIONS.max_version(txn, &stem).await?;
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
    Ok(())
}

/// `Catalog::purge_collections`.
pub(super) async fn purge_collections(cat: &SeaCatalog, uids: &[Uid]) -> Result<Vec<Collection>> {
    let uids = distinct(uids);
    if uids.is_empty() {
        return Ok(Vec::new());
    }
    let txn = cat.begin_write().await?;
    cat.lock(&txn, uids.iter().map(Collections::lock)).await?;
    let mut before = read::by_uid(&txn, &uids).await?;
    let mut out = Vec::with_capacity(uids.len());
    for uid in &uids {
        let c = before.remove(uid).ok_or_else(|| missing_collection(uid))?;
        check_purgeable(Collections::state(&c))?;
        out.push(c);
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
        let rows =
            Query::delete().from_table(collection::Entity).and_where(collection::Column::Id.is_in(list())).to_owned();
        txn.execute(&rows).await.ctx("delete collections")?;
    }
    COLLECTIONS.recompute_heads(&txn, &stems_of(&uids)).await?;
    txn.commit().await.ctx("commit the permanent deletion of collections")?;
    Ok(out)
}
