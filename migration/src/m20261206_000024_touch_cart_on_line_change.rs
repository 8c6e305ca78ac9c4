use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A cart line knows when it last changed, and a line's insert or change marks its cart changed
/// (`cart.updated_at`) through a trigger, in the statement that writes the line: adding a line
/// is then one statement, outside a transaction, instead of a transaction that marks the cart
/// and then writes the line.
///
/// The column is nullable for the `ALTER TABLE` (SQLite adds a `NOT NULL` column only with a
/// constant default); the rows there are given their creation time, and every write sets it.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(CartLine::Table)
                    .add_column(timestamp_with_time_zone_null(CartLine::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(CartLine::Table)
                    .value(CartLine::UpdatedAt, Expr::col(CartLine::CreatedAt))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        if manager.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(
                "CREATE FUNCTION touch_cart() RETURNS trigger
                    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
                    BEGIN
                        UPDATE cart SET updated_at = NEW.updated_at WHERE id = NEW.cart_id;
                        RETURN NULL;
                    END $$;",
            )
            .await?;
            db.execute_unprepared(
                "CREATE TRIGGER cart_line_touch_cart AFTER INSERT OR UPDATE ON cart_line
                     FOR EACH ROW EXECUTE FUNCTION touch_cart()",
            )
            .await?;
        } else {
            for event in EVENTS {
                let lower = event.to_ascii_lowercase();
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER cart_line_touch_cart_{lower} AFTER {event} ON cart_line
                     BEGIN
                         UPDATE cart SET updated_at = NEW.updated_at WHERE id = NEW.cart_id;
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
            db.execute_unprepared("DROP TRIGGER IF EXISTS cart_line_touch_cart ON cart_line")
                .await?;
            db.execute_unprepared("DROP FUNCTION IF EXISTS touch_cart()")
                .await?;
        } else {
            for event in EVENTS {
                let lower = event.to_ascii_lowercase();
                db.execute_unprepared(&format!(
                    "DROP TRIGGER IF EXISTS cart_line_touch_cart_{lower}"
                ))
                .await?;
            }
        }
        manager
            .alter_table(
                Table::alter()
                    .table(CartLine::Table)
                    .drop_column(CartLine::UpdatedAt)
                    .to_owned(),
            )
            .await
    }
}

const EVENTS: [&str; 2] = ["INSERT", "UPDATE"];

#[derive(DeriveIden)]
enum CartLine {
    Table,
    CreatedAt,
    UpdatedAt,
}
