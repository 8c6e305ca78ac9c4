//! Resolve and serialise once, send to many: the JSON payload of an event, as one subscription
//! document selects it, is resolved and rendered by the first subscriber that gets the event and
//! reused, byte for byte, by every other subscriber with the same document (10,000 clients
//! following the same orders cost one resolution and one serialisation per event, not 10,000).
//!
//! Over a WebSocket, a subscription's events go around the executor: its resolver hands them to
//! the operation's task ([`Feed`]), which sends a payload already rendered as soon as the event
//! arrives, and passes back to the resolver only the events it must resolve. Waking a subscriber
//! then polls its event stream alone, not the layers async-graphql wraps around a
//! subscription's stream (about a fifth of the server's time in a fan-out to 10,000
//! subscribers).
//!
//! Each subscriber still receives only events it may see (checked per event); the rendering is
//! shared between subscribers whose documents are identical and who are both staff or both not.
//! That is sound only while every field reachable from `Event` depends on the event alone:
//! a field that depends on the viewer (their customer, their role beyond staff) must join the
//! fingerprint. A payload with errors is never shared.

use std::{
    collections::{HashMap, VecDeque},
    fmt,
    hash::{DefaultHasher, Hash, Hasher},
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
    task::{Context, Poll, Waker},
};

use futures_util::Stream;

use super::StoredEvent;
use crate::error::AppError;

/// Payloads kept: recent events times the distinct documents following them.
const CAPACITY: usize = 4096;

/// Which event a subscription stream yielded last: set by the event resolvers, read by the
/// WebSocket loop once the response is ready (one per operation).
#[derive(Clone, Debug)]
pub struct EventMarker(Arc<AtomicI64>);

impl Default for EventMarker {
    fn default() -> Self {
        Self(Arc::new(AtomicI64::new(-1)))
    }
}

impl EventMarker {
    pub fn set(&self, event_id: i64) {
        self.0.store(event_id, Ordering::Release);
    }

    /// The event of the latest response, once (`None` for responses that are not events).
    pub fn take(&self) -> Option<i64> {
        let id = self.0.swap(-1, Ordering::AcqRel);
        (id >= 0).then_some(id)
    }
}

/// A subscription's events (replayed from the log, then live), as its resolver hands them to
/// its operation's task.
pub type Events = Pin<Box<dyn Stream<Item = Result<Arc<StoredEvent>, AppError>> + Send>>;

/// An event, an error or the end (`None`) of a subscription's events.
type Item = Option<Result<Arc<StoredEvent>, AppError>>;

/// What the operation's task waits for: its next response, or an event.
pub enum Next<R> {
    Response(Option<R>),
    Event(Item),
}

/// A subscription's events between its resolver and its operation's task (set by the WebSocket
/// transport in the request data).
///
/// The resolver hands its events over ([`Feed::hand_over`]) the first time the executor polls
/// it; the task then waits on them beside its response stream ([`Feed::poll_next`]). For each
/// event it sends the payload if rendered, else passes the event back ([`Feed::forward`]) for
/// the resolver to yield, and takes no other event until the resolver asks for the next one:
/// frames go out in the order of the events. Only one resolver of an operation hands over
/// ([`Feed::claim`]); any other keeps its events in its own stream.
#[derive(Debug, Default)]
pub struct Feed(Mutex<FeedState>);

#[derive(Default)]
struct FeedState {
    claimed: bool,
    /// Another resolver of the operation asked too: its events come as responses.
    several: bool,
    events: Option<Events>,
    /// Passed back, not yet taken by the resolver (boxed: an idle subscription keeps this
    /// state, and an error is large).
    forwarded: Option<Box<Item>>,
    /// An event was passed back and the resolver has not asked for the next one since.
    busy: bool,
    /// The resolver waiting for an event to be passed back.
    waker: Option<Waker>,
}

impl fmt::Debug for FeedState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FeedState")
            .field("claimed", &self.claimed)
            .field("several", &self.several)
            .field("busy", &self.busy)
            .finish_non_exhaustive()
    }
}

impl Feed {
    /// `true` for the first resolver to ask: it hands its events over.
    pub fn claim(&self) -> bool {
        let mut state = self.lock();
        state.several = state.claimed;
        !std::mem::replace(&mut state.claimed, true)
    }

    /// The resolver's stream: on its first poll it hands `events` to the task, then yields
    /// what the task passes back.
    pub fn hand_over(
        self: Arc<Self>,
        events: Events,
    ) -> impl Stream<Item = Result<Arc<StoredEvent>, AppError>> + Send + 'static {
        let mut events = Some(events);
        futures_util::stream::poll_fn(move |cx| {
            let mut state = self.lock();
            if let Some(events) = events.take() {
                state.events = Some(events);
            }
            if let Some(item) = state.forwarded.take() {
                return Poll::Ready(*item);
            }
            // Asked again: whatever was passed back before is out.
            state.busy = false;
            state.waker = Some(cx.waker().clone());
            Poll::Pending
        })
    }

    /// Passes `item` back to the resolver to yield.
    pub fn forward(&self, item: Item) {
        let waker = {
            let mut state = self.lock();
            state.forwarded = Some(Box::new(item));
            state.busy = true;
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The next response of `responses` or, when the task may take one, the next event of
    /// those handed over (kept in `taken` once there).
    pub fn poll_next<R>(
        &self,
        cx: &mut Context<'_>,
        responses: &mut (impl Stream<Item = R> + Unpin),
        taken: &mut Option<Events>,
    ) -> Poll<Next<R>> {
        use futures_util::StreamExt;
        // Once the events are handed over, a wake-up is nearly always an event: the response
        // stream, with the layers the executor wraps around the resolver's, is polled only when
        // it may hold something.
        if self.responses_pending(taken.is_some())
            && let Poll::Ready(response) = responses.poll_next_unpin(cx)
        {
            return Poll::Ready(Next::Response(response));
        }
        // Polling the responses is what makes the resolver hand its events over.
        if taken.is_none() {
            *taken = self.lock().events.take();
        }
        match taken {
            Some(events) if !self.lock().busy => events.poll_next_unpin(cx).map(Next::Event),
            _ => Poll::Pending,
        }
    }

    /// Whether the responses may hold something besides the events passed back: before the
    /// hand-over, while an event is with the resolver, or when another resolver keeps its own.
    fn responses_pending(&self, handed_over: bool) -> bool {
        let state = self.lock();
        !handed_over || state.busy || state.several
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FeedState> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What identifies a rendering: the document, its operation and variables, and whether the
/// subscriber is staff (a field may show staff more).
pub fn fingerprint(
    query: &str,
    operation: Option<&str>,
    variables: Option<&serde_json::Value>,
    staff: bool,
) -> u64 {
    let mut hasher = DefaultHasher::new();
    query.hash(&mut hasher);
    operation.hash(&mut hasher);
    variables.map(ToString::to_string).hash(&mut hasher);
    staff.hash(&mut hasher);
    hasher.finish()
}

#[derive(Default)]
struct Inner {
    payloads: HashMap<(u64, i64), Arc<str>>,
    order: VecDeque<(u64, i64)>,
}

/// The shared renderings, bounded (oldest out first).
#[derive(Default)]
pub struct FrameCache {
    inner: Mutex<Inner>,
    hits: AtomicU64,
    misses: AtomicU64,
    unresolved: AtomicU64,
}

/// What the shared renderings saved since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// Payloads taken from the cache instead of serialising them again.
    pub reused: u64,
    /// Payloads serialised.
    pub rendered: u64,
    /// Of the reused ones, those sent without resolving the event at all.
    pub unresolved: u64,
}

impl std::fmt::Debug for FrameCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameCache")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl FrameCache {
    /// The payload of event `event_id` for documents of `fingerprint`, rendered by `render` the
    /// first time.
    pub fn payload(
        &self,
        fingerprint: u64,
        event_id: i64,
        render: impl FnOnce() -> String,
    ) -> Arc<str> {
        let key = (fingerprint, event_id);
        let mut inner = self.lock();
        if let Some(found) = inner.payloads.get(&key).cloned() {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return found;
        }
        // Rendered under the lock (a few microseconds): the subscribers that arrive meanwhile
        // wait and reuse it, so each payload is rendered exactly once.
        let rendered: Arc<str> = render().into();
        self.misses.fetch_add(1, Ordering::Relaxed);
        inner.payloads.insert(key, Arc::clone(&rendered));
        inner.order.push_back(key);
        while inner.order.len() > CAPACITY {
            if let Some(old) = inner.order.pop_front() {
                inner.payloads.remove(&old);
            }
        }
        rendered
    }

    /// The payload of event `event_id` for documents of `fingerprint`, if rendered.
    pub fn rendered(&self, fingerprint: u64, event_id: i64) -> Option<Arc<str>> {
        let found = self.lock().payloads.get(&(fingerprint, event_id)).cloned();
        if found.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
            self.unresolved.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    pub fn stats(&self) -> FrameStats {
        FrameStats {
            reused: self.hits.load(Ordering::Relaxed),
            rendered: self.misses.load(Ordering::Relaxed),
            unresolved: self.unresolved.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(id: i64) -> Arc<StoredEvent> {
        Arc::new(StoredEvent {
            id,
            kind: "TEST".to_owned(),
            object_type: "Test".to_owned(),
            object_id: uuid::Uuid::nil(),
            owner_user_id: None,
            owner_customer_id: None,
            internal: false,
            actor_id: None,
            status: None,
            changes: serde_json::Value::Null,
            created_at: chrono::Utc::now(),
        })
    }

    fn id_of<R>(next: Poll<Next<R>>) -> Option<i64> {
        match next {
            Poll::Ready(Next::Event(Some(Ok(event)))) => Some(event.id),
            _ => None,
        }
    }

    /// The task takes the events once the resolver has handed them over, and no other while
    /// one it passed back is with the resolver: frames go out in the order of the events.
    #[test]
    fn events_reach_the_task_in_order_and_only_those_passed_back_reach_the_executor() {
        use futures_util::StreamExt;

        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        let other = Feed::default();
        assert!(other.claim());
        assert!(!other.claim(), "one resolver per operation hands over");
        let feed = Arc::new(Feed::default());
        assert!(feed.claim());
        let events: Events = Box::pin(futures_util::stream::iter(
            [0, 1, 2, 3].map(|id| Ok(stored(id))),
        ));
        // The executor's response stream: the resolver's, with its polls counted.
        let mut resolver = Box::pin(Arc::clone(&feed).hand_over(events));
        let polls = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&polls);
        let mut responses = futures_util::stream::poll_fn(move |cx| {
            counted.fetch_add(1, Ordering::Relaxed);
            resolver.poll_next_unpin(cx)
        });
        let mut taken = None;
        let mut next = || feed.poll_next(&mut cx, &mut responses, &mut taken);

        // The first poll of the responses hands the events over.
        assert_eq!(id_of(next()), Some(0));
        // Not rendered: passed back, and yielded to the executor. Until the resolver asks for
        // more (its response is out), the task takes no other event.
        feed.forward(Some(Ok(stored(0))));
        assert!(matches!(next(), Poll::Ready(Next::Response(Some(Ok(e)))) if e.id == 0));
        assert!(feed.lock().busy, "its response is not out yet");
        assert_eq!(id_of(next()), Some(1));
        // Nothing with the resolver: the response stream is left alone.
        let before = polls.load(Ordering::Relaxed);
        assert_eq!(id_of(next()), Some(2));
        assert_eq!(id_of(next()), Some(3));
        assert_eq!(polls.load(Ordering::Relaxed), before);
        // The end of the events, passed back, ends the response stream.
        assert!(matches!(next(), Poll::Ready(Next::Event(None))));
        feed.forward(None);
        assert!(matches!(next(), Poll::Ready(Next::Response(None))));
    }

    #[test]
    fn a_payload_is_rendered_once_per_document_and_event() {
        let cache = FrameCache::default();
        let mut renders = 0;
        for _ in 0..3 {
            cache.payload(1, 7, || {
                renders += 1;
                "{}".to_owned()
            });
        }
        cache.payload(2, 7, || "{}".to_owned());
        assert_eq!(renders, 1);
        let stats = |reused, rendered, unresolved| FrameStats {
            reused,
            rendered,
            unresolved,
        };
        assert_eq!(cache.stats(), stats(2, 2, 0));
        assert_eq!(cache.rendered(2, 7).as_deref(), Some("{}"));
        assert_eq!(cache.rendered(2, 8), None);
        assert_eq!(cache.stats(), stats(3, 2, 1));
    }
}
