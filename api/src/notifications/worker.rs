//! The outbox worker: wakes on commit (this instance) or every second (others), claims due
//! messages, sends them and records each attempt.

use std::{sync::Arc, time::Duration};

use tokio::{sync::Notify, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use super::{outbox, transport::Transports};
use crate::state::AppState;

const POLL: Duration = Duration::from_secs(1);
const BATCH: u64 = 20;

pub fn spawn(
    state: AppState,
    transports: Arc<Transports>,
    wake: Arc<Notify>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            loop {
                let now = state.clock.now();
                let batch = match outbox::claim(&state, BATCH, state.config.outbox_lease, now).await
                {
                    Ok(batch) => batch,
                    Err(error) => {
                        tracing::warn!(error = ?error, "outbox claim failed");
                        break;
                    }
                };
                if batch.is_empty() {
                    break;
                }
                for message in batch {
                    if stop.is_cancelled() {
                        return;
                    }
                    let outcome = transports.send(&message).await;
                    if let Err(error) = &outcome {
                        tracing::warn!(id = %message.id, %error, "message not sent");
                    }
                    // Recorded at once, not with the rest of the batch: a worker that dies
                    // mid-batch sends again at most the one message it was sending.
                    if let Err(error) =
                        outbox::record(&state, message, outcome, state.clock.now()).await
                    {
                        tracing::warn!(%error, "cannot record an outbox attempt");
                    }
                }
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    })
}
