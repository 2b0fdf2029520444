//! Link rows (not soft-deletable) and per-family version high-water marks, addressed through
//! sea-query with these column names.

/// `collection_member`: (collection, position) -> artifact.
pub(crate) mod collection_member {
    use sea_orm::entity::prelude::*;

    /// A membership row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "collection_member")]
    pub struct Model {
        /// The collection.
        #[sea_orm(primary_key, auto_increment = false)]
        pub collection_id: i64,
        /// Its place in the collection, from 0.
        #[sea_orm(primary_key, auto_increment = false)]
        pub position: i32,
        /// The member artifact.
        pub artifact_id: i64,
    }

    /// No relations are navigated.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `artifact_label`: artifact <-> label.
pub(crate) mod artifact_label {
    use sea_orm::entity::prelude::*;

    /// A link row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "artifact_label")]
    pub struct Model {
        /// The artifact.
        #[sea_orm(primary_key, auto_increment = false)]
        pub artifact_id: i64,
        /// The label.
        #[sea_orm(primary_key, auto_increment = false)]
        pub label_id: i64,
    }

    /// No relations are navigated.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `collection_label`: collection <-> label.
pub(crate) mod collection_label {
    use sea_orm::entity::prelude::*;

    /// A link row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "collection_label")]
    pub struct Model {
        /// The collection.
        #[sea_orm(primary_key, auto_increment = false)]
        pub collection_id: i64,
        /// The label.
        #[sea_orm(primary_key, auto_increment = false)]
        pub label_id: i64,
    }

    /// No relations are navigated.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `family_version`: the highest version index a family (`record` = `artifact` or
/// `collection`) has ever had.
pub(crate) mod family_version {
    use sea_orm::entity::prelude::*;

    /// A high-water mark.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "family_version")]
    pub struct Model {
        /// `artifact` or `collection`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub record: String,
        /// The family stem.
        #[sea_orm(primary_key, auto_increment = false)]
        pub stem: String,
        /// The highest version index ever created.
        pub max_version: i32,
    }

    /// No relations are navigated.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
