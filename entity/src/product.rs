use sea_orm::entity::prelude::*;

/// A catalog product. Money columns (`*_e4`) are in ten-thousandths of the store currency; the
/// VAT rate is in basis points. `search_text` is the lower-cased reference, name and description.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "product")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub reference: String,
    pub name: String,
    pub search_text: String,
    pub description: String,
    pub kind: String,
    pub unit_price_e4: i64,
    pub vat_rate_bp: i32,
    pub active: bool,
    pub visible: bool,
    pub track_stock: bool,
    pub stock: i32,
    pub rental_owned_quantity: Option<i32>,
    pub rental_daily_price_e4: Option<i64>,
    /// Hours of preparation before and after each rental, when its units are not free.
    pub rental_buffer_before_hours: i32,
    pub rental_buffer_after_hours: i32,
    pub archived_at: Option<DateTimeUtc>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
