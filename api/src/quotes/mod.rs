//! Quotes: settings per customer type, requests from carts and configured products (the public
//! too, when allowed), pricing and negotiation by managers, sending with a validity, revisions,
//! conversion into an order, expiry and retention.
//!
//! Invariants:
//! - every quote operation of a non-staff caller first checks the settings (`QUOTES_UNAVAILABLE`);
//! - a sent quote never changes in place: a manager's edit opens a revision (`-R2`) that
//!   supersedes it once sent; customers accept only the latest;
//! - every status and negotiation change writes an event in its transaction; the internal
//!   comment never reaches customers (its event is internal and carries no text);
//! - conversion creates the order through `orders::checkout::create_from_quote`, in the quote's
//!   transaction.

pub mod customer;
pub mod desk;
pub mod graphql;
pub mod maintenance;
pub mod model;
pub mod requests;
pub mod service;
pub mod store;

pub use model::{Quote, QuoteLine};
pub use service::QUOTE_OBJECT;
