use sea_orm::entity::prelude::*;

/// An order. Money in 1/10,000 of the currency; `total_e4` and `paid_e4` are kept with every
/// change for lists and balance checks. `customer_seen_change`/`seller_seen_change` are the last
/// `order_change` IDs each side has seen: later changes by the other side are shown as new.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sales_order")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub number: String,
    pub customer_id: Uuid,
    pub status: String,
    pub status_before_hold: Option<String>,
    pub hold_reason: Option<String>,
    pub source: String,
    pub title: String,
    pub customer_reference: String,
    pub note: String,
    pub contact_name: String,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub billing_address: Json,
    pub delivery_address: Json,
    pub delivery_method: String,
    pub payment_method: String,
    pub shipping_e4: i64,
    pub shipping_vat_bp: i32,
    pub discount_bp: i32,
    pub total_e4: i64,
    pub paid_e4: i64,
    pub delivery_date: Option<Date>,
    pub delivery_sort: String,
    /// The same, with "no date" smallest (descending sorts keep undated orders last).
    pub delivery_sort_desc: String,
    pub product_summary: String,
    pub customer_code: String,
    pub search_text: String,
    pub sales_rep_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    #[sea_orm(unique)]
    pub idempotency_key: Option<String>,
    pub customer_seen_change: i64,
    pub seller_seen_change: i64,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub confirmed_at: Option<DateTimeUtc>,
    /// The customer sees the order: a checkout at once, a manager's draft once proposed or
    /// confirmed.
    pub shown_to_customer: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
