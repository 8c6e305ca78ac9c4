//! Database connections and the write transaction every mutation runs in.
//!
//! SQLite gets a pool of readers and one writer connection: SQLite has one writer anyway, and
//! serialising writes in-process avoids `SQLITE_BUSY` when a deferred transaction upgrades to a
//! write. PostgreSQL uses one pool for both.

use std::{
    str::FromStr,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use comptoir_migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqlxSqliteConnector, Statement, TransactionTrait,
    sea_query::SubQueryStatement,
    sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::{
    config::Config,
    events::{EventBus, NewEvent},
};

mod grouped;
mod sqlite_tx;
mod turns;
mod writer;

/// The number of compiled statements the driver keeps per connection by default.
const DEFAULT_STATEMENT_CACHE: usize = 100;

#[derive(Clone, Debug)]
pub struct Db {
    read: DatabaseConnection,
    write: DatabaseConnection,
    /// SQLite: the writer, taken turn by turn by transactions and grouped statements.
    turns: Option<turns::Turns>,
    /// SQLite: single statements on the writer, several to a round trip.
    grouped: Option<grouped::Grouped>,
    /// SQLite: the thread a checkout's write transaction runs on (see [`Db::on_writer`]).
    writer: Option<writer::WriterThread>,
    /// SQL statements run since start, for tests and the benchmark ("statements per request").
    statements: Arc<AtomicU64>,
    /// Nanoseconds write transactions were open since start, summed (see [`Db::write_time`]).
    write_nanos: Arc<AtomicU64>,
}

/// Counts every statement a connection runs.
fn count_statements(conn: &mut DatabaseConnection, counter: &Arc<AtomicU64>) {
    let counter = Arc::clone(counter);
    conn.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
}

impl Db {
    pub async fn connect(config: &Config) -> Result<Self, DbErr> {
        let url = config.database_url();
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(&url)
                .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::Internal(e.to_string())))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // Rows come from SQLite's thread over a bounded channel: at the default 50,
                // a page of products with their variants stalls that thread, and each stall
                // costs two context switches (measured under the catalog load).
                .row_buffer_size(1024);
            let connect = |max: u32, options: SqliteConnectOptions| {
                SqlitePoolOptions::new()
                    .max_connections(max)
                    .min_connections(1)
                    // Not pinged when handed out, as SQLx does by default: a connection to a
                    // local file does not go stale, and each ping is a round trip to the
                    // connection's thread, one more per read and per transaction.
                    .test_before_acquire(false)
                    .connect_with(options)
            };
            // The writer keeps the compiled texts of grouped statements (one per statement and
            // size) beside those of the transactions, twice as many of those as a reader's: a
            // transaction's first statement is also a text of its own with its `BEGIN`, and its
            // last writes one with their `COMMIT` (`sqlite_tx`). A text compiled again costs
            // more than the statement it runs. Three statements are grouped today: a line added
            // to a token's cart, and to a user's, and the outbox's claim (always alone).
            let writer_cache = 2 * DEFAULT_STATEMENT_CACHE + 2 * grouped::SIZES.len() + 1;
            let write = connect(1, options.clone().statement_cache_capacity(writer_cache))
                .await
                .map_err(sqlx_err)?;
            let read = connect(config.database_max_connections.max(1), options)
                .await
                .map_err(sqlx_err)?;
            let statements = Arc::new(AtomicU64::new(0));
            let writer = writer::WriterThread::start().map_err(|e| DbErr::Custom(e.to_string()))?;
            let turns = turns::Turns::new(write.clone());
            let grouped = grouped::Grouped::start(turns.clone(), Arc::clone(&statements));
            let mut read = SqlxSqliteConnector::from_sqlx_sqlite_pool(read);
            let mut write = SqlxSqliteConnector::from_sqlx_sqlite_pool(write);
            count_statements(&mut read, &statements);
            count_statements(&mut write, &statements);
            Ok(Self {
                read,
                write,
                turns: Some(turns),
                grouped: Some(grouped),
                writer: Some(writer),
                statements,
                write_nanos: Arc::default(),
            })
        } else {
            let mut options = ConnectOptions::new(url);
            options
                .max_connections(config.database_max_connections.max(2))
                .min_connections(1)
                // Pinged when handed out only after 30 s idle (a server, proxy or firewall may
                // have dropped it), not on every acquire: that was one more round trip per read
                // outside a transaction and per transaction.
                .test_before_acquire_if_idle_for(Duration::from_secs(30))
                .sqlx_logging(false);
            if let Some(schema) = &config.database_schema {
                options.set_schema_search_path(schema.clone());
            }
            let mut conn = Database::connect(options).await?;
            let statements = Arc::new(AtomicU64::new(0));
            count_statements(&mut conn, &statements);
            Ok(Self {
                read: conn.clone(),
                write: conn,
                turns: None,
                grouped: None,
                writer: None,
                statements,
                write_nanos: Arc::default(),
            })
        }
    }

    /// SQL statements run so far through this handle (both pools).
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// How long write transactions were open since start, from the moment they had the writer
    /// (on PostgreSQL their `BEGIN`, once answered) to their commit (once answered) or rollback,
    /// summed. On SQLite they run one at a time on
    /// the one writer: over a span of time, its growth over the span's length is the share of it
    /// the writer was held by transactions (not counting single statements outside them). On
    /// PostgreSQL, where they run in parallel, the sum can outgrow the time passed.
    pub fn write_time(&self) -> Duration {
        Duration::from_nanos(self.write_nanos.load(Ordering::Relaxed))
    }

    pub fn backend(&self) -> DbBackend {
        self.read.get_database_backend()
    }

    /// The connection for reads outside a transaction.
    pub fn read(&self) -> &DatabaseConnection {
        &self.read
    }

    /// The writer's pool, for migrations and tests. On SQLite it waits until no transaction or
    /// grouped statement waits for the writer (see [`turns`]): the server's own writes outside
    /// a transaction go through [`Db::write_one`].
    pub fn write(&self) -> &DatabaseConnection {
        &self.write
    }

    /// Runs `statement`, one statement, on the writer outside any transaction, and returns its
    /// rows. On SQLite it may go to the writer in one round trip with others waiting there
    /// (see [`grouped`]): it commits on its own all the same, and its error is its own.
    pub async fn write_one(
        &self,
        statement: Statement,
    ) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
        match &self.grouped {
            Some(grouped) => grouped.run(statement).await,
            None => self.write.query_all_raw(statement).await,
        }
    }

    /// Runs `work`, a write transaction from its `begin` to its commit, where it waits least
    /// for a processor between its statements: on SQLite on a thread of its own (see
    /// [`writer`]), elsewhere in the caller's task. For the hot paths whose transactions run
    /// several statements in a row (a checkout). Cancelled if the caller goes, as in its task.
    pub async fn on_writer<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, DbErr> {
        match &self.writer {
            Some(writer) => writer.run(work).await,
            None => Ok(work.await),
        }
    }

    pub async fn migrate(&self) -> Result<(), DbErr> {
        Migrator::up(&self.write, None).await
    }

    /// Starts the transaction of one mutation. Events recorded in it are published after commit.
    pub async fn begin(&self, bus: &EventBus) -> Result<WriteTx, DbErr> {
        let txn = match &self.turns {
            Some(turns) => {
                Tx::Sqlite(sqlite_tx::SqliteTx::begin(turns, Arc::clone(&self.statements)).await?)
            }
            None => Tx::Orm(self.write.begin().await?),
        };
        Ok(WriteTx {
            open: Open {
                since: std::time::Instant::now(),
                total: Arc::clone(&self.write_nanos),
            },
            txn,
            pending: Vec::new(),
            deferred: Vec::new(),
            bus: bus.clone(),
            wake_outbox: false,
        })
    }

    /// Whether the tasks this handle started still run: on SQLite, the one that runs grouped
    /// statements on the writer (without it, every add to cart fails) and the writer's thread
    /// (every checkout).
    pub fn tasks_running(&self) -> bool {
        self.grouped
            .as_ref()
            .is_none_or(grouped::Grouped::is_running)
            && self
                .writer
                .as_ref()
                .is_none_or(writer::WriterThread::is_running)
    }

    /// The readers answer, and the tasks this handle started still run.
    pub async fn ping(&self) -> Result<(), DbErr> {
        if !self.tasks_running() {
            return Err(DbErr::Custom(
                "a database task has stopped: the writer's grouped statements or its thread"
                    .to_owned(),
            ));
        }
        self.read.ping().await
    }

    pub async fn close(self) {
        if let Some(turns) = &self.turns {
            turns.release().await;
        }
        drop(self.read.close().await);
        drop(self.write.close().await);
    }
}

/// Inserts `rows` in one statement (none without rows) and returns them as given: for rows whose
/// every column the server sets (IDs made here, no database default or trigger changing them).
pub async fn insert_as_given<M, A>(db: &impl ConnectionTrait, rows: Vec<M>) -> Result<Vec<M>, DbErr>
where
    M: sea_orm::IntoActiveModel<A> + Clone,
    A: sea_orm::ActiveModelTrait,
{
    use sea_orm::EntityTrait;
    <A::Entity as EntityTrait>::insert_many(
        rows.iter()
            .map(|row| row.clone().into_active_model().reset_all()),
    )
    .exec_without_returning(db)
    .await?;
    Ok(rows)
}

/// `statements` as one, to run in one round trip on SQLite (its driver runs a text of several
/// statements in order, each taking its parameters in turn). Not for PostgreSQL, whose
/// extended protocol takes one statement at a time.
pub fn batch(statements: Vec<Statement>) -> Option<Statement> {
    let mut statements = statements.into_iter();
    let mut batch = statements.next()?;
    for statement in statements {
        batch.sql.push_str(";\n");
        batch.sql.push_str(&statement.sql);
        if let Some(values) = statement.values {
            batch
                .values
                .get_or_insert_with(|| sea_orm::Values(Vec::new()))
                .0
                .extend(values.0);
        }
    }
    Some(batch)
}

/// Deferred writes (see [`WriteTx::defer`]) as the statements to run: on SQLite one each (to
/// [`batch`]); on PostgreSQL one, the last write with the others as its common table
/// expressions (`WITH deferred_0 AS (DELETE …) INSERT …`), which PostgreSQL runs to completion
/// whether read or not.
pub fn deferred_statements(backend: DbBackend, writes: Vec<Write>) -> Vec<Statement> {
    use sea_orm::sea_query::WithClause;

    let mut writes = writes;
    let last = match writes.pop() {
        Some(last) if backend == DbBackend::Postgres && !writes.is_empty() => last,
        last => {
            writes.extend(last);
            return writes.iter().map(|w| w.build(backend)).collect();
        }
    };
    let mut with = WithClause::new();
    deferred_ctes(&mut with, writes, false);
    vec![backend.build(&with.query(SubQueryStatement::from(last)))]
}

/// Adds `writes` to `with` as its common table expressions `deferred_0`, `deferred_1`, … (for a
/// statement of PostgreSQL that runs them with its own; see [`deferred_statements`]), each with
/// `RETURNING 1` when `counted`, for the statement to count their rows. Their names, in order.
pub fn deferred_ctes(
    with: &mut sea_orm::sea_query::WithClause,
    writes: Vec<Write>,
    counted: bool,
) -> Vec<String> {
    use sea_orm::sea_query::{Alias, CommonTableExpression};

    let mut names = Vec::with_capacity(writes.len());
    for (index, mut write) in writes.into_iter().enumerate() {
        if counted {
            write.return_one();
        }
        let name = format!("deferred_{index}");
        with.cte(
            CommonTableExpression::new()
                .query(SubQueryStatement::from(write))
                .table_name(Alias::new(name.as_str()))
                .to_owned(),
        );
        names.push(name);
    }
    names
}

/// A statement's text as sea-query renders it, kept once per backend; each run binds its own
/// values. For the statements every request of a hot path runs (an account read with the
/// catalog's epochs, a cart line's insert, a cart's lines), where building the statement's tree
/// and rendering it again on every request showed in profiles.
///
/// Invariant: what `build` renders has the same text for every value given (anything that
/// changes the text is a different `Rendered`), and `values` lists the values in the order the
/// text takes them. Each use has a test that its statements equal sea-query's own build
/// ([`tests::assert_binds_as_built`]).
#[derive(Default)]
pub struct Rendered {
    texts: [OnceLock<String>; 3],
}

impl Rendered {
    pub const fn new() -> Self {
        Self {
            texts: [OnceLock::new(), OnceLock::new(), OnceLock::new()],
        }
    }

    /// `values` bound to the text of `build`, which runs only until it has once succeeded for
    /// `backend`.
    pub fn bind(
        &self,
        backend: DbBackend,
        build: impl FnOnce() -> Result<Statement, DbErr>,
        values: impl IntoIterator<Item = sea_orm::Value>,
    ) -> Result<Statement, DbErr> {
        let slot = match backend {
            DbBackend::Sqlite => &self.texts[0],
            DbBackend::Postgres => &self.texts[1],
            _ => &self.texts[2],
        };
        let sql = if let Some(sql) = slot.get() {
            sql
        } else {
            let rendered = build()?.sql;
            slot.get_or_init(|| rendered)
        };
        Ok(Statement::from_sql_and_values(
            backend,
            sql.as_str(),
            values,
        ))
    }
}

fn sqlx_err(error: sea_orm::sqlx::Error) -> DbErr {
    DbErr::Conn(sea_orm::RuntimeErr::SqlxError(error.into()))
}

/// A mutation's transaction. Domain events given to [`WriteTx::record`] land in the event log
/// with the change and reach subscribers only once [`WriteTx::commit`] has succeeded; a
/// dropped or rolled-back transaction publishes nothing.
///
/// Events are written at commit, last: their positions in the log are then given in the order
/// their transactions commit. On PostgreSQL, where writers run in parallel, an event written
/// earlier in a transaction that commits later would take a lower position than an event
/// already read, and a client catching up from its cursor (`events(after:)`, a subscription's
/// `after`) would never see it. So the transactions that write events take one lock (a
/// transaction-scoped advisory lock per schema) for their last statement, which runs the
/// deferred writes ([`WriteTx::defer`]), then takes it, then inserts the events, and for the
/// commit. Taken after every row lock the transaction's statements take, it cannot deadlock
/// with them; the locks taken after it are those of the deferred writes' foreign keys' checks
/// (made at the end of the statement), which never wait (see [`WriteTx::defer`]), and those of
/// the catalog's deferred triggers at commit (the `cache_epoch` rows), in the same order in
/// every transaction. The price: on PostgreSQL, the commits of transactions that write events
/// run one at a time.
/// SQLite has one writer: its transactions commit in the order they run.
pub struct WriteTx {
    /// Adds the transaction's time to [`Db::write_time`] when it ends, committed or not.
    open: Open,
    txn: Tx,
    pending: Vec<NewEvent>,
    /// Writes run at commit, before the events: see [`WriteTx::defer`].
    deferred: Vec<Write>,
    bus: EventBus,
    wake_outbox: bool,
}

impl WriteTx {
    /// Records `event`, written to the log at commit.
    pub fn record(&mut self, event: NewEvent) {
        self.pending.push(event);
    }

    /// Messages were written to the outbox: wake the worker once committed.
    pub fn wake_outbox_on_commit(&mut self) {
        self.wake_outbox = true;
    }

    /// Runs `write` (an insert, update or delete) at commit, after everything the transaction
    /// ran before and before its events are written; its result is not read. The deferred
    /// writes go to the database in one round trip (each round trip holds the one writer of
    /// SQLite for two thread hand-overs, and on PostgreSQL the row locks taken before, such as
    /// the number series'): on SQLite as a text of several statements run in order, with the
    /// events; on PostgreSQL as common table expressions of the events' statement, which runs
    /// them before it takes the event log's lock, or of the last deferred write's when there are
    /// no events.
    ///
    /// On PostgreSQL what a deferred write sets off at the end of that statement runs with the
    /// log's lock held (see [`WriteTx`]) and must never wait for another transaction: the rows
    /// its foreign keys point at were created by this transaction or locked by it (`FOR KEY
    /// SHARE` at least) before; it deletes or re-keys no row that other rows reference, and
    /// fires no trigger that writes another row (`cart_line`'s inserts and updates touch their
    /// cart). A parallel transaction holding such a row `FOR UPDATE` while it waits for the
    /// log's lock would otherwise deadlock with it (PostgreSQL fails one of the two after a
    /// second). A checkout locks its customer and products first
    /// (`catalog::service::take_stock_after`) and deletes cart lines, which nothing references;
    /// an outbox message has no foreign key.
    ///
    /// For a transaction's last writes only: nothing it runs after `defer` may read, or
    /// reference by a foreign key, what a deferred write writes (it is not there yet); the
    /// deferred writes of one transaction touch distinct rows and do not read one another's
    /// (on PostgreSQL they see one snapshot, in no given order); a deferred write's error comes
    /// from [`WriteTx::commit`].
    pub fn defer(&mut self, write: impl Into<Write>) {
        self.deferred.push(write.into());
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        use crate::events::store;
        let recorded = match self.txn {
            Tx::Sqlite(txn) => {
                let last = store::last_statement_sqlite(self.deferred, self.pending);
                store::stored(&txn.commit_after(last).await?)?
            }
            Tx::Orm(txn) => {
                let recorded =
                    store::insert_after_postgres(&txn, self.deferred, self.pending).await?;
                txn.commit().await?;
                recorded
            }
        };
        drop(self.open);
        if self.wake_outbox {
            self.bus.wake_outbox();
        }
        self.bus.publish(recorded).await;
        Ok(())
    }
}

/// A write transaction's connection: on SQLite ours (see [`sqlite_tx`]), on PostgreSQL
/// SeaORM's.
#[derive(Debug)]
pub enum Tx {
    Sqlite(sqlite_tx::SqliteTx),
    Orm(DatabaseTransaction),
}

fn sqlite_err(error: sea_orm::sqlx::Error, query: bool) -> DbErr {
    // As SeaORM reports a statement's error: `DbErr::sql_err` reads it.
    let error = sea_orm::RuntimeErr::SqlxError(error.into());
    if query {
        DbErr::Query(error)
    } else {
        DbErr::Exec(error)
    }
}

/// Runs a write on our SQLite transaction (`persistent`: kept in the statement cache) and reports
/// it as SeaORM would.
async fn sqlite_execute(
    txn: &sqlite_tx::SqliteTx,
    stmt: Statement,
    persistent: bool,
) -> Result<sea_orm::ExecResult, DbErr> {
    let (_, done) = txn
        .run(stmt, persistent)
        .await
        .map_err(|e| sqlite_err(e, false))?;
    Ok(done.into())
}

#[async_trait::async_trait]
impl ConnectionTrait for Tx {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Self::Sqlite(_) => DbBackend::Sqlite,
            Self::Orm(txn) => txn.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<sea_orm::ExecResult, DbErr> {
        match self {
            Self::Sqlite(txn) => sqlite_execute(txn, stmt, true).await,
            Self::Orm(txn) => txn.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, DbErr> {
        match self {
            Self::Sqlite(txn) => {
                let stmt = Statement::from_string(DbBackend::Sqlite, sql);
                sqlite_execute(txn, stmt, false).await
            }
            Self::Orm(txn) => txn.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<sea_orm::QueryResult>, DbErr> {
        match self {
            Self::Sqlite(txn) => {
                let (rows, _) = txn.run(stmt, true).await.map_err(|e| sqlite_err(e, true))?;
                Ok(rows.into_iter().next())
            }
            Self::Orm(txn) => txn.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
        match self {
            Self::Sqlite(txn) => {
                let (rows, _) = txn.run(stmt, true).await.map_err(|e| sqlite_err(e, true))?;
                Ok(rows)
            }
            Self::Orm(txn) => txn.query_all_raw(stmt).await,
        }
    }
}

/// A write for [`WriteTx::defer`]: an insert, an update or a delete (a statement that may stand
/// as a common table expression of another).
pub enum Write {
    Insert(sea_orm::sea_query::InsertStatement),
    Update(sea_orm::sea_query::UpdateStatement),
    Delete(sea_orm::sea_query::DeleteStatement),
}

impl Write {
    fn build(&self, backend: DbBackend) -> Statement {
        match self {
            Self::Insert(s) => backend.build(s),
            Self::Update(s) => backend.build(s),
            Self::Delete(s) => backend.build(s),
        }
    }

    /// `RETURNING 1`: a row for each row written.
    fn return_one(&mut self) {
        use sea_orm::sea_query::{Expr, Query};

        let one = Query::returning().expr(Expr::cust("1"));
        match self {
            Self::Insert(s) => {
                s.returning(one);
            }
            Self::Update(s) => {
                s.returning(one);
            }
            Self::Delete(s) => {
                s.returning(one);
            }
        }
    }
}

impl From<Write> for SubQueryStatement {
    fn from(write: Write) -> Self {
        match write {
            Write::Insert(s) => s.into(),
            Write::Update(s) => s.into(),
            Write::Delete(s) => s.into(),
        }
    }
}

impl From<sea_orm::sea_query::InsertStatement> for Write {
    fn from(insert: sea_orm::sea_query::InsertStatement) -> Self {
        Self::Insert(insert)
    }
}

impl From<sea_orm::sea_query::UpdateStatement> for Write {
    fn from(update: sea_orm::sea_query::UpdateStatement) -> Self {
        Self::Update(update)
    }
}

impl From<sea_orm::sea_query::DeleteStatement> for Write {
    fn from(delete: sea_orm::sea_query::DeleteStatement) -> Self {
        Self::Delete(delete)
    }
}

/// Counts the time from a transaction's `BEGIN` until its commit has returned, or until it
/// is dropped unfinished (rolled back).
struct Open {
    since: std::time::Instant,
    total: Arc<AtomicU64>,
}

impl Drop for Open {
    fn drop(&mut self) {
        let nanos = u64::try_from(self.since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.total.fetch_add(nanos, Ordering::Relaxed);
    }
}

impl std::ops::Deref for WriteTx {
    type Target = Tx;
    fn deref(&self) -> &Self::Target {
        &self.txn
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use sea_orm::{DbBackend, Statement};

    use crate::{events::testing::event, state::for_tests as state};

    /// For each backend and each of `cases` (at least two, so that all but the first run on
    /// the kept text): what `fast` binds equals what `built` builds with sea-query.
    pub(crate) fn assert_binds_as_built<T>(
        cases: &[T],
        fast: impl Fn(DbBackend, &T) -> Result<Statement, sea_orm::DbErr>,
        built: impl Fn(DbBackend, &T) -> Result<Statement, sea_orm::DbErr>,
    ) {
        assert!(
            cases.len() >= 2,
            "the kept text is checked from the second case on"
        );
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            for case in cases {
                assert_eq!(
                    fast(backend, case).unwrap(),
                    built(backend, case).unwrap(),
                    "{backend:?}"
                );
            }
        }
    }

    /// A `Rendered` keeps the first text it renders per backend and binds each call's values.
    #[test]
    fn rendered_text_is_kept_per_backend_and_values_bound_per_call() {
        let rendered = super::Rendered::new();
        let statement = |backend: DbBackend, id: i64| {
            use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
            let query = Query::select()
                .column(Alias::new("name"))
                .from(Alias::new("cache_epoch"))
                .and_where(Expr::col(Alias::new("version")).eq(id))
                .to_owned();
            sea_orm::StatementBuilder::build(&query, &backend)
        };
        let mut builds = 0;
        let mut fast = |backend, id: i64| {
            rendered
                .bind(
                    backend,
                    || {
                        builds += 1;
                        Ok(statement(backend, id))
                    },
                    [id.into()],
                )
                .unwrap()
        };
        assert_eq!(fast(DbBackend::Sqlite, 1), statement(DbBackend::Sqlite, 1));
        assert_eq!(fast(DbBackend::Sqlite, 2), statement(DbBackend::Sqlite, 2));
        assert_eq!(
            fast(DbBackend::Postgres, 3),
            statement(DbBackend::Postgres, 3)
        );
        assert_eq!(
            fast(DbBackend::Postgres, 4),
            statement(DbBackend::Postgres, 4)
        );
        assert_ne!(
            statement(DbBackend::Sqlite, 1).sql,
            statement(DbBackend::Postgres, 1).sql
        );
        assert_eq!(builds, 2, "rendered once per backend");
    }

    #[tokio::test]
    async fn events_are_published_only_when_their_transaction_commits() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir).await;
        let mut received = state.events.subscribe();

        let mut rolled_back = state.db.begin(&state.events).await.unwrap();
        rolled_back.record(event("ROLLED_BACK"));
        drop(rolled_back);
        let mut committed = state.db.begin(&state.events).await.unwrap();
        committed.record(event("COMMITTED"));
        // Not yet: the transaction is still open.
        assert!(received.try_recv().is_err());
        committed.commit().await.unwrap();

        assert_eq!(received.recv().await.unwrap().kind, "COMMITTED");
        assert!(
            received.try_recv().is_err(),
            "the rolled-back event was never published"
        );
    }

    /// Without the task that runs grouped statements, every add to cart fails: the liveness and
    /// readiness checks say so.
    #[tokio::test]
    async fn liveness_and_readiness_fail_once_the_grouped_writer_has_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir).await;
        state.db.ping().await.unwrap();
        assert!(state.db.tasks_running());
        state.db.grouped.as_ref().unwrap().stop().await;
        assert!(!state.db.tasks_running(), "liveness fails too");
        let error = state.db.ping().await.unwrap_err();
        assert!(error.to_string().contains("grouped"), "{error}");
    }

    /// Deferred writes land at commit with the events (one round trip on SQLite); one that
    /// fails fails the commit, and nothing of the transaction stays.
    #[tokio::test]
    async fn deferred_writes_land_at_commit_or_not_at_all() {
        use sea_orm::{ConnectionTrait, DbBackend, Statement};

        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir).await;
        let db = state.db.read();
        let version = |name: &'static str| async move {
            db.query_one_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT version FROM cache_epoch WHERE name = ?",
                [name.into()],
            ))
            .await
            .unwrap()
            .map(|row| row.try_get::<i64>("", "version").unwrap())
        };
        let mut received = state.events.subscribe();

        let mut tx = state.db.begin(&state.events).await.unwrap();
        tx.defer(insert("first", 1));
        tx.defer(insert("second", 2));
        tx.record(event("DEFERRED"));
        assert_eq!(version("first").await, None, "not before commit");
        let before = state.db.statements();
        tx.commit().await.unwrap();
        assert_eq!(
            state.db.statements() - before,
            1,
            "the writes with the events in one round trip (COMMIT is not counted)"
        );
        assert_eq!(version("first").await, Some(1));
        assert_eq!(version("second").await, Some(2));
        assert_eq!(received.recv().await.unwrap().kind, "DEFERRED");

        let mut tx = state.db.begin(&state.events).await.unwrap();
        tx.execute(&insert("written", 1)).await.unwrap();
        tx.defer(insert("deferred", 1));
        tx.defer(insert("first", 1));
        tx.record(event("REFUSED"));
        let error = crate::error::AppError::from(tx.commit().await.unwrap_err());
        assert!(
            matches!(error, crate::error::AppError::Conflict { .. }),
            "{error:?}"
        );
        assert_eq!(version("written").await, None);
        assert_eq!(version("deferred").await, None);
        assert!(received.try_recv().is_err(), "nothing published");

        let mut tx = state.db.begin(&state.events).await.unwrap();
        tx.defer(insert("dropped", 1));
        drop(tx);
        assert_eq!(version("dropped").await, None);
    }

    fn insert(name: &str, version: i64) -> sea_orm::sea_query::InsertStatement {
        use sea_orm::sea_query::{Alias, Query};
        Query::insert()
            .into_table(Alias::new("cache_epoch"))
            .columns([Alias::new("name"), Alias::new("version")])
            .values_panic([name.into(), version.into()])
            .to_owned()
    }

    /// On PostgreSQL the deferred writes are one statement: the last, with the others as its
    /// common table expressions, their values numbered in the order of the text.
    #[test]
    fn deferred_writes_are_one_statement_on_postgres() {
        use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};

        let delete = Query::delete()
            .from_table(Alias::new("cache_epoch"))
            .and_where(Expr::col(Alias::new("name")).eq("gone"))
            .to_owned();
        let writes = || {
            vec![
                delete.clone().into(),
                insert("a", 1).into(),
                insert("b", 2).into(),
            ]
        };
        let [statement] = super::deferred_statements(DbBackend::Postgres, writes())
            .try_into()
            .unwrap();
        assert_eq!(
            statement.sql,
            r#"WITH "deferred_0" AS (DELETE FROM "cache_epoch" WHERE "name" = $1) , "deferred_1" AS (INSERT INTO "cache_epoch" ("name", "version") VALUES ($2, $3)) INSERT INTO "cache_epoch" ("name", "version") VALUES ($4, $5)"#
        );
        assert_eq!(
            statement.values.unwrap().0,
            vec![
                "gone".into(),
                "a".into(),
                1_i64.into(),
                "b".into(),
                2_i64.into()
            ]
        );
        assert_eq!(
            super::deferred_statements(DbBackend::Sqlite, writes()).len(),
            3,
            "one each on SQLite, batched at commit"
        );
        let [alone] = super::deferred_statements(DbBackend::Postgres, vec![insert("a", 1).into()])
            .try_into()
            .unwrap();
        assert!(alone.sql.starts_with("INSERT"), "{}", alone.sql);
    }
}
