use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Indexes the production lists filter on: an order's production files (every order page that
/// shows files reads them by `order_id`, which only its foreign key named), and the claims desk
/// filtered by status, newest first.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_production_file_order")
                    .table(ProductionFile::Table)
                    .col(ProductionFile::OrderId)
                    .col(ProductionFile::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_quality_claim_status")
                    .table(QualityClaim::Table)
                    .col(QualityClaim::Status)
                    .col(QualityClaim::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            ("idx_quality_claim_status", QualityClaim::Table.into_iden()),
            (
                "idx_production_file_order",
                ProductionFile::Table.into_iden(),
            ),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ProductionFile {
    Table,
    OrderId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum QualityClaim {
    Table,
    Id,
    Status,
}
