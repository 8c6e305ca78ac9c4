//! The load benchmark: seeds a fresh database with the shape of the reference measurement
//! (324 products, 528 variants, customers with carts), starts the release server as a separate
//! process, drives it over HTTP and WebSocket, and prints one table.
//!
//! ```sh
//! cargo run --release --example bench -- --db sqlite --seconds 10 --connections 32
//! cargo run --release --example bench -- --db postgres --database-url postgres://postgres@127.0.0.1:5432/test
//! ```
//! The server is this same program started again with `serve` (so it is the release build of
//! the code under test, whatever was built before).

mod driver;

use std::process::ExitCode;

use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Db {
    Sqlite,
    Postgres,
}

#[derive(Parser)]
#[command(about = "Comptoir's load benchmark")]
struct Args {
    /// The database the server runs on.
    #[arg(long, value_enum, default_value = "sqlite")]
    db: Db,
    /// PostgreSQL server for `--db postgres` (the benchmark works in a schema of its own).
    #[arg(
        long,
        env = "COMPTOIR_TEST_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    database_url: String,
    /// Seconds each workload runs.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Connections of each workload (the catalog page also runs at 1 and 16).
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// WebSocket subscribers of the fan-out.
    #[arg(long, default_value_t = 10_000)]
    subscribers: usize,
    /// Status changes timed in the fan-out.
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// Size of the catalog relative to the reference shape (1.0: 324 products).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Runs only these workloads (comma-separated): catalog, search, reference, cart, checkout,
    /// quote, rental, flood, mixed, fanout. All of them by default.
    #[arg(long, value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(driver::WORKLOADS))]
    only: Vec<String>,
}

fn main() -> ExitCode {
    // Started again as the server under test.
    if std::env::args().nth(1).as_deref() == Some("serve")
        || std::env::args().nth(1).as_deref() == Some("create-user")
    {
        return comptoir_api::cli::main();
    }
    let args = Args::parse();
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(error) => {
            eprintln!("error: cannot find this program: {error}");
            return ExitCode::FAILURE;
        }
    };
    let options = driver::Options {
        database: match args.db {
            Db::Sqlite => driver::Database::Sqlite,
            Db::Postgres => driver::Database::Postgres(args.database_url),
        },
        server: driver::ServerCommand {
            program,
            args: vec!["serve".to_owned()],
        },
        seconds: args.seconds,
        connections: args.connections.max(1),
        subscribers: args.subscribers,
        rounds: args.rounds.max(1),
        scale: args.scale,
        only: args.only,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(driver::run(options)) {
        Ok(report) => {
            print!("{}", report.render());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
