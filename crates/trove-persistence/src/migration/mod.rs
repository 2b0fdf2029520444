//! Schema migrations, run on every connect.

use sea_orm_migration::prelude::*;

mod m0001_init;
mod m0003_collections_labels;
mod m0004_dedup_exempt;
mod m0005_placements_reservations;
mod m0006_listing_indexes;

/// The migrator: every migration, in order.
pub(crate) struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_init::Migration),
            Box::new(m0003_collections_labels::Migration),
            Box::new(m0004_dedup_exempt::Migration),
            Box::new(m0005_placements_reservations::Migration),
            Box::new(m0006_listing_indexes::Migration),
        ]
    }
}
