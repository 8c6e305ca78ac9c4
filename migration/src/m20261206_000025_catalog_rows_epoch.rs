use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A second catalog epoch, `catalog_rows`, that every change to the catalog bumps except a change
/// of stock alone: the rows carts keep per epoch (`catalog::snapshot`) read stock fresh with the
/// cart's lines, so checkouts, which take stock, no longer make every kept row stale. The
/// `catalog` epoch (kept responses, which show stock) still follows every change.
///
/// Products and variants bump it on an update that sets any column but `stock` (`UPDATE OF`):
/// a new column of theirs must join [`PRODUCT_COLUMNS`] or [`VARIANT_COLUMNS`] in a migration
/// (`catalog_rows_epoch_follows_every_column_but_stock` fails until it does). On PostgreSQL
/// the triggers are deferred to commit like the `catalog` ones, and fire after them (by name),
/// so every transaction takes the two counter rows in the same order.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("INSERT INTO cache_epoch (name, version) VALUES ('catalog_rows', 1)")
            .await?;
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        if postgres {
            db.execute_unprepared(
                "CREATE FUNCTION bump_catalog_rows_epoch() RETURNS trigger
                    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
                    BEGIN
                        UPDATE cache_epoch SET version = version + 1, bumped_by = txid_current()
                        WHERE name = 'catalog_rows' AND bumped_by IS DISTINCT FROM txid_current();
                        RETURN NULL;
                    END $$;",
            )
            .await?;
        }
        for (table, update) in TABLES {
            let events = match update {
                Some(columns) => format!("INSERT OR DELETE OR UPDATE OF {}", columns.join(", ")),
                None => "INSERT OR UPDATE OR DELETE".to_owned(),
            };
            if postgres {
                db.execute_unprepared(&format!(
                    "CREATE CONSTRAINT TRIGGER {table}_catalog_rows_epoch
                         AFTER {events} ON {table}
                         DEFERRABLE INITIALLY DEFERRED
                         FOR EACH ROW EXECUTE FUNCTION bump_catalog_rows_epoch()"
                ))
                .await?;
                continue;
            }
            // SQLite: one trigger per event.
            for event in ["INSERT", "DELETE", "UPDATE"] {
                let on = match (event, update) {
                    ("UPDATE", Some(columns)) => format!("UPDATE OF {}", columns.join(", ")),
                    _ => event.to_owned(),
                };
                let lower = event.to_ascii_lowercase();
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER {table}_catalog_rows_epoch_{lower} AFTER {on} ON {table}
                     BEGIN
                         UPDATE cache_epoch SET version = version + 1 WHERE name = 'catalog_rows';
                     END"
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DbBackend::Postgres {
            for (table, _) in TABLES {
                db.execute_unprepared(&format!(
                    "DROP TRIGGER IF EXISTS {table}_catalog_rows_epoch ON {table}"
                ))
                .await?;
            }
            db.execute_unprepared("DROP FUNCTION IF EXISTS bump_catalog_rows_epoch()")
                .await?;
        } else {
            for (table, _) in TABLES {
                for event in ["insert", "delete", "update"] {
                    db.execute_unprepared(&format!(
                        "DROP TRIGGER IF EXISTS {table}_catalog_rows_epoch_{event}"
                    ))
                    .await?;
                }
            }
        }
        db.execute_unprepared("DELETE FROM cache_epoch WHERE name = 'catalog_rows'")
            .await?;
        Ok(())
    }
}

/// Every column of `product` but `stock`.
pub const PRODUCT_COLUMNS: &[&str] = &[
    "id",
    "reference",
    "name",
    "search_text",
    "description",
    "kind",
    "unit_price_e4",
    "vat_rate_bp",
    "active",
    "visible",
    "track_stock",
    "rental_owned_quantity",
    "rental_daily_price_e4",
    "rental_buffer_before_hours",
    "rental_buffer_after_hours",
    "archived_at",
    "version",
    "created_at",
    "updated_at",
];

/// Every column of `product_variant` but `stock`.
pub const VARIANT_COLUMNS: &[&str] = &[
    "id",
    "product_id",
    "reference",
    "name",
    "characteristics",
    "unit_price_e4",
    "track_stock",
    "active",
    "position",
];

/// The tables the kept rows come from, and for those with stock the columns whose update bumps
/// the epoch (every update of the others does).
const TABLES: [(&str, Option<&[&str]>); 4] = [
    ("product", Some(PRODUCT_COLUMNS)),
    ("product_variant", Some(VARIANT_COLUMNS)),
    ("product_option", None),
    ("product_option_value", None),
];
