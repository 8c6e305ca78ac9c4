use sea_orm::entity::prelude::*;

/// The seller's identity printed on documents: columns of the `store_settings` row (`id = 1`)
/// that the documents context owns, read and written without the catalog's columns.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "store_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub seller_address: String,
    pub seller_vat_id: String,
    pub seller_email: String,
    pub payment_terms: String,
    pub logo: Option<Vec<u8>>,
    pub logo_content_type: Option<String>,
    pub version: i32,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
