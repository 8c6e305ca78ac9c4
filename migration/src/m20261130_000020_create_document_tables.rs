use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Documents and production: the seller's identity on printed documents (columns of the store
/// settings row), invoices and credit notes (an immutable snapshot of what was printed),
/// production files with their versions and comments, quality claims with their photos, and the
/// links between an order and its copies (reprints, duplicates).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for column in [
            text(StoreSettings::SellerAddress).default("").to_owned(),
            string_len(StoreSettings::SellerVatId, 40)
                .default("")
                .to_owned(),
            string_len(StoreSettings::SellerEmail, 254)
                .default("")
                .to_owned(),
            text(StoreSettings::PaymentTerms).default("").to_owned(),
            blob_null(StoreSettings::Logo),
            string_len_null(StoreSettings::LogoContentType, 40),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(StoreSettings::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Invoice::Table)
                    .col(pk_uuid(Invoice::Id))
                    .col(string_len(Invoice::Number, 40).unique_key())
                    .col(string_len(Invoice::Kind, 16))
                    .col(uuid(Invoice::OrderId))
                    .col(uuid(Invoice::CustomerId))
                    .col(uuid_null(Invoice::CreditedInvoiceId))
                    // The order's ID while this invoice stands (not credited): one per order.
                    .col(uuid_null(Invoice::StandingOrderId).unique_key())
                    .col(big_integer(Invoice::TotalE4))
                    .col(json(Invoice::Document))
                    .col(text(Invoice::Reason))
                    .col(uuid_null(Invoice::IssuedBy))
                    .col(timestamp_with_time_zone(Invoice::IssuedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_invoice_order")
                            .from(Invoice::Table, Invoice::OrderId)
                            .to(SalesOrder::Table, SalesOrder::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_invoice_order", Invoice::OrderId),
            ("idx_invoice_customer", Invoice::CustomerId),
            ("idx_invoice_issued", Invoice::IssuedAt),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Invoice::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(ProductionFile::Table)
                    .col(pk_uuid(ProductionFile::Id))
                    .col(uuid(ProductionFile::OrderId))
                    .col(uuid(ProductionFile::LineId))
                    // Every version of one file shares the first version's ID.
                    .col(uuid(ProductionFile::FirstId))
                    .col(integer(ProductionFile::Version))
                    .col(boolean(ProductionFile::Current))
                    .col(string_len(ProductionFile::Filename, 255))
                    .col(string_len(ProductionFile::ContentType, 100))
                    .col(big_integer(ProductionFile::Size))
                    .col(string_len(ProductionFile::Sha256, 64))
                    .col(string_len(ProductionFile::StorageKey, 200))
                    .col(timestamp_with_time_zone_null(ProductionFile::CertifiedAt))
                    .col(uuid_null(ProductionFile::CertifiedBy))
                    .col(uuid_null(ProductionFile::UploadedBy))
                    .col(timestamp_with_time_zone(ProductionFile::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_production_file_order")
                            .from(ProductionFile::Table, ProductionFile::OrderId)
                            .to(SalesOrder::Table, SalesOrder::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "idx_production_file_line",
                vec![ProductionFile::LineId, ProductionFile::CreatedAt],
            ),
            (
                "idx_production_file_first",
                vec![ProductionFile::FirstId, ProductionFile::Version],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(ProductionFile::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(ProductionFileComment::Table)
                    .col(pk_uuid(ProductionFileComment::Id))
                    .col(uuid(ProductionFileComment::FileId))
                    .col(uuid_null(ProductionFileComment::AuthorId))
                    .col(text(ProductionFileComment::Body))
                    .col(timestamp_with_time_zone(ProductionFileComment::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_production_file_comment_file")
                            .from(ProductionFileComment::Table, ProductionFileComment::FileId)
                            .to(ProductionFile::Table, ProductionFile::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_production_file_comment_file")
                    .table(ProductionFileComment::Table)
                    .col(ProductionFileComment::FileId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(QualityClaim::Table)
                    .col(pk_uuid(QualityClaim::Id))
                    .col(uuid(QualityClaim::OrderId))
                    .col(uuid(QualityClaim::LineId))
                    .col(uuid(QualityClaim::CustomerId))
                    .col(string_len(QualityClaim::Reason, 32))
                    .col(text(QualityClaim::Description))
                    .col(string_len(QualityClaim::Status, 16))
                    .col(text(QualityClaim::DecisionNote))
                    .col(uuid_null(QualityClaim::ReprintOrderId).unique_key())
                    .col(uuid_null(QualityClaim::OpenedBy))
                    .col(uuid_null(QualityClaim::DecidedBy))
                    .col(timestamp_with_time_zone(QualityClaim::CreatedAt))
                    .col(timestamp_with_time_zone_null(QualityClaim::DecidedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_quality_claim_order")
                            .from(QualityClaim::Table, QualityClaim::OrderId)
                            .to(SalesOrder::Table, SalesOrder::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_quality_claim_order", QualityClaim::OrderId),
            ("idx_quality_claim_customer", QualityClaim::CustomerId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(QualityClaim::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(QualityClaimPhoto::Table)
                    .col(pk_uuid(QualityClaimPhoto::Id))
                    .col(uuid(QualityClaimPhoto::ClaimId))
                    .col(string_len(QualityClaimPhoto::Filename, 255))
                    .col(string_len(QualityClaimPhoto::ContentType, 100))
                    .col(big_integer(QualityClaimPhoto::Size))
                    .col(string_len(QualityClaimPhoto::StorageKey, 200))
                    .col(timestamp_with_time_zone(QualityClaimPhoto::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_quality_claim_photo_claim")
                            .from(QualityClaimPhoto::Table, QualityClaimPhoto::ClaimId)
                            .to(QualityClaim::Table, QualityClaim::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_quality_claim_photo_claim")
                    .table(QualityClaimPhoto::Table)
                    .col(QualityClaimPhoto::ClaimId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OrderCopy::Table)
                    .col(pk_uuid(OrderCopy::OrderId))
                    .col(uuid(OrderCopy::SourceOrderId))
                    .col(string_len(OrderCopy::Kind, 32))
                    .col(uuid_null(OrderCopy::ClaimId))
                    .col(uuid_null(OrderCopy::CreatedBy))
                    .col(timestamp_with_time_zone(OrderCopy::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_copy_order")
                            .from(OrderCopy::Table, OrderCopy::OrderId)
                            .to(SalesOrder::Table, SalesOrder::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_copy_source")
                            .from(OrderCopy::Table, OrderCopy::SourceOrderId)
                            .to(SalesOrder::Table, SalesOrder::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_order_copy_source")
                    .table(OrderCopy::Table)
                    .col(OrderCopy::SourceOrderId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OrderCopy::Table.into_iden(),
            QualityClaimPhoto::Table.into_iden(),
            QualityClaim::Table.into_iden(),
            ProductionFileComment::Table.into_iden(),
            ProductionFile::Table.into_iden(),
            Invoice::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for column in [
            StoreSettings::SellerAddress,
            StoreSettings::SellerVatId,
            StoreSettings::SellerEmail,
            StoreSettings::PaymentTerms,
            StoreSettings::Logo,
            StoreSettings::LogoContentType,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(StoreSettings::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum StoreSettings {
    Table,
    SellerAddress,
    SellerVatId,
    SellerEmail,
    PaymentTerms,
    Logo,
    LogoContentType,
}

#[derive(DeriveIden)]
enum SalesOrder {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Invoice {
    Table,
    Id,
    Number,
    Kind,
    OrderId,
    CustomerId,
    CreditedInvoiceId,
    StandingOrderId,
    TotalE4,
    Document,
    Reason,
    IssuedBy,
    IssuedAt,
}

#[derive(DeriveIden)]
enum ProductionFile {
    Table,
    Id,
    OrderId,
    LineId,
    FirstId,
    Version,
    Current,
    Filename,
    ContentType,
    Size,
    Sha256,
    StorageKey,
    CertifiedAt,
    CertifiedBy,
    UploadedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProductionFileComment {
    Table,
    Id,
    FileId,
    AuthorId,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum QualityClaim {
    Table,
    Id,
    OrderId,
    LineId,
    CustomerId,
    Reason,
    Description,
    Status,
    DecisionNote,
    ReprintOrderId,
    OpenedBy,
    DecidedBy,
    CreatedAt,
    DecidedAt,
}

#[derive(DeriveIden)]
enum QualityClaimPhoto {
    Table,
    Id,
    ClaimId,
    Filename,
    ContentType,
    Size,
    StorageKey,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OrderCopy {
    Table,
    OrderId,
    SourceOrderId,
    Kind,
    ClaimId,
    CreatedBy,
    CreatedAt,
}
