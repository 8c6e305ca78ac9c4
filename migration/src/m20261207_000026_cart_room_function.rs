use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// On PostgreSQL, `cart_has_room(cart, status, max_lines, line_key)`: locks the cart's row
/// (`FOR NO KEY UPDATE`, as an update of it would), then says whether it still has `status` and
/// room for a line under `line_key` (fewer than `max_lines` lines, or one under that key
/// already, which the add merges into).
///
/// Adding a line is then one statement outside any transaction, as on SQLite: the insert asks
/// this function in its `WHERE`. A function that is `VOLATILE` runs each of its queries with a
/// snapshot of its own, taken when the query starts: the count comes after the lock, so an add
/// that waited for another sees that other's line, and two adds never both take the last place
/// (a count in the insert itself would read the statement's snapshot, taken before the wait).
/// The count is exact only because whatever writes a cart's lines locks the cart first (adds,
/// changes and removals of lines through `carts::service::cart_to_change`, a checkout through
/// `lock_with_lines`, a merge at login through `retire`). SQLite needs nothing: its one writer
/// runs one statement at a time.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "CREATE FUNCTION cart_has_room(
                         of_cart uuid, with_status text, max_lines bigint, under_key text
                     ) RETURNS boolean
                        LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $$
                        BEGIN
                            PERFORM 1 FROM cart
                                WHERE id = of_cart AND status = with_status FOR NO KEY UPDATE;
                            IF NOT FOUND THEN
                                RETURN false;
                            END IF;
                            RETURN (SELECT count(*) FROM cart_line WHERE cart_id = of_cart)
                                       < max_lines
                                OR EXISTS (SELECT 1 FROM cart_line
                                           WHERE cart_id = of_cart AND line_key = under_key);
                        END $$;",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "DROP FUNCTION IF EXISTS cart_has_room(uuid, text, bigint, text)",
                )
                .await?;
        }
        Ok(())
    }
}
