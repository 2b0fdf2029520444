//! Deliberate duplicates: the `(storage, key, hash)` uniqueness holds for every row saved with
//! de-duplication, and exempts rows saved without it.
//!
//! Spec 2 section 5 lets a save opt out of de-duplication ("creates a duplicate on purpose"),
//! and empty files and in-place registrations skip the lookup; under an existing key such a save
//! is the family's next version with identical content. The unique index of m0001 refused those.
//! This migration adds `dedup_exempt` (false for every existing row) and replaces the index by a
//! partial one over the rows that went through de-duplication, so concurrent identical saves
//! under one key still cannot both create rows.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Adds `artifact.dedup_exempt` and makes the `(storage, key, hash)` index partial.
pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0004_dedup_exempt"
    }
}

#[derive(DeriveIden)]
enum Artifact {
    Table,
    StorageId,
    Key,
    Hash,
    DedupExempt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Artifact::Table)
                    .add_column(boolean(Artifact::DedupExempt).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(Index::drop().name("ux_artifact_storage_key_hash").table(Artifact::Table).to_owned())
            .await?;
        // Partial unique index (SQLite and PostgreSQL both support `WHERE` on indexes).
        manager
            .create_index(
                Index::create()
                    .name("ux_artifact_storage_key_hash_dedup")
                    .table(Artifact::Table)
                    .col(Artifact::StorageId)
                    .col(Artifact::Key)
                    .col(Artifact::Hash)
                    .unique()
                    .and_where(Expr::col(Artifact::DedupExempt).eq(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("ux_artifact_storage_key_hash_dedup").table(Artifact::Table).to_owned())
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_artifact_storage_key_hash")
                    .table(Artifact::Table)
                    .col(Artifact::StorageId)
                    .col(Artifact::Key)
                    .col(Artifact::Hash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager.alter_table(Table::alter().table(Artifact::Table).drop_column(Artifact::DedupExempt).to_owned()).await
    }
}
