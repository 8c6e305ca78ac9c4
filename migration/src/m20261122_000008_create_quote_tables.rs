use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Sorting orders by delivery date descending keeps undated orders last: that order
        // needs a key where "no date" is the smallest value.
        manager
            .alter_table(
                Table::alter()
                    .table(SalesOrder::Table)
                    .add_column(string_len(SalesOrder::DeliverySortDesc, 10).default(""))
                    .to_owned(),
            )
            .await?;
        // Quotes give discounts as an amount too; the orders they become keep them.
        manager
            .alter_table(
                Table::alter()
                    .table(OrderLine::Table)
                    .add_column(big_integer(OrderLine::DiscountAmountE4).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(QuoteSettings::Table)
                    .col(integer(QuoteSettings::Id).primary_key())
                    .col(boolean(QuoteSettings::Enabled))
                    .col(boolean(QuoteSettings::VisiblePublic))
                    .col(boolean(QuoteSettings::VisibleIdentified))
                    .col(boolean(QuoteSettings::VisibleAccountClient))
                    .col(boolean(QuoteSettings::CartButton))
                    .col(string_len(QuoteSettings::ButtonLabel, 100))
                    .col(text(QuoteSettings::CustomerNotice))
                    .col(boolean(QuoteSettings::MinimalCheckout))
                    .col(boolean(QuoteSettings::LockPaymentMethod))
                    .col(integer(QuoteSettings::ValidityDays))
                    .col(string_len_null(QuoteSettings::SalesManagerEmail, 254))
                    .col(boolean(QuoteSettings::NotifySalesRep))
                    .col(boolean(QuoteSettings::NotifyOnRequest))
                    .col(boolean(QuoteSettings::AllowOutOfStock))
                    .col(integer(QuoteSettings::RetentionDays))
                    .col(integer(QuoteSettings::Version))
                    .col(timestamp_with_time_zone(QuoteSettings::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(QuoteSettings::Table)
                    .columns([
                        QuoteSettings::Id,
                        QuoteSettings::Enabled,
                        QuoteSettings::VisiblePublic,
                        QuoteSettings::VisibleIdentified,
                        QuoteSettings::VisibleAccountClient,
                        QuoteSettings::CartButton,
                        QuoteSettings::ButtonLabel,
                        QuoteSettings::CustomerNotice,
                        QuoteSettings::MinimalCheckout,
                        QuoteSettings::LockPaymentMethod,
                        QuoteSettings::ValidityDays,
                        QuoteSettings::NotifySalesRep,
                        QuoteSettings::NotifyOnRequest,
                        QuoteSettings::AllowOutOfStock,
                        QuoteSettings::RetentionDays,
                        QuoteSettings::Version,
                        QuoteSettings::UpdatedAt,
                    ])
                    .values_panic([
                        1.into(),
                        true.into(),
                        false.into(),
                        true.into(),
                        true.into(),
                        true.into(),
                        "Request a quote".into(),
                        "".into(),
                        false.into(),
                        false.into(),
                        30.into(),
                        false.into(),
                        true.into(),
                        false.into(),
                        30.into(),
                        0.into(),
                        Expr::current_timestamp(),
                    ])
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Quote::Table)
                    .col(pk_uuid(Quote::Id))
                    .col(string_len(Quote::Number, 40).unique_key())
                    .col(uuid(Quote::RootId))
                    .col(integer(Quote::Revision))
                    .col(uuid_null(Quote::SupersededBy))
                    .col(uuid_null(Quote::CustomerId))
                    .col(uuid_null(Quote::RequestedBy))
                    .col(string_len(Quote::ContactName, 200))
                    .col(string_len_null(Quote::ContactEmail, 254))
                    .col(string_len_null(Quote::ContactPhone, 20))
                    .col(string_len(Quote::ContactCompany, 200))
                    .col(string_len(Quote::Status, 16))
                    .col(string_len(Quote::Negotiation, 16))
                    .col(text(Quote::Message))
                    .col(text(Quote::Modifications))
                    .col(text(Quote::CustomerComment))
                    .col(text(Quote::InternalComment))
                    .col(json(Quote::DeliveryAddress))
                    .col(string_len(Quote::ShippingMethod, 100))
                    .col(big_integer(Quote::ShippingE4))
                    .col(integer(Quote::ShippingVatBp))
                    .col(string_len(Quote::PaymentMethod, 100))
                    .col(integer(Quote::DiscountBp))
                    .col(big_integer(Quote::TotalE4))
                    .col(text(Quote::SearchText))
                    .col(uuid_null(Quote::SalesRepId))
                    .col(timestamp_with_time_zone_null(Quote::ValidUntil))
                    .col(timestamp_with_time_zone_null(Quote::SentAt))
                    .col(uuid_null(Quote::OrderId))
                    .col(boolean(Quote::TransferredToInvoice))
                    .col(string_len_null(Quote::IdempotencyKey, 200).unique_key())
                    .col(integer(Quote::Version))
                    .col(timestamp_with_time_zone(Quote::CreatedAt))
                    .col(timestamp_with_time_zone(Quote::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_quote_customer")
                            .from(Quote::Table, Quote::CustomerId)
                            .to(Customer::Table, Customer::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "idx_quote_customer",
                vec![Quote::CustomerId, Quote::CreatedAt],
            ),
            ("idx_quote_status", vec![Quote::Status, Quote::ValidUntil]),
            ("idx_quote_root", vec![Quote::RootId, Quote::Revision]),
            ("idx_quote_created", vec![Quote::CreatedAt]),
            ("idx_quote_contact", vec![Quote::ContactEmail]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Quote::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(QuoteLine::Table)
                    .col(pk_uuid(QuoteLine::Id))
                    .col(uuid(QuoteLine::QuoteId))
                    .col(integer(QuoteLine::Position))
                    .col(string_len(QuoteLine::Kind, 16))
                    .col(uuid_null(QuoteLine::ProductId))
                    .col(uuid_null(QuoteLine::VariantId))
                    .col(json(QuoteLine::Configuration))
                    .col(string_len(QuoteLine::Reference, 64))
                    .col(string_len(QuoteLine::Name, 400))
                    .col(text(QuoteLine::Comment))
                    .col(integer(QuoteLine::Quantity))
                    .col(big_integer(QuoteLine::UnitPriceE4))
                    .col(integer(QuoteLine::DiscountBp))
                    .col(big_integer(QuoteLine::DiscountAmountE4))
                    .col(integer(QuoteLine::VatBp))
                    .col(timestamp_with_time_zone_null(QuoteLine::RentalStart))
                    .col(timestamp_with_time_zone_null(QuoteLine::RentalEnd))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_quote_line_quote")
                            .from(QuoteLine::Table, QuoteLine::QuoteId)
                            .to(Quote::Table, Quote::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_quote_line_quote")
                    .table(QuoteLine::Table)
                    .col(QuoteLine::QuoteId)
                    .col(QuoteLine::Position)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(QuoteAttachment::Table)
                    .col(pk_uuid(QuoteAttachment::Id))
                    .col(uuid(QuoteAttachment::QuoteId))
                    .col(string_len(QuoteAttachment::Filename, 255))
                    .col(string_len(QuoteAttachment::ContentType, 100))
                    .col(big_integer(QuoteAttachment::Size))
                    .col(blob(QuoteAttachment::Content))
                    .col(timestamp_with_time_zone(QuoteAttachment::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_quote_attachment_quote")
                            .from(QuoteAttachment::Table, QuoteAttachment::QuoteId)
                            .to(Quote::Table, Quote::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_quote_attachment_quote")
                    .table(QuoteAttachment::Table)
                    .col(QuoteAttachment::QuoteId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            QuoteAttachment::Table.into_iden(),
            QuoteLine::Table.into_iden(),
            Quote::Table.into_iden(),
            QuoteSettings::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(OrderLine::Table)
                    .drop_column(OrderLine::DiscountAmountE4)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SalesOrder::Table)
                    .drop_column(SalesOrder::DeliverySortDesc)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum SalesOrder {
    Table,
    DeliverySortDesc,
}

#[derive(DeriveIden)]
enum OrderLine {
    Table,
    DiscountAmountE4,
}

#[derive(DeriveIden)]
enum Customer {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum QuoteSettings {
    Table,
    Id,
    Enabled,
    VisiblePublic,
    VisibleIdentified,
    VisibleAccountClient,
    CartButton,
    ButtonLabel,
    CustomerNotice,
    MinimalCheckout,
    LockPaymentMethod,
    ValidityDays,
    SalesManagerEmail,
    NotifySalesRep,
    NotifyOnRequest,
    AllowOutOfStock,
    RetentionDays,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Quote {
    Table,
    Id,
    Number,
    RootId,
    Revision,
    SupersededBy,
    CustomerId,
    RequestedBy,
    ContactName,
    ContactEmail,
    ContactPhone,
    ContactCompany,
    Status,
    Negotiation,
    Message,
    Modifications,
    CustomerComment,
    InternalComment,
    DeliveryAddress,
    ShippingMethod,
    ShippingE4,
    ShippingVatBp,
    PaymentMethod,
    DiscountBp,
    TotalE4,
    SearchText,
    SalesRepId,
    ValidUntil,
    SentAt,
    OrderId,
    TransferredToInvoice,
    IdempotencyKey,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum QuoteLine {
    Table,
    Id,
    QuoteId,
    Position,
    Kind,
    ProductId,
    VariantId,
    Configuration,
    Reference,
    Name,
    Comment,
    Quantity,
    UnitPriceE4,
    DiscountBp,
    DiscountAmountE4,
    VatBp,
    RentalStart,
    RentalEnd,
}

#[derive(DeriveIden)]
enum QuoteAttachment {
    Table,
    Id,
    QuoteId,
    Filename,
    ContentType,
    Size,
    Content,
    CreatedAt,
}
