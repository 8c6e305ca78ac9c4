use async_graphql::{Context, Enum, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};

use crate::{
    auth::{
        Principal,
        model::{Role, Session, User},
        service::AccountEvent,
    },
    customers::graphql::types::CustomerObject,
    error::AppError,
    graphql::loaders::{CustomerLoader, load_error, loader},
    kernel::ids::{self, Kind},
};

/// Who a caller is. `PUBLIC` is a caller without a token; accounts hold one of the others.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "Role", remote = "crate::auth::model::Role")]
pub enum RoleGql {
    /// A visitor without an account or token.
    Public,
    /// A registered person.
    Identified,
    /// A professional customer with an account at the seller.
    AccountClient,
    /// Seller staff: prices quotes, manages orders and rental projects.
    Manager,
    /// Seller staff who also manage users and settings.
    Admin,
}

/// A user account. Its owner and staff read all of it; others who may see it (a customer's user
/// sees the staff and colleagues who changed their orders and projects, or wrote to them) read
/// its ID and email only.
pub struct UserObject {
    user: User,
    details: bool,
}

impl UserObject {
    /// The whole account, where the caller is known to be its owner (`me`, the answer to the
    /// login, registration or email check that proved it) or staff (the admin's lists and
    /// changes). Anywhere else, [`UserObject::seen_by`].
    pub fn whole(user: User) -> Self {
        Self {
            user,
            details: true,
        }
    }

    /// The account as `viewer` may see it.
    pub fn seen_by(user: User, viewer: &Principal) -> Self {
        let details = viewer.is_staff() || viewer.user_id() == Some(user.id);
        Self { user, details }
    }

    fn account_details(&self) -> Result<&User> {
        if self.details {
            Ok(&self.user)
        } else {
            Err(AppError::Forbidden.to_graphql())
        }
    }
}

#[Object(name = "User")]
#[allow(clippy::unused_async)] // async-graphql resolvers are async
impl UserObject {
    /// Opaque ID.
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::User, self.user.id))
    }
    /// Login email, lower-cased.
    async fn email(&self) -> &str {
        &self.user.email
    }
    /// For staff and the user themselves (`FORBIDDEN` to others), as are `blocked`,
    /// `blockedReason`, `blockedAt`, `emailVerified` and `createdAt`.
    async fn role(&self) -> Result<RoleGql> {
        Ok(self.account_details()?.role.into())
    }
    /// A blocked user cannot log in and every token they hold is refused.
    async fn blocked(&self) -> Result<bool> {
        Ok(self.account_details()?.blocked)
    }
    /// Why the account was blocked.
    async fn blocked_reason(&self) -> Result<Option<&str>> {
        Ok(self.account_details()?.blocked_reason.as_deref())
    }
    /// When the account was blocked (UTC).
    async fn blocked_at(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(self.account_details()?.blocked_at)
    }
    /// Whether the email address has been verified.
    async fn email_verified(&self) -> Result<bool> {
        Ok(self.account_details()?.email_verified_at.is_some())
    }
    /// When the account was created (UTC).
    async fn created_at(&self) -> Result<DateTime<Utc>> {
        Ok(self.account_details()?.created_at)
    }
    /// The customer this user buys for, when the caller may see it.
    async fn customer(&self, ctx: &Context<'_>) -> Result<Option<CustomerObject>> {
        let Some(id) = self.user.customer_id else {
            return Ok(None);
        };
        let customer = loader::<CustomerLoader>(ctx)?
            .load_one(id)
            .await
            .map_err(|e| load_error(&e))?;
        Ok(customer.map(CustomerObject))
    }
}

/// Tokens for a new or refreshed session.
pub struct AuthPayload(pub Session);

#[Object]
impl AuthPayload {
    /// Bearer token for `Authorization: Bearer …` (HTTP) or the `authorization` field of the
    /// WebSocket `connection_init` payload. Short-lived.
    async fn access_token(&self) -> &str {
        &self.0.access_token
    }
    async fn access_token_expires_at(&self) -> DateTime<Utc> {
        self.0.access_token_expires_at
    }
    /// Single-use token for `refreshToken`: each use returns a new one. Keep it secret.
    async fn refresh_token(&self) -> &str {
        &self.0.refresh_token
    }
    async fn refresh_token_expires_at(&self) -> DateTime<Utc> {
        self.0.refresh_token_expires_at
    }
    /// The logged-in user.
    async fn user(&self) -> UserObject {
        UserObject::whole(self.0.user.clone())
    }
}

/// What happened to an account.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "crate::auth::service::AccountEventKind")]
pub enum AccountEventKind {
    /// An admin changed the role; tokens issued before are revoked, log in again.
    RoleChanged,
    /// An admin blocked the account; the subscription ends after this event.
    Blocked,
    /// An admin unblocked the account.
    Unblocked,
    /// The password changed; sessions other than the one that changed it are over.
    PasswordChanged,
}

/// A change to the caller's own account.
pub struct AccountEventObject(pub AccountEvent);

#[Object(name = "AccountEvent")]
impl AccountEventObject {
    /// Position in the event log.
    async fn cursor(&self) -> String {
        crate::kernel::pagination::event_cursor(self.0.id)
    }
    async fn kind(&self) -> AccountEventKind {
        self.0.kind.into()
    }
    /// The account's role after the change.
    async fn role(&self) -> Option<RoleGql> {
        self.0.role.map(Role::into)
    }
    /// The reason given when blocking.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }
    /// When it happened (UTC).
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

#[derive(InputObject)]
pub struct RegisterInput {
    /// Login email; must not be in use.
    pub email: String,
    /// 8 to 128 characters.
    pub password: String,
    /// An anonymous cart whose lines move into the new account's cart.
    pub cart_token: Option<String>,
}

#[derive(InputObject)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
    /// An anonymous cart whose lines move into the user's cart.
    pub cart_token: Option<String>,
}

#[derive(InputObject)]
pub struct CreateUserInput {
    pub email: String,
    /// 8 to 128 characters.
    pub password: String,
    /// Any role but `PUBLIC`.
    pub role: RoleGql,
    /// The customer the user buys for: required for `ACCOUNT_CLIENT`, optional for
    /// `IDENTIFIED`, absent for staff.
    pub customer_id: Option<ID>,
}
