use async_graphql::{Context, ID, Object, Result};

use super::types::{
    CreateProductInput, ProductObject, ProductOptionInput, ProductOptionObject, StoreSettingsInput,
    StoreSettingsObject, UpdateProductInput, VariantInput, VariantObject,
};
use crate::{
    catalog::{service, settings},
    graphql::context::{principal, state},
    kernel::ids::{self, Kind},
};

#[derive(Default)]
pub struct CatalogMutation;

fn variant_input(input: VariantInput) -> service::VariantInput {
    service::VariantInput {
        reference: input.reference,
        name: input.name,
        characteristics: input.characteristics.map(|list| {
            list.into_iter()
                .map(|c| (c.name.trim().to_owned(), c.value))
                .collect()
        }),
        unit_price: input.unit_price,
        track_stock: input.track_stock,
        stock: input.stock,
        active: input.active,
        position: input.position,
    }
}

fn option_input(input: ProductOptionInput) -> service::OptionInput {
    service::OptionInput {
        code: input.code,
        name: input.name,
        kind: input.kind.into(),
        required: input.required,
        min: input.min,
        max: input.max,
        price_per_unit: input.price_per_unit,
        unit: input.unit,
        position: input.position,
        values: input
            .values
            .into_iter()
            .map(|v| service::OptionValueInput {
                code: v.code,
                label: v.label,
                price_modifier: v.price_modifier,
            })
            .collect(),
    }
}

#[Object]
impl CatalogMutation {
    /// Staff: creates a product. A reference already used gets `CONFLICT`.
    async fn create_product(
        &self,
        ctx: &Context<'_>,
        input: CreateProductInput,
    ) -> Result<ProductObject> {
        let new = service::NewProduct {
            reference: input.reference,
            name: input.name,
            description: input.description,
            kind: input.kind.into(),
            unit_price: input.unit_price,
            vat_rate: input.vat_rate,
            active: input.active,
            visible: input.visible,
            track_stock: input.track_stock,
            stock: input.stock,
            rental_owned_quantity: input.rental_owned_quantity,
            rental_daily_price: input.rental_daily_price,
            rental_buffer_before_hours: input.rental_buffer_before_hours,
            rental_buffer_after_hours: input.rental_buffer_after_hours,
        };
        Ok(ProductObject(
            service::create_product(state(ctx), principal(ctx), new).await?,
        ))
    }

    /// Staff: changes a product. `version` is the one read; a stale one gets `CONFLICT`.
    async fn update_product(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        input: UpdateProductInput,
    ) -> Result<ProductObject> {
        let id = ids::decode(Kind::Product, &id, "id")?;
        let changes = service::ProductChanges {
            reference: input.reference,
            name: input.name,
            description: input.description,
            unit_price: input.unit_price,
            vat_rate: input.vat_rate,
            active: input.active,
            visible: input.visible,
            track_stock: input.track_stock,
            rental_owned_quantity: input.rental_owned_quantity,
            rental_daily_price: input.rental_daily_price,
            rental_buffer_before_hours: input.rental_buffer_before_hours,
            rental_buffer_after_hours: input.rental_buffer_after_hours,
        };
        Ok(ProductObject(
            service::update_product(state(ctx), principal(ctx), id, version, changes).await?,
        ))
    }

    /// Staff: archives a product (inactive and hidden for good).
    async fn archive_product(&self, ctx: &Context<'_>, id: ID) -> Result<ProductObject> {
        let id = ids::decode(Kind::Product, &id, "id")?;
        Ok(ProductObject(
            service::archive_product(state(ctx), principal(ctx), id).await?,
        ))
    }

    /// Staff: sets a product's stock, and optionally whether it is tracked.
    async fn set_product_stock(
        &self,
        ctx: &Context<'_>,
        id: ID,
        stock: i32,
        track_stock: Option<bool>,
    ) -> Result<ProductObject> {
        let id = ids::decode(Kind::Product, &id, "id")?;
        Ok(ProductObject(
            service::set_product_stock(state(ctx), principal(ctx), id, stock, track_stock).await?,
        ))
    }

    /// Staff: adds a variant to a STANDARD product (`reference` and `name` required).
    async fn add_product_variant(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        input: VariantInput,
    ) -> Result<VariantObject> {
        let product_id = ids::decode(Kind::Product, &product_id, "productId")?;
        let variant =
            service::add_variant(state(ctx), principal(ctx), product_id, variant_input(input))
                .await?;
        Ok(VariantObject(variant))
    }

    /// Staff: changes a variant, its stock included; `active: false` archives it.
    async fn update_product_variant(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: VariantInput,
    ) -> Result<VariantObject> {
        let id = ids::decode(Kind::Variant, &id, "id")?;
        let variant =
            service::update_variant(state(ctx), principal(ctx), id, variant_input(input)).await?;
        Ok(VariantObject(variant))
    }

    /// Staff: adds an option to a CONFIGURABLE or CUSTOM product.
    async fn add_product_option(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        input: ProductOptionInput,
    ) -> Result<ProductOptionObject> {
        let product_id = ids::decode(Kind::Product, &product_id, "productId")?;
        let option =
            service::add_option(state(ctx), principal(ctx), product_id, option_input(input))
                .await?;
        Ok(ProductOptionObject(option))
    }

    /// Staff: redefines an option and its values (same code).
    async fn update_product_option(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ProductOptionInput,
    ) -> Result<ProductOptionObject> {
        let id = ids::decode(Kind::ProductOption, &id, "id")?;
        let option =
            service::update_option(state(ctx), principal(ctx), id, option_input(input)).await?;
        Ok(ProductOptionObject(option))
    }

    /// Staff: removes an option.
    async fn remove_product_option(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let id = ids::decode(Kind::ProductOption, &id, "id")?;
        service::remove_option(state(ctx), principal(ctx), id).await?;
        Ok(true)
    }

    /// ADMIN: changes the store settings; `version` is the one read.
    async fn update_store_settings(
        &self,
        ctx: &Context<'_>,
        version: i32,
        input: StoreSettingsInput,
    ) -> Result<StoreSettingsObject> {
        let changes = settings::SettingsChanges {
            name: input.name,
            currency: input.currency_code,
            orders_email: match input.orders_email {
                async_graphql::MaybeUndefined::Undefined => None,
                async_graphql::MaybeUndefined::Null => Some(None),
                async_graphql::MaybeUndefined::Value(email) => Some(Some(email)),
            },
            require_verified_email: input.require_verified_email,
            rental_email: match input.rental_email {
                async_graphql::MaybeUndefined::Undefined => None,
                async_graphql::MaybeUndefined::Null => Some(None),
                async_graphql::MaybeUndefined::Value(email) => Some(Some(email)),
            },
        };
        Ok(StoreSettingsObject(
            settings::update(state(ctx), principal(ctx), version, changes).await?,
        ))
    }
}
