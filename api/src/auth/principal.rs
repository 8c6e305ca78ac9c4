//! The caller of a request: who they are and what role they hold, resolved once per request (or
//! per WebSocket operation) from the bearer token and the current state of the account.

use uuid::Uuid;

use super::Role;
use crate::error::AppError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthUser {
    pub id: Uuid,
    pub role: Role,
    /// The customer this user belongs to (`IDENTIFIED`: at most one; `ACCOUNT_CLIENT`: always one).
    pub customer_id: Option<Uuid>,
}

/// The caller. A request whose token was refused (invalid, expired, revoked) runs as a public
/// caller that remembers why: public fields still answer (so a client holding an expired token
/// can still `refreshToken` or `login`), and anything that needs a user answers `UNAUTHENTICATED`
/// with the reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Principal {
    user: Option<AuthUser>,
    rejected: Option<&'static str>,
}

impl Principal {
    pub const PUBLIC: Self = Self {
        user: None,
        rejected: None,
    };

    pub const fn user(user: AuthUser) -> Self {
        Self {
            user: Some(user),
            rejected: None,
        }
    }

    /// A caller whose token was refused for `reason`.
    pub const fn rejected(reason: &'static str) -> Self {
        Self {
            user: None,
            rejected: Some(reason),
        }
    }

    /// Why the caller's token was refused, if it was.
    pub const fn rejection(&self) -> Option<&'static str> {
        self.rejected
    }

    pub fn role(&self) -> Role {
        self.user.map_or(Role::Public, |user| user.role)
    }

    pub fn user_id(&self) -> Option<Uuid> {
        self.user.map(|user| user.id)
    }

    /// The logged-in user, or `UNAUTHENTICATED` (with the reason the token was refused).
    pub fn require_user(&self) -> Result<AuthUser, AppError> {
        self.user.ok_or(AppError::Unauthenticated(
            self.rejected.unwrap_or("authentication required"),
        ))
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
        self.user.and_then(|user| user.customer_id)
    }
}
