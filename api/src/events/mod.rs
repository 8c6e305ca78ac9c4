//! Domain events: written to the event log in the transaction of the change (see
//! [`crate::db::WriteTx`]), then published to subscribers after commit.
//!
//! Publication is a wake-up, the log is the source of truth: subscribers that lag are told so and
//! can read the log. Later contexts (quotes, orders, rental projects) add kinds and object types.

pub mod frames;
pub mod graphql;
pub mod store;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, sqlx::postgres::PgListener,
};
use serde_json::Value as Json;
use tokio::sync::broadcast;
use uuid::Uuid;

use futures_util::{Stream, StreamExt};
use tokio_stream::wrappers::{BroadcastStream, errors::BroadcastStreamRecvError};

use crate::{auth::Principal, db::Db, error::AppError, state::AppState};

/// How many events a subscriber may fall behind before it is told it lagged.
const CHANNEL_CAPACITY: usize = 1024;

/// An event to record in the current transaction.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub kind: &'static str,
    pub object_type: &'static str,
    pub object_id: Uuid,
    pub owner_user_id: Option<Uuid>,
    /// The customer whose users may see it (orders, quotes, projects).
    pub owner_customer_id: Option<Uuid>,
    /// Staff only: never shown to the owner.
    pub internal: bool,
    pub actor_id: Option<Uuid>,
    pub status: Option<String>,
    /// Changed fields: `{"field": {"old": …, "new": …}}`, or any detail the kind defines.
    pub changes: Json,
    pub at: DateTime<Utc>,
}

impl NewEvent {
    /// A change to something of the whole store (its settings, a message template), by staff
    /// and seen by staff only; instances drop what they keep of it (see [`EventBus::on_change`]).
    pub fn store_change(
        kind: &'static str,
        object_type: &'static str,
        actor_id: Option<Uuid>,
        changes: Json,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            kind,
            object_type,
            object_id: Uuid::nil(),
            owner_user_id: None,
            owner_customer_id: None,
            internal: true,
            actor_id,
            status: None,
            changes,
            at,
        }
    }
}

/// An event as stored in the log; `id` is its position. On PostgreSQL it reaches the instances
/// in JSON, as the payload of its notification.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct StoredEvent {
    pub id: i64,
    pub kind: String,
    pub object_type: String,
    pub object_id: Uuid,
    pub owner_user_id: Option<Uuid>,
    pub owner_customer_id: Option<Uuid>,
    pub internal: bool,
    pub actor_id: Option<Uuid>,
    pub status: Option<String>,
    pub changes: Json,
    pub created_at: DateTime<Utc>,
}

/// Who reads events: staff read everything; anyone else what they own, or what their customer
/// owns unless it is internal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Staff,
    Owner {
        user_id: Uuid,
        customer_id: Option<Uuid>,
    },
}

impl Audience {
    /// The audience of a logged-in caller; `UNAUTHENTICATED` for the public.
    pub fn of(principal: &Principal) -> Result<Self, AppError> {
        let user = principal.require_user()?;
        Ok(if principal.is_staff() {
            Self::Staff
        } else {
            Self::Owner {
                user_id: user.id,
                customer_id: user.customer_id,
            }
        })
    }

    pub fn may_see(self, event: &StoredEvent) -> bool {
        match self {
            Self::Staff => true,
            Self::Owner {
                user_id,
                customer_id,
            } => {
                event.owner_user_id == Some(user_id)
                    || (!event.internal
                        && customer_id.is_some()
                        && event.owner_customer_id == customer_id)
            }
        }
    }
}

/// Which events a subscription follows: a type of object, and one object or all of them.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub object_type: Option<&'static str>,
    pub object_id: Option<Uuid>,
}

impl Scope {
    fn contains(&self, event: &StoredEvent) -> bool {
        self.object_type.is_none_or(|t| event.object_type == t)
            && self.object_id.is_none_or(|id| event.object_id == id)
    }
}

/// The events of `scope` that `audience` may see, as they commit; with `after` (a position in
/// the log), first those committed since. Each event is checked against the audience as it
/// arrives; a subscriber that falls behind gets `LAGGED` and keeps going (it can read what it
/// missed with `events(after:)`).
///
/// Without `after`, the stream starts at the log's end as read once listening: on PostgreSQL an
/// event committed just before may still be on its way through `NOTIFY`, and must not arrive as
/// if it were new.
pub async fn follow(
    state: &AppState,
    audience: Audience,
    scope: Scope,
    after: Option<i64>,
) -> Result<impl Stream<Item = Result<Arc<StoredEvent>, AppError>> + Send + 'static + use<>, AppError>
{
    // Listen first, then read the log: an event committed in between is in one or the other.
    let live = BroadcastStream::new(state.events.subscribe());
    let (replayed, last) = match after {
        Some(after) => {
            let replayed =
                store::visible_after(state.db.read(), audience, &scope, after, REPLAY_LIMIT)
                    .await?;
            let last = replayed.last().map_or(after, |e| e.id);
            (replayed, last)
        }
        None => (
            Vec::new(),
            store::last_id(state.db.read()).await?.unwrap_or(i64::MIN),
        ),
    };
    let replayed = futures_util::stream::iter(replayed.into_iter().map(|e| Ok(Arc::new(e))));
    let live = live.filter_map(move |item| {
        std::future::ready(match item {
            Ok(event) if event.id > last && scope.contains(&event) && audience.may_see(&event) => {
                Some(Ok(event))
            }
            Ok(_) => None,
            Err(BroadcastStreamRecvError::Lagged(missed)) => Some(Err(AppError::Lagged { missed })),
        })
    });
    Ok(replayed.chain(live))
}

/// Most events a subscription replays from `after`; a client further behind pages through
/// `events(after:)`.
const REPLAY_LIMIT: u64 = 1000;

/// Fan-out of committed events to subscribers, on every instance.
///
/// On SQLite (one process) a committed event goes straight to this process's subscribers. On
/// PostgreSQL it goes through `NOTIFY`, sent after the commit and outside the business
/// transaction (a `NOTIFY` inside it would lengthen the commit, which holds the event log's
/// lock); every instance (this one included) `LISTEN`s and hands it to its own subscribers. The
/// payload is the event in JSON, or its ID when the event is too long for one (PostgreSQL takes
/// under 8,000 bytes), and the listener then reads it from the log.
#[derive(Clone, Debug)]
pub struct EventBus {
    channels: Channels,
    postgres: Option<Postgres>,
    /// Wakes this instance's outbox worker when a transaction that wrote messages commits.
    outbox: Arc<tokio::sync::Notify>,
}

/// This process's subscribers: those of every event, and those of account events only (each
/// WebSocket connection watches its account; waking 10,000 of them for every order event would
/// double the work of a fan-out).
#[derive(Clone, Debug)]
struct Channels {
    all: broadcast::Sender<Arc<StoredEvent>>,
    accounts: broadcast::Sender<Arc<StoredEvent>>,
}

impl Channels {
    fn deliver(&self, event: Arc<StoredEvent>) {
        if event.object_type == crate::auth::service::USER_OBJECT {
            // An error only means nobody is listening right now.
            drop(self.accounts.send(Arc::clone(&event)));
        }
        drop(self.all.send(event));
    }
}

#[derive(Clone, Debug)]
struct Postgres {
    db: DatabaseConnection,
    channel: String,
}

/// Longest `NOTIFY` payload sent: PostgreSQL refuses 8,000 bytes and more. A longer event is
/// notified by its ID.
const NOTIFY_LIMIT: usize = 7_900;

impl EventBus {
    /// A bus for this process only.
    pub fn local() -> Self {
        Self {
            channels: Channels {
                all: broadcast::channel(CHANNEL_CAPACITY).0,
                accounts: broadcast::channel(CHANNEL_CAPACITY).0,
            },
            postgres: None,
            outbox: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// The bus for `db`: local on SQLite; on PostgreSQL, starts this instance's listener. The
    /// channel is named after the schema so that deployments sharing a database stay apart.
    pub async fn start(db: &Db, schema: Option<&str>) -> Result<Self, DbErr> {
        let mut bus = Self::local();
        let conn = db.read().clone();
        if conn.get_database_backend() != DbBackend::Postgres {
            return Ok(bus);
        }
        let mut channel = format!("comptoir_events.{}", schema.unwrap_or("public"));
        channel.truncate(63);
        // Read before listening: anything committed after it is new, and nothing notified to
        // this listener is at or below it unless it committed before. The bus starts before the
        // migrations: on a new database there is no log yet, and everything is new.
        let floor = match store::last_id(&conn).await {
            Ok(last) => last.unwrap_or(0),
            Err(error) if undefined_table(&error) => 0,
            Err(error) => return Err(error),
        };
        let mut listener = PgListener::connect_with(conn.get_postgres_connection_pool())
            .await
            .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into())))?;
        listener
            .listen(&channel)
            .await
            .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into())))?;
        tokio::spawn(listen(
            listener,
            conn.clone(),
            bus.channels.clone(),
            Delivered::new(floor),
        ));
        bus.postgres = Some(Postgres { db: conn, channel });
        Ok(bus)
    }

    /// Publishes committed events. Never waits on subscribers: a slow one lags, nobody blocks.
    pub async fn publish(&self, events: Vec<StoredEvent>) {
        let Some(postgres) = &self.postgres else {
            for event in events {
                self.channels.deliver(Arc::new(event));
            }
            return;
        };
        for event in events {
            let payload = serde_json::to_string(&event)
                .ok()
                .filter(|json| json.len() < NOTIFY_LIMIT)
                .unwrap_or_else(|| event.id.to_string());
            let notify = Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [postgres.channel.clone().into(), payload.into()],
            );
            if let Err(error) = postgres.db.execute_raw(notify).await {
                // The event is in the log: subscribers catch up from there.
                tracing::warn!(%error, event = event.id, "NOTIFY failed");
            }
        }
    }

    /// The outbox worker's wake-up.
    pub fn outbox_signal(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.outbox)
    }

    pub fn wake_outbox(&self) {
        self.outbox.notify_one();
    }

    /// Calls `changed` whenever an event about `object_type` commits, on any instance, and
    /// whenever this instance's channel lagged: for what an instance keeps in memory. An event
    /// whose notification came more than [`CATCH_UP`] positions late while PostgreSQL's
    /// listener was reconnecting is not reported: what is kept must also expire on its own.
    pub fn on_change(&self, object_type: &'static str, changed: impl Fn() + Send + 'static) {
        let mut events = self.subscribe();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) if event.object_type == object_type => changed(),
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => changed(),
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    /// Every event, as it commits.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StoredEvent>> {
        self.channels.all.subscribe()
    }

    /// Events of user accounts only (role, password, blocking), as they commit.
    pub fn subscribe_accounts(&self) -> broadcast::Receiver<Arc<StoredEvent>> {
        self.channels.accounts.subscribe()
    }
}

/// What a notification's payload gives.
#[derive(Debug)]
enum Notified {
    Event(StoredEvent),
    /// An event to read from the log: too long to carry, or sent by an instance of another
    /// version whose event this one cannot read whole.
    Position(i64),
    Unreadable(serde_json::Error),
}

impl Notified {
    fn read(payload: &str) -> Self {
        /// The position of an event whose other fields this version does not read.
        #[derive(serde::Deserialize)]
        struct Position {
            id: i64,
        }
        if let Ok(id) = payload.parse() {
            return Self::Position(id);
        }
        match serde_json::from_str(payload) {
            Ok(event) => Self::Event(event),
            Err(error) => match serde_json::from_str(payload) {
                Ok(Position { id }) => Self::Position(id),
                Err(_) => Self::Unreadable(error),
            },
        }
    }
}

/// This instance's listener: a notification carries an event, or the ID of one too long to
/// carry, which is read from the log (as is an event this version cannot read whole); it is
/// handed to local subscribers. Notifications sent while its connection was lost are lost: once
/// listening again, it reads from the log what committed meanwhile ([`catch_up`]). Ends when the
/// pool closes.
async fn listen(
    mut listener: PgListener,
    db: DatabaseConnection,
    channels: Channels,
    mut delivered: Delivered,
) {
    // What commits between the floor's read and listening is not delivered: the server serves
    // no subscriber yet, and keeps nothing.
    let mut behind = false;
    loop {
        if behind {
            // A statement through the listener answers only on a live connection, listening.
            // Given up when the pool closes: closing waits for the listener's connection, which
            // a half-open socket would hold until TCP gives up.
            let pool = db.get_postgres_connection_pool();
            let probe = sea_orm::sqlx::query("SELECT 1").execute(&mut listener);
            match pool.close_event().do_until(probe).await {
                Ok(Ok(_)) => match catch_up(&db, &channels, &mut delivered).await {
                    Ok(()) => behind = false,
                    Err(_) if pool.is_closed() => return,
                    Err(error) => {
                        tracing::warn!(%error, "cannot read the events missed; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        continue;
                    }
                },
                Err(_) | Ok(Err(sea_orm::sqlx::Error::PoolClosed)) => return,
                // A dead connection: receiving drops it and connects again.
                Ok(Err(_)) => {}
            }
        }
        let notification = match listener.try_recv().await {
            Ok(Some(notification)) => notification,
            Ok(None) => {
                tracing::warn!("event listener connected again; reading what it missed");
                behind = true;
                continue;
            }
            Err(sea_orm::sqlx::Error::PoolClosed) => return,
            Err(error) => {
                tracing::warn!(%error, "event listener lost its connection; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                behind = true;
                continue;
            }
        };
        let id = match Notified::read(notification.payload()) {
            Notified::Event(event) => {
                if delivered.first(event.id) {
                    channels.deliver(Arc::new(event));
                }
                continue;
            }
            Notified::Position(id) => id,
            Notified::Unreadable(error) => {
                tracing::warn!(%error, "cannot read a notified event");
                continue;
            }
        };
        if !delivered.is_new(id) {
            continue;
        }
        match store::find(&db, id).await {
            Ok(Some(event)) => {
                delivered.first(event.id);
                channels.deliver(Arc::new(event));
            }
            Ok(None) => tracing::warn!(event = id, "notified event not in the log"),
            Err(error) => tracing::warn!(%error, event = id, "cannot read notified event"),
        }
    }
}

/// Whether `error` is PostgreSQL's "relation does not exist" (`42P01`).
fn undefined_table(error: &DbErr) -> bool {
    crate::error::sql_state(error).as_deref() == Some("42P01")
}

/// Delivers the events of the log from [`Delivered::since`] that were not delivered yet, in
/// the log's order.
async fn catch_up(
    db: &DatabaseConnection,
    channels: &Channels,
    delivered: &mut Delivered,
) -> Result<(), DbErr> {
    const PAGE: u64 = 500;
    let everything = Scope {
        object_type: None,
        object_id: None,
    };
    let mut after = delivered.since();
    loop {
        let page = store::visible_after(db, Audience::Staff, &everything, after, PAGE).await?;
        let full = page.len() as u64 == PAGE;
        for event in page {
            after = event.id;
            if delivered.first(event.id) {
                channels.deliver(Arc::new(event));
            }
        }
        if !full {
            return Ok(());
        }
    }
}

/// How far back in the log a listener that lost its connection reads again: the positions
/// before the last it delivered. Positions follow commit order; notifications, sent by each
/// instance after its commit, may come in another, but not this far behind.
pub const CATCH_UP: i64 = 1_024;

/// The positions a listener delivered lately, so that it delivers none twice when it reads the
/// log again after a lost connection.
struct Delivered {
    /// The log's last position when the listener started: nothing up to it is delivered.
    floor: i64,
    /// The highest position delivered (or the floor).
    high: i64,
    /// The last positions delivered, oldest first, at most [`Delivered::KEPT`]: more than the
    /// [`CATCH_UP`] positions read again.
    order: std::collections::VecDeque<i64>,
    kept: std::collections::HashSet<i64>,
}

impl Delivered {
    const KEPT: usize = 2_048; // twice CATCH_UP

    fn new(floor: i64) -> Self {
        Self {
            floor,
            high: floor,
            order: std::collections::VecDeque::new(),
            kept: std::collections::HashSet::new(),
        }
    }

    /// Whether the event at `id` is still to deliver.
    fn is_new(&self, id: i64) -> bool {
        id > self.floor && !self.kept.contains(&id)
    }

    /// Records the event at `id` as delivered: `false` if it already was (or precedes the
    /// listener), and is not to deliver again.
    fn first(&mut self, id: i64) -> bool {
        if !self.is_new(id) {
            return false;
        }
        if self.order.len() == Self::KEPT
            && let Some(oldest) = self.order.pop_front()
        {
            self.kept.remove(&oldest);
        }
        self.order.push_back(id);
        self.kept.insert(id);
        self.high = self.high.max(id);
        true
    }

    /// Where reading the log again starts (exclusive).
    fn since(&self) -> i64 {
        self.floor.max(self.high - CATCH_UP)
    }
}

/// Events to record, for unit tests.
#[cfg(test)]
pub(crate) mod testing {
    #![allow(clippy::unwrap_used)]

    use chrono::Utc;
    use serde_json::json;
    use uuid::Uuid;

    use super::NewEvent;

    pub fn event(kind: &'static str) -> NewEvent {
        NewEvent {
            kind,
            object_type: "Test",
            object_id: Uuid::now_v7(),
            owner_user_id: None,
            owner_customer_id: None,
            internal: false,
            actor_id: None,
            status: None,
            changes: json!({}),
            at: Utc::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::{testing::event, *};

    /// A listener that lost its connection reads the log again from a little before the last
    /// event it delivered, and delivers what it had not.
    #[test]
    fn a_listener_delivers_each_event_once_and_reads_again_from_before_its_last() {
        let mut delivered = Delivered::new(10);
        assert!(
            !delivered.first(10),
            "committed before the listener started"
        );
        assert!(delivered.first(12));
        assert!(
            delivered.first(11),
            "a notification that came after a later one"
        );
        assert!(!delivered.first(12), "never twice");
        assert_eq!(delivered.since(), 10, "never before the listener started");
        for id in 13..=5_000 {
            assert!(delivered.first(id));
        }
        assert_eq!(delivered.since(), 5_000 - CATCH_UP);
        assert!(
            !delivered.is_new(5_000 - CATCH_UP + 1),
            "what is read again is known as delivered"
        );
        assert!(delivered.is_new(5_001));
    }

    /// A notification's payload: the event as published, its position alone, or an event of
    /// another version (a field renamed) read by its position.
    #[test]
    fn a_notified_event_is_read_whole_or_by_its_position() {
        let event = StoredEvent {
            id: 42,
            kind: "ORDER_SUBMITTED".to_owned(),
            object_type: "Order".to_owned(),
            object_id: uuid::Uuid::now_v7(),
            owner_user_id: None,
            owner_customer_id: Some(uuid::Uuid::now_v7()),
            internal: false,
            actor_id: Some(uuid::Uuid::now_v7()),
            status: Some("SUBMITTED".to_owned()),
            changes: serde_json::json!({ "note": { "new": "é ☕" } }),
            created_at: chrono::Utc::now(),
        };
        let payload = serde_json::to_string(&event).unwrap();
        let Notified::Event(read) = Notified::read(&payload) else {
            panic!("{payload}")
        };
        assert_eq!(format!("{read:?}"), format!("{event:?}"));
        assert!(matches!(Notified::read("42"), Notified::Position(42)));
        let other = payload.replace("\"kind\"", "\"type\"");
        assert!(
            matches!(Notified::read(&other), Notified::Position(42)),
            "{other}"
        );
        assert!(matches!(Notified::read("{}"), Notified::Unreadable(_)));
    }

    /// On PostgreSQL an event reaches this instance through `NOTIFY` some time after its commit;
    /// a subscription opened in between must not take it for a new one.
    #[tokio::test]
    async fn a_subscription_without_cursor_skips_events_committed_before_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::state::for_tests(&dir).await;
        // Committed, its notification still on the way.
        let late = store::insert(state.db.read(), vec![event("BEFORE")])
            .await
            .unwrap()
            .remove(0);

        let stream = follow(&state, Audience::Staff, Scope::default(), None)
            .await
            .unwrap();
        state.events.channels.deliver(Arc::new(late));
        let mut tx = state.db.begin(&state.events).await.unwrap();
        tx.record(event("AFTER"));
        tx.commit().await.unwrap();

        let first = Box::pin(stream).next().await.unwrap().unwrap();
        assert_eq!(first.kind, "AFTER");
    }
}
