//! Resolve and serialise once, send to many: the JSON payload of an event, as one subscription
//! document selects it, is resolved and rendered by the first subscriber that gets the event and
//! reused, byte for byte, by every other subscriber with the same document (10,000 clients
//! following the same orders cost one resolution and one serialisation per event, not 10,000).
//! A subscriber that finds the payload already rendered sends it from its event stream
//! ([`SharedFrames`]) and never hands the event to the GraphQL executor.
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
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
};

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

/// Sends a payload someone else rendered to this operation's socket, as its next frame; `false`
/// when the peer is gone.
pub type SendPayload =
    Arc<dyn Fn(Arc<str>) -> futures_util::future::BoxFuture<'static, bool> + Send + Sync>;

/// An operation's way past the executor (set by the WebSocket transport in the request data):
/// the renderings of its document, and how to send one.
#[derive(Clone)]
pub struct SharedFrames {
    fingerprint: u64,
    cache: Arc<FrameCache>,
    send: SendPayload,
}

impl fmt::Debug for SharedFrames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedFrames")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl SharedFrames {
    pub fn new(fingerprint: u64, cache: Arc<FrameCache>, send: SendPayload) -> Self {
        Self {
            fingerprint,
            cache,
            send,
        }
    }

    /// Sends event `event_id` if its payload for this document is already rendered: `None`
    /// when it is not (the caller resolves it), else whether the peer took it.
    pub async fn send_rendered(&self, event_id: i64) -> Option<bool> {
        let payload = self.cache.rendered(self.fingerprint, event_id)?;
        Some((self.send)(payload).await)
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
