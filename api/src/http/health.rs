use axum::{extract::State, http::StatusCode};

use super::HttpState;

/// Alive: the process answers.
pub async fn alive() -> &'static str {
    "ok"
}

/// Prometheus text exposition of this process's counters (`COMPTOIR_METRICS`).
pub async fn metrics(State(state): State<HttpState>) -> String {
    format!(
        "# HELP comptoir_sql_statements_total SQL statements run since start.\n\
         # TYPE comptoir_sql_statements_total counter\n\
         comptoir_sql_statements_total {}\n\
         # HELP comptoir_websocket_connections Open WebSocket connections.\n\
         # TYPE comptoir_websocket_connections gauge\n\
         comptoir_websocket_connections {}\n",
        state.app.db.statements(),
        state.sockets.len()
    )
}

/// Ready: the database answers too.
pub async fn ready(State(state): State<HttpState>) -> (StatusCode, &'static str) {
    match state.app.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
