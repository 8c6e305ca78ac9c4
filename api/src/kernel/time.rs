//! The clock. Every "now" goes through it so that time-driven rules (quote expiry, retention,
//! token lifetimes) can be tested: tests move it forward; in production it is the system clock.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use chrono::{DateTime, SubsecRound, Utc};

/// System time plus an offset that only tests change.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// Now, to the microsecond: what PostgreSQL stores, so a row written and kept in memory
    /// (not read back) shows the times a later read of it shows, on either database.
    pub fn now(&self) -> DateTime<Utc> {
        (Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed)))
            .trunc_subsecs(6)
    }

    /// Moves this process's time forward (tests of expiry and retention).
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}

pub type SharedClock = Arc<Clock>;

/// Converts a configured duration to chrono's, saturating on absurd values.
pub fn chrono_duration(duration: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}
