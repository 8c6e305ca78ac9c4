//! The load benchmark's driver: seeds a fresh database through the API, starts the server as a
//! separate process, drives it over HTTP and WebSocket, and reports one table. Shared by the
//! `bench` example and the test suite's smoke run.

use std::{
    fmt::Write as _,
    future::Future,
    path::PathBuf,
    pin::Pin,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{
    Message, client::IntoClientRequest, http::HeaderValue, protocol::WebSocketConfig,
};

const PASSWORD: &str = "bench password 42";
const SECRET: &str = "bench-secret-bench-secret-bench-secret-000";

/// Where the server keeps its data.
#[derive(Clone, Debug)]
pub enum Database {
    Sqlite,
    /// A PostgreSQL server; the benchmark works in a schema of its own, dropped at the end.
    Postgres(String),
}

/// How to start the server: a program and the arguments before the settings (`serve`).
#[derive(Clone, Debug)]
pub struct ServerCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub database: Database,
    pub server: ServerCommand,
    /// How long each workload runs.
    pub seconds: f64,
    /// Connections of every workload; the catalog page also runs at 1 and 16.
    pub connections: usize,
    /// WebSocket subscribers of the fan-out.
    pub subscribers: usize,
    /// Status changes the fan-out times.
    pub rounds: usize,
    /// 1.0: the shape of the reference measurement (324 products, 528 variants); less for a
    /// smoke run.
    pub scale: f64,
    /// The workloads to run, by their short names ([`WORKLOADS`]); empty: all of them.
    pub only: Vec<String>,
}

/// Short names of the workloads, in the order they run.
pub const WORKLOADS: [&str; 10] = [
    "catalog",
    "search",
    "reference",
    "cart",
    "checkout",
    "quote",
    "rental",
    "flood",
    "mixed",
    "fanout",
];

impl Options {
    fn runs(&self, workload: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|w| w == workload)
    }
}

/// One row of the table.
#[derive(Clone, Debug)]
pub struct Row {
    pub workload: String,
    pub connections: usize,
    pub requests: u64,
    pub errors: u64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub statements_per_request: f64,
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub rows: Vec<Row>,
    pub idle_rss_kib: u64,
    /// After the catalog load; `None` when it was left out.
    pub peak_rss_kib: Option<u64>,
    pub cold_start_ms: Option<f64>,
    pub fanout_subscribers: usize,
    pub fanout_p50_ms: f64,
    pub fanout_p99_ms: f64,
    pub fanout_errors: u64,
    pub kib_per_connection: f64,
    /// After the checkout load; `None` when it was left out.
    pub oversold: Option<i64>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<36} {:>5} {:>9} {:>10} {:>9} {:>9} {:>7} {:>8}",
            "workload", "conns", "requests", "req/s", "p50 ms", "p99 ms", "errors", "SQL/req"
        );
        for row in &self.rows {
            let _ = writeln!(
                out,
                "{:<36} {:>5} {:>9} {:>10.0} {:>9.2} {:>9.2} {:>7} {:>8.2}",
                row.workload,
                row.connections,
                row.requests,
                row.per_second,
                row.p50_ms,
                row.p99_ms,
                row.errors,
                row.statements_per_request
            );
        }
        // Not when the fan-out was left out (`--only`).
        if self.fanout_subscribers > 0 {
            let _ = writeln!(
                out,
                "fan-out: {} subscribers, last one has the event after p50 {:.1} ms, p99 {:.1} ms ({} missed); {:.1} KiB of server memory per idle connection",
                self.fanout_subscribers,
                self.fanout_p50_ms,
                self.fanout_p99_ms,
                self.fanout_errors,
                self.kib_per_connection
            );
        }
        let _ = write!(
            out,
            "server RSS: idle {:.1} MiB",
            kib_to_mib(self.idle_rss_kib)
        );
        if let Some(peak) = self.peak_rss_kib {
            let _ = write!(
                out,
                ", peak under the catalog load {:.1} MiB",
                kib_to_mib(peak)
            );
        }
        out.push('\n');
        if let Some(ms) = self.cold_start_ms {
            let _ = writeln!(
                out,
                "cold start on an empty SQLite (migrate + serve): {ms:.0} ms"
            );
        }
        if let Some(oversold) = self.oversold {
            let _ = writeln!(out, "oversold units under the checkout load: {oversold}");
        }
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        out
    }
}

#[allow(clippy::cast_precision_loss)]
fn kib_to_mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// A running server process, killed when dropped.
struct Server {
    child: Child,
    url: String,
    base: String,
    ws_url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.child.kill());
        drop(self.child.wait());
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts an SMTP server on loopback that accepts every message and keeps none, and returns its
/// URL. The benchmark's server sends its emails over SMTP, as in production: the `.eml` files
/// of the default transport cost more than the emails themselves (in a profile of the checkout
/// load, a fifth of both cores went to creating them, ext4 searching for a free inode past those
/// of the files a previous run had just deleted, which also made runs uneven).
fn start_mail_sink() -> anyhow::Result<String> {
    #[derive(Clone)]
    struct Discard;
    impl mailin::Handler for Discard {}
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let mut server = mailin_embedded::Server::new(Discard);
    server
        .with_name("sink.bench")
        // One session per connection of the outbox worker (8 at most) stays open.
        .with_num_threads(16)
        .with_tcp_listener(listener);
    // It serves until the benchmark ends.
    std::thread::spawn(move || drop(server.serve()));
    Ok(format!("smtp://127.0.0.1:{port}"))
}

/// Settings of the benchmark's server: limits opened for a load from one address; emails to
/// `smtp_url`, else to files.
fn server_env(
    database_url: &str,
    schema: Option<&str>,
    dir: &std::path::Path,
    smtp_url: Option<&str>,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("COMPTOIR_DATABASE_URL", database_url.to_owned()),
        ("COMPTOIR_JWT_SECRET", SECRET.to_owned()),
        ("COMPTOIR_METRICS", "true".to_owned()),
        // Quiet unless asked: `COMPTOIR_BENCH_LOG=sqlx::query=debug` shows every statement.
        (
            "COMPTOIR_LOG",
            std::env::var("COMPTOIR_BENCH_LOG").unwrap_or_else(|_| "error".to_owned()),
        ),
        ("COMPTOIR_MAIL_DIR", dir.join("mail").display().to_string()),
        ("COMPTOIR_LOGIN_MAX_PER_EMAIL", "100000000".to_owned()),
        ("COMPTOIR_LOGIN_MAX_PER_ADDRESS", "100000000".to_owned()),
        ("COMPTOIR_CARTS_MAX_PER_ADDRESS", "100000000".to_owned()),
        ("COMPTOIR_MAX_QUERY_COMPLEXITY", "100000".to_owned()),
    ];
    if let Some(schema) = schema {
        env.push(("COMPTOIR_DATABASE_SCHEMA", schema.to_owned()));
    }
    if let Some(url) = smtp_url {
        env.push(("COMPTOIR_SMTP_URL", url.to_owned()));
    }
    env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn spawn(
    command: &ServerCommand,
    env: &[(String, String)],
    extra: &[&str],
) -> anyhow::Result<(Child, u16)> {
    let port = free_port()?;
    let mut process = Command::new(&command.program);
    process
        .args(&command.args)
        .args(extra)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("COMPTOIR_BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null());
    // Settings to try: the benchmark's own COMPTOIR_* and MIMALLOC_* variables reach the server
    // (those the benchmark sets itself win).
    for (key, value) in std::env::vars() {
        if key.starts_with("COMPTOIR_") && key != "COMPTOIR_TEST_DATABASE_URL"
            || key.starts_with("MIMALLOC_")
        {
            process.env(key, value);
        }
    }
    for (key, value) in env {
        process.env(key, value);
    }
    let child = process
        .spawn()
        .with_context(|| format!("cannot start {}", command.program.display()))?;
    Ok((child, port))
}

async fn wait_ready(client: &reqwest::Client, port: u16) -> anyhow::Result<()> {
    let ready = format!("http://127.0.0.1:{port}/readyz");
    for _ in 0..6000 {
        if let Ok(response) = client.get(&ready).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bail!("the server did not become ready")
}

async fn start(
    command: &ServerCommand,
    env: &[(String, String)],
    client: &reqwest::Client,
) -> anyhow::Result<Server> {
    let (child, port) = spawn(command, env, &[])?;
    let server = Server {
        child,
        url: format!("http://127.0.0.1:{port}/graphql"),
        base: format!("http://127.0.0.1:{port}"),
        ws_url: format!("ws://127.0.0.1:{port}/graphql/ws"),
    };
    wait_ready(client, port).await?;
    Ok(server)
}

/// Creates the admin account with the server's own command line.
fn create_admin(
    command: &ServerCommand,
    env: &[(String, String)],
    email: &str,
) -> anyhow::Result<()> {
    use std::io::Write;
    let mut process = Command::new(&command.program);
    process
        .args([
            "create-user",
            "--email",
            email,
            "--role",
            "ADMIN",
            "--password-stdin",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::null());
    for (key, value) in env {
        process.env(key, value);
    }
    let mut child = process.spawn().context("cannot run create-user")?;
    child
        .stdin
        .take()
        .context("no stdin")?
        .write_all(format!("{PASSWORD}\n").as_bytes())?;
    if !child.wait()?.success() {
        bail!("create-user failed");
    }
    Ok(())
}

/// A GraphQL client of the server.
#[derive(Clone)]
struct Api {
    client: reqwest::Client,
    url: String,
}

impl Api {
    async fn call(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .client
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let body: Value = request.send().await?.json().await?;
        if let Some(errors) = body.get("errors") {
            bail!("GraphQL errors: {errors}");
        }
        Ok(body["data"].clone())
    }

    async fn login(&self, email: &str) -> anyhow::Result<String> {
        let data = self
            .call(
                None,
                "mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { accessToken } }",
                json!({ "e": email, "p": PASSWORD }),
            )
            .await?;
        str_of(&data["login"]["accessToken"])
    }
}

fn str_of(value: &Value) -> anyhow::Result<String> {
    value
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("expected a string, got {value}"))
}

/// What the workloads need from the seeded data.
struct Fixture {
    admin: String,
    manager: String,
    customers: Vec<(String, String)>,
    references: Vec<String>,
    tracked: Vec<String>,
    plentiful: String,
    rentals: Vec<String>,
    order: (String, i64),
}

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]
fn scaled(n: usize, scale: f64) -> usize {
    ((n as f64 * scale).ceil() as usize).max(1)
}

/// 324 products (72 with 528 variants, 180 tracked simple ones, 36 configurable, 24 custom,
/// 12 rental), customers with accounts and carts, rentals in work, one order to watch.
async fn seed(api: &Api, scale: f64, customers: usize) -> anyhow::Result<Fixture> {
    let admin = api.login("admin@bench.test").await?;
    let a = Some(admin.as_str());
    api.call(a, "mutation { createUser(input: { email: \"manager@bench.test\", password: \"bench password 42\", role: MANAGER }) { id } }", json!({})).await?;
    let manager = api.login("manager@bench.test").await?;
    let create = "mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }";
    let mut references = Vec::new();
    let mut tracked = Vec::new();
    let brands = ["Acme", "Borel", "Cobalt", "Delta", "Ember", "Fjord"];
    let product = |reference: String, name: String, kind: &str, extra: Value| {
        let mut input = json!({ "reference": reference, "name": name, "kind": kind, "unitPrice": "12.50", "vatRate": "20",
            "description": format!("{name}, a bench product") });
        for (k, v) in extra.as_object().into_iter().flatten() {
            input[k] = v.clone();
        }
        input
    };
    // Products with variants, named to come first by name: 48 with 8 variants, 24 with 6.
    for i in 0..scaled(72, scale) {
        let name = format!("A {} shirt {i:03}", brands[i % brands.len()]);
        let reference = format!("VAR-{i:03}");
        let id = str_of(
            &api.call(
                a,
                create,
                json!({ "input": product(reference.clone(), name, "STANDARD", json!({})) }),
            )
            .await?["createProduct"]["id"],
        )?;
        references.push(reference.clone());
        for v in 0..if i < 48 { 8 } else { 6 } {
            api.call(a, "mutation($p: ID!, $input: VariantInput!) { addProductVariant(productId: $p, input: $input) { id } }",
                json!({ "p": id, "input": { "reference": format!("{reference}-{v}"), "name": format!("size {v}"), "unitPrice": "13.00", "trackStock": true, "stock": 100_000 } })).await?;
        }
    }
    for i in 0..scaled(180, scale) {
        let reference = format!("STD-{i:03}");
        let name = format!("{} notebook {i:03}", brands[i % brands.len()]);
        let id = str_of(&api.call(a, create, json!({ "input": product(reference.clone(), name, "STANDARD", json!({ "trackStock": true, "stock": 1_000_000 })) })).await?["createProduct"]["id"])?;
        references.push(reference);
        tracked.push(id);
    }
    let plentiful = tracked.first().cloned().context("no tracked product")?;
    for (kind, prefix, count) in [("CONFIGURABLE", "CFG", 36), ("CUSTOM", "CUS", 24)] {
        for i in 0..scaled(count, scale) {
            let reference = format!("{prefix}-{i:03}");
            let id = str_of(&api.call(a, create, json!({ "input": product(reference.clone(), format!("{} banner {i:03}", brands[i % brands.len()]), kind, json!({})) })).await?["createProduct"]["id"])?;
            references.push(reference);
            api.call(a, "mutation($p: ID!, $input: ProductOptionInput!) { addProductOption(productId: $p, input: $input) { id } }",
                json!({ "p": id, "input": { "code": "paper", "name": "Paper", "kind": "CHOICE", "required": true, "values": [
                    { "code": "light", "label": "Light", "priceModifier": "0" }, { "code": "heavy", "label": "Heavy", "priceModifier": "4.50" } ] } })).await?;
        }
    }
    let mut rentals = Vec::new();
    for i in 0..scaled(12, scale) {
        let reference = format!("RNT-{i:03}");
        let id = str_of(&api.call(a, create, json!({ "input": product(reference.clone(), format!("Stage light {i:03}"), "RENTAL",
            json!({ "unitPrice": "0", "rentalOwnedQuantity": 500, "rentalDailyPrice": "45", "rentalBufferAfterHours": 4 })) })).await?["createProduct"]["id"])?;
        references.push(reference);
        rentals.push(id);
    }
    let accounts = seed_customers(api, &admin, &tracked, customers).await?;
    seed_rentals(api, &admin, &manager, &rentals, scale).await?;
    // An order for the fan-out: the first customer checks out, the desk will toggle its hold.
    let (token, cart) = accounts.first().cloned().context("no customer")?;
    let order = api
        .call(Some(&token), CHECKOUT, json!({ "cart": cart }))
        .await?;
    let order = (
        str_of(&order["checkout"]["id"])?,
        order["checkout"]["version"].as_i64().unwrap_or(0),
    );
    Ok(Fixture {
        admin,
        manager,
        customers: accounts,
        references,
        tracked,
        plentiful,
        rentals,
        order,
    })
}

/// Customers, each with an account and a cart of three lines: (access token, cart ID).
async fn seed_customers(
    api: &Api,
    admin: &str,
    tracked: &[String],
    customers: usize,
) -> anyhow::Result<Vec<(String, String)>> {
    let a = Some(admin);
    let mut accounts = Vec::new();
    for i in 0..customers {
        let customer = str_of(
            &api.call(
                a,
                "mutation($n: String!) { createCustomer(input: { name: $n }) { id } }",
                json!({ "n": format!("Bench customer {i:03}") }),
            )
            .await?["createCustomer"]["id"],
        )?;
        let email = format!("customer{i:03}@bench.test");
        api.call(a, "mutation($e: String!, $c: ID!) { createUser(input: { email: $e, password: \"bench password 42\", role: ACCOUNT_CLIENT, customerId: $c }) { id } }",
            json!({ "e": email, "c": customer })).await?;
        let token = api.login(&email).await?;
        let mut cart = String::new();
        for line in 0..3 {
            let data = api.call(Some(&token), "mutation($p: ID!) { cartAddLine(input: { productId: $p, quantity: 1 }) { id } }",
                json!({ "p": tracked[(i + line) % tracked.len()] })).await?;
            cart = str_of(&data["cartAddLine"]["id"])?;
        }
        accounts.push((token, cart));
    }
    Ok(accounts)
}

/// Rentals in work over the coming month, so availability has something to count.
async fn seed_rentals(
    api: &Api,
    admin: &str,
    manager: &str,
    rentals: &[String],
    scale: f64,
) -> anyhow::Result<()> {
    let a = Some(admin);
    let first_customer = str_of(
        &api.call(
            a,
            "{ customers(first: 1) { edges { node { id } } } }",
            json!({}),
        )
        .await?["customers"]["edges"][0]["node"]["id"],
    )?;
    let now = chrono::Utc::now();
    for i in 0..scaled(120, scale) {
        let days = i64::try_from(i % 28).unwrap_or(0);
        let start = (now + chrono::Duration::days(1 + days)).to_rfc3339();
        let end = (now + chrono::Duration::days(3 + days)).to_rfc3339();
        let project = api.call(Some(manager), "mutation($input: CreateRentalProjectInput!) { createRentalProject(input: $input) { id version } }",
            json!({ "input": { "customerId": first_customer, "items": [{ "productId": rentals[i % rentals.len()], "quantity": 3, "start": start, "end": end }] } })).await?;
        api.call(Some(manager), "mutation($id: ID!, $v: Int!) { startRentalProject(id: $id, version: $v) { id } }",
            json!({ "id": project["createRentalProject"]["id"], "v": project["createRentalProject"]["version"] })).await?;
    }
    Ok(())
}

const CHECKOUT: &str = "mutation($cart: ID!) { checkout(cartId: $cart, input: { contact: { name: \"Bench Buyer\", email: \"buyer@bench.test\" },
    deliveryAddress: { line1: \"1 rue de la Paix\", postalCode: \"75002\", city: \"Paris\", country: \"FR\" } }) { id version } }";

const CATALOG: &str = "{ products(first: 20, sort: NAME_ASC) { totalCount edges { node { id reference name description kind
    unitPrice { amount currencyCode } vatRate inStock stock
    variants { id reference name unitPrice { amount } stock }
    options { code name kind required values { code label priceModifier { amount } } } } } } }";

/// One request of a workload: the part that is timed, and whether it succeeded.
type Step =
    Arc<dyn Fn(usize, u64) -> Pin<Box<dyn Future<Output = (Duration, bool)> + Send>> + Send + Sync>;

/// A prepared GraphQL POST: its body serialised once.
fn post(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: &bytes::Bytes,
) -> reqwest::RequestBuilder {
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.clone());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request
}

/// Sends and checks a request: HTTP 200 and no `errors` in the body.
async fn send(request: reqwest::RequestBuilder) -> bool {
    match request.send().await {
        Ok(response) if response.status().is_success() => match response.bytes().await {
            Ok(body) => !body.windows(9).any(|w| w == b"\"errors\":"),
            Err(_) => false,
        },
        _ => false,
    }
}

fn body(query: &str, variables: &Value) -> bytes::Bytes {
    bytes::Bytes::from(json!({ "query": query, "variables": variables }).to_string())
}

/// Runs `step` from `connections` loops for `seconds`.
async fn closed_loop(
    workload: Step,
    connections: usize,
    seconds: f64,
) -> (Histogram<u64>, u64, u64, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|connection| {
            let workload = Arc::clone(&workload);
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let mut histogram = Histogram::<u64>::new(3).unwrap_or_else(|_| unreachable!());
                let (mut ok, mut errors) = (0_u64, 0_u64);
                let mut iteration = 0;
                while !stop.load(Ordering::Relaxed) {
                    let (took, success) = workload(connection, iteration).await;
                    iteration += 1;
                    if success {
                        ok += 1;
                        let _ =
                            histogram.record(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
                    } else {
                        errors += 1;
                    }
                }
                (histogram, ok, errors)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = Histogram::<u64>::new(3).unwrap_or_else(|_| unreachable!());
    let (mut ok, mut errors) = (0, 0);
    for task in tasks {
        if let Ok((histogram, o, e)) = task.await {
            let _ = total.add(histogram);
            ok += o;
            errors += e;
        }
    }
    (total, ok, errors, started.elapsed())
}

struct Probe {
    client: reqwest::Client,
    base: String,
    pid: u32,
}

impl Probe {
    async fn statements(&self) -> u64 {
        self.metric("comptoir_sql_statements_total")
            .await
            .unwrap_or(0)
    }

    /// Seconds write transactions were open since the server started, summed.
    async fn write_time(&self) -> f64 {
        self.metric("comptoir_write_transaction_seconds_total")
            .await
            .unwrap_or(0.0)
    }

    /// A counter of the server's `GET /metrics`.
    async fn metric<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        let response = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .ok()?;
        let text = response.text().await.ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    }

    /// `VmRSS` and `VmHWM` of the server, in KiB.
    fn memory(&self) -> (u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Starts measuring the peak afresh (Linux: `clear_refs` 5 resets `VmHWM`).
    fn reset_peak(&self) {
        drop(std::fs::write(
            format!("/proc/{}/clear_refs", self.pid),
            "5",
        ));
    }
}

#[allow(clippy::cast_precision_loss)]
async fn measure(probe: &Probe, name: &str, step: Step, connections: usize, seconds: f64) -> Row {
    let before = probe.statements().await;
    let (histogram, ok, errors, elapsed) = closed_loop(step, connections, seconds).await;
    let statements = probe.statements().await.saturating_sub(before);
    let requests = ok + errors;
    Row {
        workload: name.to_owned(),
        connections,
        requests,
        errors,
        per_second: ok as f64 / elapsed.as_secs_f64(),
        p50_ms: histogram.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: histogram.value_at_quantile(0.99) as f64 / 1000.0,
        // The metrics request itself is one statement-free call; the difference is the load's.
        statements_per_request: if requests == 0 {
            0.0
        } else {
            statements as f64 / requests as f64
        },
    }
}

/// A step sending one fixed request (per connection: token and variables).
fn simple(
    client: &reqwest::Client,
    url: &str,
    bodies: Vec<(Option<String>, bytes::Bytes)>,
) -> Step {
    let client = client.clone();
    let url = url.to_owned();
    let bodies = Arc::new(bodies);
    Arc::new(move |connection, iteration| {
        let client = client.clone();
        let url = url.clone();
        let bodies = Arc::clone(&bodies);
        Box::pin(async move {
            let index = (connection + usize::try_from(iteration).unwrap_or(0)) % bodies.len();
            let (token, body) = &bodies[index];
            let started = Instant::now();
            let ok = send(post(&client, &url, token.as_deref(), body)).await;
            (started.elapsed(), ok)
        })
    })
}

/// A step that fills the connection's cart (untimed), then times `query` on it.
fn with_cart(client: &reqwest::Client, url: &str, fixture: &Fixture, query: &'static str) -> Step {
    let client = client.clone();
    let url = url.to_owned();
    let customers = Arc::new(fixture.customers.clone());
    let fill = body(
        "mutation($p: ID!) { cartAddLine(input: { productId: $p, quantity: 1 }) { id } }",
        &json!({ "p": fixture.plentiful }),
    );
    Arc::new(move |connection, _| {
        let client = client.clone();
        let url = url.clone();
        let customers = Arc::clone(&customers);
        let fill = fill.clone();
        Box::pin(async move {
            let (token, cart) = &customers[connection % customers.len()];
            if !send(post(&client, &url, Some(token), &fill)).await {
                return (Duration::ZERO, false);
            }
            let timed = body(query, &json!({ "cart": cart }));
            let started = Instant::now();
            let ok = send(post(&client, &url, Some(token), &timed)).await;
            (started.elapsed(), ok)
        })
    })
}

async fn stock_of(api: &Api, token: &str, product: &str) -> anyhow::Result<i64> {
    let data = api
        .call(
            Some(token),
            "query($id: ID!) { product(id: $id) { stock } }",
            json!({ "id": product }),
        )
        .await?;
    data["product"]["stock"].as_i64().context("no stock")
}

async fn ordered_units(api: &Api, token: &str) -> anyhow::Result<i64> {
    // Every checkout orders the plentiful product once; the fan-out order and the seeded
    // carts' lines are counted apart.
    let data = api.call(Some(token), "{ orders(first: 1, filter: { includeCompleted: true, includeCancelled: true }) { totalCount } }", json!({})).await?;
    data["orders"]["totalCount"].as_i64().context("no count")
}

/// The fan-out's events as the subscribers receive them: how many, and the latest instant. Each
/// arrival costs an atomic add; only the one that completes a round wakes the timing task (a
/// channel woke it for each of the 10,000 events, on the cores the server runs on).
struct Arrivals {
    since: Instant,
    count: AtomicU64,
    /// Nanoseconds from `since` to the latest arrival.
    latest: AtomicU64,
    /// The count that completes the current round.
    target: AtomicU64,
    complete: tokio::sync::Notify,
}

impl Arrivals {
    fn new() -> Self {
        Self {
            since: Instant::now(),
            count: AtomicU64::new(0),
            latest: AtomicU64::new(0),
            target: AtomicU64::new(u64::MAX),
            complete: tokio::sync::Notify::new(),
        }
    }

    fn arrived(&self) {
        let at = u64::try_from(self.since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.latest.fetch_max(at, Ordering::AcqRel);
        if self.count.fetch_add(1, Ordering::AcqRel) + 1 == self.target.load(Ordering::Acquire) {
            self.complete.notify_one();
        }
    }

    /// Starts a round of `subscribers` arrivals; returns the count that completes it.
    fn expect(&self, subscribers: usize) -> u64 {
        let target = self.count.load(Ordering::Acquire) + u64::try_from(subscribers).unwrap_or(0);
        self.target.store(target, Ordering::Release);
        target
    }

    /// Waits until the count reaches `target`, for at most `timeout`; returns how many
    /// arrivals are missing and the instant of the latest one.
    async fn wait(&self, target: u64, timeout: Duration) -> (u64, Instant) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.count.load(Ordering::Acquire) < target {
            if tokio::time::timeout_at(deadline, self.complete.notified())
                .await
                .is_err()
            {
                break;
            }
        }
        let missed = target.saturating_sub(self.count.load(Ordering::Acquire));
        let latest = self.since + Duration::from_nanos(self.latest.load(Ordering::Acquire));
        (missed, latest)
    }
}

/// Opens `count` WebSocket subscribers of the fixture's order; each counts the events it
/// receives in `arrivals`.
async fn subscribe_all(
    server: &Server,
    fixture: &Fixture,
    count: usize,
    arrivals: &Arc<Arrivals>,
    connected: &Arc<AtomicU64>,
    report: &mut Report,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut handles = Vec::new();
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": {
        "query": "subscription($id: ID!) { orderEvents(orderId: $id) { kind status } }", "variables": { "id": fixture.order.0 } } }).to_string();
    let batch = 200;
    for chunk_start in (0..count).step_by(batch) {
        let mut joins = Vec::new();
        for _ in chunk_start..(chunk_start + batch).min(count) {
            let url = server.ws_url.clone();
            let token = fixture.manager.clone();
            let subscribe = subscribe.clone();
            let arrivals = Arc::clone(arrivals);
            let connected = Arc::clone(connected);
            joins.push(tokio::spawn(async move {
                let mut request = url.into_client_request()?;
                request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
                // tungstenite zeroes its whole read buffer before each read: at the default
                // 128 KiB, 10,000 subscribers zeroed 1.2 GiB per event, half of this load
                // generator's time, on the cores the server runs on.
                let config = WebSocketConfig::default().read_buffer_size(4096);
                let (mut socket, _) =
                    tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
                socket.send(Message::text(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }).to_string())).await?;
                socket.next().await.context("no ack")??;
                socket.send(Message::text(subscribe)).await?;
                socket.send(Message::text("{\"type\":\"ping\"}")).await?;
                while let Some(message) = socket.next().await {
                    if message?.to_text().unwrap_or_default().contains("pong") {
                        break;
                    }
                }
                connected.fetch_add(1, Ordering::Relaxed);
                Ok::<_, anyhow::Error>(tokio::spawn(async move {
                    while let Some(Ok(message)) = socket.next().await {
                        if message.to_text().unwrap_or_default().contains("\"next\"") {
                            arrivals.arrived();
                        }
                    }
                }))
            }));
        }
        for join in joins {
            match join.await {
                Ok(Ok(handle)) => handles.push(handle),
                Ok(Err(error)) => report
                    .notes
                    .push(format!("a subscriber failed to connect: {error}")),
                Err(error) => report
                    .notes
                    .push(format!("a subscriber task failed: {error}")),
            }
        }
    }
    handles
}

/// Subscribers of one order's events; each status change is timed until the last one has it.
async fn fanout(
    server: &Server,
    api: &Api,
    probe: &Probe,
    fixture: &Fixture,
    options: &Options,
    report: &mut Report,
) -> anyhow::Result<()> {
    let arrivals = Arc::new(Arrivals::new());
    let (rss_before, _) = probe.memory();
    let connected = Arc::new(AtomicU64::new(0));
    let handles = subscribe_all(
        server,
        fixture,
        options.subscribers,
        &arrivals,
        &connected,
        report,
    )
    .await;
    let subscribers = usize::try_from(connected.load(Ordering::Relaxed)).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (rss_after, _) = probe.memory();
    #[allow(clippy::cast_precision_loss)]
    {
        report.kib_per_connection = if subscribers == 0 {
            0.0
        } else {
            rss_after.saturating_sub(rss_before) as f64 / subscribers as f64
        };
    }
    report.fanout_subscribers = subscribers;
    let mut last = Histogram::<u64>::new(3)?;
    let (id, mut version) = fixture.order.clone();
    for round in 0..options.rounds {
        let (query, name) = if round % 2 == 0 {
            (
                "mutation($id: ID!, $v: Int!) { holdOrder(id: $id, version: $v, reason: \"bench\") { version } }",
                "holdOrder",
            )
        } else {
            (
                "mutation($id: ID!, $v: Int!) { releaseOrder(id: $id, version: $v) { version } }",
                "releaseOrder",
            )
        };
        let target = arrivals.expect(subscribers);
        let started = Instant::now();
        let data = api
            .call(
                Some(&fixture.manager),
                query,
                json!({ "id": id, "v": version }),
            )
            .await?;
        version = data[name]["version"].as_i64().unwrap_or(version);
        let (missed, latest) = arrivals.wait(target, Duration::from_secs(10)).await;
        report.fanout_errors += missed;
        let took = latest.max(started).duration_since(started);
        let _ = last.record(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
    }
    #[allow(clippy::cast_precision_loss)]
    {
        report.fanout_p50_ms = last.value_at_quantile(0.5) as f64 / 1000.0;
        report.fanout_p99_ms = last.value_at_quantile(0.99) as f64 / 1000.0;
    }
    for handle in handles {
        handle.abort();
    }
    Ok(())
}

/// Runs the whole benchmark.
pub async fn run(options: Options) -> anyhow::Result<Report> {
    let dir = tempfile::tempdir()?;
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(1024)
        .build()?;
    let (database_url, schema) = match &options.database {
        Database::Sqlite => (
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("bench.db").display()
            ),
            None,
        ),
        Database::Postgres(url) => {
            let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
            execute_pg(url, &format!("CREATE SCHEMA \"{schema}\"")).await?;
            (url.clone(), Some(schema))
        }
    };
    let result = run_on(
        &options,
        &client,
        &database_url,
        schema.as_deref(),
        dir.path(),
    )
    .await;
    if let (Database::Postgres(url), Some(schema)) = (&options.database, &schema) {
        execute_pg(url, &format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await?;
    }
    let mut report = result?;
    if matches!(options.database, Database::Sqlite) {
        report.cold_start_ms = Some(cold_start(&options.server, &client, dir.path()).await?);
    }
    Ok(report)
}

async fn execute_pg(url: &str, sql: &str) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(url).await?;
    db.execute_unprepared(sql).await?;
    drop(db.close().await);
    Ok(())
}

async fn cold_start(
    command: &ServerCommand,
    client: &reqwest::Client,
    dir: &std::path::Path,
) -> anyhow::Result<f64> {
    let url = format!("sqlite://{}?mode=rwc", dir.join("cold.db").display());
    let env = server_env(&url, None, dir, None);
    let started = Instant::now();
    let (mut child, port) = spawn(command, &env, &[])?;
    let ready = wait_ready(client, port).await;
    let took = started.elapsed();
    drop(child.kill());
    drop(child.wait());
    ready?;
    Ok(took.as_secs_f64() * 1000.0)
}

/// Runs `name` (the catalog page) while four clients repeat `beside` nonstop; also returns how
/// many of theirs succeeded per second.
async fn alongside(
    probe: &Probe,
    name: &str,
    catalog: Step,
    beside: Step,
    c: usize,
    s: f64,
) -> (Row, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let others: Vec<_> = (0..4)
        .map(|connection| {
            let (stop, done, beside) = (Arc::clone(&stop), Arc::clone(&done), Arc::clone(&beside));
            tokio::spawn(async move {
                let mut iteration = 0;
                while !stop.load(Ordering::Relaxed) {
                    if beside(connection, iteration).await.1 {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    iteration += 1;
                }
            })
        })
        .collect();
    let row = measure(probe, name, catalog, c, s).await;
    stop.store(true, Ordering::Relaxed);
    for other in others {
        drop(other.await);
    }
    #[allow(clippy::cast_precision_loss)]
    (row, done.load(Ordering::Relaxed) as f64 / s)
}

/// The catalog load with a login flood beside it (argon2id on every login).
#[allow(clippy::too_many_arguments)]
async fn login_flood(
    probe: &Probe,
    url: &str,
    client: &reqwest::Client,
    catalog: Step,
    customers: usize,
    c: usize,
    s: f64,
    report: &mut Report,
) -> Row {
    let logins = (0..4).map(|i| (None, body("mutation($e: String!, $p: String!) { login(input: { email: $e, password: $p }) { accessToken } }",
        &json!({ "e": format!("customer{:03}@bench.test", i % customers), "p": PASSWORD })))).collect();
    let (row, per_second) = alongside(
        probe,
        "catalog page during a login flood",
        catalog,
        simple(client, url, logins),
        c,
        s,
    )
    .await;
    report.notes.push(format!(
        "the login flood ran {per_second:.0} logins/s (argon2id) beside the catalog load"
    ));
    row
}

/// The catalog page while four clients check out nonstop: every checkout takes stock, which
/// changes the catalog, so kept pages are rendered again after each one.
#[allow(clippy::too_many_arguments)]
async fn beside_checkouts(
    probe: &Probe,
    client: &reqwest::Client,
    url: &str,
    fixture: &Fixture,
    catalog: Step,
    c: usize,
    s: f64,
    report: &mut Report,
) -> Row {
    let checkout = with_cart(client, url, fixture, CHECKOUT_ONE);
    let (row, per_second) = alongside(
        probe,
        "catalog page beside checkouts",
        catalog,
        checkout,
        c,
        s,
    )
    .await;
    report.notes.push(format!(
        "beside the catalog load, 4 clients placed {per_second:.0} orders/s, each one a catalog change"
    ));
    row
}

/// A checkout of the connection's cart (one unit of the plentiful product).
const CHECKOUT_ONE: &str = "mutation($cart: ID!) { checkout(cartId: $cart, input: { contact: { name: \"Bench Buyer\", email: \"buyer@bench.test\" }, deliveryAddress: { line1: \"1 rue de la Paix\", postalCode: \"75002\", city: \"Paris\", country: \"FR\" } }) { id } }";

/// Outbox messages in `status` (`SENT`, `PENDING`), as the admin sees them.
async fn outbox_count(api: &Api, fixture: &Fixture, status: &str) -> anyhow::Result<i64> {
    let query = format!("{{ outboxMessages(first: 1, status: {status}) {{ totalCount }} }}");
    let data = api.call(Some(&fixture.admin), &query, json!({})).await?;
    data["outboxMessages"]["totalCount"]
        .as_i64()
        .context("no count")
}

/// Checkouts under load, the units oversold (stock taken beyond the orders placed), and a note
/// on how far the outbox worker kept up with the order emails.
#[allow(clippy::cast_precision_loss)]
async fn checkout_load(
    api: &Api,
    probe: &Probe,
    client: &reqwest::Client,
    url: &str,
    fixture: &Fixture,
    c: usize,
    s: f64,
) -> anyhow::Result<(Row, i64, String)> {
    // Empty carts: from here every checkout orders exactly one unit of the plentiful product.
    for (token, _) in &fixture.customers {
        api.call(Some(token), "mutation { cartClear { id } }", json!({}))
            .await?;
    }
    let stock_before = stock_of(api, &fixture.manager, &fixture.plentiful).await?;
    let orders_before = ordered_units(api, &fixture.manager).await?;
    let sent_before = outbox_count(api, fixture, "SENT").await?;
    let held_before = probe.write_time().await;
    let started = Instant::now();
    let row = measure(
        probe,
        "checkout (cart filled untimed)",
        with_cart(client, url, fixture, CHECKOUT_ONE),
        c,
        s,
    )
    .await;
    let held = probe.write_time().await - held_before;
    let span = started.elapsed().as_secs_f64();
    let sent_after = outbox_count(api, fixture, "SENT").await?;
    let pending = outbox_count(api, fixture, "PENDING").await?;
    let stock_after = stock_of(api, &fixture.manager, &fixture.plentiful).await?;
    let orders_after = ordered_units(api, &fixture.manager).await?;
    let outbox = format!(
        "during the checkout load the outbox worker sent {} messages; {pending} were still pending at its end; \
         write transactions were open {:.0} % of the time, {:.2} ms per checkout",
        sent_after - sent_before,
        held / span * 100.0,
        held * 1000.0 / row.requests.max(1) as f64,
    );
    // Every order takes exactly one unit of the plentiful product: stock taken = orders placed.
    let mut oversold = (stock_before - stock_after) - (orders_after - orders_before);
    if stock_after < 0 {
        oversold = oversold.max(-stock_after);
    }
    Ok((row, oversold, outbox))
}

/// The search, product-by-reference and add-to-cart workloads: one request each.
fn simple_workloads(
    client: &reqwest::Client,
    url: &str,
    fixture: &Fixture,
) -> Vec<(&'static str, Step)> {
    let searches: Vec<_> = ["acme", "notebook", "shirt 01", "banner", "light", "delta"]
        .iter()
        .map(|term| (None, body("query($q: String!) { products(first: 20, filter: { search: $q }) { edges { node { id reference name unitPrice { amount } } } } }", &json!({ "q": term }))))
        .collect();
    let by_reference: Vec<_> = fixture.references.iter()
        .map(|r| (None, body("query($r: String!) { product(reference: $r) { id reference name unitPrice { amount currencyCode } inStock } }", &json!({ "r": r }))))
        .collect();
    let adds: Vec<_> = fixture.customers.iter().enumerate().flat_map(|(i, (token, _))| {
        fixture.tracked.iter().skip(i % 7).step_by(7).take(8).map(move |p| (Some(token.clone()), body("mutation($p: ID!) { cartAddLine(input: { productId: $p, quantity: 1 }) { id itemCount } }", &json!({ "p": p }))))
    }).collect();
    vec![
        ("flat search (20 hits)", simple(client, url, searches)),
        ("product by reference", simple(client, url, by_reference)),
        ("add to an existing cart", simple(client, url, adds)),
    ]
}

/// The quote request and the rental availability workloads, when asked for.
async fn quote_and_rental(
    options: &Options,
    probe: &Probe,
    client: &reqwest::Client,
    url: &str,
    fixture: &Fixture,
    report: &mut Report,
) {
    let (c, s) = (options.connections, options.seconds);
    if options.runs("quote") {
        report.rows.push(
            measure(
                probe,
                "quote request (cart filled untimed)",
                with_cart(
                    client,
                    url,
                    fixture,
                    "mutation($cart: ID!) { requestQuote(cartId: $cart, message: \"bench\") { id } }",
                ),
                c,
                s,
            )
            .await,
        );
    }

    if options.runs("rental") {
        let now = chrono::Utc::now();
        let availability = body(
            "query($p: [ID!]!, $from: DateTime!, $to: DateTime!) { rentalAvailability(productIds: $p, from: $from, to: $to) { availableQuantity } }",
            &json!({ "p": fixture.rentals, "from": now.to_rfc3339(), "to": (now + chrono::Duration::days(30)).to_rfc3339() }),
        );
        report.rows.push(
            measure(
                probe,
                "rental availability (a month)",
                simple(client, url, vec![(None, availability)]),
                c,
                s,
            )
            .await,
        );
    }
}

async fn run_on(
    options: &Options,
    client: &reqwest::Client,
    database_url: &str,
    schema: Option<&str>,
    dir: &std::path::Path,
) -> anyhow::Result<Report> {
    let env = server_env(database_url, schema, dir, Some(&start_mail_sink()?));
    create_admin(&options.server, &env, "admin@bench.test")?;
    let server = start(&options.server, &env, client).await?;
    let api = Api {
        client: client.clone(),
        url: server.url.clone(),
    };
    let customers = options.connections.max(4);
    let fixture = seed(&api, options.scale, customers).await?;
    let probe = Probe {
        client: client.clone(),
        base: server.base.clone(),
        pid: server.child.id(),
    };
    let mut report = Report::default();
    // Idle: the seeding's last requests are done and the server's blocking threads (the
    // seeding's password hashes) have ended, as they do after two seconds without work.
    tokio::time::sleep(Duration::from_secs(3)).await;
    report.idle_rss_kib = probe.memory().0;
    let (url, c, s) = (server.url.as_str(), options.connections, options.seconds);

    let catalog = simple(client, url, vec![(None, body(CATALOG, &json!({})))]);
    probe.reset_peak();
    if options.runs("catalog") {
        for connections in [1, 16, c] {
            report.rows.push(
                measure(
                    &probe,
                    "catalog page (20 with variants)",
                    Arc::clone(&catalog),
                    connections,
                    s,
                )
                .await,
            );
        }
        report.peak_rss_kib = Some(probe.memory().1);
    }

    for ((name, workload), short) in
        simple_workloads(client, url, &fixture)
            .into_iter()
            .zip(["search", "reference", "cart"])
    {
        if options.runs(short) {
            report
                .rows
                .push(measure(&probe, name, workload, c, s).await);
        }
    }

    if options.runs("checkout") {
        let (row, oversold, outbox) =
            checkout_load(&api, &probe, client, url, &fixture, c, s).await?;
        report.rows.push(row);
        report.oversold = Some(oversold);
        report.notes.push(outbox);
    }

    quote_and_rental(options, &probe, client, url, &fixture, &mut report).await;

    if options.runs("flood") {
        let catalog_flood = login_flood(
            &probe,
            url,
            client,
            Arc::clone(&catalog),
            customers,
            c,
            s,
            &mut report,
        )
        .await;
        report.rows.push(catalog_flood);
    }
    if options.runs("mixed") {
        let mixed =
            beside_checkouts(&probe, client, url, &fixture, catalog, c, s, &mut report).await;
        report.rows.push(mixed);
    }

    if options.runs("fanout") {
        fanout(&server, &api, &probe, &fixture, options, &mut report).await?;
    }
    drop(fixture.admin);
    Ok(report)
}
