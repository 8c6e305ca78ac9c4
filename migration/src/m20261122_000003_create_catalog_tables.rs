use sea_orm_migration::{prelude::*, schema::*};

/// Money columns are `BIGINT` in ten-thousandths of the currency unit (`*_e4`): exact on SQLite
/// (whose decimals are floats) and PostgreSQL alike, and sortable. VAT rates are basis points.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StoreSettings::Table)
                    .col(integer(StoreSettings::Id).primary_key())
                    .col(string_len(StoreSettings::Name, 200))
                    .col(string_len(StoreSettings::Currency, 3))
                    .col(integer(StoreSettings::Version))
                    .col(timestamp_with_time_zone(StoreSettings::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(StoreSettings::Table)
                    .columns([
                        StoreSettings::Id,
                        StoreSettings::Name,
                        StoreSettings::Currency,
                        StoreSettings::Version,
                        StoreSettings::UpdatedAt,
                    ])
                    .values_panic([
                        1.into(),
                        "Comptoir".into(),
                        "EUR".into(),
                        0.into(),
                        Expr::current_timestamp(),
                    ])
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Product::Table)
                    .col(pk_uuid(Product::Id))
                    .col(string_len_uniq(Product::Reference, 64))
                    .col(string_len(Product::Name, 200))
                    .col(string_len(Product::SearchText, 1200))
                    .col(text(Product::Description))
                    .col(string_len(Product::Kind, 16))
                    .col(big_integer(Product::UnitPriceE4))
                    .col(integer(Product::VatRateBp))
                    .col(boolean(Product::Active))
                    .col(boolean(Product::Visible))
                    .col(boolean(Product::TrackStock))
                    .col(integer(Product::Stock))
                    .col(integer_null(Product::RentalOwnedQuantity))
                    .col(big_integer_null(Product::RentalDailyPriceE4))
                    .col(timestamp_with_time_zone_null(Product::ArchivedAt))
                    .col(integer(Product::Version))
                    .col(timestamp_with_time_zone(Product::CreatedAt))
                    .col(timestamp_with_time_zone(Product::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            ("idx_product_name", vec![Product::Name]),
            ("idx_product_price", vec![Product::UnitPriceE4]),
            ("idx_product_created", vec![Product::CreatedAt]),
            ("idx_product_kind", vec![Product::Kind]),
            (
                "idx_product_storefront",
                vec![Product::Active, Product::Visible],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Product::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index).await?;
        }

        // One namespace for product and variant references: quick add finds either, and the
        // primary key settles races between a product and a variant claiming the same one.
        manager
            .create_table(
                Table::create()
                    .table(CatalogReference::Table)
                    .col(string_len(CatalogReference::Reference, 64).primary_key())
                    .col(uuid(CatalogReference::OwnerId))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProductVariant::Table)
                    .col(pk_uuid(ProductVariant::Id))
                    .col(uuid(ProductVariant::ProductId))
                    .col(string_len_uniq(ProductVariant::Reference, 64))
                    .col(string_len(ProductVariant::Name, 200))
                    .col(json(ProductVariant::Characteristics))
                    .col(big_integer(ProductVariant::UnitPriceE4))
                    .col(boolean(ProductVariant::TrackStock))
                    .col(integer(ProductVariant::Stock))
                    .col(boolean(ProductVariant::Active))
                    .col(integer(ProductVariant::Position))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_variant_product")
                            .from(ProductVariant::Table, ProductVariant::ProductId)
                            .to(Product::Table, Product::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_variant_product")
                    .table(ProductVariant::Table)
                    .col(ProductVariant::ProductId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProductOption::Table)
                    .col(pk_uuid(ProductOption::Id))
                    .col(uuid(ProductOption::ProductId))
                    .col(string_len(ProductOption::Code, 64))
                    .col(string_len(ProductOption::Name, 200))
                    .col(string_len(ProductOption::Kind, 16))
                    .col(boolean(ProductOption::Required))
                    .col(big_integer_null(ProductOption::MinE4))
                    .col(big_integer_null(ProductOption::MaxE4))
                    .col(big_integer(ProductOption::PricePerUnitE4))
                    .col(string_len_null(ProductOption::Unit, 32))
                    .col(integer(ProductOption::Position))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_option_product")
                            .from(ProductOption::Table, ProductOption::ProductId)
                            .to(Product::Table, Product::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_option_product_code")
                    .table(ProductOption::Table)
                    .col(ProductOption::ProductId)
                    .col(ProductOption::Code)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProductOptionValue::Table)
                    .col(pk_uuid(ProductOptionValue::Id))
                    .col(uuid(ProductOptionValue::OptionId))
                    .col(string_len(ProductOptionValue::Code, 64))
                    .col(string_len(ProductOptionValue::Label, 200))
                    .col(big_integer(ProductOptionValue::PriceModifierE4))
                    .col(integer(ProductOptionValue::Position))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_option_value_option")
                            .from(ProductOptionValue::Table, ProductOptionValue::OptionId)
                            .to(ProductOption::Table, ProductOption::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_option_value_option_code")
                    .table(ProductOptionValue::Table)
                    .col(ProductOptionValue::OptionId)
                    .col(ProductOptionValue::Code)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ProductOptionValue::Table.into_iden(),
            ProductOption::Table.into_iden(),
            ProductVariant::Table.into_iden(),
            CatalogReference::Table.into_iden(),
            Product::Table.into_iden(),
            StoreSettings::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum StoreSettings {
    Table,
    Id,
    Name,
    Currency,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Product {
    Table,
    Id,
    Reference,
    Name,
    SearchText,
    Description,
    Kind,
    UnitPriceE4,
    VatRateBp,
    Active,
    Visible,
    TrackStock,
    Stock,
    RentalOwnedQuantity,
    RentalDailyPriceE4,
    ArchivedAt,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ProductVariant {
    Table,
    Id,
    ProductId,
    Reference,
    Name,
    Characteristics,
    UnitPriceE4,
    TrackStock,
    Stock,
    Active,
    Position,
}

#[derive(DeriveIden)]
enum ProductOption {
    Table,
    Id,
    ProductId,
    Code,
    Name,
    Kind,
    Required,
    MinE4,
    MaxE4,
    PricePerUnitE4,
    Unit,
    Position,
}

#[derive(DeriveIden)]
enum ProductOptionValue {
    Table,
    Id,
    OptionId,
    Code,
    Label,
    PriceModifierE4,
    Position,
}

#[derive(DeriveIden)]
enum CatalogReference {
    Table,
    Reference,
    OwnerId,
}
