use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Cart::Table)
                    .col(pk_uuid(Cart::Id))
                    .col(string_len_null(Cart::TokenHash, 64))
                    .col(uuid_null(Cart::UserId))
                    .col(string_len(Cart::Status, 16))
                    .col(timestamp_with_time_zone(Cart::CreatedAt))
                    .col(timestamp_with_time_zone(Cart::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_cart_user")
                            .from(Cart::Table, Cart::UserId)
                            .to(UserAccount::Table, UserAccount::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_cart_token")
                    .table(Cart::Table)
                    .col(Cart::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_cart_user")
                    .table(Cart::Table)
                    .col(Cart::UserId)
                    .col(Cart::Status)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CartLine::Table)
                    .col(pk_uuid(CartLine::Id))
                    .col(uuid(CartLine::CartId))
                    .col(uuid(CartLine::ProductId))
                    .col(uuid_null(CartLine::VariantId))
                    .col(json(CartLine::Configuration))
                    .col(string_len(CartLine::LineKey, 512))
                    .col(integer(CartLine::Quantity))
                    .col(timestamp_with_time_zone_null(CartLine::RentalStart))
                    .col(timestamp_with_time_zone_null(CartLine::RentalEnd))
                    .col(timestamp_with_time_zone(CartLine::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_cart_line_cart")
                            .from(CartLine::Table, CartLine::CartId)
                            .to(Cart::Table, Cart::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_cart_line_product")
                            .from(CartLine::Table, CartLine::ProductId)
                            .to(Product::Table, Product::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_cart_line_key")
                    .table(CartLine::Table)
                    .col(CartLine::CartId)
                    .col(CartLine::LineKey)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CartTemplate::Table)
                    .col(pk_uuid(CartTemplate::Id))
                    .col(string_len(CartTemplate::Name, 200))
                    .col(uuid_null(CartTemplate::CustomerId))
                    .col(uuid_null(CartTemplate::CreatedBy))
                    .col(timestamp_with_time_zone(CartTemplate::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_cart_template_customer")
                            .from(CartTemplate::Table, CartTemplate::CustomerId)
                            .to(Customer::Table, Customer::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_cart_template_customer")
                    .table(CartTemplate::Table)
                    .col(CartTemplate::CustomerId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CartTemplateLine::Table)
                    .col(pk_uuid(CartTemplateLine::Id))
                    .col(uuid(CartTemplateLine::TemplateId))
                    .col(uuid(CartTemplateLine::ProductId))
                    .col(uuid_null(CartTemplateLine::VariantId))
                    .col(json(CartTemplateLine::Configuration))
                    .col(integer(CartTemplateLine::Quantity))
                    .col(integer(CartTemplateLine::Position))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_cart_template_line_template")
                            .from(CartTemplateLine::Table, CartTemplateLine::TemplateId)
                            .to(CartTemplate::Table, CartTemplate::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_cart_template_line_product")
                            .from(CartTemplateLine::Table, CartTemplateLine::ProductId)
                            .to(Product::Table, Product::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_cart_template_line_template")
                    .table(CartTemplateLine::Table)
                    .col(CartTemplateLine::TemplateId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CartTemplateLine::Table.into_iden(),
            CartTemplate::Table.into_iden(),
            CartLine::Table.into_iden(),
            Cart::Table.into_iden(),
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
}

#[derive(DeriveIden)]
enum Product {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Customer {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Cart {
    Table,
    Id,
    TokenHash,
    UserId,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CartLine {
    Table,
    Id,
    CartId,
    ProductId,
    VariantId,
    Configuration,
    LineKey,
    Quantity,
    RentalStart,
    RentalEnd,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CartTemplate {
    Table,
    Id,
    Name,
    CustomerId,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CartTemplateLine {
    Table,
    Id,
    TemplateId,
    ProductId,
    VariantId,
    Configuration,
    Quantity,
    Position,
}
