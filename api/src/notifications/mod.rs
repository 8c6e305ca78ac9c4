//! Notifications: the outbox of emails and SMS, the worker that sends them, and the message
//! templates admins edit.
//!
//! Invariants:
//! - a message is written to the outbox in the transaction of the change that causes it
//!   ([`outbox::enqueue`]); nothing is sent from a resolver or before commit;
//! - the worker claims messages with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so several
//!   instances never send the same message at once; a message is marked sent as soon as the
//!   writer takes the record of its attempt (with the attempts made while the previous record
//!   waited), and a restart resends only what was not marked (with the same Message-ID, so
//!   receivers can drop a duplicate);
//! - every message is rendered from a named template, in the recipient's language when a version
//!   exists, else in English.

pub mod graphql;
pub mod model;
pub mod outbox;
pub mod service;
pub mod templates;
pub mod transport;
pub mod worker;
