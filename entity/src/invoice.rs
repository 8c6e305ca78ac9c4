use sea_orm::entity::prelude::*;

/// An issued invoice or credit note: never updated except to mark it credited
/// (`standing_order_id` cleared). `document` is the snapshot the PDF prints.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invoice")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub number: String,
    pub kind: String,
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub credited_invoice_id: Option<Uuid>,
    #[sea_orm(unique)]
    pub standing_order_id: Option<Uuid>,
    pub total_e4: i64,
    pub document: Json,
    pub reason: String,
    pub issued_by: Option<Uuid>,
    pub issued_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
