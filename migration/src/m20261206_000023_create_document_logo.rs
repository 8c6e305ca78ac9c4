use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The logos issued documents print, kept by their content's SHA-256: an invoice or credit note
/// names the logo it was issued with, and prints it after the seller's logo has changed or gone.
/// Each logo is kept once, however many documents name it.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DocumentLogo::Table)
                    .col(string_len(DocumentLogo::Sha256, 64).primary_key())
                    .col(string_len(DocumentLogo::ContentType, 40))
                    .col(blob(DocumentLogo::Bytes))
                    .col(timestamp_with_time_zone(DocumentLogo::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DocumentLogo::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum DocumentLogo {
    Table,
    Sha256,
    ContentType,
    Bytes,
    CreatedAt,
}
