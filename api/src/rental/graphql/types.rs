use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::{
    auth::graphql::UserObject,
    carts::graphql::types::{RentalPeriodObject, VatLineObject},
    catalog::graphql::types::ProductObject,
    customers::graphql::types::CustomerObject,
    events::{Audience, graphql::EventObject},
    graphql::{
        context::{principal, state},
        loaders::{
            ChangesOfProject, CustomerLoader, ItemAvailability, ItemsOfProject, TimelineOfProject,
            UserLoader, load_error, loader,
        },
        money::Money,
    },
    kernel::ids::{self, Kind},
    orders::graphql::types::SideGql,
    pricing::Totals,
    rental::{
        model::{Change, Contact, Item, Project, Shortage, totals},
        queries::ProductAvailability,
    },
};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "RentalProjectStatus",
    remote = "crate::rental::model::ProjectStatus"
)]
pub enum ProjectStatusGql {
    /// Placed or drafted: its items block no units yet.
    New,
    /// Taken into work by a manager: its items hold units.
    InWork,
    /// The equipment is handed out.
    Issued,
    /// The equipment is back.
    Returned,
    Completed,
    Cancelled,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "RentalItemStatus", remote = "crate::rental::model::ItemStatus")]
pub enum ItemStatusGql {
    /// Of a `NEW` project: blocks nothing.
    Draft,
    /// Counts against availability.
    Reserved,
    /// Handed out: counts until returned, however late.
    Issued,
    Returned,
    Cancelled,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "RentalProjectSource",
    remote = "crate::rental::model::ProjectSource"
)]
pub enum ProjectSourceGql {
    /// Placed on the storefront by a customer or a visitor.
    Storefront,
    /// Created by a manager.
    Backoffice,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "RentalProjectSortField",
    remote = "crate::rental::store::SortField"
)]
pub enum SortFieldGql {
    CreatedAt,
    Number,
    /// The earliest start of its items.
    PeriodStart,
    CustomerName,
}

/// A rental project: equipment booked by a customer over dates.
pub struct RentalProjectObject(pub Project);

impl RentalProjectObject {
    async fn items_raw(&self, ctx: &Context<'_>) -> Result<Vec<Item>> {
        Ok(loader::<ItemsOfProject>(ctx)?
            .load_one(self.0.id)
            .await
            .map_err(|e| load_error(&e))?
            .unwrap_or_default())
    }

    async fn totals(&self, ctx: &Context<'_>) -> Result<Totals> {
        Ok(totals(&self.items_raw(ctx).await?))
    }
}

#[Object(name = "RentalProject")]
impl RentalProjectObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::RentalProject, self.0.id))
    }
    /// The project number (`RP-2026-000042`).
    async fn number(&self) -> &str {
        &self.0.number
    }
    async fn status(&self) -> ProjectStatusGql {
        self.0.status.into()
    }
    async fn source(&self) -> ProjectSourceGql {
        self.0.source.into()
    }
    async fn customer(&self, ctx: &Context<'_>) -> Result<Option<CustomerObject>> {
        let customer = loader::<CustomerLoader>(ctx)?
            .load_one(self.0.customer_id)
            .await
            .map_err(|e| load_error(&e))?;
        Ok(customer.map(CustomerObject))
    }
    async fn contact(&self) -> RentalContactObject {
        RentalContactObject(self.0.contact.clone())
    }
    /// What the customer wrote when ordering.
    async fn customer_note(&self) -> &str {
        &self.0.customer_note
    }
    /// The manager's note to the customer.
    async fn manager_note(&self) -> &str {
        &self.0.manager_note
    }
    async fn cancel_reason(&self) -> Option<&str> {
        self.0.cancel_reason.as_deref()
    }
    async fn items(&self, ctx: &Context<'_>) -> Result<Vec<RentalItemObject>> {
        Ok(self
            .items_raw(ctx)
            .await?
            .into_iter()
            .map(RentalItemObject)
            .collect())
    }
    /// From the earliest start to the latest end of its items.
    async fn period_start(&self) -> DateTime<Utc> {
        self.0.period_start
    }
    async fn period_end(&self) -> DateTime<Utc> {
        self.0.period_end
    }
    /// Sum of the items, excluding VAT.
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
    /// Handed out and past its end: the equipment is late.
    async fn is_late(&self, ctx: &Context<'_>) -> bool {
        self.0.is_late(state(ctx).clock.now())
    }
    /// Its items need more units than are free for their dates: a draft that others'
    /// reservations left short, or a project taken into work with a shortage accepted.
    async fn is_short(&self) -> bool {
        self.0.short
    }
    /// Staff only: the shortage a manager accepted when taking it into work (empty for
    /// customers).
    async fn accepted_shortages(&self, ctx: &Context<'_>) -> Vec<RentalShortageObject> {
        if !principal(ctx).is_staff() {
            return Vec::new();
        }
        self.0
            .accepted_shortage
            .iter()
            .cloned()
            .map(RentalShortageObject)
            .collect()
    }
    /// Every change made to the project and its items (field, old, new, who, when), oldest
    /// first.
    async fn changes(&self, ctx: &Context<'_>) -> Result<Vec<RentalChangeObject>> {
        Ok(loader::<ChangesOfProject>(ctx)?
            .load_one(self.0.id)
            .await
            .map_err(|e| load_error(&e))?
            .unwrap_or_default()
            .into_iter()
            .map(RentalChangeObject)
            .collect())
    }
    /// Everything that happened to the project, newest first (staff also see accepted
    /// shortages).
    async fn timeline(&self, ctx: &Context<'_>) -> Result<Vec<EventObject>> {
        let audience = Audience::of(principal(ctx))?;
        Ok(loader::<TimelineOfProject>(ctx)?
            .load_one(self.0.id)
            .await
            .map_err(|e| load_error(&e))?
            .unwrap_or_default()
            .into_iter()
            .filter(|e| audience.may_see(e))
            .map(EventObject::new)
            .collect())
    }
    /// A short-lived signed link to the project's confirmation PDF (no headers needed).
    #[allow(clippy::unused_async)] // async-graphql resolvers are async
    async fn pdf_url(&self, ctx: &Context<'_>) -> Result<String> {
        crate::documents::graphql::types::url(
            ctx,
            crate::documents::DocumentKind::RentalConfirmation,
            self.0.id,
        )
    }
    /// The project this one repeats for new dates.
    async fn repeated_from_id(&self) -> Option<ID> {
        self.0
            .repeated_from
            .map(|id| ID(ids::encode(Kind::RentalProject, id)))
    }
    /// Edit version: every mutation of the project takes the version it was based on.
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    async fn issued_at(&self) -> Option<DateTime<Utc>> {
        self.0.issued_at
    }
    async fn returned_at(&self) -> Option<DateTime<Utc>> {
        self.0.returned_at
    }
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
    async fn cancelled_at(&self) -> Option<DateTime<Utc>> {
        self.0.cancelled_at
    }
}

/// Units of one rental product over a period.
pub struct RentalItemObject(pub Item);

#[Object(name = "RentalItem")]
impl RentalItemObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::RentalItem, self.0.id))
    }
    async fn product_id(&self) -> ID {
        ID(ids::encode(Kind::Product, self.0.product_id))
    }
    /// The product's reference when booked.
    async fn reference(&self) -> &str {
        &self.0.reference
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn quantity(&self) -> i32 {
        self.0.quantity
    }
    async fn rental_period(&self) -> RentalPeriodObject {
        RentalPeriodObject(self.0.period)
    }
    /// The catalog's price of one unit for one day when booked, excluding VAT.
    async fn daily_price(&self) -> Money {
        Money(self.0.daily_price)
    }
    /// One unit for the whole period (daily price × days, unless a manager set it), excluding
    /// VAT.
    async fn unit_price(&self) -> Money {
        Money(self.0.amount.unit_price)
    }
    /// Unit price × quantity, excluding VAT.
    async fn line_total(&self) -> Money {
        Money(self.0.amount.total)
    }
    /// Percent.
    async fn vat_rate(&self) -> Decimal {
        self.0.amount.vat_rate.normalize()
    }
    async fn status(&self) -> ItemStatusGql {
        self.0.status.into()
    }
    /// Units free for this period now, not counting what this project holds: drafts show the
    /// customer what they can expect.
    async fn available_quantity(&self, ctx: &Context<'_>) -> Result<i32> {
        Ok(loader::<ItemAvailability>(ctx)?
            .load_one(self.0.id)
            .await
            .map_err(|e| load_error(&e))?
            .unwrap_or(0))
    }
    /// Units missing for this period now (0 when all are free).
    async fn short_quantity(&self, ctx: &Context<'_>) -> Result<i32> {
        let available = self.available_quantity(ctx).await?;
        Ok((self.0.quantity - available).max(0))
    }
}

pub struct RentalContactObject(pub Contact);

#[Object(name = "RentalContact")]
impl RentalContactObject {
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    async fn company(&self) -> &str {
        &self.0.company
    }
}

/// One recorded change of a project or an item.
pub struct RentalChangeObject(pub Change);

#[Object(name = "RentalChange")]
impl RentalChangeObject {
    async fn id(&self) -> ID {
        ID(ids::encode(
            Kind::RentalChange,
            uuid::Uuid::from_u64_pair(0, self.0.id.unsigned_abs()),
        ))
    }
    /// The item it concerns; null for the project itself.
    async fn item_id(&self) -> Option<ID> {
        self.0
            .item_id
            .map(|id| ID(ids::encode(Kind::RentalItem, id)))
    }
    /// `quantity`, `period`, `unitPrice`, `added`, `removed` (items), `status`, `note`,
    /// `cancelReason`, `contactName`, `contactEmail`, `contactPhone`.
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

/// An item short of units, as accepted by a manager.
pub struct RentalShortageObject(pub Shortage);

#[Object(name = "RentalShortage")]
impl RentalShortageObject {
    async fn item_id(&self) -> ID {
        ID(ids::encode(Kind::RentalItem, self.0.item_id))
    }
    /// `items.N`.
    async fn field(&self) -> String {
        format!("items.{}", self.0.position)
    }
    async fn reference(&self) -> &str {
        &self.0.reference
    }
    async fn requested(&self) -> i32 {
        self.0.requested
    }
    async fn available(&self) -> i32 {
        self.0.available
    }
    async fn short(&self) -> i32 {
        self.0.short
    }
    /// Numbers of the projects holding units over the same dates.
    async fn clashes(&self) -> &[String] {
        &self.0.clashes
    }
}

/// What a rental product can still take over a period.
pub struct RentalAvailabilityObject(pub ProductAvailability);

#[Object(name = "RentalAvailability")]
impl RentalAvailabilityObject {
    async fn product(&self) -> ProductObject {
        ProductObject(self.0.product.clone())
    }
    /// Units the company owns.
    async fn owned_quantity(&self) -> i32 {
        self.0.product.rental_owned_quantity.unwrap_or(0)
    }
    /// Units free over the whole period.
    async fn available_quantity(&self) -> i32 {
        self.0.available
    }
}

/// Units free on one day (UTC).
#[derive(SimpleObject)]
pub struct AvailabilityDay {
    pub date: NaiveDate,
    pub available_quantity: i32,
}

/// A rental product's day-by-day availability.
#[derive(SimpleObject)]
pub struct AvailabilityCalendar {
    pub product: ProductObject,
    pub days: Vec<AvailabilityDay>,
}

/// A placed rental order.
#[derive(SimpleObject)]
pub struct PlaceRentalOrderPayload {
    pub project: RentalProjectObject,
    /// An account was created for the visitor; its login and password were emailed.
    pub account_created: bool,
}

/// Who a visitor is (required without an account).
#[derive(InputObject)]
pub struct RentalContactInput {
    pub name: String,
    pub email: String,
    /// International form (`+33612345678`).
    pub phone: String,
    pub company: Option<String>,
}

#[derive(InputObject)]
pub struct PlaceRentalOrderInput {
    pub cart_id: ID,
    /// The anonymous cart's token (visitors).
    pub cart_token: Option<String>,
    /// Required without an account; a customer may give another contact than their primary
    /// one.
    pub contact: Option<RentalContactInput>,
    #[graphql(default)]
    pub note: String,
    /// A retry with the same key returns the first project.
    pub idempotency_key: Option<String>,
}

#[derive(InputObject)]
pub struct RentalItemInput {
    pub product_id: ID,
    pub quantity: i32,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// One unit for the whole period, excluding VAT; the daily price × days when absent.
    pub unit_price: Option<Decimal>,
}

#[derive(InputObject)]
pub struct CreateRentalProjectInput {
    pub customer_id: ID,
    pub items: Vec<RentalItemInput>,
    /// A note to the customer.
    #[graphql(default)]
    pub note: String,
}

/// Fields to change on an item; absent fields stay. A new period is re-priced from the daily
/// price unless `unitPrice` is given.
#[derive(InputObject)]
pub struct UpdateRentalItemInput {
    pub quantity: Option<i32>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub unit_price: Option<Decimal>,
}

/// Fields to change on a project; absent fields stay, null clears.
#[derive(InputObject)]
pub struct UpdateRentalProjectInput {
    /// The note to the customer.
    pub note: Option<String>,
    pub contact_name: Option<String>,
    pub contact_email: async_graphql::MaybeUndefined<String>,
    pub contact_phone: async_graphql::MaybeUndefined<String>,
}

#[derive(InputObject, Default)]
pub struct RentalProjectFilterInput {
    pub statuses: Option<Vec<ProjectStatusGql>>,
    pub source: Option<ProjectSourceGql>,
    pub customer_id: Option<ID>,
    /// Projects whose period overlaps `[periodFrom, periodTo)`.
    pub period_from: Option<DateTime<Utc>>,
    pub period_to: Option<DateTime<Utc>>,
    /// Short of units (`true`) or not (`false`).
    pub short: Option<bool>,
    /// Only projects handed out and past their end.
    #[graphql(default)]
    pub late: bool,
    /// Number, customer, contact, equipment.
    pub search: Option<String>,
}

#[derive(InputObject)]
pub struct RentalProjectSortInput {
    pub field: SortFieldGql,
    /// Default: newest first for `CREATED_AT`, ascending otherwise.
    pub descending: Option<bool>,
}
