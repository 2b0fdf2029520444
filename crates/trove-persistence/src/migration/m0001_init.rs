//! The initial schema: instance, storage, branch (seeded), user, artifact, with the
//! constraints that carry the catalog's invariants.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use trove_domain::BranchId;

/// Creates the initial schema.
pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0001_init"
    }
}

#[derive(DeriveIden)]
enum Instance {
    Table,
    Uid,
    Name,
    KeysVirtual,
    DefaultStorageId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Storage {
    Table,
    Id,
    Uid,
    Root,
    Region,
    InstanceUid,
    Settings,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Branch {
    Table,
    Id,
    Name,
    Description,
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
    Handle,
}

#[derive(DeriveIden, Clone, Copy)]
enum Artifact {
    Table,
    Id,
    Uid,
    Stem,
    VersionIndex,
    Key,
    Description,
    Suffix,
    Kind,
    Otype,
    Size,
    Hash,
    HashType,
    NFiles,
    NObservations,
    VersionTag,
    IsLatest,
    BranchId,
    TrashedFrom,
    BranchChangedAt,
    StorageId,
    Placement,
    RealPath,
    CreatedById,
    CreatedAt,
    UpdatedAt,
    PendingOp,
    Pending,
}

fn index(name: &str, columns: &[Artifact]) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(name).table(Artifact::Table);
    for c in columns {
        idx.col(*c);
    }
    idx
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Branch::Table)
                    .col(big_integer(Branch::Id).primary_key())
                    .col(string(Branch::Name).unique_key())
                    .col(text_null(Branch::Description))
                    .to_owned(),
            )
            .await?;
        // The fixed branches exist from the start, with their fixed ids.
        let mut seed = Query::insert();
        seed.into_table(Branch::Table).columns([Branch::Id, Branch::Name, Branch::Description]);
        for (id, name, description) in BranchId::FIXED {
            seed.values_panic([id.0.into(), name.into(), description.into()]);
        }
        manager.exec_stmt(seed).await?;

        manager
            .create_table(
                Table::create()
                    .table(User::Table)
                    .col(big_pk_auto(User::Id))
                    .col(string(User::Handle).unique_key())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Storage::Table)
                    .col(big_pk_auto(Storage::Id))
                    .col(string(Storage::Uid).unique_key())
                    .col(string(Storage::Root).unique_key())
                    .col(string_null(Storage::Region))
                    .col(string(Storage::InstanceUid))
                    .col(text(Storage::Settings))
                    .col(timestamp_with_time_zone(Storage::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Instance::Table)
                    .col(string(Instance::Uid).primary_key())
                    .col(string(Instance::Name))
                    .col(boolean(Instance::KeysVirtual))
                    .col(big_integer_null(Instance::DefaultStorageId))
                    .col(timestamp_with_time_zone(Instance::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_instance_default_storage")
                            .from(Instance::Table, Instance::DefaultStorageId)
                            .to(Storage::Table, Storage::Id),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Artifact::Table)
                    .col(big_pk_auto(Artifact::Id))
                    .col(string_len(Artifact::Uid, 20))
                    .col(string_len(Artifact::Stem, 16))
                    .col(integer(Artifact::VersionIndex))
                    .col(string_len_null(Artifact::Key, 1024))
                    .col(text_null(Artifact::Description))
                    .col(string(Artifact::Suffix))
                    .col(string_null(Artifact::Kind))
                    .col(string_null(Artifact::Otype))
                    .col(big_integer(Artifact::Size))
                    .col(string(Artifact::Hash))
                    .col(string(Artifact::HashType))
                    .col(big_integer_null(Artifact::NFiles))
                    .col(big_integer_null(Artifact::NObservations))
                    .col(string_null(Artifact::VersionTag))
                    .col(boolean(Artifact::IsLatest))
                    .col(big_integer(Artifact::BranchId))
                    .col(big_integer_null(Artifact::TrashedFrom))
                    .col(timestamp_with_time_zone_null(Artifact::BranchChangedAt))
                    .col(big_integer(Artifact::StorageId))
                    .col(string(Artifact::Placement))
                    .col(text_null(Artifact::RealPath))
                    .col(big_integer(Artifact::CreatedById))
                    .col(timestamp_with_time_zone(Artifact::CreatedAt))
                    .col(timestamp_with_time_zone(Artifact::UpdatedAt))
                    .col(string_null(Artifact::PendingOp))
                    .col(text_null(Artifact::Pending))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_artifact_branch")
                            .from(Artifact::Table, Artifact::BranchId)
                            .to(Branch::Table, Branch::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_artifact_trashed_from")
                            .from(Artifact::Table, Artifact::TrashedFrom)
                            .to(Branch::Table, Branch::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_artifact_storage")
                            .from(Artifact::Table, Artifact::StorageId)
                            .to(Storage::Table, Storage::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_artifact_created_by")
                            .from(Artifact::Table, Artifact::CreatedById)
                            .to(User::Table, User::Id),
                    )
                    .to_owned(),
            )
            .await?;

        // Invariants carried by unique constraints.
        manager.create_index(index("ux_artifact_uid", &[Artifact::Uid]).unique().to_owned()).await?;
        manager
            .create_index(
                index("ux_artifact_stem_version", &[Artifact::Stem, Artifact::VersionIndex]).unique().to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("ux_artifact_storage_key_hash", &[Artifact::StorageId, Artifact::Key, Artifact::Hash])
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Partial unique index: version tags are unique within a family; untagged rows are free.
        manager
            .create_index(
                index("ux_artifact_stem_tag", &[Artifact::Stem, Artifact::VersionTag])
                    .unique()
                    .and_where(Expr::col(Artifact::VersionTag).is_not_null())
                    .to_owned(),
            )
            .await?;
        // Partial unique index (SQLite >= 3.8 and PostgreSQL both support `WHERE` on indexes):
        // at most one head per family per branch. Head recomputation clears a family's heads
        // before setting new ones, so the index never sees two heads mid-statement.
        manager
            .create_index(
                index("ux_artifact_head", &[Artifact::Stem, Artifact::BranchId])
                    .unique()
                    .and_where(Expr::col(Artifact::IsLatest).eq(true))
                    .to_owned(),
            )
            .await?;

        // Lookup indexes: key (exact and prefix), hash (de-duplication), stem, branch.
        manager.create_index(index("ix_artifact_key", &[Artifact::Key, Artifact::StorageId])).await?;
        manager.create_index(index("ix_artifact_hash", &[Artifact::Hash])).await?;
        manager.create_index(index("ix_artifact_stem", &[Artifact::Stem, Artifact::BranchId])).await?;
        manager.create_index(index("ix_artifact_branch", &[Artifact::BranchId, Artifact::CreatedAt])).await?;
        manager.create_index(index("ix_artifact_pending", &[Artifact::PendingOp])).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Artifact::Table.into_iden(),
            Instance::Table.into_iden(),
            Storage::Table.into_iden(),
            User::Table.into_iden(),
            Branch::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
