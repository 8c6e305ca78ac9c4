use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The catalog's epoch: a counter that every transaction writing the catalog (products, variants,
/// options, option values, references, store settings) bumps, through triggers, so that kept
/// responses to catalog reads know when they are stale, on every instance.
///
/// On PostgreSQL the triggers are deferred to commit: the counter row is then the last lock a
/// transaction takes (no deadlock with the stock rows or number series that checkouts lock), it
/// is held only while committing, and it is bumped once per transaction.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(
                "CREATE TABLE cache_epoch (
                        name TEXT PRIMARY KEY,
                        version BIGINT NOT NULL,
                        bumped_by BIGINT
                    )",
            )
            .await?;
            db.execute_unprepared(INSERT_CATALOG).await?;
            db.execute_unprepared(
                "CREATE FUNCTION bump_catalog_epoch() RETURNS trigger
                    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
                    BEGIN
                        UPDATE cache_epoch SET version = version + 1, bumped_by = txid_current()
                        WHERE name = 'catalog' AND bumped_by IS DISTINCT FROM txid_current();
                        RETURN NULL;
                    END $$;",
            )
            .await?;
            for table in TABLES {
                db.execute_unprepared(&format!(
                    "CREATE CONSTRAINT TRIGGER {table}_catalog_epoch
                         AFTER INSERT OR UPDATE OR DELETE ON {table}
                         DEFERRABLE INITIALLY DEFERRED
                         FOR EACH ROW EXECUTE FUNCTION bump_catalog_epoch()"
                ))
                .await?;
            }
        } else {
            db.execute_unprepared(
                "CREATE TABLE cache_epoch (
                        name TEXT NOT NULL PRIMARY KEY,
                        version BIGINT NOT NULL
                    )",
            )
            .await?;
            db.execute_unprepared(INSERT_CATALOG).await?;
            for table in TABLES {
                for event in EVENTS {
                    let lower = event.to_ascii_lowercase();
                    db.execute_unprepared(&format!(
                            "CREATE TRIGGER {table}_catalog_epoch_{lower} AFTER {event} ON {table}
                             BEGIN
                                 UPDATE cache_epoch SET version = version + 1 WHERE name = 'catalog';
                             END"
                        ))
                        .await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DbBackend::Postgres {
            for table in TABLES {
                db.execute_unprepared(&format!(
                    "DROP TRIGGER IF EXISTS {table}_catalog_epoch ON {table}"
                ))
                .await?;
            }
            db.execute_unprepared("DROP FUNCTION IF EXISTS bump_catalog_epoch()")
                .await?;
        } else {
            for table in TABLES {
                for event in EVENTS {
                    let lower = event.to_ascii_lowercase();
                    db.execute_unprepared(&format!(
                        "DROP TRIGGER IF EXISTS {table}_catalog_epoch_{lower}"
                    ))
                    .await?;
                }
            }
        }
        db.execute_unprepared("DROP TABLE cache_epoch").await?;
        Ok(())
    }
}

const INSERT_CATALOG: &str = "INSERT INTO cache_epoch (name, version) VALUES ('catalog', 1)";

/// The tables catalog reads show.
const TABLES: [&str; 6] = [
    "product",
    "product_variant",
    "product_option",
    "product_option_value",
    "catalog_reference",
    "store_settings",
];

const EVENTS: [&str; 3] = ["INSERT", "UPDATE", "DELETE"];
