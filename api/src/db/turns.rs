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

    /// Waits for the writer, in the order asked.
    pub async fn take(&self) -> Result<Turn, sqlx::Error> {
        let waiting = Waiting::new(self);
        let mut slot = Arc::clone(&self.slot).lock_owned().await;
        waiting.served();
        if slot.is_none() {
            *slot = Some(self.pool.acquire().await?);
        }
        Ok(Turn {
            slot,
            waiting: Arc::clone(&self.waiting),
        })
    }

    /// Gives the writer back to its pool if it waits in the slot (before the pool is closed).
    pub async fn release(&self) {
        drop(self.slot.lock().await.take());
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
        let left = self.turns.waiting.fetch_sub(1, Ordering::AcqRel) - 1;
        if !self.served
            && left == 0
            && let Ok(mut slot) = self.turns.slot.try_lock()
        {
            drop(slot.take());
        }
    }
}

/// The writer, held: no other turn runs until this one is dropped.
pub struct Turn {
    slot: OwnedMutexGuard<Option<PoolConnection<Sqlite>>>,
    waiting: Arc<AtomicUsize>,
}

impl Turn {
    pub fn conn(&mut self) -> Result<&mut PoolConnection<Sqlite>, sqlx::Error> {
        self.slot.as_mut().ok_or(sqlx::Error::PoolClosed)
    }

    /// Closes the connection instead of handing it on (it may be left in a transaction): the
    /// next turn takes a new one from the pool.
    pub fn close(mut self) {
        if let Some(mut conn) = self.slot.take() {
            conn.close_on_drop();
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        // A caller that starts waiting right after this finds the slot empty and takes the
        // connection from the pool, once it is back there.
        if self.waiting.load(Ordering::Acquire) == 0 {
            drop(self.slot.take());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use sea_orm::sqlx::{self, sqlite::SqlitePoolOptions};

    use super::Turns;

    #[tokio::test]
    async fn turns_hand_the_writer_on_and_give_it_back_when_nobody_waits() {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (v INTEGER)")
            .execute(&pool)
            .await
            .unwrap();
        let turns = Turns::new(pool.clone());
        let mut first = turns.take().await.unwrap();
        let second = tokio::spawn({
            let turns = turns.clone();
            async move {
                let mut turn = turns.take().await.unwrap();
                sqlx::query("INSERT INTO t VALUES (2)")
                    .execute(&mut **turn.conn().unwrap())
                    .await
                    .unwrap();
            }
        });
        while turns.waiting.load(super::Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut **first.conn().unwrap())
            .await
            .unwrap();
        drop(first);
        // The second turn had the connection without the pool: the pool still has none idle.
        assert_eq!(pool.num_idle(), 0);
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

        // A caller that stops waiting (cancelled) is not waited for.
        let held = turns.take().await.unwrap();
        let gone = tokio::spawn({
            let turns = turns.clone();
            async move { turns.take().await.map(drop) }
        });
        while turns.waiting.load(super::Ordering::Acquire) == 0 {
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
}
