//! Collections, labels, their link rows, and per-family version high-water marks.
//!
//! * `family_version`: the highest version index each family (of artifacts or of collections)
//!   has ever had, so permanently deleting a family's newest version never lets its suffix be
//!   reused (spec 1 section 4, invariant 4). Backfilled from existing artifacts.
//! * `collection`: soft-deletable, versioned like artifacts (unique uid, unique (stem, version),
//!   at most one head per family per branch as a partial unique index).
//! * `collection_member`: ordered link rows. Deleting a collection cascades to them; deleting an
//!   artifact that is a member is refused by the foreign key (`RESTRICT`), a last line of
//!   defence behind the protection check in `begin_purge`.
//! * `label`, `artifact_label`, `collection_label`: unique label names; link rows cascade with
//!   the artifact or collection and restrict deleting a label still attached.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Creates the collection and label tables and the version high-water marks.
pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0003_collections_labels"
    }
}

#[derive(DeriveIden)]
enum Branch {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Artifact {
    Table,
    Id,
    Stem,
    VersionIndex,
}

#[derive(DeriveIden)]
enum FamilyVersion {
    Table,
    Record,
    Stem,
    MaxVersion,
}

#[derive(DeriveIden, Clone, Copy)]
enum Collection {
    Table,
    Id,
    Uid,
    Stem,
    VersionIndex,
    Key,
    Description,
    Hash,
    IsLatest,
    BranchId,
    TrashedFrom,
    BranchChangedAt,
    CreatedById,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CollectionMember {
    Table,
    CollectionId,
    ArtifactId,
    Position,
}

#[derive(DeriveIden)]
enum Label {
    Table,
    Id,
    Name,
    Description,
    BranchId,
    TrashedFrom,
    BranchChangedAt,
    CreatedById,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ArtifactLabel {
    Table,
    ArtifactId,
    LabelId,
}

#[derive(DeriveIden)]
enum CollectionLabel {
    Table,
    CollectionId,
    LabelId,
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create().name(name).from(from.0, from.1).to(to.0, to.1).on_delete(on_delete).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FamilyVersion::Table)
                    .col(string_len(FamilyVersion::Record, 16))
                    .col(string_len(FamilyVersion::Stem, 16))
                    .col(integer(FamilyVersion::MaxVersion))
                    .primary_key(Index::create().col(FamilyVersion::Record).col(FamilyVersion::Stem))
                    .to_owned(),
            )
            .await?;
        // Backfill: every existing artifact family's current maximum.
        let existing = Query::select()
            .expr(Expr::val("artifact"))
            .column(Artifact::Stem)
            .expr(Func::max(Expr::col(Artifact::VersionIndex)))
            .from(Artifact::Table)
            .group_by_col(Artifact::Stem)
            .to_owned();
        let backfill = Query::insert()
            .into_table(FamilyVersion::Table)
            .columns([FamilyVersion::Record, FamilyVersion::Stem, FamilyVersion::MaxVersion])
            .select_from(existing)
            .map_err(|e| DbErr::Migration(format!("backfill family_version: {e}")))?
            .to_owned();
        manager.exec_stmt(backfill).await?;

        manager
            .create_table(
                Table::create()
                    .table(Collection::Table)
                    .col(big_pk_auto(Collection::Id))
                    .col(string_len(Collection::Uid, 20))
                    .col(string_len(Collection::Stem, 16))
                    .col(integer(Collection::VersionIndex))
                    .col(string_len_null(Collection::Key, 1024))
                    .col(text_null(Collection::Description))
                    .col(string(Collection::Hash))
                    .col(boolean(Collection::IsLatest))
                    .col(big_integer(Collection::BranchId))
                    .col(big_integer_null(Collection::TrashedFrom))
                    .col(timestamp_with_time_zone_null(Collection::BranchChangedAt))
                    .col(big_integer(Collection::CreatedById))
                    .col(timestamp_with_time_zone(Collection::CreatedAt))
                    .col(timestamp_with_time_zone(Collection::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_collection_branch",
                        (Collection::Table, Collection::BranchId),
                        (Branch::Table, Branch::Id),
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_collection_trashed_from",
                        (Collection::Table, Collection::TrashedFrom),
                        (Branch::Table, Branch::Id),
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_collection_created_by",
                        (Collection::Table, Collection::CreatedById),
                        (User::Table, User::Id),
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        let cidx = |name: &str, cols: &[Collection]| {
            let mut idx = Index::create();
            idx.name(name).table(Collection::Table);
            for c in cols {
                idx.col(*c);
            }
            idx
        };
        manager.create_index(cidx("ux_collection_uid", &[Collection::Uid]).unique().to_owned()).await?;
        manager
            .create_index(
                cidx("ux_collection_stem_version", &[Collection::Stem, Collection::VersionIndex]).unique().to_owned(),
            )
            .await?;
        // At most one head per collection family per branch (as for artifacts).
        manager
            .create_index(
                cidx("ux_collection_head", &[Collection::Stem, Collection::BranchId])
                    .unique()
                    .and_where(Expr::col(Collection::IsLatest).eq(true))
                    .to_owned(),
            )
            .await?;
        manager.create_index(cidx("ix_collection_key", &[Collection::Key])).await?;
        manager.create_index(cidx("ix_collection_branch", &[Collection::BranchId, Collection::CreatedAt])).await?;

        manager
            .create_table(
                Table::create()
                    .table(CollectionMember::Table)
                    .col(big_integer(CollectionMember::CollectionId))
                    .col(big_integer(CollectionMember::ArtifactId))
                    .col(integer(CollectionMember::Position))
                    .primary_key(Index::create().col(CollectionMember::CollectionId).col(CollectionMember::Position))
                    .foreign_key(&mut fk(
                        "fk_collection_member_collection",
                        (CollectionMember::Table, CollectionMember::CollectionId),
                        (Collection::Table, Collection::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_collection_member_artifact",
                        (CollectionMember::Table, CollectionMember::ArtifactId),
                        (Artifact::Table, Artifact::Id),
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_collection_member_artifact")
                    .table(CollectionMember::Table)
                    .col(CollectionMember::CollectionId)
                    .col(CollectionMember::ArtifactId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_collection_member_artifact")
                    .table(CollectionMember::Table)
                    .col(CollectionMember::ArtifactId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Label::Table)
                    .col(big_pk_auto(Label::Id))
                    .col(string_len(Label::Name, 255).unique_key())
                    .col(text_null(Label::Description))
                    .col(big_integer(Label::BranchId))
                    .col(big_integer_null(Label::TrashedFrom))
                    .col(timestamp_with_time_zone_null(Label::BranchChangedAt))
                    .col(big_integer(Label::CreatedById))
                    .col(timestamp_with_time_zone(Label::CreatedAt))
                    .col(timestamp_with_time_zone(Label::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_label_branch",
                        (Label::Table, Label::BranchId),
                        (Branch::Table, Branch::Id),
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_label_trashed_from",
                        (Label::Table, Label::TrashedFrom),
                        (Branch::Table, Branch::Id),
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_label_created_by",
                        (Label::Table, Label::CreatedById),
                        (User::Table, User::Id),
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ArtifactLabel::Table)
                    .col(big_integer(ArtifactLabel::ArtifactId))
                    .col(big_integer(ArtifactLabel::LabelId))
                    .primary_key(Index::create().col(ArtifactLabel::ArtifactId).col(ArtifactLabel::LabelId))
                    .foreign_key(&mut fk(
                        "fk_artifact_label_artifact",
                        (ArtifactLabel::Table, ArtifactLabel::ArtifactId),
                        (Artifact::Table, Artifact::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_artifact_label_label",
                        (ArtifactLabel::Table, ArtifactLabel::LabelId),
                        (Label::Table, Label::Id),
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_artifact_label_label")
                    .table(ArtifactLabel::Table)
                    .col(ArtifactLabel::LabelId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CollectionLabel::Table)
                    .col(big_integer(CollectionLabel::CollectionId))
                    .col(big_integer(CollectionLabel::LabelId))
                    .primary_key(Index::create().col(CollectionLabel::CollectionId).col(CollectionLabel::LabelId))
                    .foreign_key(&mut fk(
                        "fk_collection_label_collection",
                        (CollectionLabel::Table, CollectionLabel::CollectionId),
                        (Collection::Table, Collection::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_collection_label_label",
                        (CollectionLabel::Table, CollectionLabel::LabelId),
                        (Label::Table, Label::Id),
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_collection_label_label")
                    .table(CollectionLabel::Table)
                    .col(CollectionLabel::LabelId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CollectionLabel::Table.into_iden(),
            ArtifactLabel::Table.into_iden(),
            Label::Table.into_iden(),
            CollectionMember::Table.into_iden(),
            Collection::Table.into_iden(),
            FamilyVersion::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
