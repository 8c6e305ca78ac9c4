//! Documents: PDFs of quotes, orders (confirmation, purchase order, pro-forma, work sheet) and
//! invoices, rendered by the server from one document model; invoices and credit notes; the
//! seller's identity they print; signed URLs that open them without headers.
//!
//! Invariants:
//! - a document prints the amounts the API computes (the orders' and quotes' own `totals`);
//! - a document is served to exactly those who may read its object (a customer their own; work
//!   sheets staff only); a signed URL is handed out only through a field of an object the caller
//!   may read, and expires (`COMPTOIR_SIGNED_URL_TTL`);
//! - an invoice is numbered gaplessly in its transaction and never changes once issued (only its
//!   "standing" mark is cleared by the credit note that cancels it); one standing invoice per
//!   order.
//!
//! Adding a kind (the rental project confirmation, for one): a `DocumentKind` variant (its path
//! name, title and file name), a builder that fills a [`DocumentModel`] from the object (header
//! facts, parties, lines, totals from the object's own `totals`, terms), and a branch in
//! `service::model` and `service::id_kind` that finds the object for the caller with its
//! context's own finder (that is the authorization). A `…Url` field on the object's GraphQL
//! type calls `graphql::types::url`. The renderer and the HTTP route need no change.

pub mod build;
pub mod graphql;
pub mod invoices;
pub mod model;
pub mod render;
pub mod seller;
pub mod service;
pub mod signing;
pub mod store;

pub use model::{DocumentKind, DocumentModel};
