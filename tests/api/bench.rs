//! A short run of the load benchmark (`examples/bench`), so that it never rots: every workload
//! runs against a real server process without errors. Timings are printed, never asserted.

#[path = "../../examples/bench/driver.rs"]
#[allow(dead_code)]
mod driver;

use crate::helpers::Backend;

both_backends!(the_benchmark_runs_every_workload_without_errors);
async fn the_benchmark_runs_every_workload_without_errors(backend: Backend) {
    let database = match backend {
        Backend::Sqlite => driver::Database::Sqlite,
        Backend::Postgres => match std::env::var("COMPTOIR_TEST_DATABASE_URL") {
            Ok(url) => driver::Database::Postgres(url),
            Err(_) => return,
        },
    };
    let options = driver::Options {
        database,
        server: driver::ServerCommand {
            program: env!("CARGO_BIN_EXE_comptoir").into(),
            args: vec!["serve".to_owned()],
        },
        seconds: 0.3,
        connections: 2,
        subscribers: 20,
        rounds: 2,
        scale: 0.05,
        only: Vec::new(),
    };
    let report = driver::run(options).await.expect("the benchmark runs");
    println!("{}", report.render());
    assert_eq!(report.rows.len(), 11, "every workload reported");
    for row in &report.rows {
        assert!(row.requests > 0, "{} sent no request", row.workload);
        assert_eq!(row.errors, 0, "{} had errors", row.workload);
    }
    assert_eq!(report.fanout_subscribers, 20);
    assert_eq!(report.fanout_errors, 0, "every subscriber had every event");
    assert_eq!(report.oversold, Some(0));
    assert!(report.idle_rss_kib > 0, "the server's memory was read");
}
