//! SQLite: a write transaction whose `BEGIN` goes to the writer with its first statement, and
//! whose `COMMIT` with its last.
//!
//! SeaORM's transaction sends `BEGIN` and `COMMIT` as round trips of their own, and each round
//! trip on SQLite's one writer is two thread hand-overs (see [`super::grouped`]): a checkout's
//! transaction was five round trips for three statements. The driver runs a text of several
//! statements in one round trip, in order, stopping at the first that fails. Here the first
//! statement goes as `BEGIN IMMEDIATE; <statement>`, and the commit as `<last writes>; COMMIT`.
//!
//! The driver does not see the transaction (it counts only those it began), so this type ends
//! it in every case: committed, rolled back when the commit's text fails, or rolled back when
//! dropped unfinished (an error returned early, a cancelled caller, a panic) by a task that
//! holds the writer's turn until the `ROLLBACK` has run. A connection whose rollback fails is
//! closed, not handed on: closing it rolls back what it held.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use futures_util::StreamExt;
use sea_orm::{
    ConnAcquireErr, DbErr, QueryResult, RuntimeErr, Statement, Values,
    sqlx::{self, AssertSqlSafe, Either, Executor, sqlite::SqliteQueryResult},
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::Mutex;

use super::turns::{Turn, Turns};

const BEGIN: &str = "BEGIN IMMEDIATE";

pub struct SqliteTx {
    held: Mutex<Held>,
    statements: Arc<AtomicU64>,
}

struct Held {
    /// The writer; `None` once the transaction has ended.
    conn: Option<Turn>,
    /// `BEGIN` was sent and did not fail (the statement after it may have).
    begun: bool,
}

impl std::fmt::Debug for SqliteTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteTx").finish_non_exhaustive()
    }
}

impl SqliteTx {
    /// Waits for the writer's turn; nothing is sent until the first statement.
    pub async fn begin(turns: &Turns, statements: Arc<AtomicU64>) -> Result<Self, DbErr> {
        let conn = turns.take().await.map_err(|error| match error {
            sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
            sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
            error => DbErr::Conn(RuntimeErr::SqlxError(error.into())),
        })?;
        Ok(Self {
            held: Mutex::new(Held {
                conn: Some(conn),
                begun: false,
            }),
            statements,
        })
    }

    /// Runs `statement` in the transaction (after `BEGIN` if it is the first), its rows and what
    /// its writes changed.
    pub async fn run(
        &self,
        statement: Statement,
        persistent: bool,
    ) -> Result<(Vec<QueryResult>, SqliteQueryResult), sqlx::Error> {
        let mut held = self.held.lock().await;
        let Held { conn, begun } = &mut *held;
        let conn = conn.as_mut().ok_or(sqlx::Error::PoolClosed)?.conn()?;
        let first = !*begun;
        let sql = if first {
            *begun = true;
            format!("{BEGIN};\n{}", statement.sql)
        } else {
            statement.sql
        };
        self.statements.fetch_add(1, Ordering::Relaxed);
        let mut results = Vec::new();
        let fetched = fetch(conn, sql, statement.values, persistent, &mut results).await;
        if first && results.is_empty() {
            // `BEGIN` itself failed (another process holds the database past the busy
            // timeout): no transaction is open, and the next statement begins one.
            *begun = false;
        }
        let rows = fetched?;
        // Not `BEGIN`'s own: SQLite reports there the changes of the last write before it.
        let mut done = SqliteQueryResult::default();
        done.extend(results.into_iter().skip(usize::from(first)));
        Ok((rows, done))
    }

    /// Runs `last` (if any) and commits, in one round trip; returns `last`'s rows. On an error the
    /// transaction is rolled back before it returns.
    pub async fn commit_after(
        mut self,
        last: Option<Statement>,
    ) -> Result<Vec<QueryResult>, DbErr> {
        let held = self.held.get_mut();
        let begun = held.begun;
        let Some(conn) = held.conn.take() else {
            return Err(DbErr::Custom("the transaction has ended".to_owned()));
        };
        let (sql, values) = match last {
            Some(last) => {
                self.statements.fetch_add(1, Ordering::Relaxed);
                let sql = if begun {
                    format!("{};\nCOMMIT", last.sql)
                } else {
                    format!("{BEGIN};\n{};\nCOMMIT", last.sql)
                };
                (sql, last.values)
            }
            // Nothing was sent: nothing to end.
            None if !begun => return Ok(Vec::new()),
            None => ("COMMIT".to_owned(), None),
        };
        // Rolled back or closed if this is cancelled before the commit has answered.
        let mut unsettled = Unsettled(Some(conn));
        let conn = unsettled
            .0
            .as_mut()
            .ok_or(sqlx::Error::PoolClosed)
            .and_then(Turn::conn);
        let fetched = match conn {
            Ok(conn) => fetch(conn, sql, values, true, &mut Vec::new()).await,
            Err(error) => Err(error),
        };
        match fetched {
            Ok(rows) => {
                unsettled.settled();
                Ok(rows)
            }
            Err(error) => {
                unsettled.rollback().await;
                Err(DbErr::Query(RuntimeErr::SqlxError(error.into())))
            }
        }
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        let held = self.held.get_mut();
        let Some(conn) = held.conn.take() else {
            return;
        };
        if !held.begun {
            return;
        }
        let unsettled = Unsettled(Some(conn));
        // Transactions are dropped on the server's runtimes; on one shutting down the task is
        // dropped unrun with the connection, and SQLite rolls back what a closed connection
        // held.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(unsettled.rollback());
        }
    }
}

/// The writer in a transaction that must be rolled back: its connection is closed, not handed
/// on, if this is dropped before [`Unsettled::rollback`] has succeeded.
struct Unsettled(Option<Turn>);

impl Unsettled {
    async fn rollback(mut self) {
        let Some(Ok(conn)) = self.0.as_mut().map(Turn::conn) else {
            return;
        };
        match sqlx::query("ROLLBACK").execute(&mut **conn).await {
            Ok(_) => {}
            // The statement that carried `BEGIN` failed before it: nothing to end.
            Err(sqlx::Error::Database(error)) if error.message().contains("no transaction") => {}
            Err(error) => {
                tracing::warn!(%error, "rolling back a write transaction failed: closing its connection");
                return;
            }
        }
        self.settled();
    }

    /// The transaction has ended: the writer goes to the next turn.
    fn settled(&mut self) {
        drop(self.0.take());
    }
}

impl Drop for Unsettled {
    fn drop(&mut self) {
        if let Some(turn) = self.0.take() {
            turn.close();
        }
    }
}

/// Runs `sql`, one statement or several, in one round trip: every row, and in `done` what each
/// statement that ran to its end changed (those before a failed one, on an error).
async fn fetch(
    conn: &mut sqlx::pool::PoolConnection<sqlx::Sqlite>,
    sql: String,
    values: Option<Values>,
    persistent: bool,
    done: &mut Vec<SqliteQueryResult>,
) -> Result<Vec<QueryResult>, sqlx::Error> {
    let query = sqlx::query_with(
        AssertSqlSafe(sql),
        SqlxValues(values.unwrap_or(Values(Vec::new()))),
    )
    .persistent(persistent);
    let mut results = conn.fetch_many(query);
    let mut rows = Vec::new();
    while let Some(result) = results.next().await {
        match result? {
            Either::Left(result) => done.push(result),
            Either::Right(row) => rows.push(QueryResult::from(row)),
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::{
        sync::{Arc, atomic::AtomicU64},
        time::Duration,
    };

    use sea_orm::{
        ConnectionTrait, DbBackend, SqlErr, Statement,
        sqlx::{
            self, SqlitePool,
            sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions},
        },
    };

    use super::{Ordering, SqliteTx, Turns};

    /// A pool of one connection to the file in `dir`; a connection that finds the file locked
    /// fails at once.
    async fn pool(dir: &tempfile::TempDir) -> SqlitePool {
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("t.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::ZERO);
        SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap()
    }

    /// The writer's pool and another connection's, on a table `t` of unique values.
    async fn pools() -> (tempfile::TempDir, Turns, SqlitePool) {
        let dir = tempfile::tempdir().unwrap();
        let writer = pool(&dir).await;
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)")
            .execute(&writer)
            .await
            .unwrap();
        let other = pool(&dir).await;
        (dir, Turns::new(writer), other)
    }

    /// A transaction on `writer`, counting its statements in `statements`.
    async fn begin(writer: &Turns, statements: &Arc<AtomicU64>) -> SqliteTx {
        SqliteTx::begin(writer, Arc::clone(statements))
            .await
            .unwrap()
    }

    fn insert(v: &str) -> Statement {
        Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "INSERT INTO t (v) VALUES (?) RETURNING v",
            [v.into()],
        )
    }

    async fn values(pool: &SqlitePool) -> Vec<String> {
        sqlx::query_scalar("SELECT v FROM t ORDER BY id")
            .fetch_all(pool)
            .await
            .unwrap()
    }

    /// Whether another connection can take the database's write lock now.
    async fn can_write(other: &SqlitePool) -> bool {
        let mut conn = other.acquire().await.unwrap();
        match sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await {
            Ok(_) => {
                sqlx::query("ROLLBACK").execute(&mut *conn).await.unwrap();
                true
            }
            Err(error) => {
                assert!(error.to_string().contains("locked"), "{error}");
                false
            }
        }
    }

    #[tokio::test]
    async fn the_first_statement_begins_the_transaction_and_the_last_commits_it() {
        let (_dir, writer, other) = pools().await;
        let statements = Arc::new(AtomicU64::new(0));
        let tx = begin(&writer, &statements).await;
        assert!(
            can_write(&other).await,
            "nothing is sent before a statement"
        );
        let select = Statement::from_string(DbBackend::Sqlite, "SELECT count(*) AS n FROM t");
        let (rows, _) = tx.run(select, true).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert!(
            !can_write(&other).await,
            "a read sent first holds the write lock: it went with `BEGIN IMMEDIATE`"
        );
        let (rows, done) = tx.run(insert("a"), true).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(done.rows_affected(), 1);
        assert!(values(&other).await.is_empty(), "not committed yet");
        let rows = tx.commit_after(Some(insert("b"))).await.unwrap();
        assert_eq!(rows[0].try_get::<String>("", "v").unwrap(), "b");
        assert_eq!(values(&other).await, ["a", "b"]);
        assert!(can_write(&other).await, "committed");
        assert_eq!(statements.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn the_first_statements_changes_are_its_own_not_those_before_begin() {
        let (_dir, writer, _other) = pools().await;
        let statements = Arc::new(AtomicU64::new(0));
        let tx = begin(&writer, &statements).await;
        tx.commit_after(crate::db::batch(vec![insert("a"), insert("b")]))
            .await
            .unwrap();
        let tx = begin(&writer, &statements).await;
        let update =
            Statement::from_string(DbBackend::Sqlite, "UPDATE t SET v = v WHERE v = 'none'");
        let (_, done) = tx.run(update, true).await.unwrap();
        assert_eq!(done.rows_affected(), 0);
        let update = Statement::from_string(DbBackend::Sqlite, "UPDATE t SET v = v || v");
        let (_, done) = tx.run(update, true).await.unwrap();
        assert_eq!(done.rows_affected(), 2);
    }

    #[tokio::test]
    async fn a_begin_that_failed_is_sent_again_with_the_next_statement() {
        let (_dir, writer, other) = pools().await;
        let statements = Arc::new(AtomicU64::new(0));
        let mut holder = other.acquire().await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *holder)
            .await
            .unwrap();
        let tx = begin(&writer, &statements).await;
        let error = tx.run(insert("a"), true).await.unwrap_err();
        assert!(error.to_string().contains("locked"), "{error}");
        sqlx::query("ROLLBACK").execute(&mut *holder).await.unwrap();
        drop(holder);
        // In a transaction, not on its own: the drop rolls it back.
        tx.run(insert("a"), true).await.unwrap();
        assert!(!can_write(&other).await);
        drop(tx);
        assert!(values(&other).await.is_empty());
    }

    #[tokio::test]
    async fn a_commit_whose_text_fails_rolls_back_the_whole_transaction() {
        let (_dir, writer, other) = pools().await;
        let statements = Arc::new(AtomicU64::new(0));
        let tx = begin(&writer, &statements).await;
        tx.run(insert("a"), true).await.unwrap();
        let last = crate::db::batch(vec![insert("b"), insert("a")]).unwrap();
        let error = tx.commit_after(Some(last)).await.unwrap_err();
        assert!(
            matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))),
            "{error}"
        );
        assert!(values(&other).await.is_empty());
        assert!(can_write(&other).await, "rolled back");
        // The writer is handed on out of any transaction.
        let tx = begin(&writer, &statements).await;
        tx.run(insert("a"), true).await.unwrap();
        tx.commit_after(None).await.unwrap();
        assert_eq!(values(&other).await, ["a"]);
    }

    #[tokio::test]
    async fn a_transaction_dropped_unfinished_is_rolled_back_before_its_writer_is_taken_again() {
        let (_dir, writer, other) = pools().await;
        let statements = Arc::new(AtomicU64::new(0));
        let tx = begin(&writer, &statements).await;
        tx.run(insert("a"), true).await.unwrap();
        drop(tx);
        // Handed over once its rollback has run: a `BEGIN` inside the dropped transaction
        // would fail, and `a` would be taken.
        let tx = begin(&writer, &statements).await;
        tx.run(insert("a"), true).await.unwrap();
        tx.commit_after(Some(insert("b"))).await.unwrap();
        assert_eq!(values(&other).await, ["a", "b"]);

        // The same when the task running it is cancelled, or panics, mid-transaction.
        for panics in [false, true] {
            let (inserted, wait) = tokio::sync::oneshot::channel();
            let task = tokio::spawn({
                let writer = writer.clone();
                let statements = Arc::clone(&statements);
                async move {
                    let tx = SqliteTx::begin(&writer, statements).await.unwrap();
                    tx.run(insert("c"), true).await.unwrap();
                    assert!(!panics, "mid-transaction");
                    inserted.send(()).ok();
                    std::future::pending::<()>().await;
                }
            });
            if !panics {
                wait.await.unwrap();
                task.abort();
            }
            task.await.unwrap_err();
            let tx = begin(&writer, &statements).await;
            tx.run(insert("c"), true).await.unwrap();
            // Rolled back again: `c` stays free for the next round.
            drop(tx);
        }
        assert_eq!(values(&other).await, ["a", "b"]);
    }

    #[tokio::test]
    async fn a_transaction_that_sent_nothing_sends_nothing_to_commit() {
        let (_dir, writer, other) = pools().await;
        let statements = Arc::new(AtomicU64::new(0));
        let tx = begin(&writer, &statements).await;
        assert!(tx.commit_after(None).await.unwrap().is_empty());
        assert_eq!(statements.load(Ordering::Relaxed), 0);
        // Its last writes alone still go in a transaction of their own: all or nothing.
        let tx = begin(&writer, &statements).await;
        let last = crate::db::batch(vec![insert("a"), insert("a")]).unwrap();
        tx.commit_after(Some(last)).await.unwrap_err();
        assert!(values(&other).await.is_empty());
        let tx = begin(&writer, &statements).await;
        tx.commit_after(Some(insert("a"))).await.unwrap();
        assert_eq!(values(&other).await, ["a"]);
    }

    /// Errors reach the domain as SeaORM reports them, which `DbErr::sql_err` reads.
    #[tokio::test]
    async fn a_statements_error_reads_as_seaorms_own() {
        let (_dir, writer, _other) = pools().await;
        let statements = Arc::new(AtomicU64::new(0));
        let tx = crate::db::Tx::Sqlite(begin(&writer, &statements).await);
        tx.execute_raw(insert("a")).await.unwrap();
        for error in [
            tx.execute_raw(insert("a")).await.unwrap_err(),
            tx.query_all_raw(insert("a")).await.unwrap_err(),
        ] {
            assert!(
                matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))),
                "{error}"
            );
        }
        // A failed statement leaves the transaction open, as on SQLite itself.
        assert!(tx.query_one_raw(insert("b")).await.unwrap().is_some());
    }
}
