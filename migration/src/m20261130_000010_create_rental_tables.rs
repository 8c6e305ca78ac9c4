use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Rental projects: a customer's booking of equipment over dates, its items, and every change a
/// manager or the customer made to it. Also the product's preparation buffers and the rental
/// desk's address.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for column in [
            integer(Product::RentalBufferBeforeHours)
                .default(0)
                .to_owned(),
            integer(Product::RentalBufferAfterHours)
                .default(0)
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Product::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(StoreSettings::Table)
                    .add_column(string_len_null(StoreSettings::RentalEmail, 254))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RentalProject::Table)
                    .col(pk_uuid(RentalProject::Id))
                    .col(string_len(RentalProject::Number, 40).unique_key())
                    .col(uuid(RentalProject::CustomerId))
                    .col(string_len(RentalProject::Source, 16))
                    .col(string_len(RentalProject::Status, 16))
                    .col(string_len(RentalProject::ContactName, 200))
                    .col(string_len_null(RentalProject::ContactEmail, 254))
                    .col(string_len_null(RentalProject::ContactPhone, 20))
                    .col(string_len(RentalProject::Company, 200))
                    .col(text(RentalProject::CustomerNote))
                    .col(text(RentalProject::ManagerNote))
                    .col(text_null(RentalProject::CancelReason))
                    .col(boolean(RentalProject::Short))
                    .col(json(RentalProject::AcceptedShortage))
                    .col(timestamp_with_time_zone(RentalProject::PeriodStart))
                    .col(timestamp_with_time_zone(RentalProject::PeriodEnd))
                    .col(big_integer(RentalProject::TotalE4))
                    .col(string_len(RentalProject::CustomerName, 200))
                    .col(text(RentalProject::SearchText))
                    .col(uuid_null(RentalProject::CreatedBy))
                    .col(uuid_null(RentalProject::RepeatedFrom))
                    .col(string_len_null(RentalProject::IdempotencyKey, 200).unique_key())
                    .col(integer(RentalProject::Version))
                    .col(timestamp_with_time_zone(RentalProject::CreatedAt))
                    .col(timestamp_with_time_zone(RentalProject::UpdatedAt))
                    .col(timestamp_with_time_zone_null(RentalProject::StartedAt))
                    .col(timestamp_with_time_zone_null(RentalProject::IssuedAt))
                    .col(timestamp_with_time_zone_null(RentalProject::ReturnedAt))
                    .col(timestamp_with_time_zone_null(RentalProject::CompletedAt))
                    .col(timestamp_with_time_zone_null(RentalProject::CancelledAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_rental_project_customer")
                            .from(RentalProject::Table, RentalProject::CustomerId)
                            .to(Customer::Table, Customer::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "idx_rental_project_status_created",
                vec![RentalProject::Status, RentalProject::CreatedAt],
            ),
            (
                "idx_rental_project_customer",
                vec![RentalProject::CustomerId, RentalProject::CreatedAt],
            ),
            (
                "idx_rental_project_period_start",
                vec![RentalProject::PeriodStart],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(RentalProject::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.clone()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(RentalItem::Table)
                    .col(pk_uuid(RentalItem::Id))
                    .col(uuid(RentalItem::ProjectId))
                    .col(integer(RentalItem::Position))
                    .col(uuid(RentalItem::ProductId))
                    .col(string_len(RentalItem::Reference, 64))
                    .col(string_len(RentalItem::Name, 300))
                    .col(integer(RentalItem::Quantity))
                    .col(timestamp_with_time_zone(RentalItem::StartAt))
                    .col(timestamp_with_time_zone(RentalItem::EndAt))
                    .col(big_integer(RentalItem::DailyPriceE4))
                    .col(big_integer(RentalItem::UnitPriceE4))
                    .col(integer(RentalItem::VatBp))
                    .col(string_len(RentalItem::Status, 16))
                    .col(timestamp_with_time_zone(RentalItem::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_rental_item_project")
                            .from(RentalItem::Table, RentalItem::ProjectId)
                            .to(RentalProject::Table, RentalProject::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_rental_item_product")
                            .from(RentalItem::Table, RentalItem::ProductId)
                            .to(Product::Table, Product::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_rental_item_project")
                    .table(RentalItem::Table)
                    .col(RentalItem::ProjectId)
                    .col(RentalItem::Position)
                    .to_owned(),
            )
            .await?;
        // What availability reads: the items that hold units of a product, by period.
        manager
            .create_index(
                Index::create()
                    .name("idx_rental_item_product_status")
                    .table(RentalItem::Table)
                    .col(RentalItem::ProductId)
                    .col(RentalItem::Status)
                    .col(RentalItem::StartAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RentalChange::Table)
                    .col(big_integer(RentalChange::Id).primary_key().auto_increment())
                    .col(uuid(RentalChange::ProjectId))
                    .col(uuid_null(RentalChange::ItemId))
                    .col(string_len(RentalChange::Field, 40))
                    .col(text_null(RentalChange::OldValue))
                    .col(text_null(RentalChange::NewValue))
                    .col(string_len(RentalChange::Side, 16))
                    .col(uuid_null(RentalChange::ActorId))
                    .col(timestamp_with_time_zone(RentalChange::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_rental_change_project")
                            .from(RentalChange::Table, RentalChange::ProjectId)
                            .to(RentalProject::Table, RentalProject::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_rental_change_project")
                    .table(RentalChange::Table)
                    .col(RentalChange::ProjectId)
                    .col(RentalChange::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RentalChange::Table.into_iden(),
            RentalItem::Table.into_iden(),
            RentalProject::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(StoreSettings::Table)
                    .drop_column(StoreSettings::RentalEmail)
                    .to_owned(),
            )
            .await?;
        for column in [
            Product::RentalBufferBeforeHours,
            Product::RentalBufferAfterHours,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Product::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Product {
    Table,
    Id,
    RentalBufferBeforeHours,
    RentalBufferAfterHours,
}

#[derive(DeriveIden)]
enum StoreSettings {
    Table,
    RentalEmail,
}

#[derive(DeriveIden)]
enum Customer {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum RentalProject {
    Table,
    Id,
    Number,
    CustomerId,
    Source,
    Status,
    ContactName,
    ContactEmail,
    ContactPhone,
    Company,
    CustomerNote,
    ManagerNote,
    CancelReason,
    Short,
    AcceptedShortage,
    PeriodStart,
    PeriodEnd,
    TotalE4,
    CustomerName,
    SearchText,
    CreatedBy,
    RepeatedFrom,
    IdempotencyKey,
    Version,
    CreatedAt,
    UpdatedAt,
    StartedAt,
    IssuedAt,
    ReturnedAt,
    CompletedAt,
    CancelledAt,
}

#[derive(DeriveIden)]
enum RentalItem {
    Table,
    Id,
    ProjectId,
    Position,
    ProductId,
    Reference,
    Name,
    Quantity,
    StartAt,
    EndAt,
    DailyPriceE4,
    UnitPriceE4,
    VatBp,
    Status,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RentalChange {
    Table,
    Id,
    ProjectId,
    ItemId,
    Field,
    OldValue,
    NewValue,
    Side,
    ActorId,
    CreatedAt,
}
