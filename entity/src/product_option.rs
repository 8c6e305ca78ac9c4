use sea_orm::entity::prelude::*;

/// An option of a configurable or custom product: a choice among values, or a bounded number.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "product_option")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub product_id: Uuid,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub required: bool,
    pub min_e4: Option<i64>,
    pub max_e4: Option<i64>,
    pub price_per_unit_e4: i64,
    pub unit: Option<String>,
    pub position: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
