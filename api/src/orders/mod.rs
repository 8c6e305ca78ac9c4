//! Orders: a customer's checkout or a manager's draft, then the shared order that seller and
//! customer edit live, and the order desk around it (notes, payments, calls, messages).
//!
//! Invariants:
//! - every mutation runs in one transaction on the order row locked for update, checks the
//!   version it was based on (stale: `CONFLICT`), records each change (field, old, new, side)
//!   and writes one event in that transaction;
//! - stock of tracked products is taken when a line enters an order (conditional decrement: no
//!   oversell) and returned when it shrinks, leaves, or the order is cancelled; `reserved_stock`
//!   on the line is what it holds;
//! - customers never see drafts (until first proposed or confirmed), internal notes, payment
//!   records (they see the amount paid and the balance), calls or line production details
//!   (those events are `internal`);
//! - `total_e4` is recomputed from the lines on every change; payments never exceed it, and no
//!   edit brings it below what was paid.

pub mod checkout;
pub mod copies;
pub mod desk;
pub mod editing;
pub mod graphql;
pub mod model;
pub mod service;
pub mod store;

pub use model::{Order, OrderLine, OrderStatus};
pub use service::ORDER_OBJECT;
