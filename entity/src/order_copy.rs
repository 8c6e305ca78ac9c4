use sea_orm::entity::prelude::*;

/// An order made from another (a reprint, a duplicate, a new order for the same customer, a
/// reprint after a quality claim): the link from the copy back to its source.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_copy")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: Uuid,
    pub source_order_id: Uuid,
    pub kind: String,
    pub claim_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
