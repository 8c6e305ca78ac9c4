//! The catalog: products of four kinds (standard with variants, configurable, custom, rental),
//! their options and stock, and the store settings (name, currency).
//!
//! Invariants:
//! - references are unique across products and variants (quick add finds either);
//! - the public sees only active, visible, unarchived products and active variants; staff see all;
//! - a configuration is validated and priced only by [`model::price_configuration`], which carts,
//!   quotes and orders share.

pub mod graphql;
pub mod model;
pub mod service;
pub mod settings;
pub mod snapshot;
pub(crate) mod store;

pub use model::{Configuration, OptionKind, Product, ProductKind, ProductOption, Variant};
