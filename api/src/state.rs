//! Application state, built once at start and shared by every request.

use std::{io::Write, path::Path, sync::Arc};

use anyhow::{Context, bail};

use crate::{
    auth::{jwt::JwtKeys, password::PasswordHasher},
    config::Config,
    db::Db,
    events::EventBus,
    kernel::{
        secret_token,
        time::{Clock, SharedClock},
    },
};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub events: EventBus,
    pub hasher: PasswordHasher,
    pub jwt: Arc<JwtKeys>,
    pub clock: SharedClock,
    /// Event payloads rendered once for every subscriber of the same document.
    pub frames: Arc<crate::events::frames::FrameCache>,
    /// The store settings every amount shows, kept while unchanged.
    pub settings: crate::catalog::settings::Cache,
    /// The message templates an order's emails use, compiled, kept while unchanged.
    pub templates: crate::notifications::templates::Cache,
    /// Catalog rows kept per catalog epoch, for carts.
    pub catalog: Arc<crate::catalog::snapshot::CatalogRows>,
}

impl AppState {
    /// Connects to the database (without migrating) and prepares keys and workers.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let secret = jwt_secret(&config)?;
        Self::with_secret(config, &secret).await
    }

    /// For commands that issue no token (`migrate`, `create-user`, `seed-demo`): the JWT secret
    /// is not needed, so a PostgreSQL deployment's operator need not hand it to them.
    pub async fn build_without_tokens(config: Config) -> anyhow::Result<Self> {
        let secret = match jwt_secret(&config) {
            Ok(secret) => secret,
            // PostgreSQL without a configured secret: these commands never sign anything.
            Err(_) if config.jwt_secret.is_none() => secret_token::generate(),
            Err(error) => return Err(error),
        };
        Self::with_secret(config, &secret).await
    }

    async fn with_secret(config: Config, secret: &str) -> anyhow::Result<Self> {
        let db = Db::connect(&config)
            .await
            .context("cannot connect to the database")?;
        let events = EventBus::start(&db, config.database_schema.as_deref())
            .await
            .context("cannot listen for events")?;
        let settings = crate::catalog::settings::Cache::default();
        settings.follow(&events);
        let templates = crate::notifications::templates::Cache::default();
        templates.follow(&events);
        Ok(Self {
            db,
            hasher: PasswordHasher::new(config.hash_workers()),
            jwt: Arc::new(JwtKeys::new(secret.as_bytes())),
            events,
            clock: Arc::new(Clock::default()),
            frames: Arc::default(),
            settings,
            templates,
            catalog: Arc::default(),
            config: Arc::new(config),
        })
    }
}

const MIN_SECRET_BYTES: usize = 32;

/// The configured secret; on SQLite without one, a secret generated once and kept beside the
/// database file. PostgreSQL means several instances, which must share a configured secret.
fn jwt_secret(config: &Config) -> anyhow::Result<String> {
    if let Some(secret) = &config.jwt_secret {
        if secret.expose().len() < MIN_SECRET_BYTES {
            bail!("COMPTOIR_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes long");
        }
        return Ok(secret.expose().to_owned());
    }
    if !config.database_url().starts_with("sqlite:") {
        bail!("COMPTOIR_JWT_SECRET must be set when the database is not SQLite");
    }
    let Some(db_path) = config.sqlite_path() else {
        tracing::warn!(
            "no COMPTOIR_JWT_SECRET and an in-memory database: tokens last until restart"
        );
        return Ok(secret_token::generate());
    };
    let path = db_path.with_extension("jwt-secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim().to_owned();
        if existing.len() >= MIN_SECRET_BYTES {
            return Ok(existing);
        }
    }
    let secret = secret_token::generate();
    write_private(&path, &secret)
        .with_context(|| format!("cannot write the JWT secret to {}", path.display()))?;
    tracing::warn!(
        path = %path.display(),
        "generated a JWT secret and kept it beside the database; production must set COMPTOIR_JWT_SECRET"
    );
    Ok(secret)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())
}

/// A migrated state on a SQLite file in `dir`, for unit tests.
#[cfg(test)]
pub(crate) async fn for_tests(dir: &tempfile::TempDir) -> AppState {
    #![allow(clippy::unwrap_used)]
    let mut config = Config::from_env().unwrap();
    config.database_url = Some(format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("t.db").display()
    ));
    config.jwt_secret = Some("x".repeat(32).into());
    let state = AppState::build(config).await.unwrap();
    state.db.migrate().await.unwrap();
    state
}
