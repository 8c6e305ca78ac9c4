//! Single statements on SQLite's one writer, outside any transaction, run several to a round
//! trip.
//!
//! A statement on the writer holds it from the moment its caller is handed the connection until
//! that caller, woken with the result, gives it back: under load most of that time is threads
//! and tasks waiting to be scheduled, not SQLite at work (adding to carts at 32 connections,
//! statements of 48 µs ran one every 290 µs, and the machine was a fifth idle). Here one task
//! takes the statements waiting for the writer and sends those with the same text as one text
//! of several statements: one hand-over for all of them. Each still runs on its own, committed
//! by SQLite as it ends (autocommit), in the order queued among those of its text (statements of
//! different texts come from concurrent requests: a group of one text may run before an
//! earlier statement of another); each caller gets its own rows or its own error. A statement
//! once queued runs even if its caller has gone (a client that hung up), as it would once sent
//! to the writer.

use std::{
    collections::VecDeque,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use futures_util::StreamExt;
use sea_orm::{
    ConnAcquireErr, DbErr, QueryResult, RuntimeErr, Statement, Values,
    sqlx::{self, AssertSqlSafe, Either, Executor},
};
use sea_query_sqlx::SqlxValues;

use super::turns::Turns;
use tokio::sync::{mpsc, oneshot};

/// How many statements a group holds: a power of two, 32 at most. The writer compiles
/// a text once per statement and size and keeps it (see `Db::connect`): with these six sizes a
/// statement's texts hold 63 compiled statements, against 528 for every size from 1 to 32 (about
/// 10 MiB more memory under the add-to-cart load).
pub const SIZES: [usize; 6] = [1, 2, 4, 8, 16, 32];

type Reply = oneshot::Sender<Result<Vec<QueryResult>, DbErr>>;

struct Job {
    statement: Statement,
    reply: Reply,
}

/// The queue to the task that runs grouped statements on the writer.
#[derive(Clone, Debug)]
pub struct Grouped {
    jobs: mpsc::UnboundedSender<Job>,
    task: Arc<tokio::task::AbortHandle>,
}

impl Grouped {
    /// Starts the task that runs the statements on `pool` (the writer); it ends when the last
    /// handle is dropped. `statements` counts the statements run.
    pub fn start(turns: Turns, statements: Arc<AtomicU64>) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(turns, queue, statements)).abort_handle();
        Self {
            jobs,
            task: Arc::new(task),
        }
    }

    /// Whether the task still takes statements: a task that ended (a panic) answers every
    /// statement with an error from then on, and the liveness and readiness checks report it.
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Ends the task as a panic in it would.
    #[cfg(test)]
    pub async fn stop(&self) {
        self.task.abort();
        while !self.task.is_finished() {
            tokio::task::yield_now().await;
        }
    }

    /// Runs `statement`, one statement (not a text of several), and returns its rows.
    pub async fn run(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        // In a group, a text of two statements or a wrong count of values would bind values
        // to other callers' statements, not only fail this one.
        debug_assert!(
            !statement.sql.contains(';'),
            "one statement: {}",
            statement.sql
        );
        debug_assert_eq!(
            statement.sql.matches('?').count(),
            statement.values.as_ref().map_or(0, |values| values.0.len()),
            "one value per parameter: {}",
            statement.sql
        );
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { statement, reply })
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

fn closed() -> DbErr {
    DbErr::Custom("the writer's queue has stopped".to_owned())
}

async fn run(turns: Turns, mut incoming: mpsc::UnboundedReceiver<Job>, statements: Arc<AtomicU64>) {
    let mut queue = VecDeque::new();
    loop {
        if queue.is_empty() {
            match incoming.recv().await {
                Some(job) => queue.push_back(job),
                None => return,
            }
        }
        while let Ok(job) = incoming.try_recv() {
            queue.push_back(job);
        }
        let group = take_group(&mut queue);
        let not_run = run_group(&turns, group, &statements).await;
        // Those after a failed statement did not run: first in line again.
        for job in not_run.into_iter().rev() {
            queue.push_front(job);
        }
    }
}

/// The first job waiting and, in their order, those after it with the same text: as many as the
/// largest of [`SIZES`] they fill. The others keep their places.
fn take_group(queue: &mut VecDeque<Job>) -> Vec<Job> {
    let Some(first) = queue.front() else {
        return Vec::new();
    };
    let sql = first.statement.sql.clone();
    let same = queue.iter().filter(|job| job.statement.sql == sql).count();
    let size = SIZES
        .iter()
        .rev()
        .copied()
        .find(|&size| size <= same)
        .unwrap_or(1);
    let mut group = Vec::with_capacity(size);
    let mut index = 0;
    while group.len() < size && index < queue.len() {
        if queue[index].statement.sql == sql {
            group.extend(queue.remove(index));
        } else {
            index += 1;
        }
    }
    group
}

/// The writer was not to be had: no statement ran, each caller gets the error.
fn unavailable(group: Vec<Job>, error: &sqlx::Error) {
    let error = match error {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        error => DbErr::Conn(RuntimeErr::Internal(error.to_string())),
    };
    for job in group {
        job.reply.send(Err(error.clone())).ok();
    }
}

/// Runs `group` as one text and answers each job; returns the jobs that did not run (those after
/// a statement that failed: SQLite's driver stops there).
async fn run_group(turns: &Turns, group: Vec<Job>, statements: &AtomicU64) -> Vec<Job> {
    let Some(first) = group.first() else {
        return Vec::new();
    };
    let mut sql = String::with_capacity((first.statement.sql.len() + 2) * group.len());
    let mut values = Vec::new();
    for job in &group {
        if !sql.is_empty() {
            sql.push_str(";\n");
        }
        sql.push_str(&job.statement.sql);
        if let Some(Values(bound)) = &job.statement.values {
            values.extend(bound.iter().cloned());
        }
    }
    let query = sqlx::query_with(AssertSqlSafe(sql), SqlxValues(Values(values)));
    let mut turn = match turns.take().await {
        Ok(turn) => turn,
        Err(error) => {
            unavailable(group, &error);
            return Vec::new();
        }
    };
    let conn = match turn.conn() {
        Ok(conn) => conn,
        Err(error) => {
            unavailable(group, &error);
            return Vec::new();
        }
    };
    let mut results = conn.fetch_many(query);
    let mut jobs = group.into_iter();
    let mut rows = Vec::new();
    let mut failed = false;
    while let Some(result) = results.next().await {
        match result {
            Ok(Either::Right(row)) => rows.push(QueryResult::from(row)),
            Ok(Either::Left(_)) => {
                statements.fetch_add(1, Ordering::Relaxed);
                if let Some(job) = jobs.next() {
                    job.reply.send(Ok(std::mem::take(&mut rows))).ok();
                }
            }
            Err(error) => {
                statements.fetch_add(1, Ordering::Relaxed);
                if let Some(job) = jobs.next() {
                    // As SeaORM reports a statement's error: `DbErr::sql_err` reads it.
                    let error = DbErr::Query(RuntimeErr::SqlxError(error.into()));
                    job.reply.send(Err(error)).ok();
                }
                failed = true;
                break;
            }
        }
    }
    drop(results);
    if failed {
        return jobs.collect();
    }
    // Every statement ended: none is left unanswered unless a text held more than one.
    for job in jobs {
        job.reply
            .send(Err(DbErr::Custom(
                "a grouped statement was not run".to_owned(),
            )))
            .ok();
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use sea_orm::{
        ConnectionTrait, DbBackend, SqlxSqliteConnector, Statement,
        sqlx::{SqlitePool, sqlite::SqlitePoolOptions},
    };

    use super::*;

    async fn writer() -> (SqlitePool, Grouped, Arc<AtomicU64>) {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)")
            .execute(&pool)
            .await
            .unwrap();
        let statements = Arc::new(AtomicU64::new(0));
        let grouped = Grouped::start(Turns::new(pool.clone()), Arc::clone(&statements));
        (pool, grouped, statements)
    }

    fn insert(v: &str) -> Statement {
        Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "INSERT INTO t (v) VALUES (?) RETURNING id, v",
            [v.into()],
        )
    }

    /// Jobs inserting `values`, and where their answers arrive.
    fn inserts(values: &[&str]) -> (Vec<Job>, Vec<Answer>) {
        values
            .iter()
            .map(|v| {
                let (reply, answer) = oneshot::channel();
                let job = Job {
                    statement: insert(v),
                    reply,
                };
                (job, answer)
            })
            .unzip()
    }

    type Answer = oneshot::Receiver<Result<Vec<QueryResult>, DbErr>>;

    #[tokio::test]
    async fn each_caller_gets_its_own_rows_or_its_own_error_and_the_rest_still_run() {
        let (pool, grouped, statements) = writer().await;
        // Queued before the task runs (one thread): they go to the writer as one text.
        let values = ["a", "b", "a", "c", "d"];
        let results =
            futures_util::future::join_all(values.iter().map(|v| grouped.run(insert(v)))).await;
        let returned: Vec<_> = results
            .iter()
            .map(|result| {
                result.as_ref().map(|rows| {
                    assert_eq!(rows.len(), 1);
                    rows[0].try_get::<String>("", "v").unwrap()
                })
            })
            .collect();
        assert_eq!(returned[0].as_deref().unwrap(), "a");
        assert_eq!(returned[1].as_deref().unwrap(), "b");
        let error = returned[2].as_ref().unwrap_err();
        assert!(
            matches!(
                error.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ),
            "{error:?}"
        );
        assert_eq!(returned[3].as_deref().unwrap(), "c");
        assert_eq!(returned[4].as_deref().unwrap(), "d");
        let db = SqlxSqliteConnector::from_sqlx_sqlite_pool(pool);
        let stored: Vec<String> = db
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT v FROM t ORDER BY id",
            ))
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get("", "v").unwrap())
            .collect();
        assert_eq!(stored, ["a", "b", "c", "d"]);
        assert_eq!(statements.load(Ordering::Relaxed), 5);
    }

    #[tokio::test]
    async fn one_text_answers_each_statement_and_stops_at_the_first_that_fails() {
        let (pool, _grouped, statements) = writer().await;
        let (jobs, answers) = inserts(&["x", "y", "x", "z"]);
        let not_run = run_group(&Turns::new(pool), jobs, &statements).await;
        assert_eq!(
            not_run.len(),
            1,
            "the statement after the failed one is handed back"
        );
        assert_eq!(not_run[0].statement.values, insert("z").values);
        let mut answers = answers.into_iter();
        for expected in ["x", "y"] {
            let rows = answers.next().unwrap().await.unwrap().unwrap();
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].try_get::<String>("", "v").unwrap(), expected);
        }
        assert!(answers.next().unwrap().await.unwrap().is_err());
        assert_eq!(statements.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn a_closed_writer_answers_every_caller_of_the_group() {
        let (pool, _grouped, statements) = writer().await;
        pool.close().await;
        let (jobs, answers) = inserts(&["x", "y", "z"]);
        assert!(
            run_group(&Turns::new(pool), jobs, &statements)
                .await
                .is_empty()
        );
        for answer in answers {
            assert!(matches!(
                answer.await.unwrap(),
                Err(DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed))
            ));
        }
        assert_eq!(statements.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_group_takes_the_same_text_in_order_up_to_the_limit_and_leaves_the_rest_in_place() {
        let mut queue = VecDeque::new();
        let job = |sql: &str, v: i32| Job {
            statement: Statement::from_sql_and_values(DbBackend::Sqlite, sql, [v.into()]),
            reply: oneshot::channel().0,
        };
        for v in 0..60 {
            queue.push_back(job(if v % 4 == 1 { "B ?" } else { "A ?" }, v));
        }
        let group = take_group(&mut queue);
        let taken: Vec<_> = group
            .iter()
            .map(|j| j.statement.values.as_ref().unwrap().0[0].clone())
            .collect();
        let expected: Vec<sea_orm::Value> = (0..60)
            .filter(|v| v % 4 != 1)
            .take(32)
            .map(Into::into)
            .collect();
        assert_eq!(taken, expected);
        let left: Vec<_> = queue
            .iter()
            .map(|j| {
                (
                    j.statement.sql.clone(),
                    j.statement.values.as_ref().unwrap().0[0].clone(),
                )
            })
            .collect();
        let mut expected_left: Vec<(String, sea_orm::Value)> = Vec::new();
        for v in 0..60 {
            if v % 4 == 1 {
                expected_left.push(("B ?".to_owned(), v.into()));
            } else if !expected.contains(&v.into()) {
                expected_left.push(("A ?".to_owned(), v.into()));
            }
        }
        assert_eq!(left, expected_left);
        // What is left (15 of one text, 13 of the other, mixed) goes in groups of the sizes,
        // each time of the first job's text.
        let sizes: Vec<_> = std::iter::from_fn(|| {
            let group = take_group(&mut queue);
            (!group.is_empty()).then(|| (group[0].statement.sql.clone(), group.len()))
        })
        .collect();
        let b = |n| ("B ?".to_owned(), n);
        let a = |n| ("A ?".to_owned(), n);
        assert_eq!(sizes, [b(8), b(4), a(8), b(2), a(4), b(1), a(1)]);
    }

    #[test]
    fn sizes_are_the_powers_of_two_up_to_32() {
        assert_eq!(SIZES.first(), Some(&1));
        assert_eq!(SIZES.last(), Some(&32));
        assert!(SIZES.windows(2).all(|pair| pair[1] == 2 * pair[0]));
    }
}
