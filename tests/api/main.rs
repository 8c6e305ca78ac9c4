//! Black-box tests: each starts the real server on 127.0.0.1:0 with a database of its own and talks
//! to it over HTTP and WebSocket. Every database test runs on SQLite, and on PostgreSQL too when
//! `COMPTOIR_TEST_DATABASE_URL` is set.

// A failing test is a panic: unwrap and expect are how tests say "this must hold".
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod helpers;

mod accounts;
mod admin;
mod bench;
mod carts;
mod catalog;
mod cli;
mod customers;
mod documents;
mod http_spec;
mod limits;
mod mail;
mod notifications;
mod order_desk;
mod orders;
mod processes;
mod production;
mod quote_desk;
mod quotes;
mod rental;
mod response_cache;
mod schema_file;
mod tokens;
mod websocket;
