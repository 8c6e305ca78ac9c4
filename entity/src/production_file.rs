use sea_orm::entity::prelude::*;

/// One version of a production file on an order line. The content lives in the file store
/// under `storage_key`; versions of one file share `first_id`, and only one is `current`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "production_file")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub order_id: Uuid,
    pub line_id: Uuid,
    pub first_id: Uuid,
    pub version: i32,
    pub current: bool,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub storage_key: String,
    pub certified_at: Option<DateTimeUtc>,
    pub certified_by: Option<Uuid>,
    pub uploaded_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
