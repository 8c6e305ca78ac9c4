//! HTTP transport: GraphQL over HTTP (POST and GET), GraphQL over WebSocket, health checks.
//!
//! The path of a request: `router` → `graphql::post` (content negotiation, limits, bearer token →
//! `Principal`) → async-graphql executes the resolver → the context's `service` function runs one
//! `WriteTx` → commit → events published to `ws` subscribers.

mod auth;
mod documents;
mod files;
mod graphql;
mod health;
mod ws;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderValue, Method, StatusCode, header},
    routing::get,
};
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower_http::{
    LatencyUnit,
    catch_panic::CatchPanicLayer,
    cors::{AllowOrigin, CorsLayer},
    timeout::TimeoutLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{
    config::Config,
    graphql::{AppSchema, response_cache::ResponseCache},
    state::AppState,
};

/// Longest time one HTTP request may take, body included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest time shutdown waits for requests in flight and WebSockets to finish.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// What handlers share: the application state, the executable schema, and the shutdown signal
/// that closes long-lived WebSocket connections.
#[derive(Clone)]
pub(crate) struct HttpState {
    pub app: AppState,
    pub schema: AppSchema,
    pub shutdown: CancellationToken,
    /// WebSocket connections, which outlive their HTTP request: shutdown waits for them.
    pub sockets: TaskTracker,
    /// Responses to catalog reads, kept while the catalog is unchanged.
    pub responses: Arc<ResponseCache>,
    /// Parsed documents, kept by their text (HTTP and WebSocket).
    pub documents: Arc<crate::graphql::documents::Documents>,
}

/// The full HTTP application.
pub fn router(state: AppState) -> Router {
    router_with_shutdown(state, CancellationToken::new(), TaskTracker::new())
}

fn router_with_shutdown(
    app: AppState,
    shutdown: CancellationToken,
    sockets: TaskTracker,
) -> Router {
    let config = app.config.clone();
    let schema = crate::graphql::schema(app.clone());
    let state = HttpState {
        responses: Arc::new(ResponseCache::new(
            config.response_cache_mb.saturating_mul(1024 * 1024),
        )),
        documents: Arc::default(),
        app,
        schema,
        shutdown,
        sockets,
    };
    let mut router = Router::new();
    if config.metrics {
        router = router.route("/metrics", get(health::metrics));
    }
    router
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphql/ws", get(ws::upgrade))
        .route(
            "/files/quote-attachments/{id}",
            get(files::quote_attachment),
        )
        .route("/documents/{kind}/{file}", get(documents::document))
        .route(
            "/files/production-files/{id}",
            get(documents::production_file),
        )
        .route("/files/claim-photos/{id}", get(documents::claim_photo))
        .route("/healthz", get(health::alive))
        .route("/readyz", get(health::ready))
        .layer(DefaultBodyLimit::max(
            config
                .max_body_bytes
                .saturating_add(config.max_upload_bytes.saturating_mul(config.max_upload_files)),
        ))
        // A client that trickles its body or waits forever must not hold a connection (and
        // shutdown) hostage. Upgraded WebSockets are not subject to it.
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .layer(cors(&config))
        // A bug must cost one request a 500 with a coded body, never the connection.
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(
            TraceLayer::new_for_http()
                // Method and path only: query strings can carry secrets (a GET login).
                .make_span_with(|request: &axum::extract::Request| {
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
                })
                .on_request(())
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(LatencyUnit::Micros),
                ),
        )
        .with_state(state)
}

fn cors(config: &Config) -> CorsLayer {
    let origins = if config.cors_origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            config
                .cors_origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin.trim()).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .max_age(Duration::from_hours(1))
}

/// A migrated database and a bound listener, ready to serve.
pub struct Server {
    listener: TcpListener,
    state: AppState,
    transports: Arc<crate::notifications::transport::Transports>,
}

impl Server {
    /// Connects, migrates and binds (`COMPTOIR_BIND`; port 0 picks a free port).
    pub async fn bind(config: Config) -> anyhow::Result<Self> {
        let state = AppState::build(config).await?;
        state.db.migrate().await.context("migration failed")?;
        let listener = TcpListener::bind(state.config.bind)
            .await
            .with_context(|| format!("cannot listen on {}", state.config.bind))?;
        state.hasher.warm_up().await;
        let transports = Arc::new(crate::notifications::transport::Transports::from_config(
            &state.config,
        )?);
        Ok(Self {
            listener,
            state,
            transports,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then stops accepting, closes WebSockets and drains.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let token = CancellationToken::new();
        let sockets = TaskTracker::new();
        let worker = self.state.config.outbox_worker.then(|| {
            crate::notifications::worker::spawn(
                self.state.clone(),
                Arc::clone(&self.transports),
                self.state.events.outbox_signal(),
                token.clone(),
            )
        });
        let maintenance = crate::quotes::maintenance::spawn(
            self.state.clone(),
            self.state.config.maintenance_interval,
            token.clone(),
        );
        let app = router_with_shutdown(self.state.clone(), token.clone(), sockets.clone());
        let stopping = token.clone();
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down");
            token.cancel();
        };
        let serve = axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(signal);
        let deadline = async {
            stopping.cancelled().await;
            tokio::time::sleep(DRAIN_TIMEOUT).await;
        };
        tokio::select! {
            served = serve => served?,
            () = deadline => tracing::warn!("requests still running after the drain timeout; stopping anyway"),
        }
        if let Some(worker) = worker {
            drop(tokio::time::timeout(DRAIN_TIMEOUT, worker).await);
        }
        drop(tokio::time::timeout(DRAIN_TIMEOUT, maintenance).await);
        // Upgraded connections are not tracked by the HTTP server; they close on the token.
        sockets.close();
        if tokio::time::timeout(DRAIN_TIMEOUT, sockets.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "WebSocket connections still open after the drain timeout; closing the database anyway"
            );
        }
        self.state.db.close().await;
        Ok(())
    }
}

/// Migrates, serves, prints the URL, and stops on Ctrl-C or SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let server = Server::bind(config).await?;
    let addr = server.local_addr()?;
    println!("Comptoir listening on http://{addr}/graphql");
    tracing::info!(%addr, "listening");
    server.run(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        drop(tokio::signal::ctrl_c().await);
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    tracing::error!("a request handler panicked");
    let body = r#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#;
    let mut response = axum::response::Response::new(axum::body::Body::from(body));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}
