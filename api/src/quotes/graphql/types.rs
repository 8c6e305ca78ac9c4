use async_graphql::{Context, Enum, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::{
    carts::graphql::types::{RentalPeriodObject, VatLineObject},
    catalog::graphql::types::SelectedOption,
    customers::graphql::types::CustomerObject,
    graphql::{
        context::principal,
        loaders::{
            AttachmentsOfQuote, CustomerLoader, LinesOfQuote, RevisionsOfQuote, load_error, loader,
        },
        money::Money,
    },
    kernel::ids::{self, Kind},
    orders::graphql::types::PostalAddressObject,
    pricing::Totals,
    quotes::model::{Attachment, Audience, Quote, QuoteLine, QuoteSettings, totals},
};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "QuoteStatus", remote = "crate::quotes::model::QuoteStatus")]
pub enum QuoteStatusGql {
    /// Asked for by the customer; nobody has priced it yet.
    Requested,
    /// A manager is pricing it (or preparing a new revision).
    InPreparation,
    /// Sent to the customer, valid until `validUntil`.
    Sent,
    /// Converted into an order.
    Accepted,
    Declined,
    /// Past `validUntil` (set by the server).
    Expired,
    /// Taken back by the seller.
    Withdrawn,
    /// Deleted by the customer; managers still see it.
    Deleted,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "QuoteNegotiation",
    remote = "crate::quotes::model::Negotiation"
)]
pub enum NegotiationGql {
    None,
    /// The customer asked for a negotiation; nobody has taken it up yet.
    Untreated,
    InProgress,
    Finalized,
    Cancelled,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "QuoteLineKind", remote = "crate::quotes::model::LineKind")]
pub enum LineKindGql {
    Product,
    /// Text only, no amount.
    Comment,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "CustomerType", remote = "crate::quotes::model::Audience")]
pub enum AudienceGql {
    /// Every visitor, logged in or not.
    Public,
    /// Logged-in users.
    Identified,
    /// Professional accounts.
    AccountClient,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "QuoteSortField", remote = "crate::quotes::store::SortField")]
pub enum SortFieldGql {
    CreatedAt,
    Number,
    Total,
}

/// The quote function's settings.
pub struct QuoteSettingsObject(pub QuoteSettings);

#[Object(name = "QuoteSettings")]
impl QuoteSettingsObject {
    /// The quote function on or off as a whole.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// Customer types that see quotes and may request them.
    async fn visible_to(&self) -> Vec<AudienceGql> {
        self.0.visible_to.iter().map(|a| (*a).into()).collect()
    }
    /// Whether the caller may see and request quotes.
    async fn available_to_me(&self, ctx: &Context<'_>) -> bool {
        self.0.available_to(principal(ctx).role())
    }
    /// Show a "request a quote" button on the cart.
    async fn cart_button(&self) -> bool {
        self.0.cart_button
    }
    async fn button_label(&self) -> &str {
        &self.0.button_label
    }
    /// Shown to customers in the request form.
    async fn customer_notice(&self) -> &str {
        &self.0.customer_notice
    }
    /// Converting a quote keeps its delivery (no delivery choice).
    async fn minimal_checkout(&self) -> bool {
        self.0.minimal_checkout
    }
    /// Converting a quote keeps its payment method.
    async fn lock_payment_method(&self) -> bool {
        self.0.lock_payment_method
    }
    /// How long a sent quote stays valid.
    async fn validity_days(&self) -> i32 {
        self.0.validity_days
    }
    /// Quotes may be requested on products out of stock.
    async fn allow_out_of_stock(&self) -> bool {
        self.0.allow_out_of_stock
    }
    /// Staff only: where requests are announced (null for others).
    async fn sales_manager_email(&self, ctx: &Context<'_>) -> Option<&str> {
        principal(ctx)
            .is_staff()
            .then_some(self.0.sales_manager_email.as_deref())
            .flatten()
    }
    /// Staff only: also email the customer's sales representative.
    async fn notify_sales_rep(&self, ctx: &Context<'_>) -> Option<bool> {
        principal(ctx).is_staff().then_some(self.0.notify_sales_rep)
    }
    /// Staff only: email the seller on each new request.
    async fn notify_on_request(&self, ctx: &Context<'_>) -> Option<bool> {
        principal(ctx)
            .is_staff()
            .then_some(self.0.notify_on_request)
    }
    /// Requests never sent, and their files, are deleted after this many days.
    async fn retention_days(&self) -> i32 {
        self.0.retention_days
    }
    async fn version(&self) -> i32 {
        self.0.version
    }
}

/// A quote (one revision of it).
pub struct QuoteObject(pub Quote);

impl QuoteObject {
    async fn lines_raw(&self, ctx: &Context<'_>) -> Result<Vec<QuoteLine>> {
        Ok(loader::<LinesOfQuote>(ctx)?
            .load_one(self.0.id)
            .await
            .map_err(|e| load_error(&e))?
            .unwrap_or_default())
    }

    async fn totals(&self, ctx: &Context<'_>) -> Result<Totals> {
        Ok(totals(&self.lines_raw(ctx).await?, self.0.adjustments))
    }
}

#[Object(name = "Quote")]
impl QuoteObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Quote, self.0.id))
    }
    /// `Q-2026-000123`, then `Q-2026-000123-R2` for a revision.
    async fn number(&self) -> &str {
        &self.0.number
    }
    async fn revision(&self) -> i32 {
        self.0.revision
    }
    /// Not replaced by a later revision: the one a customer may accept.
    async fn is_latest(&self) -> bool {
        self.0.superseded_by.is_none()
    }
    /// Every revision of this quote, first to last (customers: those sent to them).
    async fn revisions(&self, ctx: &Context<'_>) -> Result<Vec<QuoteObject>> {
        let staff = principal(ctx).is_staff();
        Ok(loader::<RevisionsOfQuote>(ctx)?
            .load_one(self.0.root_id)
            .await
            .map_err(|e| load_error(&e))?
            .unwrap_or_default()
            .into_iter()
            .filter(|q| {
                staff
                    || !(q.revision > 1
                        && q.status == crate::quotes::model::QuoteStatus::InPreparation)
            })
            .map(QuoteObject)
            .collect())
    }
    async fn status(&self) -> QuoteStatusGql {
        self.0.status.into()
    }
    async fn negotiation(&self) -> NegotiationGql {
        self.0.negotiation.into()
    }
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
    async fn contact_name(&self) -> &str {
        &self.0.contact.name
    }
    async fn contact_email(&self) -> Option<&str> {
        self.0.contact.email.as_deref()
    }
    async fn contact_phone(&self) -> Option<&str> {
        self.0.contact.phone.as_deref()
    }
    async fn contact_company(&self) -> &str {
        &self.0.contact.company
    }
    /// The customer's message with the request.
    async fn message(&self) -> &str {
        &self.0.message
    }
    /// Modifications to a configured product, described by the customer.
    async fn modifications(&self) -> &str {
        &self.0.modifications
    }
    /// The customer's negotiation request, as the sales rep wrote it down.
    async fn customer_comment(&self) -> &str {
        &self.0.customer_comment
    }
    /// Staff only: why the negotiation ended as it did (null for customers).
    async fn internal_comment(&self, ctx: &Context<'_>) -> Option<&str> {
        principal(ctx)
            .is_staff()
            .then_some(self.0.internal_comment.as_str())
    }
    async fn delivery_address(&self) -> Option<PostalAddressObject> {
        self.0.delivery_address.clone().map(PostalAddressObject)
    }
    async fn shipping_method(&self) -> &str {
        &self.0.shipping_method
    }
    async fn payment_method(&self) -> &str {
        &self.0.payment_method
    }
    async fn lines(&self, ctx: &Context<'_>) -> Result<Vec<QuoteLineObject>> {
        Ok(self
            .lines_raw(ctx)
            .await?
            .into_iter()
            .map(QuoteLineObject)
            .collect())
    }
    /// Files sent with the request.
    async fn attachments(&self, ctx: &Context<'_>) -> Result<Vec<QuoteAttachmentObject>> {
        Ok(loader::<AttachmentsOfQuote>(ctx)?
            .load_one(self.0.id)
            .await
            .map_err(|e| load_error(&e))?
            .unwrap_or_default()
            .into_iter()
            .map(QuoteAttachmentObject)
            .collect())
    }
    /// Product lines after their discounts, excluding VAT.
    async fn lines_total(&self, ctx: &Context<'_>) -> Result<Money> {
        Ok(Money(self.totals(ctx).await?.lines_total))
    }
    /// Footer discount in percent.
    async fn discount_percent(&self) -> Decimal {
        self.0.adjustments.discount_percent.normalize()
    }
    async fn discount(&self, ctx: &Context<'_>) -> Result<Money> {
        Ok(Money(self.totals(ctx).await?.discount))
    }
    async fn shipping(&self) -> Money {
        Money(crate::kernel::money::round_cents(
            self.0.adjustments.shipping,
        ))
    }
    async fn subtotal(&self, ctx: &Context<'_>) -> Result<Money> {
        Ok(Money(self.totals(ctx).await?.subtotal))
    }
    async fn vat(&self, ctx: &Context<'_>) -> Result<Vec<VatLineObject>> {
        Ok(self
            .totals(ctx)
            .await?
            .vat
            .into_iter()
            .map(VatLineObject)
            .collect())
    }
    async fn vat_total(&self, ctx: &Context<'_>) -> Result<Money> {
        Ok(Money(self.totals(ctx).await?.vat_total))
    }
    async fn total(&self) -> Money {
        Money(self.0.total)
    }
    async fn valid_until(&self) -> Option<DateTime<Utc>> {
        self.0.valid_until
    }
    async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.sent_at
    }
    async fn transferred_to_order(&self) -> bool {
        self.0.order_id.is_some()
    }
    /// The order it became.
    async fn order_id(&self) -> Option<ID> {
        self.0.order_id.map(|id| ID(ids::encode(Kind::Order, id)))
    }
    /// The order converted from this quote has a standing invoice.
    async fn transferred_to_invoice(&self) -> bool {
        self.0.transferred_to_invoice
    }
    /// A short-lived signed URL of the quote's PDF.
    #[allow(clippy::unused_async)] // async-graphql resolvers are async
    async fn pdf_url(&self, ctx: &Context<'_>) -> Result<String> {
        crate::documents::graphql::types::url(ctx, crate::documents::DocumentKind::Quote, self.0.id)
    }
    /// Edit version: send it back with every change.
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

pub struct QuoteLineObject(pub QuoteLine);

#[Object(name = "QuoteLine")]
impl QuoteLineObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::QuoteLine, self.0.id))
    }
    async fn kind(&self) -> LineKindGql {
        self.0.kind.into()
    }
    async fn position(&self) -> i32 {
        self.0.position
    }
    async fn product_id(&self) -> Option<ID> {
        self.0
            .product_id
            .map(|id| ID(ids::encode(Kind::Product, id)))
    }
    async fn reference(&self) -> &str {
        &self.0.reference
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The text of a comment line.
    async fn comment(&self) -> &str {
        &self.0.comment
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
    async fn unit_price(&self) -> Money {
        Money(self.0.amount.unit_price)
    }
    async fn discount_percent(&self) -> Decimal {
        self.0.discount_percent.normalize()
    }
    /// An amount off the line, after the percent.
    async fn discount_amount(&self) -> Money {
        Money(crate::kernel::money::round_cents(self.0.discount_amount))
    }
    async fn vat_rate(&self) -> Decimal {
        self.0.vat_rate.normalize()
    }
    /// After discounts, excluding VAT (zero for comment lines).
    async fn total(&self) -> Money {
        Money(self.0.amount.total)
    }
    async fn rental_period(&self) -> Option<RentalPeriodObject> {
        self.0.rental_period.map(RentalPeriodObject)
    }
}

pub struct QuoteAttachmentObject(pub Attachment);

#[Object(name = "QuoteAttachment")]
impl QuoteAttachmentObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::QuoteAttachment, self.0.id))
    }
    async fn filename(&self) -> &str {
        &self.0.filename
    }
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }
    /// Bytes.
    async fn size(&self) -> i64 {
        self.0.size
    }
    /// Where to download it: `GET` with the same `Authorization` header.
    async fn url(&self) -> String {
        format!(
            "/files/quote-attachments/{}",
            ids::encode(Kind::QuoteAttachment, self.0.id)
        )
    }
}

#[derive(InputObject, Default)]
pub struct QuoteSettingsInput {
    pub enabled: Option<bool>,
    pub visible_to: Option<Vec<AudienceGql>>,
    pub cart_button: Option<bool>,
    pub button_label: Option<String>,
    pub customer_notice: Option<String>,
    pub minimal_checkout: Option<bool>,
    pub lock_payment_method: Option<bool>,
    pub validity_days: Option<i32>,
    /// Null clears it.
    pub sales_manager_email: async_graphql::MaybeUndefined<String>,
    pub notify_sales_rep: Option<bool>,
    pub notify_on_request: Option<bool>,
    pub allow_out_of_stock: Option<bool>,
    pub retention_days: Option<i32>,
}

/// A public requester's contact (ignored for logged-in users unless given).
#[derive(InputObject, Default)]
pub struct QuoteContactInput {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    #[graphql(default)]
    pub company: String,
}

impl From<QuoteContactInput> for crate::quotes::requests::ContactInput {
    fn from(c: QuoteContactInput) -> Self {
        Self {
            name: c.name,
            email: c.email,
            phone: c.phone,
            company: c.company,
        }
    }
}

#[derive(InputObject)]
pub struct QuoteLineInput {
    pub product_id: ID,
    pub variant_id: Option<ID>,
    pub configuration: Option<Vec<crate::catalog::graphql::types::SelectionInput>>,
    pub quantity: i32,
    /// The catalog price (with options) when omitted.
    pub unit_price: Option<Decimal>,
    pub discount_percent: Option<Decimal>,
    /// An amount off the line, after the percent.
    pub discount_amount: Option<Decimal>,
}

#[derive(InputObject, Default)]
pub struct QuoteLineChangesInput {
    pub quantity: Option<i32>,
    pub unit_price: Option<Decimal>,
    pub discount_percent: Option<Decimal>,
    pub discount_amount: Option<Decimal>,
    /// The text of a comment line.
    pub comment: Option<String>,
}

#[derive(InputObject, Default)]
pub struct QuoteTermsInput {
    pub shipping_method: Option<String>,
    /// Excluding VAT.
    pub shipping: Option<Decimal>,
    pub shipping_vat_rate: Option<Decimal>,
    pub payment_method: Option<String>,
    /// Footer discount, percent.
    pub discount_percent: Option<Decimal>,
    pub delivery_address: Option<crate::orders::graphql::types::PostalAddressInput>,
}

#[derive(InputObject, Default)]
pub struct ConvertQuoteInput {
    pub delivery_address_id: Option<ID>,
    pub delivery_address: Option<crate::orders::graphql::types::PostalAddressInput>,
    pub delivery_method: Option<String>,
    pub payment_method: Option<String>,
}

#[derive(InputObject, Default)]
pub struct QuoteFilterInput {
    pub statuses: Option<Vec<QuoteStatusGql>>,
    pub negotiations: Option<Vec<NegotiationGql>>,
    pub transferred_to_order: Option<bool>,
    pub transferred_to_invoice: Option<bool>,
    pub customer_id: Option<ID>,
    pub sales_rep_id: Option<ID>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    /// Text in the number, the contact, the company and the lines.
    pub search: Option<String>,
}

#[derive(InputObject)]
pub struct QuoteSortInput {
    pub field: SortFieldGql,
    /// Ascending by default, except `CREATED_AT` (newest first).
    pub descending: Option<bool>,
}

/// What `convertQuoteToOrder` returns.
pub struct ConversionPayload {
    pub quote: Quote,
    pub order: crate::orders::Order,
}

#[Object]
impl ConversionPayload {
    async fn quote(&self) -> QuoteObject {
        QuoteObject(self.quote.clone())
    }
    async fn order(&self) -> crate::orders::graphql::types::OrderObject {
        crate::orders::graphql::types::OrderObject(self.order.clone())
    }
}

pub fn audiences(list: Vec<AudienceGql>) -> Vec<Audience> {
    list.into_iter().map(Into::into).collect()
}
