//! Account domain types, parsed at the edge.

use chrono::{DateTime, Utc};
use email_address::EmailAddress;
use uuid::Uuid;

use crate::error::AppError;

/// Who a caller is. `Public` is the absence of a token; users hold one of the other four.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Public,
    Identified,
    AccountClient,
    Manager,
    Admin,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Public => "PUBLIC",
            Self::Identified => "IDENTIFIED",
            Self::AccountClient => "ACCOUNT_CLIENT",
            Self::Manager => "MANAGER",
            Self::Admin => "ADMIN",
        }
    }

    /// A role a user account can hold (all but `PUBLIC`).
    pub fn parse_user_role(value: &str) -> Option<Self> {
        match value {
            "IDENTIFIED" => Some(Self::Identified),
            "ACCOUNT_CLIENT" => Some(Self::AccountClient),
            "MANAGER" => Some(Self::Manager),
            "ADMIN" => Some(Self::Admin),
            _ => None,
        }
    }

    /// Staff see and act on every customer's objects.
    pub const fn is_staff(self) -> bool {
        matches!(self, Self::Manager | Self::Admin)
    }
}

/// A user-account role, checked: never `PUBLIC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserRole(Role);

impl UserRole {
    pub fn parse(role: Role, field: &str) -> Result<Self, AppError> {
        if role == Role::Public {
            return Err(AppError::validation(
                field,
                "PUBLIC is not a role a user can hold",
            ));
        }
        Ok(Self(role))
    }

    pub const fn get(self) -> Role {
        self.0
    }
}

/// A syntactically valid email address, trimmed and lower-cased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(value: &str, field: &str) -> Result<Self, AppError> {
        let normalized = value.trim().to_lowercase();
        if normalized.len() > 254 || !EmailAddress::is_valid(&normalized) {
            return Err(AppError::validation(field, "not a valid email address"));
        }
        Ok(Self(normalized))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 8 to 128 characters.
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(value: String, field: &str) -> Result<Self, AppError> {
        let chars = value.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(AppError::validation(
                field,
                format!("must have at least {} characters", Self::MIN_CHARS),
            ));
        }
        if chars > Self::MAX_CHARS {
            return Err(AppError::validation(
                field,
                format!("must have at most {} characters", Self::MAX_CHARS),
            ));
        }
        Ok(Self(value))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A password offered at login. Not validated (old accounts may predate the rules) beyond a
/// length cap, so nobody can make the server hash megabytes.
pub struct OfferedPassword(String);

impl OfferedPassword {
    pub fn parse(value: String) -> Result<Self, AppError> {
        if value.len() > 1024 {
            return Err(AppError::InvalidCredentials);
        }
        Ok(Self(value))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A free-text reason (blocking), 1 to 500 characters.
pub struct Reason(String);

impl Reason {
    pub fn parse(value: &str, field: &str) -> Result<Self, AppError> {
        let value = value.trim();
        if value.is_empty() || value.chars().count() > 500 {
            return Err(AppError::validation(field, "must have 1 to 500 characters"));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A user account as the API shows it (never the password hash).
#[derive(Clone, Debug)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub blocked: bool,
    pub blocked_reason: Option<String>,
    pub blocked_at: Option<DateTime<Utc>>,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub customer_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// What a successful login, registration or refresh hands the client.
#[derive(Clone, Debug)]
pub struct Session {
    pub access_token: String,
    pub access_token_expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_token_expires_at: DateTime<Utc>,
    pub user: User,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Alice@Example.COM ", "email")
                .ok()
                .map(|e| e.0),
            Some("alice@example.com".to_owned())
        );
        assert!(Email::parse("not an email", "email").is_err());
        assert!(Email::parse("", "email").is_err());
    }

    #[test]
    fn passwords_have_bounds() {
        assert!(NewPassword::parse("short".into(), "password").is_err());
        assert!(NewPassword::parse("long enough".into(), "password").is_ok());
        assert!(NewPassword::parse("x".repeat(129), "password").is_err());
    }

    #[test]
    fn public_is_not_a_user_role() {
        assert!(UserRole::parse(Role::Public, "role").is_err());
        assert!(UserRole::parse(Role::Manager, "role").is_ok());
        assert_eq!(Role::parse_user_role("PUBLIC"), None);
    }
}
