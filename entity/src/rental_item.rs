use sea_orm::entity::prelude::*;

/// Units of one rental product over a period, in a project. `unit_price_e4` is the price of one
/// unit for the whole period (the daily price × the days billed, unless a manager set it);
/// `status` says whether the units count against availability (`RESERVED`, `ISSUED`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rental_item")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub project_id: Uuid,
    pub position: i32,
    pub product_id: Uuid,
    pub reference: String,
    pub name: String,
    pub quantity: i32,
    pub start_at: DateTimeUtc,
    pub end_at: DateTimeUtc,
    pub daily_price_e4: i64,
    pub unit_price_e4: i64,
    pub vat_bp: i32,
    pub status: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
