use sea_orm::entity::prelude::*;

/// A variant of a standard product (size, colour…), with its own reference, price and stock.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "product_variant")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub product_id: Uuid,
    #[sea_orm(unique)]
    pub reference: String,
    pub name: String,
    pub characteristics: Json,
    pub unit_price_e4: i64,
    pub track_stock: bool,
    pub stock: i32,
    pub active: bool,
    pub position: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
