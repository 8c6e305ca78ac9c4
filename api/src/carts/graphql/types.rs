use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::{
    carts::{
        CartView, LineView, TemplateLine, TemplateView, model::RentalPeriod, service::LineInput,
    },
    catalog::graphql::types::{
        ProductObject, SelectedOption, SelectionInput, VariantObject, raw_selections,
    },
    customers::graphql::types::CustomerObject,
    graphql::{
        loaders::{CustomerLoader, load_error, loader},
        money::Money,
    },
    kernel::ids::{self, Kind},
    pricing::VatLine,
};

/// A cart, priced from the current catalog.
pub struct CartObject(pub CartView);

#[Object(name = "Cart")]
impl CartObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Cart, self.0.id))
    }
    async fn lines(&self) -> Vec<CartLineObject> {
        self.0.lines.iter().cloned().map(CartLineObject).collect()
    }
    /// Units over all lines.
    async fn item_count(&self) -> i64 {
        self.0.lines.iter().map(|l| i64::from(l.quantity)).sum()
    }
    /// Sum of the lines, excluding VAT.
    async fn subtotal(&self) -> Money {
        Money(self.0.totals.subtotal)
    }
    /// VAT per rate.
    async fn vat(&self) -> Vec<VatLineObject> {
        self.0
            .totals
            .vat
            .iter()
            .cloned()
            .map(VatLineObject)
            .collect()
    }
    async fn vat_total(&self) -> Money {
        Money(self.0.totals.vat_total)
    }
    /// Subtotal plus VAT.
    async fn total(&self) -> Money {
        Money(self.0.totals.total)
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// VAT at one rate.
pub struct VatLineObject(pub VatLine);

#[Object(name = "VatLine")]
impl VatLineObject {
    /// Percent.
    async fn rate(&self) -> Decimal {
        self.0.rate
    }
    /// Amount the rate applies to, excluding VAT.
    async fn base(&self) -> Money {
        Money(self.0.base)
    }
    async fn amount(&self) -> Money {
        Money(self.0.amount)
    }
}

pub struct CartLineObject(pub LineView);

#[Object(name = "CartLine")]
impl CartLineObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::CartLine, self.0.id))
    }
    async fn product(&self) -> ProductObject {
        ProductObject(self.0.product.clone())
    }
    async fn variant(&self) -> Option<VariantObject> {
        self.0.variant.clone().map(VariantObject)
    }
    /// The chosen options, named.
    async fn configuration(&self) -> Vec<SelectedOption> {
        self.0
            .configuration
            .iter()
            .cloned()
            .map(SelectedOption)
            .collect()
    }
    async fn quantity(&self) -> i32 {
        self.0.quantity
    }
    /// Rental lines: the period.
    async fn rental_period(&self) -> Option<RentalPeriodObject> {
        self.0.rental_period.map(RentalPeriodObject)
    }
    /// Price of one unit with its options (rentals: daily price × days), excluding VAT.
    async fn unit_price(&self) -> Money {
        Money(self.0.unit_price())
    }
    /// Unit price × quantity, excluding VAT.
    async fn line_total(&self) -> Money {
        Money(self.0.amount.total)
    }
    /// Percent.
    async fn vat_rate(&self) -> Decimal {
        self.0.amount.vat_rate
    }
    /// VAT on this line alone (totals compute VAT per rate).
    async fn vat_amount(&self) -> Money {
        Money(self.0.amount.vat)
    }
    /// Units available (stock, or units owned for rentals); null when not counted.
    async fn available_quantity(&self) -> Option<i32> {
        self.0.available_quantity
    }
    /// Whether the quantity is available (always true when not counted).
    async fn in_stock(&self) -> bool {
        self.0
            .available_quantity
            .is_none_or(|available| self.0.quantity <= available)
    }
    /// Why this line may not be orderable as is.
    async fn warnings(&self) -> &[String] {
        &self.0.warnings
    }
}

pub struct RentalPeriodObject(pub RentalPeriod);

#[Object(name = "RentalPeriod")]
impl RentalPeriodObject {
    async fn start(&self) -> DateTime<Utc> {
        self.0.start
    }
    async fn end(&self) -> DateTime<Utc> {
        self.0.end
    }
    /// Days billed (every started 24 hours).
    async fn days(&self) -> i64 {
        self.0.days()
    }
}

/// A new cart and, for anonymous carts, the token that reaches it (shown only now).
#[derive(SimpleObject)]
pub struct CartCreatePayload {
    pub cart: CartObject,
    /// Keep it: `cart(token:)` and every cart mutation take it. Null for a logged-in user's cart.
    pub cart_token: Option<String>,
}

pub struct CartTemplateObject(pub TemplateView);

#[Object(name = "CartTemplate")]
impl CartTemplateObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::CartTemplate, self.0.id))
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The customer it is for; null when published for every customer.
    async fn customer(&self, ctx: &Context<'_>) -> Result<Option<CustomerObject>> {
        let Some(id) = self.0.customer_id else {
            return Ok(None);
        };
        let customer = loader::<CustomerLoader>(ctx)?
            .load_one(id)
            .await
            .map_err(|e| load_error(&e))?;
        Ok(customer.map(CustomerObject))
    }
    async fn lines(&self) -> Vec<CartTemplateLineObject> {
        self.0
            .lines
            .iter()
            .cloned()
            .map(CartTemplateLineObject)
            .collect()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

pub struct CartTemplateLineObject(pub TemplateLine);

#[Object(name = "CartTemplateLine")]
impl CartTemplateLineObject {
    async fn product(&self) -> ProductObject {
        ProductObject(self.0.product.clone())
    }
    async fn variant(&self) -> Option<VariantObject> {
        self.0.variant.clone().map(VariantObject)
    }
    async fn configuration(&self) -> Vec<SelectedOption> {
        self.0
            .configuration
            .iter()
            .cloned()
            .map(SelectedOption)
            .collect()
    }
    async fn quantity(&self) -> i32 {
        self.0.quantity
    }
}

#[derive(InputObject)]
pub struct RentalPeriodInput {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(InputObject)]
pub struct CartLineInput {
    pub product_id: ID,
    /// Required when the product has variants.
    pub variant_id: Option<ID>,
    /// Configurable and custom products: the options.
    pub configuration: Option<Vec<SelectionInput>>,
    #[graphql(default = 1)]
    pub quantity: i32,
    /// Rental products: the period (required there, refused elsewhere).
    pub rental_period: Option<RentalPeriodInput>,
}

impl CartLineInput {
    pub fn into_domain(self) -> Result<LineInput> {
        Ok(LineInput {
            product_id: ids::decode(Kind::Product, &self.product_id, "productId")?,
            variant_id: self
                .variant_id
                .map(|id| ids::decode(Kind::Variant, &id, "variantId"))
                .transpose()?,
            configuration: raw_selections(self.configuration),
            quantity: self.quantity,
            rental_period: self.rental_period.map(|p| (p.start, p.end)),
        })
    }
}
