use std::{net::SocketAddr, time::Duration};

use comptoir_api::{
    AppState, Config, Server,
    auth::{AuthUser, Principal, Role, service},
};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The secret test servers sign with, so tests can forge tokens.
pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";
pub const PASSWORD: &str = "correct horse battery";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Defines one test per back end: `name::sqlite` and `name::postgres` (which passes with a note
/// when `COMPTOIR_TEST_DATABASE_URL` is unset).
macro_rules! db_test {
    ($(#[$meta:meta])* async fn $name:ident($app:ident) $body:block) => {
        db_test!($(#[$meta])* async fn $name($app) with |_config| {} $body);
    };
    ($(#[$meta:meta])* async fn $name:ident($app:ident) with |$config:ident| $setup:block $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($app: $crate::helpers::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::TestApp::spawn_with(
                    $crate::helpers::Backend::Sqlite,
                    |$config: &mut comptoir_api::Config| $setup,
                )
                .await
                .expect("SQLite is always available");
                body(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(app) = $crate::helpers::TestApp::spawn_with(
                    $crate::helpers::Backend::Postgres,
                    |$config: &mut comptoir_api::Config| $setup,
                )
                .await
                else {
                    eprintln!("COMPTOIR_TEST_DATABASE_URL is not set: PostgreSQL run skipped");
                    return;
                };
                body(app).await;
            }
        }
    };
}

/// Runs `$name(backend)` on SQLite, and on PostgreSQL when configured.
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await;
            }
        }
    };
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub url: String,
    pub ws_url: String,
    pub state: AppState,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    config: Config,
    dir: Option<tempfile::TempDir>,
    pg_schema: Option<(String, String)>,
}

/// A logged-in user as tests hold it.
#[derive(Clone, Debug)]
pub struct Session {
    pub id: String,
    pub email: String,
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    /// The statement counter once it has stopped moving: work a change sets off may run after
    /// its answer (on PostgreSQL the instance reads an event too long for its `NOTIFY` back from
    /// the log when it hears of it).
    pub async fn quiet_statements(&self) -> u64 {
        let mut before = self.state.db.statements();
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let now = self.state.db.statements();
            if now == before {
                return now;
            }
            before = now;
        }
    }

    /// Starts a server on PostgreSQL, for a test of PostgreSQL alone; `None` (and a note that the
    /// test is skipped) when `COMPTOIR_TEST_DATABASE_URL` is not set.
    pub async fn on_postgres() -> Option<Self> {
        let app = Self::spawn_with(Backend::Postgres, |_| {}).await;
        if app.is_none() {
            eprintln!("COMPTOIR_TEST_DATABASE_URL is not set: skipped");
        }
        app
    }

    /// Starts a server on `backend`; `None` when PostgreSQL is asked for but not configured.
    pub async fn spawn_with(backend: Backend, setup: impl FnOnce(&mut Config)) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::from_env().expect("default config");
        config.bind = "127.0.0.1:0".parse().expect("loopback");
        config.jwt_secret = Some(TEST_JWT_SECRET.to_owned().into());
        config.database_max_connections = 4;
        "warn".clone_into(&mut config.log);
        config.hash_workers = Some(2);
        config.database_schema = None;
        config.mail_dir = Some(dir.path().join("mail"));
        config.storage_dir = Some(dir.path().join("storage"));
        config.smtp_url = None;
        let mut pg_schema = None;
        match backend {
            Backend::Sqlite => {
                let path = dir.path().join("test.db");
                config.database_url = Some(format!("sqlite://{}?mode=rwc", path.display()));
            }
            Backend::Postgres => {
                let base = std::env::var("COMPTOIR_TEST_DATABASE_URL").ok()?;
                let schema = format!("test_{}", uuid::Uuid::new_v4().simple());
                execute_pg(&base, &format!("CREATE SCHEMA \"{schema}\"")).await;
                config.database_url = Some(base.clone());
                config.database_schema = Some(schema.clone());
                pg_schema = Some((base, schema));
            }
        }
        setup(&mut config);
        let mut app = Self::start(config).await;
        app.dir = Some(dir);
        app.pg_schema = pg_schema;
        Some(app)
    }

    /// A second server on the same database, as another instance of a deployment would be.
    pub async fn sibling(&self) -> Self {
        Self::start(self.config.clone()).await
    }

    /// A second server on the same database, with settings of its own.
    pub async fn sibling_with(&self, setup: impl FnOnce(&mut Config)) -> Self {
        let mut config = self.config.clone();
        setup(&mut config);
        Self::start(config).await
    }

    /// Where emails and SMS are written when nothing sends them.
    pub fn mail_dir(&self) -> std::path::PathBuf {
        self.config.mail_dir()
    }

    async fn start(config: Config) -> Self {
        let server = Server::bind(config.clone()).await.expect("server starts");
        let addr = server.local_addr().expect("bound");
        let state = server.state().clone();
        let (tx, rx) = oneshot::channel();
        let handle = tokio::spawn(async move {
            server
                .run(async {
                    drop(rx.await);
                })
                .await
                .expect("server runs");
        });
        Self {
            addr,
            url: format!("http://{addr}/graphql"),
            ws_url: format!("ws://{addr}/graphql/ws"),
            state,
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            server: Some(handle),
            config,
            dir: None,
            pg_schema: None,
        }
    }

    /// Stops the server and waits until it has drained.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(10), handle)
                .await
                .expect("server stops within 10 s")
                .expect("server task");
        }
    }

    /// POSTs a GraphQL request and returns the JSON body, whatever the status.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request = self
            .client
            .post(&self.url)
            .header("accept", "application/graphql-response+json")
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
            .send()
            .await
            .expect("request sent")
            .json()
            .await
            .expect("JSON body")
    }

    /// Like [`gql`], but the response must have no errors; returns `data`.
    pub async fn data(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let body = self.gql(token, query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// Creates an account directly (as `comptoir create-user` does) and logs it in. An
    /// `ACCOUNT_CLIENT` gets a customer of its own.
    pub async fn user(&self, role: Role) -> Session {
        let customer = if role == Role::AccountClient {
            Some(self.customer("Client company").await)
        } else {
            None
        };
        self.user_of(role, customer).await
    }

    /// Creates an account belonging to `customer` and logs it in.
    pub async fn user_of(&self, role: Role, customer: Option<uuid::Uuid>) -> Session {
        let email = format!(
            "{}-{}@example.test",
            role.as_str().to_lowercase(),
            uuid::Uuid::new_v4().simple()
        );
        service::create_user_unchecked(&self.state, &email, PASSWORD.to_owned(), role, customer)
            .await
            .expect("user created");
        self.login(&email, PASSWORD).await
    }

    /// Creates a customer directly, as staff would.
    pub async fn customer(&self, name: &str) -> uuid::Uuid {
        let staff = Principal::user(AuthUser {
            id: uuid::Uuid::nil(),
            role: Role::Admin,
            customer_id: None,
        });
        let input = comptoir_api::customers::service::CustomerInput {
            name: Some(name.to_owned()),
            code: None,
            kind: None,
            vat_id: None,
            language: None,
            sales_rep_id: None,
            notes: None,
        };
        comptoir_api::customers::service::create_customer(&self.state, &staff, input)
            .await
            .expect("customer created")
            .id
    }

    pub async fn login(&self, email: &str, password: &str) -> Session {
        let data = self
            .data(
                None,
                "mutation($email: String!, $password: String!) {
                    login(input: { email: $email, password: $password }) {
                        accessToken refreshToken user { id email }
                    }
                }",
                json!({ "email": email, "password": password }),
            )
            .await;
        session(&data["login"])
    }
}

pub fn session(payload: &Value) -> Session {
    Session {
        id: payload["user"]["id"].as_str().expect("user id").to_owned(),
        email: payload["user"]["email"].as_str().expect("email").to_owned(),
        access: payload["accessToken"]
            .as_str()
            .expect("access token")
            .to_owned(),
        refresh: payload["refreshToken"]
            .as_str()
            .expect("refresh token")
            .to_owned(),
    }
}

/// The `extensions.code` of the first error.
pub fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some((base, schema)) = self.pg_schema.take() {
            // Drop runs inside the test's runtime: clean up on a thread with a runtime of its own.
            let cleanup = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(execute_pg(
                    &base,
                    &format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
                ));
            });
            drop(cleanup.join());
        }
    }
}

/// PostgreSQL: runs `sql` (a `SELECT count(*) AS n …` with `$n` placeholders for `values`) on a
/// reader every 50 ms until it counts a row; panics after ten seconds, saying `what` was
/// awaited.
pub async fn until_postgres_counts(
    app: &TestApp,
    sql: &str,
    values: Vec<sea_orm::Value>,
    what: &str,
) {
    use sea_orm::ConnectionTrait;

    let statement =
        sea_orm::Statement::from_sql_and_values(sea_orm::DbBackend::Postgres, sql, values);
    for _ in 0..200 {
        let row = app
            .state
            .db
            .read()
            .query_one_raw(statement.clone())
            .await
            .unwrap()
            .unwrap();
        if row.try_get::<i64>("", "n").unwrap() > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} never came");
}

pub async fn execute_pg(url: &str, sql: &str) {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(url)
        .await
        .expect("PostgreSQL reachable");
    db.execute_unprepared(sql).await.expect("schema statement");
    drop(db.close().await);
}

/// A server running as a separate `comptoir serve` process on a test app's database: another
/// instance of a deployment, which a test can kill without warning.
pub struct ServerProcess {
    pub ws_url: String,
    child: std::process::Child,
}

impl TestApp {
    /// Starts `comptoir serve` on this app's database with `env` on top, and waits until it is
    /// ready.
    pub async fn process(&self, env: &[(&str, &str)]) -> ServerProcess {
        let port = crate::mail::free_port();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_comptoir"));
        command
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("COMPTOIR_BIND", format!("127.0.0.1:{port}"))
            .env("COMPTOIR_DATABASE_URL", self.config.database_url())
            .env("COMPTOIR_JWT_SECRET", TEST_JWT_SECRET)
            .env("COMPTOIR_MAIL_DIR", self.config.mail_dir())
            .env("COMPTOIR_HASH_WORKERS", "1")
            .env("COMPTOIR_LOG", "warn")
            .stdout(std::process::Stdio::null());
        if let Some(schema) = &self.config.database_schema {
            command.env("COMPTOIR_DATABASE_SCHEMA", schema);
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("comptoir binary starts");
        let process = ServerProcess {
            ws_url: format!("ws://127.0.0.1:{port}/graphql/ws"),
            child,
        };
        let ready = format!("http://127.0.0.1:{port}/readyz");
        for _ in 0..200 {
            if let Ok(response) = self.client.get(&ready).send().await
                && response.status().is_success()
            {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server process did not become ready");
    }
}

impl ServerProcess {
    /// The value of `name` in the process's environment as it runs now (Linux).
    pub fn environment(&self, name: &str) -> Option<String> {
        let environ = std::fs::read(format!("/proc/{}/environ", self.child.id())).unwrap();
        environ.split(|byte| *byte == 0).find_map(|entry| {
            let entry = String::from_utf8_lossy(entry);
            let (key, value) = entry.split_once('=')?;
            (key == name).then(|| value.to_owned())
        })
    }

    /// Kills the process at once (SIGKILL): no shutdown, no cleanup, as in a crash.
    pub fn kill(&mut self) {
        drop(self.child.kill());
        drop(self.child.wait());
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
