use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Gapless numbers (orders, later quotes, invoices): one row per series, incremented in the
        // transaction that uses the number.
        manager
            .create_table(
                Table::create()
                    .table(NumberSeries::Table)
                    .col(string_len(NumberSeries::Name, 32).primary_key())
                    .col(big_integer(NumberSeries::LastValue))
                    .to_owned(),
            )
            .await?;

        // Events of customer-owned objects (orders…) are visible to every user of the customer;
        // internal ones (notes, payments) only to staff. SQLite takes one change per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(Event::Table)
                    .add_column(uuid_null(Event::OwnerCustomerId))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Event::Table)
                    .add_column(boolean(Event::Internal).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_event_owner_customer")
                    .table(Event::Table)
                    .col(Event::OwnerCustomerId)
                    .col(Event::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(StoreSettings::Table)
                    .add_column(string_len_null(StoreSettings::OrdersEmail, 254))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(StoreSettings::Table)
                    .add_column(boolean(StoreSettings::RequireVerifiedEmail).default(false))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SalesOrder::Table)
                    .col(pk_uuid(SalesOrder::Id))
                    .col(string_len(SalesOrder::Number, 32).unique_key())
                    .col(uuid(SalesOrder::CustomerId))
                    .col(string_len(SalesOrder::Status, 16))
                    .col(string_len_null(SalesOrder::StatusBeforeHold, 16))
                    .col(string_len_null(SalesOrder::HoldReason, 500))
                    .col(string_len(SalesOrder::Source, 16))
                    .col(string_len(SalesOrder::Title, 200))
                    .col(string_len(SalesOrder::CustomerReference, 100))
                    .col(text(SalesOrder::Note))
                    .col(string_len(SalesOrder::ContactName, 200))
                    .col(string_len_null(SalesOrder::ContactEmail, 254))
                    .col(string_len_null(SalesOrder::ContactPhone, 20))
                    .col(json(SalesOrder::BillingAddress))
                    .col(json(SalesOrder::DeliveryAddress))
                    .col(string_len(SalesOrder::DeliveryMethod, 100))
                    .col(string_len(SalesOrder::PaymentMethod, 100))
                    .col(big_integer(SalesOrder::ShippingE4))
                    .col(integer(SalesOrder::ShippingVatBp))
                    .col(integer(SalesOrder::DiscountBp))
                    .col(big_integer(SalesOrder::TotalE4))
                    .col(big_integer(SalesOrder::PaidE4))
                    .col(date_null(SalesOrder::DeliveryDate))
                    .col(string_len(SalesOrder::DeliverySort, 10))
                    .col(string_len(SalesOrder::ProductSummary, 200))
                    .col(string_len(SalesOrder::CustomerCode, 32))
                    .col(text(SalesOrder::SearchText))
                    .col(uuid_null(SalesOrder::SalesRepId))
                    .col(uuid_null(SalesOrder::CreatedBy))
                    .col(string_len_null(SalesOrder::IdempotencyKey, 200).unique_key())
                    .col(big_integer(SalesOrder::CustomerSeenChange))
                    .col(big_integer(SalesOrder::SellerSeenChange))
                    .col(integer(SalesOrder::Version))
                    .col(timestamp_with_time_zone(SalesOrder::CreatedAt))
                    .col(timestamp_with_time_zone(SalesOrder::UpdatedAt))
                    .col(timestamp_with_time_zone_null(SalesOrder::ConfirmedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sales_order_customer")
                            .from(SalesOrder::Table, SalesOrder::CustomerId)
                            .to(Customer::Table, Customer::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "idx_sales_order_customer",
                vec![SalesOrder::CustomerId, SalesOrder::CreatedAt],
            ),
            (
                "idx_sales_order_status",
                vec![SalesOrder::Status, SalesOrder::CreatedAt],
            ),
            ("idx_sales_order_created", vec![SalesOrder::CreatedAt]),
            (
                "idx_sales_order_reference",
                vec![SalesOrder::CustomerReference],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(SalesOrder::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(OrderLine::Table)
                    .col(pk_uuid(OrderLine::Id))
                    .col(uuid(OrderLine::OrderId))
                    .col(integer(OrderLine::Position))
                    .col(uuid(OrderLine::ProductId))
                    .col(uuid_null(OrderLine::VariantId))
                    .col(json(OrderLine::Configuration))
                    .col(string_len(OrderLine::Reference, 64))
                    .col(string_len(OrderLine::Name, 400))
                    .col(string_len(OrderLine::Kind, 16))
                    .col(integer(OrderLine::Quantity))
                    .col(big_integer(OrderLine::UnitPriceE4))
                    .col(integer(OrderLine::DiscountBp))
                    .col(integer(OrderLine::VatBp))
                    .col(date_null(OrderLine::DeliveryDate))
                    .col(text(OrderLine::Instructions))
                    .col(boolean(OrderLine::OnHold))
                    .col(timestamp_with_time_zone_null(OrderLine::RentalStart))
                    .col(timestamp_with_time_zone_null(OrderLine::RentalEnd))
                    .col(integer(OrderLine::ReservedStock))
                    .col(timestamp_with_time_zone(OrderLine::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_line_order")
                            .from(OrderLine::Table, OrderLine::OrderId)
                            .to(SalesOrder::Table, SalesOrder::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_line_product")
                            .from(OrderLine::Table, OrderLine::ProductId)
                            .to(Product::Table, Product::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_order_line_order")
                    .table(OrderLine::Table)
                    .col(OrderLine::OrderId)
                    .col(OrderLine::Position)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OrderChange::Table)
                    .col(pk_auto(OrderChange::Id).big_integer())
                    .col(uuid(OrderChange::OrderId))
                    .col(uuid_null(OrderChange::LineId))
                    .col(string_len(OrderChange::Field, 32))
                    .col(text_null(OrderChange::OldValue))
                    .col(text_null(OrderChange::NewValue))
                    .col(string_len(OrderChange::Side, 16))
                    .col(uuid_null(OrderChange::ActorId))
                    .col(text_null(OrderChange::Comment))
                    .col(timestamp_with_time_zone(OrderChange::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_change_order")
                            .from(OrderChange::Table, OrderChange::OrderId)
                            .to(SalesOrder::Table, SalesOrder::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_order_change_order")
                    .table(OrderChange::Table)
                    .col(OrderChange::OrderId)
                    .col(OrderChange::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OrderNote::Table)
                    .col(pk_uuid(OrderNote::Id))
                    .col(uuid(OrderNote::OrderId))
                    .col(uuid_null(OrderNote::LineId))
                    .col(string_len(OrderNote::Kind, 16))
                    .col(text(OrderNote::Body))
                    .col(uuid_null(OrderNote::AuthorId))
                    .col(timestamp_with_time_zone(OrderNote::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_note_order")
                            .from(OrderNote::Table, OrderNote::OrderId)
                            .to(SalesOrder::Table, SalesOrder::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_order_note_order")
                    .table(OrderNote::Table)
                    .col(OrderNote::OrderId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OrderPayment::Table)
                    .col(pk_uuid(OrderPayment::Id))
                    .col(uuid(OrderPayment::OrderId))
                    .col(big_integer(OrderPayment::AmountE4))
                    .col(string_len(OrderPayment::Method, 100))
                    .col(date(OrderPayment::PaidOn))
                    .col(string_len(OrderPayment::Reference, 200))
                    .col(uuid_null(OrderPayment::RecordedBy))
                    .col(timestamp_with_time_zone(OrderPayment::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_payment_order")
                            .from(OrderPayment::Table, OrderPayment::OrderId)
                            .to(SalesOrder::Table, SalesOrder::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_order_payment_order")
                    .table(OrderPayment::Table)
                    .col(OrderPayment::OrderId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ScheduledCall::Table)
                    .col(pk_uuid(ScheduledCall::Id))
                    .col(uuid(ScheduledCall::OrderId))
                    .col(uuid(ScheduledCall::ManagerId))
                    .col(timestamp_with_time_zone(ScheduledCall::At))
                    .col(string_len(ScheduledCall::WithWhom, 200))
                    .col(text(ScheduledCall::Note))
                    .col(timestamp_with_time_zone(ScheduledCall::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_scheduled_call_order")
                            .from(ScheduledCall::Table, ScheduledCall::OrderId)
                            .to(SalesOrder::Table, SalesOrder::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_scheduled_call_manager")
                    .table(ScheduledCall::Table)
                    .col(ScheduledCall::ManagerId)
                    .col(ScheduledCall::At)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OrderView::Table)
                    .col(uuid(OrderView::UserId))
                    .col(uuid(OrderView::OrderId))
                    .col(timestamp_with_time_zone(OrderView::ViewedAt))
                    .primary_key(
                        Index::create()
                            .col(OrderView::UserId)
                            .col(OrderView::OrderId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_view_order")
                            .from(OrderView::Table, OrderView::OrderId)
                            .to(SalesOrder::Table, SalesOrder::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_order_view_user")
                    .table(OrderView::Table)
                    .col(OrderView::UserId)
                    .col(OrderView::ViewedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OrderView::Table.into_iden(),
            ScheduledCall::Table.into_iden(),
            OrderPayment::Table.into_iden(),
            OrderNote::Table.into_iden(),
            OrderChange::Table.into_iden(),
            OrderLine::Table.into_iden(),
            SalesOrder::Table.into_iden(),
            NumberSeries::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("idx_event_owner_customer")
                    .table(Event::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Event::OwnerCustomerId, Event::Internal] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Event::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            StoreSettings::OrdersEmail,
            StoreSettings::RequireVerifiedEmail,
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
enum NumberSeries {
    Table,
    Name,
    LastValue,
}

#[derive(DeriveIden)]
enum Event {
    Table,
    Id,
    OwnerCustomerId,
    Internal,
}

#[derive(DeriveIden)]
enum StoreSettings {
    Table,
    OrdersEmail,
    RequireVerifiedEmail,
}

#[derive(DeriveIden)]
enum Customer {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Product {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum SalesOrder {
    Table,
    Id,
    Number,
    CustomerId,
    Status,
    StatusBeforeHold,
    HoldReason,
    Source,
    Title,
    CustomerReference,
    Note,
    ContactName,
    ContactEmail,
    ContactPhone,
    BillingAddress,
    DeliveryAddress,
    DeliveryMethod,
    PaymentMethod,
    ShippingE4,
    ShippingVatBp,
    DiscountBp,
    TotalE4,
    PaidE4,
    DeliveryDate,
    DeliverySort,
    ProductSummary,
    CustomerCode,
    SearchText,
    SalesRepId,
    CreatedBy,
    IdempotencyKey,
    CustomerSeenChange,
    SellerSeenChange,
    Version,
    CreatedAt,
    UpdatedAt,
    ConfirmedAt,
}

#[derive(DeriveIden)]
enum OrderLine {
    Table,
    Id,
    OrderId,
    Position,
    ProductId,
    VariantId,
    Configuration,
    Reference,
    Name,
    Kind,
    Quantity,
    UnitPriceE4,
    DiscountBp,
    VatBp,
    DeliveryDate,
    Instructions,
    OnHold,
    RentalStart,
    RentalEnd,
    ReservedStock,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OrderChange {
    Table,
    Id,
    OrderId,
    LineId,
    Field,
    OldValue,
    NewValue,
    Side,
    ActorId,
    Comment,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OrderNote {
    Table,
    Id,
    OrderId,
    LineId,
    Kind,
    Body,
    AuthorId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OrderPayment {
    Table,
    Id,
    OrderId,
    AmountE4,
    Method,
    PaidOn,
    Reference,
    RecordedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ScheduledCall {
    Table,
    Id,
    OrderId,
    ManagerId,
    At,
    WithWhom,
    Note,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OrderView {
    Table,
    UserId,
    OrderId,
    ViewedAt,
}
