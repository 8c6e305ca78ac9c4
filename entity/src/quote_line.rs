use sea_orm::entity::prelude::*;

/// A line of a quote: a product as priced (a snapshot) or a comment.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "quote_line")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub quote_id: Uuid,
    pub position: i32,
    pub kind: String,
    pub product_id: Option<Uuid>,
    pub variant_id: Option<Uuid>,
    pub configuration: Json,
    pub reference: String,
    pub name: String,
    pub comment: String,
    pub quantity: i32,
    pub unit_price_e4: i64,
    pub discount_bp: i32,
    pub discount_amount_e4: i64,
    pub vat_bp: i32,
    pub rental_start: Option<DateTimeUtc>,
    pub rental_end: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
