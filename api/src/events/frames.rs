//! Serialise once, send to many: the JSON payload of an event, as one subscription document
//! selects it, is rendered by the first subscriber that gets the event and reused, byte for
//! byte, by every other subscriber with the same document (10,000 clients following the same
//! orders cost one serialisation per event, not 10,000).
//!
//! Each subscriber still receives only events it may see (checked per event); the rendering is
//! shared between subscribers whose documents are identical and who are both staff or both not.
//! That is sound only while every field reachable from `Event` depends on the event alone:
//! a field that depends on the viewer (their customer, their role beyond staff) must join the
//! fingerprint. A payload with errors is never shared.

use std::{
    collections::{HashMap, VecDeque},
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
}

impl std::fmt::Debug for FrameCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (hits, misses) = self.stats();
        f.debug_struct("FrameCache")
            .field("hits", &hits)
            .field("misses", &misses)
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

    /// (payloads reused, payloads rendered) since start.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
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
        assert_eq!(cache.stats(), (2, 2));
    }
}
