//! Carts: anonymous (addressed by a token) or a user's one active cart; lines priced from the
//! current catalog on every read; template carts to start from.
//!
//! Invariants:
//! - an anonymous cart is reached only with its token (stored hashed); a user's cart only by
//!   that user; an anonymous cart merged at login is gone;
//! - a line is identified by what it holds (product, variant, configuration, rental period):
//!   adding the same thing again adds to its quantity;
//! - prices and totals are computed by the server, never taken from the client.

pub mod graphql;
pub mod model;
pub mod service;
mod store;
pub mod templates;

pub use model::{CartView, LineView};
pub use templates::{TemplateLine, TemplateView};
