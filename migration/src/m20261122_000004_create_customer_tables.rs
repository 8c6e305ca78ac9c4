use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Customer::Table)
                    .col(pk_uuid(Customer::Id))
                    .col(string_len_uniq(Customer::Code, 32))
                    .col(string_len(Customer::Name, 200))
                    .col(string_len(Customer::SearchText, 1200))
                    .col(string_len(Customer::Kind, 16))
                    .col(string_len_null(Customer::VatId, 32))
                    .col(string_len(Customer::Source, 16))
                    .col(string_len(Customer::Language, 8))
                    .col(uuid_null(Customer::SalesRepId))
                    .col(boolean(Customer::Blocked))
                    .col(text_null(Customer::BlockedReason))
                    .col(text(Customer::Notes))
                    .col(integer(Customer::Version))
                    .col(timestamp_with_time_zone(Customer::CreatedAt))
                    .col(timestamp_with_time_zone(Customer::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_customer_sales_rep")
                            .from(Customer::Table, Customer::SalesRepId)
                            .to(UserAccount::Table, UserAccount::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_customer_name", Customer::Name),
            ("idx_customer_blocked", Customer::Blocked),
            ("idx_customer_source", Customer::Source),
            ("idx_customer_sales_rep", Customer::SalesRepId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Customer::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(CustomerContact::Table)
                    .col(pk_uuid(CustomerContact::Id))
                    .col(uuid(CustomerContact::CustomerId))
                    .col(string_len(CustomerContact::Name, 200))
                    .col(string_len_null(CustomerContact::Email, 254))
                    .col(string_len_null(CustomerContact::Phone, 16))
                    .col(boolean(CustomerContact::IsPrimary))
                    .col(timestamp_with_time_zone(CustomerContact::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_contact_customer")
                            .from(CustomerContact::Table, CustomerContact::CustomerId)
                            .to(Customer::Table, Customer::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_contact_customer", CustomerContact::CustomerId),
            ("idx_contact_email", CustomerContact::Email),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(CustomerContact::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(CustomerAddress::Table)
                    .col(pk_uuid(CustomerAddress::Id))
                    .col(uuid(CustomerAddress::CustomerId))
                    .col(string_len(CustomerAddress::Kind, 16))
                    .col(string_len(CustomerAddress::Label, 100))
                    .col(string_len(CustomerAddress::Line1, 200))
                    .col(string_len(CustomerAddress::Line2, 200))
                    .col(string_len(CustomerAddress::PostalCode, 20))
                    .col(string_len(CustomerAddress::City, 100))
                    .col(string_len(CustomerAddress::Country, 2))
                    .col(boolean(CustomerAddress::IsDefault))
                    .col(timestamp_with_time_zone(CustomerAddress::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_address_customer")
                            .from(CustomerAddress::Table, CustomerAddress::CustomerId)
                            .to(Customer::Table, Customer::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_address_customer")
                    .table(CustomerAddress::Table)
                    .col(CustomerAddress::CustomerId)
                    .to_owned(),
            )
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(UserAccount::Table)
                    .add_column(uuid_null(UserAccount::CustomerId))
                    .to_owned(),
            )
            .await?;
        // SQLite takes one change per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(UserAccount::Table)
                    .add_column(boolean(UserAccount::BlockedByCustomer).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_user_account_customer")
                    .table(UserAccount::Table)
                    .col(UserAccount::CustomerId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_user_account_customer")
                    .table(UserAccount::Table)
                    .to_owned(),
            )
            .await?;
        for column in [UserAccount::BlockedByCustomer, UserAccount::CustomerId] {
            manager
                .alter_table(
                    Table::alter()
                        .table(UserAccount::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for table in [
            CustomerAddress::Table.into_iden(),
            CustomerContact::Table.into_iden(),
            Customer::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum UserAccount {
    Table,
    Id,
    CustomerId,
    BlockedByCustomer,
}

#[derive(DeriveIden)]
enum Customer {
    Table,
    Id,
    Code,
    Name,
    SearchText,
    Kind,
    VatId,
    Source,
    Language,
    SalesRepId,
    Blocked,
    BlockedReason,
    Notes,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CustomerContact {
    Table,
    Id,
    CustomerId,
    Name,
    Email,
    Phone,
    IsPrimary,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CustomerAddress {
    Table,
    Id,
    CustomerId,
    Kind,
    Label,
    Line1,
    Line2,
    PostalCode,
    City,
    Country,
    IsDefault,
    CreatedAt,
}
