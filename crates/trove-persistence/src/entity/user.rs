//! The `user` table: users recorded as `created_by`.

use sea_orm::entity::prelude::*;

/// A user row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user")]
pub struct Model {
    /// Catalog id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Login-style handle (unique).
    #[sea_orm(unique)]
    pub handle: String,
}

/// No relations are navigated from users.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
