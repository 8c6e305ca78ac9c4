use sea_orm::entity::prelude::*;

/// A counterparty that buys: a company or a person. `search_text` is the lower-cased name, code
/// and contact emails.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customer")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub code: String,
    pub name: String,
    pub search_text: String,
    pub kind: String,
    pub vat_id: Option<String>,
    pub source: String,
    pub language: String,
    pub sales_rep_id: Option<Uuid>,
    pub blocked: bool,
    pub blocked_reason: Option<String>,
    pub notes: String,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
