//! The caller of a request: who they are and what role they hold, resolved once per request (or
//! per WebSocket operation) from the bearer token and the current state of the account.

use uuid::Uuid;

use super::Role;
use crate::error::AppError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthUser {
    pub id: Uuid,
    pub role: Role,
    /// The customer this user belongs to (IDENTIFIED: at most one; ACCOUNT_CLIENT: always one).
    pub customer_id: Option<Uuid>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Principal(Option<AuthUser>);

impl Principal {
    pub const PUBLIC: Self = Self(None);

    pub const fn user(user: AuthUser) -> Self {
        Self(Some(user))
    }

    pub fn role(&self) -> Role {
        self.0.map_or(Role::Public, |user| user.role)
    }

    pub fn user_id(&self) -> Option<Uuid> {
        self.0.map(|user| user.id)
    }

    /// The logged-in user, or `UNAUTHENTICATED`.
    pub fn require_user(&self) -> Result<AuthUser, AppError> {
        self.0
            .ok_or(AppError::Unauthenticated("authentication required"))
    }

    /// The logged-in user if their role is one of `roles`; `UNAUTHENTICATED` or `FORBIDDEN`.
    pub fn require_role(&self, roles: &[Role]) -> Result<AuthUser, AppError> {
        let user = self.require_user()?;
        if roles.contains(&user.role) {
            Ok(user)
        } else {
            Err(AppError::Forbidden)
        }
    }

    pub fn require_admin(&self) -> Result<AuthUser, AppError> {
        self.require_role(&[Role::Admin])
    }

    /// Seller staff: managers and admins.
    pub fn require_staff(&self) -> Result<AuthUser, AppError> {
        self.require_role(&[Role::Manager, Role::Admin])
    }

    pub fn is_staff(&self) -> bool {
        self.role().is_staff()
    }

    /// The customer the caller buys for, if any.
    pub fn customer_id(&self) -> Option<Uuid> {
        self.0.and_then(|user| user.customer_id)
    }
}
