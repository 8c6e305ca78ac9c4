//! The quote job: expires sent quotes past their validity and deletes requests never sent (and
//! their files) after the retention period. Runs on every instance; each change is a conditional
//! update on a locked row, so two instances never expire or purge the same quote twice.

use std::time::Duration;

use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{
    model::QuoteStatus,
    service::{self, quote_event},
    store,
};
use crate::{error::AppError, state::AppState};

const BATCH: u64 = 200;

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub expired: usize,
    pub purged: usize,
}

/// One pass: expiry, then retention.
pub async fn run_once(state: &AppState) -> Result<Pass, AppError> {
    let now = state.clock.now();
    let mut pass = Pass::default();
    let due = store::due_to_expire(state.db.read(), now, BATCH).await?;
    for candidate in due {
        let mut tx = state.db.begin(&state.events).await?;
        let Some(mut row) = store::find_for_update(&*tx, candidate.id).await? else {
            continue;
        };
        // Re-checked on the locked row: another instance, or the customer, may have been first.
        if row.status != QuoteStatus::Sent.as_str()
            || row.superseded_by.is_some()
            || row.valid_until.is_none_or(|v| v >= now)
        {
            continue;
        }
        QuoteStatus::Expired.as_str().clone_into(&mut row.status);
        row.version += 1;
        row.updated_at = now;
        let row = store::update(&*tx, row).await?;
        tx.record(quote_event(
            &row,
            "QUOTE_EXPIRED",
            None,
            json!({ "status": { "old": "SENT", "new": "EXPIRED" } }),
            now,
        ));
        tx.commit().await?;
        pass.expired += 1;
    }
    let settings = service::settings(state.db.read()).await?;
    let before = now - chrono::Duration::days(i64::from(settings.retention_days));
    let unsent = store::stale_requests(state.db.read(), before, BATCH).await?;
    for candidate in unsent {
        let mut tx = state.db.begin(&state.events).await?;
        let Some(row) = store::find_for_update(&*tx, candidate.id).await? else {
            continue;
        };
        if !matches!(
            QuoteStatus::parse(&row.status),
            Some(QuoteStatus::Requested | QuoteStatus::InPreparation)
        ) || row.created_at >= before
        {
            continue;
        }
        store::delete(&*tx, row.id).await?;
        tx.record(quote_event(
            &row,
            "QUOTE_PURGED",
            None,
            json!({ "number": row.number, "retentionDays": settings.retention_days }),
            now,
        ));
        tx.commit().await?;
        pass.purged += 1;
    }
    Ok(pass)
}

/// Runs a pass every `interval` until `stop`.
pub fn spawn(state: AppState, interval: Duration, stop: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match run_once(&state).await {
                Ok(pass) if pass != Pass::default() => {
                    tracing::info!(expired = pass.expired, purged = pass.purged, "quote job");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(?error, "quote job failed"),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
        }
    })
}
