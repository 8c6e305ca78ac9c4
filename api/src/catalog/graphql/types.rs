use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::{
    catalog::{
        model::{OptionValue, Product, ProductOption, RawSelection, SelectionView, Variant},
        settings::StoreSettings,
    },
    graphql::{
        loaders::{OptionsOfProduct, VariantsOfProduct, load_error, loader},
        money::Money,
    },
    kernel::ids::{self, Kind},
};

/// What a product is.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ProductKind", remote = "crate::catalog::model::ProductKind")]
pub enum ProductKindGql {
    /// A plain product, possibly with variants (size, colour).
    Standard,
    /// A product configured from options (material, finish, dimensions), priced by the server.
    Configurable,
    /// Made to order (print work), with finishing options and production files.
    Custom,
    /// Equipment rented by the day.
    Rental,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "OptionKind", remote = "crate::catalog::model::OptionKind")]
pub enum OptionKindGql {
    /// One value among the allowed ones.
    Choice,
    /// A number between bounds, priced per unit.
    Number,
}

/// Product list order.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ProductSort", remote = "crate::catalog::store::ProductSort")]
pub enum ProductSortGql {
    NameAsc,
    NameDesc,
    PriceAsc,
    PriceDesc,
    /// Most recently created first.
    Newest,
    Oldest,
}

/// A catalog product.
pub struct ProductObject(pub Product);

#[Object(name = "Product")]
impl ProductObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Product, self.0.id))
    }
    /// Unique reference (SKU), shared by no other product or variant.
    async fn reference(&self) -> &str {
        &self.0.reference
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn kind(&self) -> ProductKindGql {
        self.0.kind.into()
    }
    /// Price of one unit before options, excluding VAT.
    async fn unit_price(&self) -> Money {
        Money(self.0.unit_price)
    }
    /// VAT rate in percent (`20`, `5.5`).
    async fn vat_rate(&self) -> Decimal {
        self.0.vat_rate
    }
    /// Whether the product can be sold.
    async fn active(&self) -> bool {
        self.0.active
    }
    /// Whether the storefront shows it.
    async fn visible(&self) -> bool {
        self.0.visible
    }
    /// Archived products are inactive for good.
    async fn archived(&self) -> bool {
        self.0.archived
    }
    /// Whether stock is counted for this product.
    async fn track_stock(&self) -> bool {
        self.0.track_stock
    }
    /// Units in stock, when tracked.
    async fn stock(&self) -> Option<i32> {
        self.0.track_stock.then_some(self.0.stock)
    }
    /// In stock: a product with variants when one of them is; one without when its stock is not
    /// tracked or units are left.
    async fn in_stock(&self, ctx: &Context<'_>) -> Result<bool> {
        let variants = self.variants(ctx).await?;
        if variants.is_empty() {
            return Ok(!self.0.track_stock || self.0.stock > 0);
        }
        Ok(variants.iter().any(|v| !v.0.track_stock || v.0.stock > 0))
    }
    /// RENTAL: how many units the company owns.
    async fn rental_owned_quantity(&self) -> Option<i32> {
        self.0.rental_owned_quantity
    }
    /// RENTAL: price of one unit for one day, excluding VAT.
    async fn rental_daily_price(&self) -> Option<Money> {
        self.0.rental_daily_price.map(Money)
    }
    /// RENTAL: hours of preparation before each rental, during which its units are not free.
    async fn rental_buffer_before_hours(&self) -> Option<i32> {
        self.0.rental_buffer.map(|b| b.before_hours)
    }
    /// RENTAL: hours of preparation after each rental.
    async fn rental_buffer_after_hours(&self) -> Option<i32> {
        self.0.rental_buffer.map(|b| b.after_hours)
    }
    /// Variants (active ones only, for the public).
    async fn variants(&self, ctx: &Context<'_>) -> Result<Vec<VariantObject>> {
        let variants = loader::<VariantsOfProduct>(ctx)?
            .load_one(self.0.id)
            .await
            .map_err(|e| load_error(&e))?;
        Ok(variants
            .unwrap_or_default()
            .into_iter()
            .map(VariantObject)
            .collect())
    }
    /// Options of configurable and custom products.
    async fn options(&self, ctx: &Context<'_>) -> Result<Vec<ProductOptionObject>> {
        let options = loader::<OptionsOfProduct>(ctx)?
            .load_one(self.0.id)
            .await
            .map_err(|e| load_error(&e))?;
        Ok(options
            .unwrap_or_default()
            .into_iter()
            .map(ProductOptionObject)
            .collect())
    }
    /// Edit version: send it back with `updateProduct`.
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A named characteristic of a variant (`size: XL`).
#[derive(SimpleObject)]
pub struct Characteristic {
    pub name: String,
    pub value: String,
}

/// A variant of a standard product, with its own reference, price and stock.
pub struct VariantObject(pub Variant);

#[Object(name = "ProductVariant")]
impl VariantObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Variant, self.0.id))
    }
    async fn reference(&self) -> &str {
        &self.0.reference
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn characteristics(&self) -> Vec<Characteristic> {
        self.0
            .characteristics
            .iter()
            .map(|(name, value)| Characteristic {
                name: name.clone(),
                value: value.clone(),
            })
            .collect()
    }
    /// Price of one unit, excluding VAT.
    async fn unit_price(&self) -> Money {
        Money(self.0.unit_price)
    }
    async fn track_stock(&self) -> bool {
        self.0.track_stock
    }
    /// Units in stock, when tracked.
    async fn stock(&self) -> Option<i32> {
        self.0.track_stock.then_some(self.0.stock)
    }
    async fn in_stock(&self) -> bool {
        !self.0.track_stock || self.0.stock > 0
    }
    async fn active(&self) -> bool {
        self.0.active
    }
}

/// An option of a configurable or custom product.
pub struct ProductOptionObject(pub ProductOption);

#[Object(name = "ProductOption")]
impl ProductOptionObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::ProductOption, self.0.id))
    }
    /// Code used in configurations.
    async fn code(&self) -> &str {
        &self.0.code
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn kind(&self) -> OptionKindGql {
        self.0.kind.into()
    }
    async fn required(&self) -> bool {
        self.0.required
    }
    /// NUMBER: lowest allowed.
    async fn min(&self) -> Option<Decimal> {
        self.0.min
    }
    /// NUMBER: highest allowed.
    async fn max(&self) -> Option<Decimal> {
        self.0.max
    }
    /// NUMBER: price added per unit of the number.
    async fn price_per_unit(&self) -> Money {
        Money(self.0.price_per_unit)
    }
    /// NUMBER: unit of the number (`m`, `m²`).
    async fn unit(&self) -> Option<&str> {
        self.0.unit.as_deref()
    }
    /// CHOICE: the allowed values.
    async fn values(&self) -> Vec<OptionValueObject> {
        self.0
            .values
            .iter()
            .cloned()
            .map(OptionValueObject)
            .collect()
    }
}

pub struct OptionValueObject(pub OptionValue);

#[Object(name = "ProductOptionValue")]
impl OptionValueObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::OptionValue, self.0.id))
    }
    async fn code(&self) -> &str {
        &self.0.code
    }
    async fn label(&self) -> &str {
        &self.0.label
    }
    /// Added to the unit price when chosen (may be negative).
    async fn price_modifier(&self) -> Money {
        Money(self.0.price_modifier)
    }
}

/// One option of a configuration: a value code for CHOICE options, a number for NUMBER ones.
#[derive(InputObject, Clone)]
#[graphql(name = "ConfigurationInput")]
pub struct SelectionInput {
    pub option: String,
    pub value: Option<String>,
    pub number: Option<Decimal>,
}

pub fn raw_selections(input: Option<Vec<SelectionInput>>) -> Vec<RawSelection> {
    input
        .unwrap_or_default()
        .into_iter()
        .map(|s| RawSelection {
            option: s.option,
            value: s.value,
            number: s.number,
        })
        .collect()
}

/// A chosen option, with the names a customer reads.
pub struct SelectedOption(pub SelectionView);

#[Object]
impl SelectedOption {
    async fn option(&self) -> &str {
        &self.0.option
    }
    async fn option_name(&self) -> &str {
        &self.0.option_name
    }
    async fn value(&self) -> Option<&str> {
        self.0.value.as_deref()
    }
    async fn value_label(&self) -> Option<&str> {
        self.0.value_label.as_deref()
    }
    async fn number(&self) -> Option<Decimal> {
        self.0.number
    }
    async fn unit(&self) -> Option<&str> {
        self.0.unit.as_deref()
    }
}

/// A validated configuration and its unit price.
pub struct ConfigurationPrice {
    pub unit_price: Decimal,
    pub selections: Vec<SelectionView>,
}

#[Object]
impl ConfigurationPrice {
    /// Unit price with the options, excluding VAT.
    async fn unit_price(&self) -> Money {
        Money(self.unit_price)
    }
    async fn configuration(&self) -> Vec<SelectedOption> {
        self.selections
            .iter()
            .cloned()
            .map(SelectedOption)
            .collect()
    }
}

/// The seller's settings.
pub struct StoreSettingsObject(pub StoreSettings);

#[Object(name = "StoreSettings")]
impl StoreSettingsObject {
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// ISO 4217 code of every amount.
    async fn currency_code(&self) -> &str {
        &self.0.currency
    }
    /// Staff only: where new orders are announced (null for others).
    async fn orders_email(&self, ctx: &Context<'_>) -> Option<&str> {
        crate::graphql::context::principal(ctx)
            .is_staff()
            .then_some(self.0.orders_email.as_deref())
            .flatten()
    }
    /// Staff only: where new rental orders are announced (null for others).
    async fn rental_email(&self, ctx: &Context<'_>) -> Option<&str> {
        crate::graphql::context::principal(ctx)
            .is_staff()
            .then_some(self.0.rental_email.as_deref())
            .flatten()
    }
    /// Customers must verify their email before ordering or requesting quotes.
    async fn require_verified_email(&self) -> bool {
        self.0.require_verified_email
    }
    async fn version(&self) -> i32 {
        self.0.version
    }
}

#[derive(InputObject, Default)]
pub struct ProductFilterInput {
    pub kind: Option<ProductKindGql>,
    /// Text searched in reference, name and description.
    pub search: Option<String>,
    /// Only products in stock (or not tracked).
    #[graphql(default)]
    pub in_stock: bool,
    pub min_price: Option<Decimal>,
    pub max_price: Option<Decimal>,
    /// Staff only: filter on the active flag (the public sees active products only).
    pub active: Option<bool>,
}

#[derive(InputObject)]
pub struct CreateProductInput {
    pub reference: String,
    pub name: String,
    #[graphql(default)]
    pub description: String,
    pub kind: ProductKindGql,
    /// Excluding VAT, at most 4 decimals.
    pub unit_price: Decimal,
    /// Percent.
    pub vat_rate: Decimal,
    #[graphql(default = true)]
    pub active: bool,
    #[graphql(default = true)]
    pub visible: bool,
    #[graphql(default)]
    pub track_stock: bool,
    #[graphql(default)]
    pub stock: i32,
    /// RENTAL only, required there.
    pub rental_owned_quantity: Option<i32>,
    /// RENTAL only, required there.
    pub rental_daily_price: Option<Decimal>,
    /// RENTAL: hours of preparation before each rental, when its units are not free (0 to 720).
    pub rental_buffer_before_hours: Option<i32>,
    /// RENTAL: hours of preparation after each rental (0 to 720).
    pub rental_buffer_after_hours: Option<i32>,
}

/// Fields to change; absent fields stay.
#[derive(InputObject)]
pub struct UpdateProductInput {
    pub reference: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub unit_price: Option<Decimal>,
    pub vat_rate: Option<Decimal>,
    pub active: Option<bool>,
    pub visible: Option<bool>,
    pub track_stock: Option<bool>,
    pub rental_owned_quantity: Option<i32>,
    pub rental_daily_price: Option<Decimal>,
    pub rental_buffer_before_hours: Option<i32>,
    pub rental_buffer_after_hours: Option<i32>,
}

#[derive(InputObject)]
pub struct CharacteristicInput {
    pub name: String,
    pub value: String,
}

/// A variant; on update, absent fields stay.
#[derive(InputObject)]
pub struct VariantInput {
    pub reference: Option<String>,
    pub name: Option<String>,
    pub characteristics: Option<Vec<CharacteristicInput>>,
    /// Defaults to the product's price.
    pub unit_price: Option<Decimal>,
    pub track_stock: Option<bool>,
    pub stock: Option<i32>,
    /// `false` archives the variant.
    pub active: Option<bool>,
    pub position: Option<i32>,
}

#[derive(InputObject)]
pub struct OptionValueInput {
    pub code: String,
    pub label: String,
    #[graphql(default)]
    pub price_modifier: Decimal,
}

#[derive(InputObject)]
pub struct ProductOptionInput {
    /// Lower-case code used in configurations; cannot change later.
    pub code: String,
    pub name: String,
    pub kind: OptionKindGql,
    #[graphql(default)]
    pub required: bool,
    pub min: Option<Decimal>,
    pub max: Option<Decimal>,
    #[graphql(default)]
    pub price_per_unit: Decimal,
    pub unit: Option<String>,
    #[graphql(default)]
    pub position: i32,
    /// CHOICE: the allowed values (replaces them all on update).
    #[graphql(default)]
    pub values: Vec<OptionValueInput>,
}

#[derive(InputObject)]
pub struct StoreSettingsInput {
    pub name: Option<String>,
    pub currency_code: Option<String>,
    /// Where new orders are announced; null clears it.
    pub orders_email: async_graphql::MaybeUndefined<String>,
    pub require_verified_email: Option<bool>,
    /// Where new rental orders are announced (the rental desk); null clears it.
    pub rental_email: async_graphql::MaybeUndefined<String>,
}

/// Loads what the query asks of a page of products (variants, options) in one statement per
/// relation and primes the request's loaders: the number of statements does not depend on the
/// page size, however fast or slow the fields resolve.
pub async fn prefetch(ctx: &Context<'_>, products: &[Product]) -> Result<()> {
    let node = ctx.look_ahead().field("edges").field("node");
    let ids: Vec<uuid::Uuid> = products.iter().map(|p| p.id).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let state = crate::graphql::context::state(ctx);
    let db = state.db.read();
    if node.field("variants").exists() || node.field("inStock").exists() {
        let public = !crate::graphql::context::principal(ctx).is_staff();
        let variants = crate::catalog::service::variants_of(db, &ids, public).await?;
        let mut grouped: std::collections::HashMap<uuid::Uuid, Vec<Variant>> =
            ids.iter().map(|id| (*id, Vec::new())).collect();
        for variant in variants {
            grouped.entry(variant.product_id).or_default().push(variant);
        }
        loader::<VariantsOfProduct>(ctx)?.feed_many(grouped).await;
    }
    if node.field("options").exists() {
        let options = crate::catalog::service::options_of(db, &ids).await?;
        let mut grouped: std::collections::HashMap<uuid::Uuid, Vec<ProductOption>> =
            ids.iter().map(|id| (*id, Vec::new())).collect();
        for option in options {
            grouped.entry(option.product_id).or_default().push(option);
        }
        loader::<OptionsOfProduct>(ctx)?.feed_many(grouped).await;
    }
    Ok(())
}
