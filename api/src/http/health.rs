use axum::{extract::State, http::StatusCode};

use super::HttpState;

/// Alive: the process answers, and the tasks it cannot work without still run (on SQLite, the
/// one that runs grouped statements on the writer and the writer's thread for checkouts: an
/// orchestrator restarts a process that lost either).
pub async fn alive(State(state): State<HttpState>) -> (StatusCode, &'static str) {
    if state.app.db.tasks_running() {
        (StatusCode::OK, "ok")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "a database task has stopped",
        )
    }
}

/// Prometheus text exposition of this process's counters (`COMPTOIR_METRICS`).
pub async fn metrics(State(state): State<HttpState>) -> String {
    format!(
        "# HELP comptoir_sql_statements_total SQL statements run since start.\n\
         # TYPE comptoir_sql_statements_total counter\n\
         comptoir_sql_statements_total {}\n\
         # HELP comptoir_websocket_connections Open WebSocket connections.\n\
         # TYPE comptoir_websocket_connections gauge\n\
         comptoir_websocket_connections {}\n\
         # HELP comptoir_write_transaction_seconds_total Time write transactions were open (BEGIN to commit or rollback), summed.\n\
         # TYPE comptoir_write_transaction_seconds_total counter\n\
         comptoir_write_transaction_seconds_total {:.6}\n",
        state.app.db.statements(),
        state.sockets.len(),
        state.app.db.write_time().as_secs_f64()
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
