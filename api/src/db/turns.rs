//! SQLite: the one writer connection, handed from one user to the next.
//!
//! The driver (`sqlx`) pings a connection each time it goes back to its pool (`sqlx-core` 0.9,
//! not configurable): on SQLite a round trip to the connection's thread, which the next user of
//! the writer waits for. Write transactions ([`super::sqlite_tx`]) and grouped statements
//! ([`super::grouped`]) take the writer here instead: a turn ends by handing the connection to
//! the next in line, and it goes back to the pool only when nobody waits, for the writer's
//! other users (migrations, [`super::Db::write`]) to take. While turns follow each other those
//! wait: every write of the server's own goes through turns.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use sea_orm::sqlx::{self, Sqlite, SqlitePool, pool::PoolConnection};
use tokio::sync::{Mutex, OwnedMutexGuard};

#[derive(Clone, Debug)]
pub struct Turns {
    pool: SqlitePool,
    slot: Arc<Mutex<Option<PoolConnection<Sqlite>>>>,
    waiting: Arc<AtomicUsize>,
}

impl Turns {
    pub fn new(pool: SqlitePool) -> Self {
        Self {
            pool,
            slot: Arc::default(),
            waiting: Arc::default(),
        }
    }

    /// Waits for the writer, in the order asked; gives up after the pool's acquire timeout, as
    /// the pool would (a caller that holds a turn and waits for another would otherwise wait
    /// forever).
    pub async fn take(&self) -> Result<Turn, sqlx::Error> {
        let waiting = Waiting::new(self);
        let deadline = tokio::time::Instant::now() + self.pool.options().get_acquire_timeout();
        // Declared after `waiting`, so dropped before it if the caller goes.
        let lock = tokio::time::timeout_at(deadline, Arc::clone(&self.slot).lock_owned());
        let mut slot = lock.await.map_err(|_| sqlx::Error::PoolTimedOut)?;
        waiting.served();
        if slot.is_none() {
            let acquire = tokio::time::timeout_at(deadline, self.pool.acquire());
            *slot = Some(acquire.await.map_err(|_| sqlx::Error::PoolTimedOut)??);
        }
        Ok(Turn {
            guard: Some(slot),
            turns: self.clone(),
        })
    }

    /// Gives the writer back to its pool if it waits in the slot (before the pool is closed).
    pub async fn release(&self) {
        // Counted as a waiter, so that a turn ending meanwhile leaves the connection to it.
        let waiting = Waiting::new(self);
        let mut slot = self.slot.lock().await;
        waiting.served();
        drop(slot.take());
    }

    /// Gives the writer back to its pool if it waits in the slot and nobody waits for it.
    fn release_if_idle(&self) {
        // Both callers wrote before (a waiter its count, a turn the lock's release) and read the
        // other's write here: without a full fence each could miss the other's on a processor
        // that reorders a later load before an earlier store.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::Acquire) == 0
            && let Ok(mut slot) = self.slot.try_lock()
        {
            drop(slot.take());
        }
    }
}

/// Counts a caller waiting for its turn, until it has it. A caller that goes before (cancelled)
/// may be the one a turn ended for, which kept the connection: it gives it back to the pool
/// unless another caller waits or a turn runs (which then will).
struct Waiting<'a> {
    turns: &'a Turns,
    served: bool,
}

impl<'a> Waiting<'a> {
    fn new(turns: &'a Turns) -> Self {
        turns.waiting.fetch_add(1, Ordering::AcqRel);
        Self {
            turns,
            served: false,
        }
    }

    fn served(mut self) {
        self.served = true;
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.turns.waiting.fetch_sub(1, Ordering::AcqRel);
        if !self.served {
            self.turns.release_if_idle();
        }
    }
}

/// The writer, held: no other turn runs until this one is dropped.
pub struct Turn {
    /// `None` once dropped.
    guard: Option<OwnedMutexGuard<Option<PoolConnection<Sqlite>>>>,
    turns: Turns,
}

impl Turn {
    pub fn conn(&mut self) -> Result<&mut PoolConnection<Sqlite>, sqlx::Error> {
        self.guard
            .as_mut()
            .and_then(|slot| slot.as_mut())
            .ok_or(sqlx::Error::PoolClosed)
    }

    /// Closes the connection instead of handing it on (it may be left in a transaction): the
    /// next turn takes a new one from the pool.
    pub fn close(mut self) {
        if let Some(mut conn) = self.guard.as_mut().and_then(|slot| slot.take()) {
            conn.close_on_drop();
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let Some(mut slot) = self.guard.take() else {
            return;
        };
        if self.turns.waiting.load(Ordering::Acquire) == 0 {
            // A caller that starts waiting right after this finds the slot empty and takes
            // the connection from the pool, once it is back there.
            drop(slot.take());
            return;
        }
        drop(slot);
        // The caller counted above may have gone since, while the slot was still locked here.
        self.turns.release_if_idle();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::{
        sync::{
            Arc,
            atomic::{AtomicUsize, Ordering},
        },
        time::Duration,
    };

    use sea_orm::sqlx::{self, sqlite::SqlitePoolOptions};
    use tokio::task::JoinHandle;

    use super::Turns;

    #[tokio::test]
    async fn turns_hand_the_writer_on_and_give_it_back_when_nobody_waits() {
        let returned = Arc::new(AtomicUsize::new(0));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .after_release({
                let returned = Arc::clone(&returned);
                move |_, _| {
                    returned.fetch_add(1, Ordering::AcqRel);
                    Box::pin(async { Ok(true) })
                }
            })
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (v INTEGER)")
            .execute(&pool)
            .await
            .unwrap();
        // Back in the pool after that statement.
        while pool.num_idle() == 0 {
            tokio::task::yield_now().await;
        }
        let before = returned.load(Ordering::Acquire);
        let turns = Turns::new(pool.clone());
        let mut first = turns.take().await.unwrap();
        let second = tokio::spawn({
            let turns = turns.clone();
            let returned = Arc::clone(&returned);
            async move {
                let mut turn = turns.take().await.unwrap();
                // Had it gone back to the pool, this turn would have waited for it there.
                assert_eq!(
                    returned.load(Ordering::Acquire),
                    before,
                    "handed on without the pool"
                );
                sqlx::query("INSERT INTO t VALUES (2)")
                    .execute(&mut **turn.conn().unwrap())
                    .await
                    .unwrap();
            }
        });
        while turns.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut **first.conn().unwrap())
            .await
            .unwrap();
        drop(first);
        second.await.unwrap();
        // Nobody waits: back in the pool, for its other users.
        let rows: Vec<i64> = tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::query_scalar("SELECT v FROM t ORDER BY rowid").fetch_all(&pool),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(rows, [1, 2]);
        assert!(returned.load(Ordering::Acquire) > before);

        // A caller that stops waiting (cancelled) is not waited for.
        let held = turns.take().await.unwrap();
        let gone = tokio::spawn({
            let turns = turns.clone();
            async move { turns.take().await.map(drop) }
        });
        while turns.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        gone.abort();
        assert!(gone.await.unwrap_err().is_cancelled());
        drop(held);
        tokio::time::timeout(Duration::from_secs(5), pool.acquire())
            .await
            .expect("the writer went back to its pool")
            .unwrap();

        // A closed turn's connection is not handed on: the next turn opens another.
        let mut turn = turns.take().await.unwrap();
        sqlx::query("CREATE TEMP TABLE mine (v INTEGER)")
            .execute(&mut **turn.conn().unwrap())
            .await
            .unwrap();
        turn.close();
        let mut turn = turns.take().await.unwrap();
        let error = sqlx::query("SELECT v FROM mine")
            .execute(&mut **turn.conn().unwrap())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("no such table"), "{error}");
    }

    /// Callers on several threads wait for a turn and are cancelled while it ends and hands
    /// the writer to one of them: every turn that ran ran alone, and once all are gone the
    /// writer is back in its pool (no cancelled waiter stranded it in the slot).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn waiters_cancelled_while_a_turn_ends_never_strand_the_writer() {
        // A file, not memory: should the pool open another connection (a caller cancelled
        // within the pool's own check of a connection closes it), it sees the same database.
        // Not synced: the writes only count turns.
        let dir = tempfile::tempdir().unwrap();
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(dir.path().join("t.db"))
                    .create_if_missing(true)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Off),
            )
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (v INTEGER)")
            .execute(&pool)
            .await
            .unwrap();
        let turns = Turns::new(pool.clone());
        let running = Arc::new(AtomicUsize::new(0));
        let mut ran = 0_i64;
        for round in 0..1_000_usize {
            let held = turns.take().await.unwrap();
            let mut waiters = Vec::new();
            for caller in 0..8_usize {
                let turns = turns.clone();
                let running = Arc::clone(&running);
                waiters.push(tokio::spawn(async move {
                    let mut turn = turns.take().await.unwrap();
                    // Declared after the turn, so counted out before the turn ends, also when
                    // the task is cancelled while its statement runs.
                    let _alone = Alone::new(&running);
                    sqlx::query("INSERT INTO t VALUES (?)")
                        .bind(i64::try_from(caller).unwrap())
                        .execute(&mut **turn.conn().unwrap())
                        .await
                        .unwrap();
                }));
            }
            while turns.waiting.load(Ordering::Acquire) < 8 {
                tokio::task::yield_now().await;
            }
            // The turn ends on one worker thread while the waiters are cancelled from another,
            // one after the other with a few yields between them (a worker's yield lets other
            // tasks run; this test's own thread has no scheduler to yield to).
            let cancels: Vec<_> = waiters.iter().map(JoinHandle::abort_handle).collect();
            let cancelling = tokio::spawn(async move {
                for (index, cancel) in cancels.iter().enumerate() {
                    for _ in 0..(round + index) % 4 {
                        tokio::task::yield_now().await;
                    }
                    cancel.abort();
                }
            });
            let ending = tokio::spawn(async move { drop(held) });
            ending.await.unwrap();
            cancelling.await.unwrap();
            for waiter in waiters {
                match waiter.await {
                    Ok(()) => ran += 1,
                    Err(error) => assert!(error.is_cancelled(), "{error}"),
                }
            }
            assert_eq!(turns.waiting.load(Ordering::Acquire), 0);
            // Long: it runs out only if the writer was stranded.
            let conn = tokio::time::timeout(Duration::from_secs(30), pool.acquire())
                .await
                .unwrap_or_else(|_| panic!("round {round}: the writer did not go back to its pool"))
                .unwrap();
            drop(conn);
        }
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&pool)
            .await
            .unwrap();
        // A task cancelled while its statement ran may have written too.
        assert!(
            rows >= ran,
            "every turn that ran wrote: {rows} rows, {ran} turns"
        );
    }

    /// Counts a turn running; fails if another runs.
    struct Alone<'a>(&'a AtomicUsize);

    impl<'a> Alone<'a> {
        fn new(running: &'a AtomicUsize) -> Self {
            assert_eq!(
                running.fetch_add(1, Ordering::AcqRel),
                0,
                "one turn at a time"
            );
            Self(running)
        }
    }

    impl Drop for Alone<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::AcqRel);
        }
    }

    #[tokio::test]
    async fn a_turn_not_had_within_the_pools_acquire_timeout_fails_as_the_pool_would() {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_millis(100))
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let turns = Turns::new(pool);
        let _held = turns.take().await.unwrap();
        let error = tokio::time::timeout(Duration::from_secs(5), turns.take())
            .await
            .expect("the turn gave up")
            .err()
            .unwrap();
        assert!(matches!(error, sqlx::Error::PoolTimedOut), "{error}");
        assert_eq!(turns.waiting.load(Ordering::Acquire), 0);
    }
}
