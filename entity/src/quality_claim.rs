use sea_orm::entity::prelude::*;

/// A customer's complaint about a made-to-order line of a shipped order.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "quality_claim")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub order_id: Uuid,
    pub line_id: Uuid,
    pub customer_id: Uuid,
    pub reason: String,
    pub description: String,
    pub status: String,
    pub decision_note: String,
    #[sea_orm(unique)]
    pub reprint_order_id: Option<Uuid>,
    pub opened_by: Option<Uuid>,
    pub decided_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub decided_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
