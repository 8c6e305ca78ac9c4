use sea_orm::entity::prelude::*;

/// The event log: one row per domain event, written in the transaction of the change it records.
/// `id` orders the log and is the catch-up cursor.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: String,
    pub object_type: String,
    pub object_id: Uuid,
    /// The user the object belongs to, when it is a person's own (their account).
    pub owner_user_id: Option<Uuid>,
    /// The customer the object belongs to (orders, quotes, projects): every user of that
    /// customer may see the event, unless it is `internal`.
    pub owner_customer_id: Option<Uuid>,
    /// Staff-only events (internal notes, payments).
    pub internal: bool,
    pub actor_id: Option<Uuid>,
    pub status: Option<String>,
    pub changes: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
