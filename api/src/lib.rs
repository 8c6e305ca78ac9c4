//! Comptoir's server: domain contexts, GraphQL schema, authentication and HTTP transport.
//!
//! The binary calls [`cli::main`]; tests and examples use [`serve`], [`router`] and [`sdl`].

pub mod auth;
pub mod carts;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod customers;
pub mod db;
pub mod documents;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod kernel;
pub mod notifications;
pub mod orders;
pub mod pricing;
pub mod production;
pub mod quotes;
pub mod rental;
pub mod search;
pub mod seed;
pub mod state;
mod telemetry;

// Measured under the catalog load: glibc's allocator took a third of the server's CPU time
// (malloc, free, consolidation) and kept freed memory resident (argon2's 19 MiB blocks stayed
// in its arenas). mimalloc allocates faster and returns what is freed. Every program linking the
// server (the binary, the benchmark, the tests) runs on it, C code included (the `override`
// feature: SQLite's allocations went to glibc, whose arena locks topped the checkout profile).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use config::Config;
pub use error::AppError;
pub use http::{Server, router, serve};
pub use state::AppState;

/// The GraphQL schema in SDL, exactly as the server serves it; no database needed.
pub fn sdl() -> String {
    graphql::sdl()
}
