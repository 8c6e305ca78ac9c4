//! Rental: equipment booked over dates. A storefront order (by a customer or a visitor, who
//! gets a customer and an account on the way) or a manager's booking becomes a rental project;
//! its items stay drafts that block nothing until a manager takes the project into work, then
//! count against availability until the equipment is back.
//!
//! Invariants:
//! - availability is the owned quantity minus the **peak** in use over a period (not the sum
//!   of overlapping bookings), buffers included; only items of projects `IN_WORK` or `ISSUED`
//!   count (`ISSUED` ones until returned, however late);
//! - units are reserved only with the products' rows locked (one global order), inside the
//!   transaction that checks them: parallel approvals never overbook;
//! - every mutation runs on the project row locked for update, checks the version it was based
//!   on, records each change (field, old, new, side, who) and writes one event in that
//!   transaction;
//! - a customer's users see their customer's projects and every change made to them; clashes
//!   with other projects are shown to staff only.

pub mod availability;
mod create;
pub mod customer;
pub mod desk;
pub mod graphql;
mod ledger;
pub mod model;
pub mod queries;
pub mod service;
pub mod store;
pub mod storefront;

pub use service::PROJECT_OBJECT;
