use sea_orm::entity::prelude::*;

/// One change to an order, by the seller or the customer: field, old and new value.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_change")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: Uuid,
    pub line_id: Option<Uuid>,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub side: String,
    pub actor_id: Option<Uuid>,
    pub comment: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
