use sea_orm::entity::prelude::*;

/// A rental project: a customer's booking of equipment over dates, from the storefront or made
/// by a manager. `total_e4` (1/10,000 of the currency), `period_start`/`period_end` (the span of
/// its items) and `search_text` are kept with every change for lists. `short` flags a project
/// whose items exceed what is free for their dates (a draft that others' reservations left
/// short, or a project taken into work with a shortage accepted, listed in
/// `accepted_shortage`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rental_project")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub number: String,
    pub customer_id: Uuid,
    pub source: String,
    pub status: String,
    pub contact_name: String,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub company: String,
    pub customer_note: String,
    pub manager_note: String,
    pub cancel_reason: Option<String>,
    pub short: bool,
    pub accepted_shortage: Json,
    pub period_start: DateTimeUtc,
    pub period_end: DateTimeUtc,
    pub total_e4: i64,
    pub customer_name: String,
    pub search_text: String,
    pub created_by: Option<Uuid>,
    /// The project this one repeats for new dates.
    pub repeated_from: Option<Uuid>,
    #[sea_orm(unique)]
    pub idempotency_key: Option<String>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub issued_at: Option<DateTimeUtc>,
    pub returned_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub cancelled_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
