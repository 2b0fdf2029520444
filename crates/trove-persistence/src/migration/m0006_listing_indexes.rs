//! Indexes for listings on large catalogs (issue 11): every order a listing offers is read in
//! index order, so the first page of any listing costs its own rows, not a sort of the table,
//! and keyset paging (`ArtifactQuery::after`) starts each page with an index seek.
//!
//! * `ix_artifact_branch_key` `(branch_id, key, stem, version_index)`: the default listing (by
//!   key, on one branch), with a key prefix too;
//! * `ix_artifact_key_order` `(key, stem, version_index)`: the same across every branch;
//! * `ix_artifact_branch_created` `(branch_id, created_at, uid)`: newest first on one branch
//!   (replaces m0001's `ix_artifact_branch (branch_id, created_at)`, which left the uid
//!   tie-break to a sort);
//! * `ix_artifact_pending` `(pending_op)` becomes partial, `WHERE pending_op IS NOT NULL`: it
//!   serves `fsck`'s list of marked records, and a planner can no longer take it for the
//!   `pending_op IS NULL` of every listing (which matches nearly every row) instead of the
//!   index that gives the listing's order.

use sea_orm_migration::prelude::*;

/// Adds the listing indexes.
pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0006_listing_indexes"
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Artifact {
    Table,
    PendingOp,
    BranchId,
    Key,
    Stem,
    VersionIndex,
    CreatedAt,
    Uid,
}

fn index(name: &str, columns: &[Artifact]) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(name).table(Artifact::Table);
    for c in columns {
        idx.col(*c);
    }
    idx
}

const OLD_BRANCH_INDEX: &str = "ix_artifact_branch";
const PENDING_INDEX: &str = "ix_artifact_pending";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Artifact::*;
        manager.create_index(index("ix_artifact_branch_key", &[BranchId, Key, Stem, VersionIndex]).to_owned()).await?;
        manager.create_index(index("ix_artifact_key_order", &[Key, Stem, VersionIndex]).to_owned()).await?;
        manager.create_index(index("ix_artifact_branch_created", &[BranchId, CreatedAt, Uid]).to_owned()).await?;
        manager.drop_index(Index::drop().name(OLD_BRANCH_INDEX).table(Table).to_owned()).await?;
        manager.drop_index(Index::drop().name(PENDING_INDEX).table(Table).to_owned()).await?;
        manager
            .create_index(index(PENDING_INDEX, &[PendingOp]).and_where(Expr::col(PendingOp).is_not_null()).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Artifact::*;
        manager.drop_index(Index::drop().name(PENDING_INDEX).table(Table).to_owned()).await?;
        manager.create_index(index(PENDING_INDEX, &[PendingOp]).to_owned()).await?;
        manager.create_index(index(OLD_BRANCH_INDEX, &[BranchId, CreatedAt]).to_owned()).await?;
        for name in ["ix_artifact_branch_created", "ix_artifact_key_order", "ix_artifact_branch_key"] {
            manager.drop_index(Index::drop().name(name).table(Table).to_owned()).await?;
        }
        Ok(())
    }
}
