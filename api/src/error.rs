//! The one error type the API speaks, and its mapping to stable `extensions.code` values.
//!
//! `AppError` deliberately does not implement `Display`: async-graphql converts any `Display` type
//! into an error *without* extensions, so a missing `Display` makes `?` go through our mapping.
//! Causes of `INTERNAL` errors are logged here and never sent to clients.

use std::fmt;

use async_graphql::ErrorExtensions;
use sea_orm::{DbErr, SqlErr};

/// Every error code a client can see. Stable: clients branch on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    Validation,
    Conflict,
    AccountBlocked,
    InvalidCredentials,
    RateLimited,
    Lagged,
    InvalidTransition,
    OutOfStock,
    EmailNotVerified,
    QuotesUnavailable,
    CustomerBlocked,
    InsufficientAvailability,
    Internal,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::Validation => "VALIDATION",
            Self::Conflict => "CONFLICT",
            Self::AccountBlocked => "ACCOUNT_BLOCKED",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::RateLimited => "RATE_LIMITED",
            Self::Lagged => "LAGGED",
            Self::InvalidTransition => "INVALID_TRANSITION",
            Self::OutOfStock => "OUT_OF_STOCK",
            Self::EmailNotVerified => "EMAIL_NOT_VERIFIED",
            Self::QuotesUnavailable => "QUOTES_UNAVAILABLE",
            Self::CustomerBlocked => "CUSTOMER_BLOCKED",
            Self::InsufficientAvailability => "INSUFFICIENT_AVAILABILITY",
            Self::Internal => "INTERNAL",
        }
    }
}

pub enum AppError {
    /// No valid credentials (missing where required, expired, tampered, revoked).
    Unauthenticated(&'static str),
    /// Authenticated, but the role or ownership does not allow this.
    Forbidden,
    NotFound {
        what: String,
        field: Option<String>,
    },
    Validation {
        field: String,
        message: String,
    },
    Conflict {
        field: Option<String>,
        message: String,
        /// For stale edits: the version to base the next attempt on.
        current_version: Option<i32>,
    },
    /// `CONFLICT` too: the transaction met a parallel one and PostgreSQL failed it (a deadlock, a
    /// serialization failure); nothing of it was kept, and the same request may pass again.
    /// Apart from [`AppError::Conflict`], which callers read as "already exists".
    Contended,
    AccountBlocked,
    InvalidCredentials,
    RateLimited {
        retry_after_secs: u64,
    },
    /// A subscriber fell behind and missed events; it can catch up from the event log.
    Lagged {
        missed: u64,
    },
    /// The object's status does not allow this (`from` → `to`).
    InvalidTransition {
        from: &'static str,
        to: String,
    },
    /// `INVALID_TRANSITION` too, with what must happen first (an invoiced order: a credit note).
    TransitionBlocked {
        from: &'static str,
        to: String,
        first: &'static str,
    },
    /// Not enough stock for a line; `field` names it (`lines.2`), `available` says how many are.
    OutOfStock {
        field: String,
        name: String,
        available: i32,
    },
    /// The store requires a verified email before ordering or requesting quotes.
    EmailNotVerified,
    /// Quotes are off, or not offered to the caller's customer type.
    QuotesUnavailable,
    /// The customer is blocked: nothing is booked for them (storefront checkout included).
    CustomerBlocked,
    /// Rental items need more units than are free for their dates; `shortages` lists each
    /// (`field`, requested, available, short, the projects it clashes with).
    InsufficientAvailability {
        field: String,
        shortages: serde_json::Value,
    },
    Internal(anyhow::Error),
}

impl AppError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Conflict {
            field: Some(field.into()),
            message: message.into(),
            current_version: None,
        }
    }

    pub fn not_found(what: &'static str, field: impl Into<String>) -> Self {
        Self::NotFound {
            what: what.to_owned(),
            field: Some(field.into()),
        }
    }

    /// A `NOT_FOUND` from a shared finder, named after the argument this caller was given
    /// (`orderId`…); any other error unchanged.
    #[must_use]
    pub fn not_found_as(self, what: &'static str, field: &str) -> Self {
        match self {
            Self::NotFound { .. } => Self::not_found(what, field),
            other => other,
        }
    }

    /// An edit based on an old version: `CONFLICT` with the current version in the message.
    pub fn stale(current_version: i32) -> Self {
        Self::Conflict {
            field: Some("version".to_owned()),
            message: format!("changed by someone else; the current version is {current_version}"),
            current_version: Some(current_version),
        }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::Forbidden => ErrorCode::Forbidden,
            Self::NotFound { .. } => ErrorCode::NotFound,
            Self::Validation { .. } => ErrorCode::Validation,
            Self::Conflict { .. } | Self::Contended => ErrorCode::Conflict,
            Self::AccountBlocked => ErrorCode::AccountBlocked,
            Self::InvalidCredentials => ErrorCode::InvalidCredentials,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Lagged { .. } => ErrorCode::Lagged,
            Self::InvalidTransition { .. } | Self::TransitionBlocked { .. } => {
                ErrorCode::InvalidTransition
            }
            Self::OutOfStock { .. } => ErrorCode::OutOfStock,
            Self::EmailNotVerified => ErrorCode::EmailNotVerified,
            Self::QuotesUnavailable => ErrorCode::QuotesUnavailable,
            Self::CustomerBlocked => ErrorCode::CustomerBlocked,
            Self::InsufficientAvailability { .. } => ErrorCode::InsufficientAvailability,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The message shown to clients: plain, and never the internal cause.
    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated(why) => (*why).to_owned(),
            Self::Forbidden => "you are not allowed to do this".to_owned(),
            Self::NotFound { what, .. } => format!("{what} not found"),
            Self::Validation { field, message } => format!("{field}: {message}"),
            Self::Conflict { message, .. } => message.clone(),
            Self::Contended => "changed at the same time by another request: try again".to_owned(),
            Self::AccountBlocked => "this account is blocked".to_owned(),
            Self::InvalidCredentials => "invalid email or password".to_owned(),
            Self::RateLimited { retry_after_secs } => {
                format!("too many attempts; retry in {retry_after_secs} s")
            }
            Self::Lagged { missed } => format!("subscriber lagged and missed {missed} events"),
            Self::InvalidTransition { from, to } => {
                format!("not allowed while {from} (requested: {to})")
            }
            Self::TransitionBlocked { from, to, first } => {
                format!("not allowed while {from} (requested: {to}): {first}")
            }
            Self::OutOfStock {
                name, available, ..
            } => format!("{name}: only {available} in stock"),
            Self::EmailNotVerified => "verify your email address first".to_owned(),
            Self::QuotesUnavailable => "quotes are not available to you".to_owned(),
            Self::CustomerBlocked => "this customer is blocked".to_owned(),
            Self::InsufficientAvailability { shortages, .. } => format!(
                "not enough units free for {} item(s)",
                shortages.as_array().map_or(0, Vec::len)
            ),
            Self::Internal(_) => "internal error".to_owned(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::Validation { field, .. }
            | Self::OutOfStock { field, .. }
            | Self::InsufficientAvailability { field, .. } => Some(field),
            Self::NotFound { field, .. } | Self::Conflict { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// The GraphQL error sent to clients. Logs the cause of internal errors once, here.
    pub fn to_graphql(&self) -> async_graphql::Error {
        if let Self::Internal(cause) = self {
            tracing::error!(error = ?cause, "internal error");
        }
        let code = self.code();
        let field = self.field().map(str::to_owned);
        let retry_after = match self {
            Self::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        let available = match self {
            Self::OutOfStock { available, .. } => Some(*available),
            _ => None,
        };
        let current_version = match self {
            Self::Conflict {
                current_version, ..
            } => *current_version,
            _ => None,
        };
        let shortages = match self {
            Self::InsufficientAvailability { shortages, .. } => {
                async_graphql::Value::from_json(shortages.clone()).ok()
            }
            _ => None,
        };
        async_graphql::Error::new(self.message()).extend_with(|_, ext| {
            ext.set("code", code.as_str());
            if let Some(field) = &field {
                ext.set("field", field.as_str());
            }
            if let Some(secs) = retry_after {
                ext.set("retryAfter", secs);
            }
            if let Some(version) = current_version {
                ext.set("currentVersion", version);
            }
            if matches!(self, Self::Contended) {
                ext.set("retry", true);
            }
            if let Some(available) = available {
                ext.set("available", available);
            }
            if let Some(shortages) = shortages {
                ext.set("shortages", shortages);
            }
        })
    }
}

impl fmt::Debug for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Internal(cause) => write!(f, "Internal({cause:?})"),
            other => write!(f, "{}({})", other.code().as_str(), other.message()),
        }
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(error: AppError) -> Self {
        error.to_graphql()
    }
}

impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        self.to_graphql()
    }
}

/// Database errors: unique violations become [`AppError::Conflict`], a transaction PostgreSQL
/// failed in a deadlock (`40P01`) or a serialization failure (`40001`) [`AppError::Contended`]
/// (both `CONFLICT`), the rest `INTERNAL`.
impl From<DbErr> for AppError {
    fn from(error: DbErr) -> Self {
        if let Some(SqlErr::UniqueConstraintViolation(detail)) = error.sql_err() {
            tracing::debug!(%detail, "unique violation");
            return Self::Conflict {
                field: None,
                message: "already exists".to_owned(),
                current_version: None,
            };
        }
        if matches!(sql_state(&error).as_deref(), Some("40P01" | "40001")) {
            tracing::warn!(%error, "transaction failed against a parallel one");
            return Self::Contended;
        }
        Self::Internal(error.into())
    }
}

/// The SQLSTATE code of the database's error `error` reports, if it reports one.
pub fn sql_state(error: &DbErr) -> Option<String> {
    let (DbErr::Query(sea_orm::RuntimeErr::SqlxError(error))
    | DbErr::Exec(sea_orm::RuntimeErr::SqlxError(error))) = error
    else {
        return None;
    };
    error
        .as_database_error()
        .and_then(sea_orm::sqlx::error::DatabaseError::code)
        .map(std::borrow::Cow::into_owned)
}

impl From<anyhow::Error> for AppError {
    fn from(error: anyhow::Error) -> Self {
        Self::Internal(error)
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::Value;

    use super::AppError;

    /// A transaction failed against a parallel one is a `CONFLICT` that says to send it again;
    /// a stale edit is not.
    #[test]
    fn a_contended_transaction_is_a_conflict_to_send_again() {
        let sent = AppError::Contended.to_graphql().extensions.unwrap();
        assert_eq!(sent.get("code"), Some(&Value::from("CONFLICT")));
        assert_eq!(sent.get("retry"), Some(&Value::Boolean(true)));
        let stale = AppError::stale(3).to_graphql().extensions.unwrap();
        assert_eq!(stale.get("code"), Some(&Value::from("CONFLICT")));
        assert_eq!(stale.get("retry"), None);
    }
}
