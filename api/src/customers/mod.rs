//! Customers: the companies and persons that buy, with their contacts and addresses.
//!
//! Invariants:
//! - a customer's rows are read only through [`service::find_for`] and friends, which take the
//!   principal: staff see every customer, a user only their own, and anything else is `NOT_FOUND`;
//! - one billing address, any number of delivery addresses, exactly one of which is the default;
//! - blocking a customer blocks its users (their tokens die at once).

pub mod graphql;
pub mod model;
pub mod service;
pub(crate) mod store;

pub use model::{Address, Contact, Customer};
