use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Whether the customer has been shown the order (checkouts at once; a manager's draft from its
/// first proposal or confirmation). A draft put on hold or cancelled before that stays hidden.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SalesOrder::Table)
                    .add_column(boolean(SalesOrder::ShownToCustomer).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(SalesOrder::Table)
                    .value(SalesOrder::ShownToCustomer, true)
                    .and_where(Expr::col(SalesOrder::Status).ne("DRAFT"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SalesOrder::Table)
                    .drop_column(SalesOrder::ShownToCustomer)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum SalesOrder {
    Table,
    Status,
    ShownToCustomer,
}
