//! Schema migrations, run on start by `comptoir serve` and by `comptoir migrate`.

// Migrations read best as one long builder chain over the sea-orm-migration prelude.
#![allow(clippy::wildcard_imports, clippy::too_many_lines)]

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_account_tables;
mod m20261122_000002_create_event_table;
mod m20261122_000003_create_catalog_tables;
mod m20261122_000004_create_customer_tables;
mod m20261122_000005_create_cart_tables;
mod m20261122_000006_create_outbox_tables;
mod m20261122_000007_create_order_tables;
mod m20261122_000008_create_quote_tables;
mod m20261123_000009_add_order_shown_flag;
mod m20261130_000010_create_rental_tables;
mod m20261130_000020_create_document_tables;
mod m20261130_000021_index_production_lists;
mod m20261130_000022_create_cache_epoch;
mod m20261206_000023_create_document_logo;
mod m20261206_000024_touch_cart_on_line_change;
pub mod m20261206_000025_catalog_rows_epoch;
mod m20261207_000026_cart_room_function;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_account_tables::Migration),
            Box::new(m20261122_000002_create_event_table::Migration),
            Box::new(m20261122_000003_create_catalog_tables::Migration),
            Box::new(m20261122_000004_create_customer_tables::Migration),
            Box::new(m20261122_000005_create_cart_tables::Migration),
            Box::new(m20261122_000006_create_outbox_tables::Migration),
            Box::new(m20261122_000007_create_order_tables::Migration),
            Box::new(m20261122_000008_create_quote_tables::Migration),
            Box::new(m20261123_000009_add_order_shown_flag::Migration),
            Box::new(m20261130_000010_create_rental_tables::Migration),
            Box::new(m20261130_000020_create_document_tables::Migration),
            Box::new(m20261130_000021_index_production_lists::Migration),
            Box::new(m20261130_000022_create_cache_epoch::Migration),
            Box::new(m20261206_000023_create_document_logo::Migration),
            Box::new(m20261206_000024_touch_cart_on_line_change::Migration),
            Box::new(m20261206_000025_catalog_rows_epoch::Migration),
            Box::new(m20261207_000026_cart_room_function::Migration),
        ]
    }
}
