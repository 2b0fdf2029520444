//! The `instance` table: one row, the catalog's instance.

use sea_orm::entity::prelude::*;

/// An instance row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "instance")]
pub struct Model {
    /// 12-character base62 uid.
    #[sea_orm(primary_key, auto_increment = false)]
    pub uid: String,
    /// Human name.
    pub name: String,
    /// Whether new keys are virtual.
    pub keys_virtual: bool,
    /// The default storage location.
    pub default_storage_id: Option<i64>,
    /// Creation time.
    pub created_at: DateTimeUtc,
}

/// No relations are navigated from instances.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
