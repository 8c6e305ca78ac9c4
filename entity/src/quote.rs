use sea_orm::entity::prelude::*;

/// A quote, or one revision of it: revisions share `root_id` and the number's base, and a sent
/// revision points to the one that replaced it (`superseded_by`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "quote")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub number: String,
    pub root_id: Uuid,
    pub revision: i32,
    pub superseded_by: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub requested_by: Option<Uuid>,
    pub contact_name: String,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_company: String,
    pub status: String,
    pub negotiation: String,
    pub message: String,
    pub modifications: String,
    pub customer_comment: String,
    pub internal_comment: String,
    pub delivery_address: Json,
    pub shipping_method: String,
    pub shipping_e4: i64,
    pub shipping_vat_bp: i32,
    pub payment_method: String,
    pub discount_bp: i32,
    pub total_e4: i64,
    pub search_text: String,
    pub sales_rep_id: Option<Uuid>,
    pub valid_until: Option<DateTimeUtc>,
    pub sent_at: Option<DateTimeUtc>,
    pub order_id: Option<Uuid>,
    pub transferred_to_invoice: bool,
    #[sea_orm(unique)]
    pub idempotency_key: Option<String>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
