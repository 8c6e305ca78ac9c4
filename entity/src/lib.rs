//! SeaORM entities: one module per table. Nothing here is API; the `api` crate wraps these rows in
//! domain types before they reach GraphQL.

pub mod event;
pub mod rate_limit;
pub mod refresh_token;
pub mod user_account;
pub mod user_token;
