use sea_orm::entity::prelude::*;

/// A staff note on an order: internal, a line instruction, or a comment on the payment, the
/// invoice or the purchase order. Never shown to customers.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_note")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub order_id: Uuid,
    pub line_id: Option<Uuid>,
    pub kind: String,
    pub body: String,
    pub author_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
