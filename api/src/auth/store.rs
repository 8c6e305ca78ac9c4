//! Account queries. Only the auth service calls these.

use chrono::{DateTime, Utc};
use comptoir_entity::{refresh_token, user_account};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set, Statement,
    sea_query::Expr,
};
use uuid::Uuid;

use super::model::{Role, User};
use crate::{
    catalog::snapshot::{self, epoch_expr},
    db::Rendered,
    error::AppError,
};

pub fn to_user(row: user_account::Model) -> Result<User, AppError> {
    let role = Role::parse_user_role(&row.role).ok_or_else(|| {
        AppError::internal(anyhow::anyhow!("unknown role {:?} in database", row.role))
    })?;
    Ok(User {
        id: row.id,
        email: row.email,
        role,
        blocked: row.blocked,
        blocked_reason: row.blocked_reason,
        blocked_at: row.blocked_at,
        email_verified_at: row.email_verified_at,
        customer_id: row.customer_id,
        created_at: row.created_at,
    })
}

pub async fn find_by_id(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<user_account::Model>, DbErr> {
    user_account::Entity::find_by_id(id).one(db).await
}

/// An account row with the catalog's epochs read in the same statement (see
/// `catalog::snapshot::EarlyEpoch`).
#[derive(FromQueryResult)]
pub struct AccountAtEpoch {
    #[sea_orm(nested)]
    pub account: user_account::Model,
    pub catalog_epoch: i64,
    pub rows_epoch: i64,
}

/// The statement every authenticated request runs first: its text is rendered once.
pub async fn find_at_catalog_epoch(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<AccountAtEpoch>, DbErr> {
    let statement = account_at_epoch(db.get_database_backend(), id)?;
    AccountAtEpoch::find_by_statement(statement).one(db).await
}

static ACCOUNT_AT_EPOCH: Rendered = Rendered::new();

fn account_at_epoch(backend: DbBackend, id: Uuid) -> Result<Statement, DbErr> {
    ACCOUNT_AT_EPOCH.bind(
        backend,
        || Ok(build_account_at_epoch(backend, id)),
        [id.into()],
    )
}

fn build_account_at_epoch(backend: DbBackend, id: Uuid) -> Statement {
    user_account::Entity::find_by_id(id)
        .expr_as(Expr::cust(epoch_expr(snapshot::CATALOG)), "catalog_epoch")
        .expr_as(Expr::cust(epoch_expr(snapshot::ROWS)), "rows_epoch")
        .build(backend)
}

pub async fn by_ids(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<user_account::Model>, DbErr> {
    user_account::Entity::find()
        .filter(user_account::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await
}

/// The account row, locked until the transaction ends (PostgreSQL; SQLite has one writer), so
/// that checks and changes of the same account serialise.
pub async fn find_for_update(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<user_account::Model>, DbErr> {
    user_account::Entity::find_by_id(id)
        .lock_exclusive()
        .one(db)
        .await
}

pub async fn find_by_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> Result<Option<user_account::Model>, DbErr> {
    user_account::Entity::find()
        .filter(user_account::Column::Email.eq(email))
        .one(db)
        .await
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub password_hash: String,
    pub role: Role,
    pub customer_id: Option<Uuid>,
    pub now: DateTime<Utc>,
}

pub async fn insert(
    db: &impl ConnectionTrait,
    user: NewUser<'_>,
) -> Result<user_account::Model, DbErr> {
    user_account::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(user.email.to_owned()),
        password_hash: Set(user.password_hash),
        role: Set(user.role.as_str().to_owned()),
        token_version: Set(0),
        blocked: Set(false),
        blocked_reason: Set(None),
        blocked_at: Set(None),
        email_verified_at: Set(None),
        customer_id: Set(user.customer_id),
        blocked_by_customer: Set(false),
        created_at: Set(user.now),
        updated_at: Set(user.now),
    }
    .insert(db)
    .await
}

/// Changes to an account. Every change here also revokes the account's tokens, because each one
/// (role, password, blocking) must take effect on tokens already handed out.
#[derive(Default)]
pub struct AccountChanges {
    pub role: Option<Role>,
    pub password_hash: Option<String>,
    pub blocked: Option<(bool, Option<String>, Option<DateTime<Utc>>)>,
    /// With `blocked`: whether the block comes from the user's customer.
    pub by_customer: bool,
}

pub async fn update_and_revoke(
    db: &impl ConnectionTrait,
    row: user_account::Model,
    changes: AccountChanges,
    now: DateTime<Utc>,
) -> Result<user_account::Model, DbErr> {
    let user_id = row.id;
    let token_version = row.token_version;
    let mut active: user_account::ActiveModel = row.into();
    if let Some(role) = changes.role {
        active.role = Set(role.as_str().to_owned());
    }
    if let Some(hash) = changes.password_hash {
        active.password_hash = Set(hash);
    }
    if let Some((blocked, reason, at)) = changes.blocked {
        active.blocked = Set(blocked);
        active.blocked_reason = Set(reason);
        active.blocked_at = Set(at);
        active.blocked_by_customer = Set(blocked && changes.by_customer);
    }
    active.token_version = Set(token_version.wrapping_add(1));
    active.updated_at = Set(now);
    let updated = active.update(db).await?;
    revoke_all_refresh_tokens(db, user_id, now).await?;
    Ok(updated)
}

pub async fn set_customer(
    db: &impl ConnectionTrait,
    row: user_account::Model,
    customer_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<user_account::Model, DbErr> {
    let mut active: user_account::ActiveModel = row.into();
    active.customer_id = Set(customer_id);
    active.updated_at = Set(now);
    active.update(db).await
}

/// Users attached to `customer_id`.
pub async fn users_of_customer(
    db: &impl ConnectionTrait,
    customer_id: Uuid,
) -> Result<Vec<user_account::Model>, DbErr> {
    user_account::Entity::find()
        .filter(user_account::Column::CustomerId.eq(customer_id))
        .all(db)
        .await
}

pub async fn revoke_all_refresh_tokens(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

pub async fn revoke_family(
    db: &impl ConnectionTrait,
    family_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

pub struct NewRefreshToken {
    pub user_id: Uuid,
    pub family_id: Uuid,
    pub token_hash: String,
    pub token_version: i32,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_refresh_token(
    db: &impl ConnectionTrait,
    token: NewRefreshToken,
) -> Result<(), DbErr> {
    refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(token.user_id),
        family_id: Set(token.family_id),
        token_hash: Set(token.token_hash),
        token_version: Set(token.token_version),
        created_at: Set(token.now),
        expires_at: Set(token.expires_at),
        used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn find_refresh_token(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<refresh_token::Model>, DbErr> {
    refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(token_hash))
        .one(db)
        .await
}

/// Marks a refresh token used, only if nobody else did first. `false` means it was already used:
/// two clients hold the same token, one of them stolen.
pub async fn mark_refresh_token_used(
    db: &impl ConnectionTrait,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub struct UserFilter {
    pub role: Option<Role>,
    pub blocked: Option<bool>,
}

/// A page of users in creation order (IDs are time-ordered UUIDv7), after `after`.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &UserFilter,
    after: Option<Uuid>,
    limit: u64,
) -> Result<(Vec<user_account::Model>, u64), DbErr> {
    let mut query = user_account::Entity::find();
    if let Some(role) = filter.role {
        query = query.filter(user_account::Column::Role.eq(role.as_str()));
    }
    if let Some(blocked) = filter.blocked {
        query = query.filter(user_account::Column::Blocked.eq(blocked));
    }
    let total = query.clone().count(db).await?;
    if let Some(after) = after {
        query = query.filter(user_account::Column::Id.gt(after));
    }
    let rows = query
        .order_by_asc(user_account::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    Ok((rows, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_at_epoch_binds_as_built() {
        crate::db::tests::assert_binds_as_built(
            &[Uuid::now_v7(), Uuid::now_v7()],
            |backend, id| account_at_epoch(backend, *id),
            |backend, id| Ok(build_account_at_epoch(backend, *id)),
        );
    }
}
