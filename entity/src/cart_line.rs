use sea_orm::entity::prelude::*;

/// A cart line. `line_key` identifies what the line is (product, variant, configuration,
/// period) so that adding the same thing again adds to its quantity.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cart_line")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub cart_id: Uuid,
    pub product_id: Uuid,
    pub variant_id: Option<Uuid>,
    pub configuration: Json,
    pub line_key: String,
    pub quantity: i32,
    pub rental_start: Option<DateTimeUtc>,
    pub rental_end: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    /// When the line last changed (its cart's `updated_at` follows, by trigger).
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
