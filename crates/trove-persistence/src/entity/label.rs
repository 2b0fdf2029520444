//! The `label` table: named, soft-deletable tags (unique name).

use sea_orm::entity::prelude::*;

/// A label row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "label")]
pub struct Model {
    /// Catalog id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Unique name.
    #[sea_orm(unique)]
    pub name: String,
    /// Optional description.
    pub description: Option<String>,
    /// Branch.
    pub branch_id: i64,
    /// Branch it was trashed from.
    pub trashed_from: Option<i64>,
    /// Last branch change.
    pub branch_changed_at: Option<DateTimeUtc>,
    /// Creating user.
    pub created_by_id: i64,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
}

/// Relations used for joins.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The creating user.
    #[sea_orm(belongs_to = "super::user::Entity", from = "Column::CreatedById", to = "super::user::Column::Id")]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
