use sea_orm::entity::prelude::*;

/// The quote function's settings: one row, `id = 1`.
// Settings are a row of switches.
#[allow(clippy::struct_excessive_bools)]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "quote_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub enabled: bool,
    pub visible_public: bool,
    pub visible_identified: bool,
    pub visible_account_client: bool,
    pub cart_button: bool,
    pub button_label: String,
    pub customer_notice: String,
    pub minimal_checkout: bool,
    pub lock_payment_method: bool,
    pub validity_days: i32,
    pub sales_manager_email: Option<String>,
    pub notify_sales_rep: bool,
    pub notify_on_request: bool,
    pub allow_out_of_stock: bool,
    pub retention_days: i32,
    pub version: i32,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
