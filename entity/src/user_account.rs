use sea_orm::entity::prelude::*;

/// A person who can log in. `role` holds the role name (`IDENTIFIED`, `ACCOUNT_CLIENT`, `MANAGER`,
/// `ADMIN`); `token_version` is embedded in every access token and bumped to revoke them all.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_account")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub token_version: i32,
    pub blocked: bool,
    pub blocked_reason: Option<String>,
    pub blocked_at: Option<DateTimeUtc>,
    pub email_verified_at: Option<DateTimeUtc>,
    /// The customer (company or person) this user buys for, if any.
    pub customer_id: Option<Uuid>,
    /// Blocked because its customer is: unblocking the customer unblocks this user.
    pub blocked_by_customer: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::refresh_token::Entity")]
    RefreshToken,
}

impl Related<super::refresh_token::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RefreshToken.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
