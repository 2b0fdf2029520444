//! The `collection` table: versioned, soft-deletable ordered sets of artifacts. Invariants live
//! in constraints (see migration m0003): unique uid, unique (stem, version_index), at most one
//! `is_latest` row per (stem, branch_id).

use sea_orm::entity::prelude::*;

/// A collection row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "collection")]
pub struct Model {
    /// Catalog id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// 20-character uid.
    #[sea_orm(unique)]
    pub uid: String,
    /// 16-character family stem.
    pub stem: String,
    /// Numeric version index.
    pub version_index: i32,
    /// Optional key (a name, not a path).
    pub key: Option<String>,
    /// Optional description.
    pub description: Option<String>,
    /// Hash over the members' hashes.
    pub hash: String,
    /// Head of its family on its branch.
    pub is_latest: bool,
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
