//! Domain events: written to the event log in the transaction of the change (see
//! [`crate::db::WriteTx`]), then published to subscribers after commit.
//!
//! Publication is a wake-up, the log is the source of truth: subscribers that lag are told so and
//! can read the log. Later contexts (quotes, orders, rental projects) add kinds and object types.

pub mod store;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value as Json;
use tokio::sync::broadcast;
use uuid::Uuid;

/// How many events a subscriber may fall behind before it is told it lagged.
const CHANNEL_CAPACITY: usize = 1024;

/// An event to record in the current transaction.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub kind: &'static str,
    pub object_type: &'static str,
    pub object_id: Uuid,
    pub owner_user_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub status: Option<String>,
    /// Changed fields: `{"field": {"old": …, "new": …}}`, or any detail the kind defines.
    pub changes: Json,
    pub at: DateTime<Utc>,
}

/// An event as stored in the log; `id` is its position.
#[derive(Clone, Debug)]
pub struct StoredEvent {
    pub id: i64,
    pub kind: String,
    pub object_type: String,
    pub object_id: Uuid,
    pub owner_user_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub status: Option<String>,
    pub changes: Json,
    pub created_at: DateTime<Utc>,
}

/// Fan-out of committed events to this instance's subscribers.
#[derive(Clone, Debug)]
pub struct EventBus {
    sender: broadcast::Sender<Arc<StoredEvent>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        Self { sender }
    }

    /// Publishes committed events. Never waits on subscribers: a slow one lags, nobody blocks.
    pub async fn publish(&self, events: Vec<StoredEvent>) {
        for event in events {
            // An error only means nobody is listening right now.
            drop(self.sender.send(Arc::new(event)));
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StoredEvent>> {
        self.sender.subscribe()
    }
}
