//! Accounts, roles and tokens.
//!
//! Invariants:
//! - every access token carries the user's `token_version`; blocking, changing the role or the
//!   password bumps it, which revokes every token of that user at once (checked on each request);
//! - refresh tokens are stored hashed, rotate on use, and a reused one revokes its whole family;
//! - passwords are hashed with argon2id on a bounded pool of blocking threads, never on the async
//!   runtime; an unknown email is checked against a dummy hash so both answers take the same time.

pub mod graphql;
pub mod jwt;
pub mod model;
pub mod one_time;
pub mod password;
pub mod principal;
pub mod rate_limit;
pub mod service;
mod store;

pub use model::{Role, User};
pub use principal::{AuthUser, Principal};
