use axum::{extract::State, http::StatusCode};

use super::HttpState;

/// Alive: the process answers.
pub async fn alive() -> &'static str {
    "ok"
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
