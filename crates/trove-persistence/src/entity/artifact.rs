//! The `artifact` table. Invariants live in constraints (see the migration): unique uid,
//! unique (stem, version_index), unique (storage_id, key, hash), unique (stem, version_tag)
//! for tagged rows, and at most one `is_latest` row per (stem, branch_id).

use sea_orm::entity::prelude::*;

/// Value of `pending_op` for rows being purged (hidden from every query).
pub(crate) const PURGING: &str = "purging";

/// An artifact row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "artifact")]
pub struct Model {
    /// Catalog id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// 20-character uid.
    #[sea_orm(unique)]
    pub uid: String,
    /// 16-character family stem.
    pub stem: String,
    /// Numeric version index (never compared as text).
    pub version_index: i32,
    /// Optional user key.
    pub key: Option<String>,
    /// Optional description.
    pub description: Option<String>,
    /// Canonical suffix.
    pub suffix: String,
    /// Free-text kind.
    pub kind: Option<String>,
    /// Object type (`DataFrame`).
    pub otype: Option<String>,
    /// Size in bytes.
    pub size: i64,
    /// Content hash.
    pub hash: String,
    /// Hash type (`md5`, `md5-N`, `md5-tree`).
    pub hash_type: String,
    /// File count for folders.
    pub n_files: Option<i64>,
    /// Row count for tabular data.
    pub n_observations: Option<i64>,
    /// Version tag, unique within the family.
    pub version_tag: Option<String>,
    /// Head of its family on its branch.
    pub is_latest: bool,
    /// Branch.
    pub branch_id: i64,
    /// Branch it was trashed from.
    pub trashed_from: Option<i64>,
    /// Last branch change.
    pub branch_changed_at: Option<DateTimeUtc>,
    /// Storage location.
    pub storage_id: i64,
    /// `managed`, `real_key` or `in_place`.
    pub placement: String,
    /// For `in_place`: the real path.
    pub real_path: Option<String>,
    /// Creating user.
    pub created_by_id: i64,
    /// Creation time.
    pub created_at: DateTimeUtc,
    /// Last change.
    pub updated_at: DateTimeUtc,
    /// The pending operation's name (`purging`, `placing_real_key`, `replacing`), for filtering.
    pub pending_op: Option<String>,
    /// The pending operation, JSON text.
    pub pending: Option<String>,
    /// Saved without de-duplication (on purpose, empty content, in place): exempt from the
    /// `(storage, key, hash)` uniqueness.
    pub dedup_exempt: bool,
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
