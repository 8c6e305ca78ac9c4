//! What an instance keeps in memory of what staff change rarely (the store settings, the
//! message templates): dropped when it changes (here at once; on other instances when the
//! change's event reaches them) and at most a minute old in any case.

use std::{
    future::Future,
    hash::Hash,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use crate::events::EventBus;

/// How long a value is kept at most: the bound for an instance that missed a change's event.
const AT_MOST: Duration = Duration::from_mins(1);

pub struct Kept<K, V> {
    /// Each value with the count of drops before it was read.
    entries: moka::future::Cache<K, (u64, V)>,
    /// Counts the drops: a value read before a drop is never served after it.
    drops: Arc<AtomicU64>,
}

impl<K, V> Clone for Kept<K, V> {
    fn clone(&self) -> Self {
        Self {
            entries: self.entries.clone(),
            drops: Arc::clone(&self.drops),
        }
    }
}

impl<K, V> std::fmt::Debug for Kept<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept")
            .field("drops", &self.drops)
            .finish_non_exhaustive()
    }
}

impl<K, V> Kept<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub fn new(max_capacity: u64) -> Self {
        Self {
            entries: moka::future::Cache::builder()
                .max_capacity(max_capacity)
                .time_to_live(AT_MOST)
                .build(),
            drops: Arc::default(),
        }
    }

    /// The value kept for `key`, or the one `read` gives, kept from then on.
    pub async fn get_or_read<E, F>(&self, key: K, read: impl FnOnce() -> F) -> Result<V, E>
    where
        F: Future<Output = Result<V, E>>,
    {
        let drops = self.drops.load(Ordering::Acquire);
        if let Some((read_after, value)) = self.entries.get(&key).await
            && read_after == drops
        {
            return Ok(value);
        }
        let value = read().await?;
        self.entries.insert(key, (drops, value.clone())).await;
        Ok(value)
    }

    /// Drops every value.
    pub fn invalidate(&self) {
        self.drops.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
    }

    /// Drops every value whenever an event about `object_type` commits, on any instance.
    pub fn follow(&self, bus: &EventBus, object_type: &'static str) {
        let kept = self.clone();
        bus.on_change(object_type, move || kept.invalidate());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::convert::Infallible;

    use super::Kept;

    /// A value serves until dropped; one read while a drop happened is read again next time.
    #[tokio::test]
    async fn a_value_read_before_a_drop_is_not_served_after_it() {
        let kept = Kept::<u8, &str>::new(8);
        let read = |value| async move { Ok::<_, Infallible>(value) };
        assert_eq!(
            kept.get_or_read(1, || read("first")).await.unwrap(),
            "first"
        );
        assert_eq!(
            kept.get_or_read(1, || read("second")).await.unwrap(),
            "first"
        );
        kept.invalidate();
        assert_eq!(
            kept.get_or_read(1, || read("second")).await.unwrap(),
            "second"
        );
        // Dropped while it was being read (a change committed meanwhile): given once, not kept.
        let during = kept.get_or_read(2, || async {
            kept.invalidate();
            Ok::<_, Infallible>("stale")
        });
        assert_eq!(during.await.unwrap(), "stale");
        assert_eq!(
            kept.get_or_read(2, || read("fresh")).await.unwrap(),
            "fresh"
        );
    }
}
