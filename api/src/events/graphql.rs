//! The event log over GraphQL: `events(after:)` lets a client that was offline catch up.

use std::sync::Arc;

use async_graphql::{Context, Json, Object, Result};
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, future::Either};

use super::{StoredEvent, store};
use crate::{
    error::AppError,
    graphql::{
        context::{principal, state},
        relay::{RelayConnection, connection},
    },
    kernel::pagination::{Page, PageRequest},
};

/// One entry of the event log.
/// Shared, not copied, between the subscribers an event reaches.
pub struct EventObject(pub Arc<StoredEvent>);

impl EventObject {
    pub fn new(event: StoredEvent) -> Self {
        Self(Arc::new(event))
    }
}

#[Object(name = "Event")]
impl EventObject {
    /// Position in the log: pass it as `after` to read what followed.
    async fn cursor(&self) -> String {
        crate::kernel::pagination::event_cursor(self.0.id)
    }
    /// What happened (`BLOCKED`, `ROLE_CHANGED`…).
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    /// The kind of object it happened to (`User`…).
    async fn object_type(&self) -> &str {
        &self.0.object_type
    }
    /// The object's status after the change, when it has one.
    async fn status(&self) -> Option<&str> {
        self.0.status.as_deref()
    }
    /// Changed fields, `{"field": {"old": …, "new": …}}`, or details of the event.
    async fn changes(&self) -> Json<serde_json::Value> {
        Json(self.0.changes.clone())
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Default)]
pub struct EventsQuery;

#[Object]
impl EventsQuery {
    /// The event log after a cursor, oldest first: staff see every event, a user the events
    /// of what they or their customer own (never staff-only ones: internal notes, payments).
    #[graphql(complexity = "crate::graphql::relay::page_complexity(first, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<RelayConnection<EventObject>> {
        let audience = super::Audience::of(principal(ctx))?;
        let page = PageRequest::parse(first, after)?;
        let after = page
            .after
            .as_deref()
            .map(|c| {
                c.parse::<i64>()
                    .map_err(|_| AppError::validation("after", "not a valid cursor"))
            })
            .transpose()?;
        let (rows, total) = store::page(state(ctx).db.read(), audience, after, page.limit)
            .await
            .map_err(AppError::from)?;
        let page = Page::from_rows(rows, page.limit, after.is_some(), total, Ok::<_, AppError>)?;
        Ok(connection(page, |e| e.id.to_string(), EventObject::new))
    }
}

/// Runs a subscription resolver's setup (its checks and its read of the log) in a box of its
/// own, freed once the stream exists.
///
/// async-graphql turns a resolver into one stream that first awaits the resolver's future and
/// then yields from the stream it returned, and that stream is as large as the larger of the
/// two for as long as the subscription lives. Unboxed, every idle subscription kept the room of
/// finished database futures: 3.4 KiB of the 22 KiB an idle subscribed connection held (massif,
/// 4,000 subscribers).
///
/// Once the setup is over (the stream listens, or the subscription was refused), the request's
/// [`Listening`], if its transport set one, hears of it.
///
/// Not an `async fn`: one would keep the setup's future in its own (its argument), and the
/// resolver would hold that future twice.
pub fn boxed_setup<F: Future>(
    ctx: &Context<'_>,
    setup: F,
) -> std::pin::Pin<Box<impl Future<Output = F::Output> + use<F>>> {
    let listening = ctx.data_opt::<Listening>().and_then(Listening::sender);
    Box::pin(async move {
        let output = setup.await;
        if let Some(sender) = listening {
            // An error only means the transport stopped waiting.
            let _ = sender.send(());
        }
        output
    })
}

/// Tells a transport when a subscription listens: set in a subscription request's data, it is
/// told once the resolver's setup is over, or dropped with the request when there was none
/// (the document did not validate, say). The WebSocket transport reads a client's next message
/// only then, so that an event caused after the client's next message is never missed.
pub struct Listening(std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>);

impl Listening {
    pub fn new() -> (Self, tokio::sync::oneshot::Receiver<()>) {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        (Self(std::sync::Mutex::new(Some(sender))), receiver)
    }

    fn sender(&self) -> Option<tokio::sync::oneshot::Sender<()>> {
        self.0.lock().ok()?.take()
    }
}

/// A subscription to the events of objects of `object_type` the caller may see: one
/// (`object_id`, which the resolver has checked the caller may see) or all of them. With `after`
/// (an event's cursor), first what the client missed.
pub async fn object_events(
    ctx: &Context<'_>,
    object_type: &'static str,
    object_id: Option<uuid::Uuid>,
    after: Option<String>,
) -> Result<impl futures_util::Stream<Item = Result<EventObject>> + Send + 'static + use<>> {
    let audience = super::Audience::of(principal(ctx))?;
    let after = after
        .map(|c| crate::kernel::pagination::parse_event_cursor(&c, "after"))
        .transpose()?;
    let scope = super::Scope {
        object_type: Some(object_type),
        object_id,
    };
    let events = super::follow(state(ctx), audience, scope, after).await?;
    // Over a WebSocket, the operation's task takes the events and passes back those to resolve.
    let feed = ctx
        .data_opt::<Arc<super::frames::Feed>>()
        .filter(|feed| feed.claim());
    let events = match feed {
        Some(feed) => Either::Left(Arc::clone(feed).hand_over(Box::pin(events))),
        None => Either::Right(events),
    };
    Ok(event_stream(ctx, events))
}

/// A subscription's events as GraphQL objects. Each one marks the operation's `EventMarker`
/// (when the transport set one) so that its rendering can be shared.
pub fn event_stream<S>(
    ctx: &Context<'_>,
    stream: S,
) -> impl futures_util::Stream<Item = Result<EventObject>> + Send + 'static + use<S>
where
    S: futures_util::Stream<Item = Result<Arc<StoredEvent>, AppError>> + Send + 'static,
{
    let marker = ctx.data_opt::<super::frames::EventMarker>().cloned();
    stream.map(move |item| {
        let event = item?;
        if let Some(marker) = &marker {
            marker.set(event.id);
        }
        Ok(EventObject(event))
    })
}
