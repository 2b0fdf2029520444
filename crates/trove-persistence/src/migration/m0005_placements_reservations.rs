//! At most one real-key placement in flight per key, and version reservations.
//!
//! Reservations: a save writes its bytes to the managed key of its uid before the row commits,
//! so the uid must be the writer's own. A new version's index is reserved first
//! (`version_reservation`, one row per reserved `(stem, index)`, consumed by the insert of the
//! record), so no two writers ever choose the same uid, and a purged version's index can never be
//! committed again.
//!
//! A save to a real key commits its row marked `placing_real_key` (bytes still in the managed
//! area), then moves the key's previous occupant aside and its own bytes onto the key. Two such
//! placements of one key at once would each move their bytes onto the key, and one row would end
//! up pointing at the other's bytes. This partial unique index lets only one row per
//! `(storage, key)` carry the mark: a second writer's insert fails as a conflict, and it retries
//! once the first placement is finished (or rolled back by `fsck`).

use sea_orm_migration::prelude::*;

/// Adds the partial unique index over rows marked `placing_real_key`, and `version_reservation`.
pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0005_placements_reservations"
    }
}

#[derive(DeriveIden)]
enum Artifact {
    Table,
    StorageId,
    Key,
    PendingOp,
}

#[derive(DeriveIden)]
enum VersionReservation {
    Table,
    Stem,
    VersionIndex,
}

const INDEX: &str = "ux_artifact_placing_key";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Artifact::Table)
                    .col(Artifact::StorageId)
                    .col(Artifact::Key)
                    .unique()
                    .and_where(Expr::col(Artifact::PendingOp).eq("placing_real_key"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(VersionReservation::Table)
                    .col(ColumnDef::new(VersionReservation::Stem).string_len(16).not_null())
                    .col(ColumnDef::new(VersionReservation::VersionIndex).integer().not_null())
                    .primary_key(Index::create().col(VersionReservation::Stem).col(VersionReservation::VersionIndex))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(VersionReservation::Table).to_owned()).await?;
        manager.drop_index(Index::drop().name(INDEX).table(Artifact::Table).to_owned()).await
    }
}
