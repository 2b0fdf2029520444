//! The instance, its storage locations and its users.

use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, Set,
};
use trove_domain::{
    Error, ErrorKind, Instance, InstanceInit, NewStorage, Result, StorageId, StorageLocation, User, UserId,
};

use super::SeaCatalog;
use super::codec::{to_instance, to_storage};
use crate::entity::{instance, storage, user};
use crate::error::DbResultExt;

/// `Catalog::init_instance`.
pub(super) async fn init_instance(cat: &SeaCatalog, init: &InstanceInit) -> Result<Instance> {
    let txn = cat.begin_write().await?;
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

/// `Catalog::instance`.
pub(super) async fn instance(cat: &SeaCatalog) -> Result<Option<Instance>> {
    Ok(instance::Entity::find().one(&cat.db).await.ctx("read the instance")?.map(to_instance))
}

/// `Catalog::add_storage`.
pub(super) async fn add_storage(cat: &SeaCatalog, new: &NewStorage) -> Result<StorageLocation> {
    let txn = cat.begin_write().await?;
    let s = insert_storage(&txn, new).await?;
    txn.commit().await.ctx("commit the new storage location")?;
    Ok(s)
}

/// `Catalog::set_default_storage`.
pub(super) async fn set_default_storage(cat: &SeaCatalog, id: StorageId) -> Result<Instance> {
    let txn = cat.begin_write().await?;
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

/// `Catalog::remove_storage`.
pub(super) async fn remove_storage(cat: &SeaCatalog, id: StorageId) -> Result<StorageLocation> {
    let txn = cat.begin_write().await?;
    let row = storage::Entity::find_by_id(id.0).one(&txn).await.ctx("read the storage location")?.ok_or_else(|| {
        Error::not_found(format!("no storage location with id {}: list them with `trove storage ls`", id.0))
    })?;
    let location = to_storage(row)?;
    let default = instance::Entity::find().one(&txn).await.ctx("read the instance")?.and_then(|i| i.default_storage_id);
    if default == Some(id.0) {
        return Err(Error::new(
            ErrorKind::InvalidTransition,
            format!(
                "{} is the instance's default storage location: make another one the default first \
                 (`trove storage set-default`)",
                location.root
            ),
        ));
    }
    // Any record on any branch, in the trash or being deleted, keeps the location.
    let held = crate::entity::artifact::Entity::find()
        .filter(crate::entity::artifact::Column::StorageId.eq(id.0))
        .count(&txn)
        .await
        .ctx("count the artifacts in the storage location")?;
    if held > 0 {
        return Err(Error::new(
            ErrorKind::Protected,
            format!(
                "{} still holds {held} artifact(s) (on any branch, the trash included): delete them permanently \
                 first (`trove ls --branch all`)",
                location.root
            ),
        ));
    }
    storage::Entity::delete_by_id(id.0).exec(&txn).await.ctx(format_args!("unregister {}", location.root))?;
    txn.commit().await.ctx("commit the removal of the storage location")?;
    Ok(location)
}

/// `Catalog::storages`.
pub(super) async fn storages(cat: &SeaCatalog) -> Result<Vec<StorageLocation>> {
    let rows = storage::Entity::find()
        .order_by_asc(storage::Column::Id)
        .all(&cat.db)
        .await
        .ctx("read the storage locations")?;
    rows.into_iter().map(to_storage).collect()
}

/// `SeaCatalog::user`: the user with this handle, if any (a read).
pub(super) async fn user(cat: &SeaCatalog, handle: &str) -> Result<Option<User>> {
    let existing = user::Entity::find()
        .filter(user::Column::Handle.eq(handle))
        .one(&cat.db)
        .await
        .ctx(format_args!("read user '{handle}'"))?;
    Ok(existing.map(|row| User { id: UserId(row.id), handle: row.handle }))
}

/// `Catalog::ensure_user`.
pub(super) async fn ensure_user(cat: &SeaCatalog, handle: &str) -> Result<User> {
    // Read first: opening an instance (every command, reads included) must not need the
    // write lock, which another process may hold for a while (SQLite has one writer).
    if let Some(user) = user(cat, handle).await? {
        return Ok(user);
    }
    let txn = cat.begin_write().await?;
    let user = ensure_user_in(&txn, handle).await?;
    txn.commit().await.ctx("commit the user")?;
    Ok(user)
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
