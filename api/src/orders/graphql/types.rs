use async_graphql::{Context, Enum, ID, InputObject, Object, Result};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::{
    auth::graphql::UserObject,
    carts::graphql::types::{RentalPeriodObject, VatLineObject},
    catalog::graphql::types::SelectedOption,
    customers::graphql::types::CustomerObject,
    events::{Audience, graphql::EventObject},
    graphql::{
        context::principal,
        loaders::{
            CallsOfOrder, ChangesOfOrder, CustomerLoader, LinesOfOrder, NotesOfOrder,
            PaymentsOfOrder, RequestLoader, TimelineOfOrder, UserLoader, load_error, loader,
        },
        money::Money,
    },
    kernel::ids::{self, Kind},
    orders::{
        model::{
            Change, ChangedField, Contact, Note, Order, OrderLine, Payment, PostalAddress,
            ScheduledCall, Side, changed_fields, totals,
        },
        service::side_of,
    },
    pricing::Totals,
};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "OrderStatus", remote = "crate::orders::model::OrderStatus")]
pub enum OrderStatusGql {
    /// A manager is composing it; the customer does not see it yet.
    Draft,
    /// Placed by the customer (or answered by them): the seller's turn.
    Submitted,
    /// Sent to the customer for acceptance.
    Proposed,
    /// Accepted by the customer (or confirmed by the seller as placed).
    Confirmed,
    InProgress,
    Shipped,
    Completed,
    Cancelled,
    OnHold,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "OrderSource", remote = "crate::orders::model::OrderSource")]
pub enum OrderSourceGql {
    /// The customer's checkout.
    Checkout,
    /// Created by a manager for the customer.
    Backoffice,
    /// Converted from a quote.
    Quote,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ChangeSide", remote = "crate::orders::model::Side")]
pub enum SideGql {
    Seller,
    Customer,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "OrderNoteKind", remote = "crate::orders::model::NoteKind")]
pub enum NoteKindGql {
    /// An internal note about the order.
    Internal,
    /// About the payment.
    Payment,
    /// About the invoice.
    Invoice,
    /// About the customer's purchase order.
    PurchaseOrder,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "OrderSortField", remote = "crate::orders::store::SortField")]
pub enum SortFieldGql {
    Number,
    Title,
    CustomerCode,
    /// The first line's product name.
    Product,
    CreatedAt,
    /// The earliest confirmed delivery date (orders without one last, in both directions).
    DeliveryDate,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "OrderMessageTemplate",
    remote = "crate::orders::desk::OrderTemplate"
)]
pub enum OrderTemplateGql {
    /// Free text: `subject` and `body` as typed.
    Free,
    Received,
    Proposed,
    Confirmed,
    Shipped,
    PaymentReminder,
}

/// An order: a customer's checkout or a manager's draft, shared by seller and customer.
pub struct OrderObject(pub Order);

impl OrderObject {
    async fn lines_raw(&self, ctx: &Context<'_>) -> Result<Vec<OrderLine>> {
        Ok(loader::<LinesOfOrder>(ctx)?
            .load_one(self.0.id)
            .await
            .map_err(|e| load_error(&e))?
            .unwrap_or_default())
    }

    async fn totals(&self, ctx: &Context<'_>) -> Result<Totals> {
        Ok(totals(&self.lines_raw(ctx).await?, self.0.adjustments))
    }

    /// The other side's changes the viewer has not seen yet.
    async fn unseen(&self, ctx: &Context<'_>) -> Result<Vec<Change>> {
        let side = side_of(principal(ctx));
        let seen = self.0.seen_by(side);
        Ok(all_changes(ctx, self.0.id)
            .await?
            .into_iter()
            .filter(|c| c.id > seen && c.side != side)
            .collect())
    }
}

async fn all_changes(ctx: &Context<'_>, order_id: uuid::Uuid) -> Result<Vec<Change>> {
    let changes: &RequestLoader<ChangesOfOrder> = loader(ctx)?;
    Ok(changes
        .load_one(order_id)
        .await
        .map_err(|e| load_error(&e))?
        .unwrap_or_default())
}

#[Object(name = "Order")]
impl OrderObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Order, self.0.id))
    }
    /// The order number (`ORD-000042`).
    async fn number(&self) -> &str {
        &self.0.number
    }
    async fn status(&self) -> OrderStatusGql {
        self.0.status.into()
    }
    /// While `ON_HOLD`: the status releasing returns to.
    async fn status_before_hold(&self) -> Option<OrderStatusGql> {
        self.0.status_before_hold.map(Into::into)
    }
    async fn hold_reason(&self) -> Option<&str> {
        self.0.hold_reason.as_deref()
    }
    async fn source(&self) -> OrderSourceGql {
        self.0.source.into()
    }
    /// How the customer names the job.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// The customer's own reference (their purchase order number).
    async fn customer_reference(&self) -> &str {
        &self.0.customer_reference
    }
    /// The customer's note.
    async fn note(&self) -> &str {
        &self.0.note
    }
    async fn customer(&self, ctx: &Context<'_>) -> Result<Option<CustomerObject>> {
        let customer = loader::<CustomerLoader>(ctx)?
            .load_one(self.0.customer_id)
            .await
            .map_err(|e| load_error(&e))?;
        Ok(customer.map(CustomerObject))
    }
    async fn contact(&self) -> OrderContactObject {
        OrderContactObject(self.0.contact.clone())
    }
    async fn billing_address(&self) -> PostalAddressObject {
        PostalAddressObject(self.0.billing_address.clone())
    }
    async fn delivery_address(&self) -> PostalAddressObject {
        PostalAddressObject(self.0.delivery_address.clone())
    }
    async fn delivery_method(&self) -> &str {
        &self.0.delivery_method
    }
    async fn payment_method(&self) -> &str {
        &self.0.payment_method
    }
    /// The earliest confirmed delivery date of its lines.
    async fn delivery_date(&self) -> Option<NaiveDate> {
        self.0.delivery_date
    }
    async fn lines(&self, ctx: &Context<'_>) -> Result<Vec<OrderLineObject>> {
        let side = side_of(principal(ctx));
        let seen = self.0.seen_by(side);
        let staff = principal(ctx).is_staff();
        Ok(self
            .lines_raw(ctx)
            .await?
            .into_iter()
            .map(|line| OrderLineObject {
                line,
                side,
                seen,
                staff,
            })
            .collect())
    }
    /// Sum of the lines (after line discounts), excluding VAT.
    async fn lines_total(&self, ctx: &Context<'_>) -> Result<Money> {
        Ok(Money(self.totals(ctx).await?.lines_total))
    }
    /// Footer discount in percent.
    async fn discount_percent(&self) -> Decimal {
        self.0.adjustments.discount_percent.normalize()
    }
    /// Footer discount amount, excluding VAT.
    async fn discount(&self, ctx: &Context<'_>) -> Result<Money> {
        Ok(Money(self.totals(ctx).await?.discount))
    }
    /// Shipping, excluding VAT.
    async fn shipping(&self) -> Money {
        Money(crate::kernel::money::round_cents(
            self.0.adjustments.shipping,
        ))
    }
    async fn shipping_vat_rate(&self) -> Decimal {
        self.0.adjustments.shipping_vat_rate.normalize()
    }
    /// What VAT applies to: lines less the discount, plus shipping.
    async fn subtotal(&self, ctx: &Context<'_>) -> Result<Money> {
        Ok(Money(self.totals(ctx).await?.subtotal))
    }
    /// VAT per rate.
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
    /// Subtotal plus VAT.
    async fn total(&self) -> Money {
        Money(self.0.total)
    }
    /// Sum of the payments received.
    async fn amount_paid(&self) -> Money {
        Money(self.0.paid)
    }
    async fn balance_due(&self) -> Money {
        Money(self.0.balance_due())
    }
    /// Fully paid.
    async fn paid(&self) -> bool {
        self.0.total > Decimal::ZERO && self.0.balance_due() <= Decimal::ZERO
    }
    /// Staff only: payments received (empty for customers).
    async fn payments(&self, ctx: &Context<'_>) -> Result<Vec<PaymentObject>> {
        if !principal(ctx).is_staff() {
            return Ok(Vec::new());
        }
        Ok(loader::<PaymentsOfOrder>(ctx)?
            .load_one(self.0.id)
            .await
            .map_err(|e| load_error(&e))?
            .unwrap_or_default()
            .into_iter()
            .map(PaymentObject)
            .collect())
    }
    /// Staff only: internal notes and comments on payment, invoice and purchase order (empty
    /// for customers).
    async fn notes(&self, ctx: &Context<'_>) -> Result<Vec<OrderNoteObject>> {
        if !principal(ctx).is_staff() {
            return Ok(Vec::new());
        }
        Ok(loader::<NotesOfOrder>(ctx)?
            .load_one(self.0.id)
            .await
            .map_err(|e| load_error(&e))?
            .unwrap_or_default()
            .into_iter()
            .map(OrderNoteObject)
            .collect())
    }
    /// Staff only: calls planned about this order (empty for customers).
    async fn scheduled_calls(&self, ctx: &Context<'_>) -> Result<Vec<ScheduledCallObject>> {
        if !principal(ctx).is_staff() {
            return Ok(Vec::new());
        }
        Ok(loader::<CallsOfOrder>(ctx)?
            .load_one(self.0.id)
            .await
            .map_err(|e| load_error(&e))?
            .unwrap_or_default()
            .into_iter()
            .map(ScheduledCallObject)
            .collect())
    }
    /// Changes by the other side (the customer's for staff, the seller's for the customer)
    /// since the viewer last accepted the order or marked it seen; with `all`, every change.
    async fn changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] all: bool,
    ) -> Result<Vec<OrderChangeObject>> {
        let changes = if all {
            let changes = all_changes(ctx, self.0.id).await?;
            if principal(ctx).is_staff() {
                changes
            } else {
                after_draft(changes)
            }
        } else {
            self.unseen(ctx).await?
        };
        Ok(changes.into_iter().map(OrderChangeObject).collect())
    }
    /// Everything that happened to the order, newest first: status changes, edits, messages;
    /// for staff also notes, payments and calls.
    async fn timeline(&self, ctx: &Context<'_>) -> Result<Vec<EventObject>> {
        let audience = Audience::of(principal(ctx))?;
        Ok(loader::<TimelineOfOrder>(ctx)?
            .load_one(self.0.id)
            .await
            .map_err(|e| load_error(&e))?
            .unwrap_or_default()
            .into_iter()
            .filter(|e| audience.may_see(e))
            .map(EventObject::new)
            .collect())
    }
    /// Staff only: the customer's sales representative (null for customers).
    async fn sales_rep(&self, ctx: &Context<'_>) -> Result<Option<UserObject>> {
        let Some(id) = self.0.sales_rep_id.filter(|_| principal(ctx).is_staff()) else {
            return Ok(None);
        };
        let user = loader::<UserLoader>(ctx)?
            .load_one(id)
            .await
            .map_err(|e| load_error(&e))?;
        Ok(user.map(|user| UserObject::seen_by(user, principal(ctx))))
    }
    /// Edit version: every mutation of the order takes the version it was based on.
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn confirmed_at(&self) -> Option<DateTime<Utc>> {
        self.0.confirmed_at
    }
    /// The order has a standing invoice (issued, not cancelled by a credit note).
    async fn transferred_to_invoice(&self, ctx: &Context<'_>) -> Result<bool> {
        crate::documents::graphql::types::invoiced(ctx, self.0.id).await
    }
    /// Its invoices and credit notes, oldest first.
    async fn invoices(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<crate::documents::graphql::types::InvoiceObject>> {
        crate::documents::graphql::types::invoices_of(ctx, self.0.id).await
    }
    /// A short-lived signed URL of one of the order's PDFs (work sheets: staff only).
    #[allow(clippy::unused_async)] // async-graphql resolvers are async
    async fn document_url(
        &self,
        ctx: &Context<'_>,
        kind: crate::documents::graphql::types::OrderDocumentKindGql,
    ) -> Result<String> {
        crate::documents::graphql::types::url(ctx, kind.into(), self.0.id)
    }
    /// Lines ready for production: every current production file certified.
    async fn ready_line_ids(&self, ctx: &Context<'_>) -> Result<Vec<ID>> {
        crate::production::graphql::types::ready_lines(ctx, self.0.id).await
    }
    async fn quality_claims(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<crate::production::graphql::types::QualityClaimObject>> {
        crate::production::graphql::types::claims_of(ctx, self.0.id).await
    }
    /// The order this one was made from (reprint, duplicate, new order, claim reprint).
    async fn copied_from(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<crate::production::graphql::types::OrderCopyLinkObject>> {
        crate::production::graphql::types::source_of(ctx, self.0.id).await
    }
    /// The orders made from this one.
    async fn copies(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<crate::production::graphql::types::OrderCopyLinkObject>> {
        crate::production::graphql::types::copies_of(ctx, self.0.id).await
    }
}

/// Drops what the seller changed while composing a draft, before the customer first saw the
/// order (the change that moved it out of `DRAFT` marks the start).
fn after_draft(changes: Vec<Change>) -> Vec<Change> {
    let start = changes
        .iter()
        .find(|c| c.field == "status" && c.old_value.as_deref() == Some("DRAFT"))
        .map_or(0, |c| c.id);
    changes.into_iter().filter(|c| c.id >= start).collect()
}

/// A line of an order.
pub struct OrderLineObject {
    line: OrderLine,
    side: Side,
    seen: i64,
    staff: bool,
}

#[Object(name = "OrderLine")]
impl OrderLineObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::OrderLine, self.line.id))
    }
    async fn position(&self) -> i32 {
        self.line.position
    }
    async fn product_id(&self) -> ID {
        ID(ids::encode(Kind::Product, self.line.product_id))
    }
    async fn variant_id(&self) -> Option<ID> {
        self.line
            .variant_id
            .map(|id| ID(ids::encode(Kind::Variant, id)))
    }
    /// The reference as it was when the line was added.
    async fn reference(&self) -> &str {
        &self.line.reference
    }
    /// The product (and variant) name as it was when the line was added.
    async fn name(&self) -> &str {
        &self.line.name
    }
    async fn configuration(&self) -> Vec<SelectedOption> {
        self.line
            .configuration
            .iter()
            .cloned()
            .map(SelectedOption)
            .collect()
    }
    async fn quantity(&self) -> i32 {
        self.line.quantity
    }
    /// Excluding VAT.
    async fn unit_price(&self) -> Money {
        Money(self.line.amount.unit_price)
    }
    async fn discount_percent(&self) -> Decimal {
        self.line.discount_percent.normalize()
    }
    async fn vat_rate(&self) -> Decimal {
        self.line.vat_rate.normalize()
    }
    /// Quantity × unit price less the discount, excluding VAT.
    async fn total(&self) -> Money {
        Money(self.line.amount.total)
    }
    /// Confirmed delivery date.
    async fn delivery_date(&self) -> Option<NaiveDate> {
        self.line.delivery_date
    }
    async fn rental_period(&self) -> Option<RentalPeriodObject> {
        self.line.rental_period.map(RentalPeriodObject)
    }
    /// Staff only: production instructions (finishing options, workshop notes); null for
    /// customers.
    async fn instructions(&self) -> Option<&str> {
        self.staff.then_some(self.line.instructions.as_str())
    }
    /// Staff only: the line is held in production (null for customers).
    async fn on_hold(&self) -> Option<bool> {
        self.staff.then_some(self.line.on_hold)
    }
    /// Fields the other side changed since the viewer last looked, with the value the viewer
    /// saw: what a client highlights.
    async fn changed_fields(&self, ctx: &Context<'_>) -> Result<Vec<ChangedFieldObject>> {
        let changes = all_changes(ctx, self.line.order_id).await?;
        let mine = changes
            .iter()
            .filter(|c| c.line_id == Some(self.line.id) && c.id > self.seen && c.side != self.side);
        Ok(changed_fields(mine)
            .into_iter()
            .map(ChangedFieldObject)
            .collect())
    }
    /// The current version of each production file of the line.
    async fn production_files(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<crate::production::graphql::types::ProductionFileObject>> {
        crate::production::graphql::types::line_files(ctx, self.line.order_id, self.line.id).await
    }
    /// The line has production files and every current one is certified.
    async fn production_ready(&self, ctx: &Context<'_>) -> Result<bool> {
        crate::production::graphql::types::line_is_ready(ctx, self.line.order_id, self.line.id)
            .await
    }
}

/// One recorded change.
pub struct OrderChangeObject(pub Change);

#[Object(name = "OrderChange")]
impl OrderChangeObject {
    async fn id(&self) -> ID {
        ID(ids::encode(
            Kind::OrderChange,
            uuid::Uuid::from_u64_pair(0, self.0.id.unsigned_abs()),
        ))
    }
    /// The line it concerns; null for the order itself.
    async fn line_id(&self) -> Option<ID> {
        self.0
            .line_id
            .map(|id| ID(ids::encode(Kind::OrderLine, id)))
    }
    /// `quantity`, `unitPrice`, `discountPercent`, `deliveryDate`, `line` (added or removed),
    /// `status`, `comment`, `message`, or an order field.
    async fn field(&self) -> &str {
        &self.0.field
    }
    async fn old_value(&self) -> Option<&str> {
        self.0.old_value.as_deref()
    }
    async fn new_value(&self) -> Option<&str> {
        self.0.new_value.as_deref()
    }
    /// Who changed it: the seller or the customer.
    async fn side(&self) -> SideGql {
        self.0.side.into()
    }
    /// The person who changed it (to a customer's user, as to anyone but staff: its ID and email).
    async fn by(&self, ctx: &Context<'_>) -> Result<Option<UserObject>> {
        let Some(id) = self.0.actor_id else {
            return Ok(None);
        };
        let user = loader::<UserLoader>(ctx)?
            .load_one(id)
            .await
            .map_err(|e| load_error(&e))?;
        Ok(user.map(|user| UserObject::seen_by(user, principal(ctx))))
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

/// A field changed since the viewer last looked.
pub struct ChangedFieldObject(pub ChangedField);

#[Object(name = "ChangedField")]
impl ChangedFieldObject {
    async fn field(&self) -> &str {
        &self.0.field
    }
    /// The value the viewer last saw.
    async fn old_value(&self) -> Option<&str> {
        self.0.old_value.as_deref()
    }
    async fn new_value(&self) -> Option<&str> {
        self.0.new_value.as_deref()
    }
}

pub struct OrderContactObject(pub Contact);

#[Object(name = "OrderContact")]
impl OrderContactObject {
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// E.164.
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
}

/// An address as printed on the order.
pub struct PostalAddressObject(pub PostalAddress);

#[Object(name = "PostalAddress")]
impl PostalAddressObject {
    /// Who or what the address is for.
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn line1(&self) -> &str {
        &self.0.line1
    }
    async fn line2(&self) -> &str {
        &self.0.line2
    }
    async fn postal_code(&self) -> &str {
        &self.0.postal_code
    }
    async fn city(&self) -> &str {
        &self.0.city
    }
    /// ISO 3166-1 alpha-2.
    async fn country(&self) -> &str {
        &self.0.country
    }
}

pub struct OrderNoteObject(pub Note);

#[Object(name = "OrderNote")]
impl OrderNoteObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::OrderNote, self.0.id))
    }
    async fn kind(&self) -> NoteKindGql {
        self.0.kind.into()
    }
    async fn line_id(&self) -> Option<ID> {
        self.0
            .line_id
            .map(|id| ID(ids::encode(Kind::OrderLine, id)))
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<UserObject>> {
        let Some(id) = self.0.author_id else {
            return Ok(None);
        };
        let user = loader::<UserLoader>(ctx)?
            .load_one(id)
            .await
            .map_err(|e| load_error(&e))?;
        Ok(user.map(|user| UserObject::seen_by(user, principal(ctx))))
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

pub struct PaymentObject(pub Payment);

#[Object(name = "Payment")]
impl PaymentObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Payment, self.0.id))
    }
    async fn amount(&self) -> Money {
        Money(self.0.amount)
    }
    async fn method(&self) -> &str {
        &self.0.method
    }
    async fn paid_on(&self) -> NaiveDate {
        self.0.paid_on
    }
    async fn reference(&self) -> &str {
        &self.0.reference
    }
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

pub struct ScheduledCallObject(pub ScheduledCall);

#[Object(name = "ScheduledCall")]
impl ScheduledCallObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::ScheduledCall, self.0.id))
    }
    async fn order_id(&self) -> ID {
        ID(ids::encode(Kind::Order, self.0.order_id))
    }
    async fn manager(&self, ctx: &Context<'_>) -> Result<Option<UserObject>> {
        let user = loader::<UserLoader>(ctx)?
            .load_one(self.0.manager_id)
            .await
            .map_err(|e| load_error(&e))?;
        Ok(user.map(|user| UserObject::seen_by(user, principal(ctx))))
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    async fn with_whom(&self) -> &str {
        &self.0.with_whom
    }
    async fn note(&self) -> &str {
        &self.0.note
    }
}

#[derive(InputObject, Clone, Default)]
pub struct OrderContactInput {
    pub name: String,
    pub email: Option<String>,
    /// E.164 (`+33612345678`).
    pub phone: Option<String>,
}

#[derive(InputObject, Clone, Default)]
pub struct PostalAddressInput {
    #[graphql(default)]
    pub name: String,
    pub line1: String,
    #[graphql(default)]
    pub line2: String,
    pub postal_code: String,
    pub city: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

impl From<PostalAddressInput> for crate::orders::service::PostalAddressInput {
    fn from(input: PostalAddressInput) -> Self {
        Self {
            name: input.name,
            line1: input.line1,
            line2: input.line2,
            postal_code: input.postal_code,
            city: input.city,
            country: input.country,
        }
    }
}

#[derive(InputObject, Default)]
pub struct CheckoutInput {
    /// Who to reach about the order; by default the customer's primary contact (required for
    /// a first order).
    pub contact: Option<OrderContactInput>,
    /// One of the customer's saved addresses…
    pub delivery_address_id: Option<ID>,
    /// …or a new one; by default the customer's default delivery address.
    pub delivery_address: Option<PostalAddressInput>,
    #[graphql(default)]
    pub delivery_method: String,
    #[graphql(default)]
    pub payment_method: String,
    /// The customer's own reference (their purchase order number).
    #[graphql(default)]
    pub customer_reference: String,
    /// How the customer names the job.
    #[graphql(default)]
    pub title: String,
    #[graphql(default)]
    pub note: String,
    /// Any unique string per attempt: a retry with the same key returns the first order.
    pub idempotency_key: Option<String>,
}

#[derive(InputObject, Default)]
pub struct CreateOrderInput {
    /// One of the customer's addresses; by default their default delivery address.
    pub delivery_address_id: Option<ID>,
    #[graphql(default)]
    pub customer_reference: String,
    #[graphql(default)]
    pub title: String,
    #[graphql(default)]
    pub note: String,
    #[graphql(default)]
    pub delivery_method: String,
    #[graphql(default)]
    pub payment_method: String,
}

#[derive(InputObject)]
pub struct OrderLineInput {
    pub product_id: ID,
    pub variant_id: Option<ID>,
    pub configuration: Option<Vec<crate::catalog::graphql::types::SelectionInput>>,
    pub quantity: i32,
    /// The catalog price (with options) when omitted.
    pub unit_price: Option<Decimal>,
    pub discount_percent: Option<Decimal>,
    pub delivery_date: Option<NaiveDate>,
    pub instructions: Option<String>,
}

#[derive(InputObject, Default)]
pub struct OrderLineChangesInput {
    pub quantity: Option<i32>,
    pub unit_price: Option<Decimal>,
    pub discount_percent: Option<Decimal>,
    /// Null clears it.
    pub delivery_date: async_graphql::MaybeUndefined<NaiveDate>,
}

#[derive(InputObject, Default)]
pub struct OrderChangesInput {
    pub title: Option<String>,
    pub customer_reference: Option<String>,
    pub note: Option<String>,
    pub delivery_address: Option<PostalAddressInput>,
    pub delivery_method: Option<String>,
    pub payment_method: Option<String>,
    /// Excluding VAT.
    pub shipping: Option<Decimal>,
    pub shipping_vat_rate: Option<Decimal>,
    /// Footer discount, percent.
    pub discount_percent: Option<Decimal>,
}

#[derive(InputObject)]
pub struct ReplyLineInput {
    pub line_id: ID,
    pub quantity: i32,
}

#[derive(InputObject, Default)]
pub struct OrderFilterInput {
    pub statuses: Option<Vec<OrderStatusGql>>,
    pub customer_id: Option<ID>,
    pub sales_rep_id: Option<ID>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_to: Option<DateTime<Utc>>,
    /// Text in number, title, references, customer code, contact, products.
    pub search: Option<String>,
    #[graphql(default)]
    pub include_completed: bool,
    #[graphql(default)]
    pub include_cancelled: bool,
}

#[derive(InputObject)]
pub struct OrderSortInput {
    pub field: SortFieldGql,
    /// Ascending by default, except `CREATED_AT` (newest first).
    pub descending: Option<bool>,
}

#[derive(InputObject)]
pub struct PaymentInput {
    pub amount: Decimal,
    pub method: String,
    pub paid_on: NaiveDate,
    #[graphql(default)]
    pub reference: String,
}
