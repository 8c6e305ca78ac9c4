//! Typed configuration: every setting is a flag and a `COMPTOIR_*` environment variable, with a
//! default that works on a laptop (a SQLite file in the working directory).

use std::{fmt, net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use clap::{Args, ValueEnum};

/// Settings shared by every command.
#[derive(Args, Clone, Debug)]
pub struct Config {
    /// Database URL: `sqlite://path/to/file.db` or `postgres://user@host/db`. Default: the SQLite
    /// file `comptoir.db` in the working directory, created if missing.
    #[arg(long, env = "COMPTOIR_DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// PostgreSQL schema to use (sets `search_path`); the server's default schema when unset.
    #[arg(long, env = "COMPTOIR_DATABASE_SCHEMA", global = true)]
    pub database_schema: Option<String>,

    /// Maximum pooled database connections (readers on SQLite, all connections on PostgreSQL).
    #[arg(
        long,
        env = "COMPTOIR_DATABASE_MAX_CONNECTIONS",
        default_value_t = 10,
        global = true
    )]
    pub database_max_connections: u32,

    /// Address to listen on. Port 0 picks a free port; the printed URL shows the real one.
    #[arg(
        long,
        env = "COMPTOIR_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: SocketAddr,

    /// Secret that signs access tokens (HS256, at least 32 bytes). When unset on SQLite, one is
    /// generated on first start and kept beside the database file; production must set it.
    #[arg(
        long,
        env = "COMPTOIR_JWT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub jwt_secret: Option<Secret>,

    /// Lifetime of access tokens (e.g. `15m`).
    #[arg(long, env = "COMPTOIR_ACCESS_TOKEN_TTL", default_value = "15m", value_parser = bounded_duration, global = true)]
    pub access_token_ttl: Duration,

    /// Lifetime of refresh tokens (e.g. `30days`).
    #[arg(long, env = "COMPTOIR_REFRESH_TOKEN_TTL", default_value = "30days", value_parser = bounded_duration, global = true)]
    pub refresh_token_ttl: Duration,

    /// Maximum depth of a GraphQL query.
    #[arg(
        long,
        env = "COMPTOIR_MAX_QUERY_DEPTH",
        default_value_t = 12,
        global = true
    )]
    pub max_query_depth: usize,

    /// Maximum complexity of a GraphQL query (each field counts 1, lists multiply by `first`).
    #[arg(
        long,
        env = "COMPTOIR_MAX_QUERY_COMPLEXITY",
        default_value_t = 2000,
        global = true
    )]
    pub max_query_complexity: usize,

    /// Maximum number of aliased fields in one GraphQL document.
    #[arg(
        long,
        env = "COMPTOIR_MAX_ALIASES",
        default_value_t = 30,
        global = true
    )]
    pub max_aliases: usize,

    /// Maximum number of operations in one batched HTTP request.
    #[arg(long, env = "COMPTOIR_MAX_BATCH", default_value_t = 10, global = true)]
    pub max_batch: usize,

    /// Maximum size of an HTTP request body, in bytes.
    #[arg(long, env = "COMPTOIR_MAX_BODY_BYTES", default_value_t = 1024 * 1024, global = true)]
    pub max_body_bytes: usize,

    /// Largest file a multipart upload may carry (quote attachments, production files), bytes.
    #[arg(long, env = "COMPTOIR_MAX_UPLOAD_BYTES", default_value_t = 10 * 1024 * 1024, global = true)]
    pub max_upload_bytes: usize,

    /// Most files one multipart request may carry.
    #[arg(
        long,
        env = "COMPTOIR_MAX_UPLOAD_FILES",
        default_value_t = 5,
        global = true
    )]
    pub max_upload_files: usize,

    /// Media types accepted in uploads, comma-separated.
    #[arg(
        long,
        env = "COMPTOIR_UPLOAD_TYPES",
        default_value = "application/pdf,image/png,image/jpeg,image/tiff,text/plain",
        value_delimiter = ',',
        global = true
    )]
    pub upload_types: Vec<String>,

    /// Origins allowed by CORS, comma-separated (`*` for any). None by default.
    #[arg(
        long,
        env = "COMPTOIR_CORS_ORIGINS",
        value_delimiter = ',',
        global = true
    )]
    pub cors_origins: Vec<String>,

    /// Login attempts allowed per email address within the rate window.
    #[arg(
        long,
        env = "COMPTOIR_LOGIN_MAX_PER_EMAIL",
        default_value_t = 10,
        global = true
    )]
    pub login_max_per_email: u32,

    /// Login attempts allowed per client address within the rate window.
    #[arg(
        long,
        env = "COMPTOIR_LOGIN_MAX_PER_ADDRESS",
        default_value_t = 60,
        global = true
    )]
    pub login_max_per_address: u32,

    /// Anonymous carts one client address may create within the rate window, and as many
    /// storefront rental checkouts by visitors (each may create an account).
    #[arg(
        long,
        env = "COMPTOIR_CARTS_MAX_PER_ADDRESS",
        default_value_t = 200,
        global = true
    )]
    pub carts_max_per_address: u32,

    /// The login rate window (e.g. `15m`).
    #[arg(long, env = "COMPTOIR_LOGIN_RATE_WINDOW", default_value = "15m", value_parser = bounded_duration, global = true)]
    pub login_rate_window: Duration,

    /// Header carrying the client address when behind a trusted proxy (e.g. `x-forwarded-for`;
    /// its right-most address, the one the proxy appended, is used). Unset: the TCP peer address.
    #[arg(long, env = "COMPTOIR_CLIENT_IP_HEADER", global = true)]
    pub client_ip_header: Option<String>,

    /// Threads that may hash passwords at once (argon2id, ~15 ms each). Default: one less than
    /// the number of cores, at least one, so a login flood cannot take every core.
    #[arg(long, env = "COMPTOIR_HASH_WORKERS", global = true)]
    pub hash_workers: Option<usize>,

    /// Time a WebSocket client has to send `connection_init` before it is closed with 4408.
    #[arg(long, env = "COMPTOIR_WS_INIT_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration, global = true)]
    pub ws_init_timeout: Duration,

    /// Interval of server pings on idle WebSocket connections.
    #[arg(long, env = "COMPTOIR_WS_PING_INTERVAL", default_value = "30s", value_parser = humantime::parse_duration, global = true)]
    pub ws_ping_interval: Duration,

    /// SMTP server for email (`smtp://host:25`, `smtp://user:pass@host:587?tls=required`,
    /// `smtps://host`). Unset: emails are written as `.eml` files into the mail folder.
    #[arg(long, env = "COMPTOIR_SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<Secret>,

    /// Sender of every email.
    #[arg(
        long,
        env = "COMPTOIR_MAIL_FROM",
        default_value = "Comptoir <noreply@comptoir.localhost>",
        global = true
    )]
    pub mail_from: String,

    /// Folder where emails (`.eml`) and SMS (`.sms.txt`) go when no SMTP server or SMS provider is
    /// set. Default: `mail` beside the SQLite file (or in the working directory).
    #[arg(long, env = "COMPTOIR_MAIL_DIR", global = true)]
    pub mail_dir: Option<PathBuf>,

    /// HTTP SMS provider: messages are posted as JSON `{"to", "text"}`. Unset: SMS go to the mail
    /// folder.
    #[arg(long, env = "COMPTOIR_SMS_URL", global = true)]
    pub sms_url: Option<String>,

    /// Bearer token for the SMS provider.
    #[arg(
        long,
        env = "COMPTOIR_SMS_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub sms_token: Option<Secret>,

    /// Attempts before an outbox message is marked failed.
    #[arg(
        long,
        env = "COMPTOIR_OUTBOX_MAX_ATTEMPTS",
        default_value_t = 8,
        global = true
    )]
    pub outbox_max_attempts: i32,

    /// Messages the outbox worker sends at once (1 to 64), over as many SMTP connections: some
    /// mail relays refuse more than a few connections per client.
    #[arg(
        long,
        env = "COMPTOIR_OUTBOX_CONCURRENCY",
        default_value_t = 8,
        value_parser = clap::value_parser!(u32).range(1..=64),
        global = true
    )]
    pub outbox_concurrency: u32,

    /// Wait before the first retry; it doubles with each attempt (capped at one hour).
    #[arg(long, env = "COMPTOIR_OUTBOX_RETRY", default_value = "30s", value_parser = bounded_duration, global = true)]
    pub outbox_retry: Duration,

    /// How long a worker holds the messages it claimed; a crashed worker's unsent messages go
    /// out after this (another instance, or this one restarted, takes them over).
    #[arg(long, env = "COMPTOIR_OUTBOX_LEASE", default_value = "2m", value_parser = bounded_duration, global = true)]
    pub outbox_lease: Duration,

    /// How often this instance runs the quote job (expiry, retention).
    #[arg(long, env = "COMPTOIR_MAINTENANCE_INTERVAL", default_value = "1m", value_parser = bounded_duration, global = true)]
    pub maintenance_interval: Duration,

    /// Serve `GET /metrics` (Prometheus text: SQL statements run, open WebSocket connections,
    /// time write transactions were open).
    /// Off by default; when on, keep the path to your internal network at the proxy.
    #[arg(long, env = "COMPTOIR_METRICS", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub metrics: bool,

    /// Memory for whole responses to catalog reads (products, product, storeSettings), kept
    /// while the catalog is unchanged; 0 turns the cache off.
    #[arg(
        long,
        env = "COMPTOIR_RESPONSE_CACHE_MB",
        default_value_t = 32,
        global = true
    )]
    pub response_cache_mb: u64,

    /// Run the outbox worker in this process (turn off to run senders elsewhere).
    #[arg(long, env = "COMPTOIR_OUTBOX_WORKER", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub outbox_worker: bool,

    /// Public URL of the storefront, for links in emails (`{url}/verify-email?token=…`).
    #[arg(
        long,
        env = "COMPTOIR_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub public_url: String,

    /// Lifetime of email verification and password reset links.
    #[arg(long, env = "COMPTOIR_EMAIL_TOKEN_TTL", default_value = "24h", value_parser = bounded_duration, global = true)]
    pub email_token_ttl: Duration,

    /// Lifetime of signed download URLs (document PDFs, production files) handed out in GraphQL.
    #[arg(long, env = "COMPTOIR_SIGNED_URL_TTL", default_value = "5m", value_parser = bounded_duration, global = true)]
    pub signed_url_ttl: Duration,

    /// Public URL of this API (`https://api.example.com`), put before signed download URLs.
    /// Unset: they are paths (`/documents/…`) that clients resolve against the API's address.
    #[arg(long, env = "COMPTOIR_API_URL", global = true)]
    pub api_url: Option<String>,

    /// Folder of the file store (production files, claim photos). Default: `storage` beside the
    /// SQLite file (or in the working directory).
    #[arg(long, env = "COMPTOIR_STORAGE_DIR", global = true)]
    pub storage_dir: Option<PathBuf>,

    /// Log filter, in `tracing` syntax (e.g. `info`, `comptoir_api=debug,sqlx=warn`).
    #[arg(long, env = "COMPTOIR_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log format.
    #[arg(long, env = "COMPTOIR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A duration setting (`15m`, `30days`), between one second and ten years.
fn bounded_duration(value: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(value).map_err(|e| e.to_string())?;
    if duration < Duration::from_secs(1) || duration > Duration::from_hours(10 * 366 * 24) {
        return Err("must be between 1s and 10 years".to_owned());
    }
    Ok(duration)
}

/// The SQLite file used when no database URL is configured.
pub const DEFAULT_SQLITE_FILE: &str = "comptoir.db";

impl Config {
    /// Settings from the environment and defaults only (no command-line flags).
    pub fn from_env() -> Result<Self, clap::Error> {
        #[derive(clap::Parser)]
        struct OnlyConfig {
            #[command(flatten)]
            config: Config,
        }
        <OnlyConfig as clap::Parser>::try_parse_from(["comptoir"]).map(|c| c.config)
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{DEFAULT_SQLITE_FILE}?mode=rwc"))
    }

    /// The SQLite database file, when the database is SQLite and on disk.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let url = self.database_url();
        let rest = url.strip_prefix("sqlite:")?;
        let rest = rest.trim_start_matches("//");
        let path = rest.split('?').next().unwrap_or_default();
        (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
    }

    /// Where emails and SMS are written when nothing sends them.
    pub fn mail_dir(&self) -> PathBuf {
        self.mail_dir.clone().unwrap_or_else(|| {
            self.sqlite_path()
                .and_then(|db| db.parent().map(|dir| dir.join("mail")))
                .unwrap_or_else(|| PathBuf::from("mail"))
        })
    }

    /// Where the local file store keeps its files.
    pub fn storage_dir(&self) -> PathBuf {
        self.storage_dir.clone().unwrap_or_else(|| {
            self.sqlite_path()
                .and_then(|db| db.parent().map(|dir| dir.join("storage")))
                .unwrap_or_else(|| PathBuf::from("storage"))
        })
    }

    pub fn hash_workers(&self) -> usize {
        self.hash_workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get().saturating_sub(1))
                .max(1)
        })
    }
}

/// A secret setting: cloneable, never printed.
#[derive(Clone)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value.into())
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.into()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}
