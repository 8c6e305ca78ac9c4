//! The outbox worker: wakes on commit (this instance) or every second (others), claims due
//! messages, sends them and records each attempt.

use std::{sync::Arc, time::Duration};

use futures_util::StreamExt;
use tokio::{
    sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

use super::{
    outbox::{self, Attempt},
    transport::Transports,
};
use crate::state::AppState;

const POLL: Duration = Duration::from_secs(1);
/// After a wake, the time given to the commits right behind it: under load one claim then
/// takes the messages of many mutations instead of one each.
const GATHER: Duration = Duration::from_millis(20);
const BATCH: u64 = 50;

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
                let full = u64::try_from(batch.len()).is_ok_and(|n| n >= BATCH);
                if !deliver(&state, &transports, batch, &stop).await {
                    return;
                }
                // A batch that was not full took every due message: no need to ask again. A
                // message committed meanwhile has left a permit on `wake`, so the wait below
                // ends at once; one due later (a retry) is found by the poll.
                if !full {
                    break;
                }
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(GATHER) => {}
            }
        }
    })
}

/// Sends a batch, `outbox_concurrency` messages at a time (a setting), started in the order they
/// were written (two messages to one address may arrive in either order, as through any mail
/// relay; a shop's order desk, one address, gets every order's email), while recording what was
/// sent: each attempt is written as soon as the writer takes it, with the attempts made while
/// the previous write waited (a group commit). A worker that dies mid-batch sends again at most
/// the messages whose attempt was not yet written: `outbox_concurrency` at most. Returns `false`
/// when stopped.
async fn deliver(
    state: &AppState,
    transports: &Transports,
    batch: Vec<comptoir_entity::outbox_message::Model>,
    stop: &CancellationToken,
) -> bool {
    // Each SMTP message waits on the network for most of its time, and with lettre 0.11.23 at
    // least 40 ms: it writes a message's closing `.` apart from its body on a socket with
    // Nagle's algorithm on, so the `.` waits for the server's delayed ACK (fixed upstream in
    // lettre's pull request 1159, not yet released). One at a time, a worker sent about 21
    // emails a second to an SMTP server on loopback.
    let at_once = usize::try_from(state.config.outbox_concurrency)
        .unwrap_or(1)
        .max(1);
    // A message holds a permit from before it is sent until its attempt is recorded: what a
    // worker dying mid-batch sends again (sent or being sent, not recorded) is never more than
    // `at_once` messages, however slow the database.
    let unrecorded = Arc::new(Semaphore::new(at_once));
    let (made, mut to_record) =
        mpsc::unbounded_channel::<(Attempt, Option<OwnedSemaphorePermit>)>();
    let sending = async move {
        let sent = futures_util::stream::iter(batch)
            .take_while(|_| std::future::ready(!stop.is_cancelled()))
            .then(|message| {
                let unrecorded = Arc::clone(&unrecorded);
                // The semaphore is never closed: the permit is always there.
                async move { (message, unrecorded.acquire_owned().await.ok()) }
            })
            .map(|(message, permit)| async move {
                let outcome = transports.send(&message).await;
                (message, outcome, permit)
            })
            .buffer_unordered(at_once);
        let mut sent = std::pin::pin!(sent);
        while let Some((message, outcome, permit)) = sent.next().await {
            if let Err(error) = &outcome {
                tracing::warn!(id = %message.id, %error, "message not sent");
            }
            let at = state.clock.now();
            let attempt = Attempt {
                message,
                outcome,
                at,
            };
            // The receiver lives until every sender is gone.
            drop(made.send((attempt, permit)));
        }
        !stop.is_cancelled()
    };
    let recording = async {
        while let Some(first) = to_record.recv().await {
            let mut group = vec![first];
            while let Ok(next) = to_record.try_recv() {
                group.push(next);
            }
            let (attempts, permits): (Vec<_>, Vec<_>) = group.into_iter().unzip();
            if let Err(error) = outbox::record(state, attempts).await {
                tracing::warn!(%error, "cannot record outbox attempts");
            }
            // Recorded (or not to be): the next messages may go.
            drop(permits);
        }
    };
    let (finished, ()) = tokio::join!(sending, recording);
    finished
}
