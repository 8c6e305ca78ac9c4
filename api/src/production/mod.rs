//! Production: files on order lines (versions, comments, certification), quality claims, and
//! the orders made from orders (reprints with the same visuals, duplicates, new orders for the
//! same customer, free reprints after a claim).
//!
//! Invariants:
//! - file contents live in the file store (`storage::FileStore`), never rewritten; rows and
//!   events are written in one transaction after the content is stored, and a failed
//!   transaction removes what it stored;
//! - a customer reaches only the files, claims and photos of their own orders (`NOT_FOUND`
//!   otherwise); certification and claim decisions are staff-only;
//! - a certified file is not replaced until uncertified; only the current version changes;
//! - a claim concerns a `CUSTOM` line of a shipped or completed order, is decided once, and gets
//!   at most one free reprint.

pub mod claims;
pub mod files;
pub mod graphql;
pub mod model;
pub mod storage;
pub mod store;
