//! The `storage` table: registered storage locations.

use sea_orm::entity::prelude::*;

/// A storage location row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "storage")]
pub struct Model {
    /// Catalog id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// 12-character base62 uid (unique).
    #[sea_orm(unique)]
    pub uid: String,
    /// Root path or URL (unique).
    #[sea_orm(unique)]
    pub root: String,
    /// Region for cloud roots.
    pub region: Option<String>,
    /// Managing instance.
    pub instance_uid: String,
    /// Non-secret settings, JSON text.
    pub settings: String,
    /// Registration time.
    pub created_at: DateTimeUtc,
}

/// No relations are navigated from storage locations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
