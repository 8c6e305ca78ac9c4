use sea_orm::entity::prelude::*;

/// A line of an order: what was sold, as it was when added (name, reference, price), and how
/// much stock it holds reserved.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_line")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub order_id: Uuid,
    pub position: i32,
    pub product_id: Uuid,
    pub variant_id: Option<Uuid>,
    pub configuration: Json,
    pub reference: String,
    pub name: String,
    pub kind: String,
    pub quantity: i32,
    pub unit_price_e4: i64,
    pub discount_bp: i32,
    pub discount_amount_e4: i64,
    pub vat_bp: i32,
    pub delivery_date: Option<Date>,
    pub instructions: String,
    pub on_hold: bool,
    pub rental_start: Option<DateTimeUtc>,
    pub rental_end: Option<DateTimeUtc>,
    pub reserved_stock: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
