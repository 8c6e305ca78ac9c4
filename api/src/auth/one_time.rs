//! Single-use tokens sent by email (email verification, password reset): random, stored hashed,
//! expiring, bound to the user and to the purpose they were issued for.

use std::time::Duration;

use chrono::{DateTime, Utc};
use comptoir_entity::user_token::{self, Column, Entity};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, sea_query::Expr,
};
use uuid::Uuid;

use crate::{
    error::AppError,
    kernel::{secret_token, time::chrono_duration},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    const fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "VERIFY_EMAIL",
            Self::ResetPassword => "RESET_PASSWORD",
        }
    }
}

/// Issues a token for `user_id`; returns the secret to send (only its hash is stored).
pub async fn issue(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    purpose: Purpose,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<String, AppError> {
    let secret = secret_token::generate();
    user_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        purpose: Set(purpose.as_str().to_owned()),
        token_hash: Set(secret_token::hash(&secret)),
        created_at: Set(now),
        expires_at: Set(now + chrono_duration(ttl)),
        used_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(secret)
}

/// Consumes a token: returns the user it was issued for, once. Unknown, expired, used or
/// wrong-purpose tokens are all the same `VALIDATION` error on `token`.
pub async fn consume(
    db: &impl ConnectionTrait,
    secret: &str,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<Uuid, AppError> {
    let invalid = || AppError::validation("token", "invalid or expired token");
    let row = Entity::find()
        .filter(Column::TokenHash.eq(secret_token::hash(secret)))
        .filter(Column::Purpose.eq(purpose.as_str()))
        .one(db)
        .await?
        .ok_or_else(invalid)?;
    if row.used_at.is_some() || row.expires_at <= now {
        return Err(invalid());
    }
    // Conditional on "unused" so that two concurrent uses cannot both succeed.
    let claimed = Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(now))
        .filter(Column::Id.eq(row.id))
        .filter(Column::UsedAt.is_null())
        .exec(db)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(invalid());
    }
    Ok(row.user_id)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use chrono::Utc;

    use super::*;
    use crate::{
        auth::{Role, service},
        state::AppState,
    };

    async fn state() -> (AppState, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (crate::state::for_tests(&dir).await, dir)
    }

    #[tokio::test]
    async fn a_token_works_once_for_its_user_and_purpose_until_it_expires() {
        let (state, _dir) = state().await;
        let user = service::create_user_unchecked(
            &state,
            "t@example.test",
            "long enough".into(),
            Role::Identified,
            None,
        )
        .await
        .unwrap();
        let db = state.db.read();
        let now = Utc::now();
        let ttl = Duration::from_hours(1);

        let secret = issue(db, user.id, Purpose::ResetPassword, ttl, now)
            .await
            .unwrap();
        assert!(
            consume(db, &secret, Purpose::VerifyEmail, now)
                .await
                .is_err(),
            "wrong purpose"
        );
        assert_eq!(
            consume(db, &secret, Purpose::ResetPassword, now).await.ok(),
            Some(user.id)
        );
        assert!(
            consume(db, &secret, Purpose::ResetPassword, now)
                .await
                .is_err(),
            "used twice"
        );

        let expiring = issue(db, user.id, Purpose::VerifyEmail, ttl, now)
            .await
            .unwrap();
        let later = now + chrono::Duration::hours(2);
        assert!(
            consume(db, &expiring, Purpose::VerifyEmail, later)
                .await
                .is_err(),
            "expired"
        );
        assert!(
            consume(db, "made-up", Purpose::VerifyEmail, now)
                .await
                .is_err(),
            "unknown"
        );
    }
}
