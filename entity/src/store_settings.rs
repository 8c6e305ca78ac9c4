use sea_orm::entity::prelude::*;

/// The seller's settings: one row, `id = 1`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "store_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub name: String,
    pub currency: String,
    /// Where new orders are announced to the seller.
    pub orders_email: Option<String>,
    /// Customers must have verified their email before ordering or requesting quotes.
    pub require_verified_email: bool,
    /// Where new rental orders are announced (the rental desk).
    pub rental_email: Option<String>,
    pub version: i32,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
