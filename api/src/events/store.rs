use comptoir_entity::event;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set,
};
use uuid::Uuid;

use super::{Audience, NewEvent, Scope, StoredEvent};

/// Writes `events` in one statement; they take their positions in the order given.
pub async fn insert(
    db: &impl ConnectionTrait,
    events: Vec<NewEvent>,
) -> Result<Vec<StoredEvent>, DbErr> {
    let mut stored: Vec<StoredEvent> = event::Entity::insert_many(events.into_iter().map(active))
        .exec_with_returning(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect();
    // RETURNING gives no order: by position, as written.
    stored.sort_by_key(|e| e.id);
    Ok(stored)
}

/// PostgreSQL: a transaction's last statement before its commit (see `db::WriteTx::commit`):
/// `before` (writes whose rows are only counted, see `db::WriteTx::defer`), then `events`,
/// written as [`insert`] does, in one statement that takes the log's advisory lock between the
/// two ([`insert_under_lock`]) so that positions in the log follow commit order (see
/// `db::WriteTx`). Without events, `before` alone.
pub async fn insert_after_postgres(
    db: &impl ConnectionTrait,
    before: Vec<crate::db::Write>,
    events: Vec<NewEvent>,
) -> Result<Vec<StoredEvent>, DbErr> {
    if events.is_empty() {
        for statement in crate::db::deferred_statements(DbBackend::Postgres, before) {
            db.execute_raw(statement).await?;
        }
        return Ok(Vec::new());
    }
    stored(&db.query_all_raw(insert_under_lock(before, events)?).await?)
}

/// SQLite: a transaction's last statements as one text (see `db::WriteTx::commit`): `before`,
/// then the events' insert, which returns the events' rows; `None` if there is nothing to
/// write.
pub fn last_statement_sqlite(
    before: Vec<crate::db::Write>,
    events: Vec<NewEvent>,
) -> Option<sea_orm::Statement> {
    let mut statements = crate::db::deferred_statements(DbBackend::Sqlite, before);
    if !events.is_empty() {
        let mut query = event::Entity::insert_many(events.into_iter().map(active)).into_query();
        query.returning_all();
        statements.push(DbBackend::Sqlite.build(&query));
    }
    crate::db::batch(statements)
}

/// The events `rows` return, by position.
pub fn stored(rows: &[sea_orm::QueryResult]) -> Result<Vec<StoredEvent>, DbErr> {
    let mut stored = rows
        .iter()
        .map(|row| event::Model::from_query_result(row, "").map(from_row))
        .collect::<Result<Vec<_>, _>>()?;
    stored.sort_by_key(|e| e.id);
    Ok(stored)
}

/// PostgreSQL: `events` inserted as [`insert`] does, in one statement that first takes the log's
/// advisory lock (`WITH event_lock AS (SELECT pg_advisory_xact_lock(…)) INSERT … SELECT … FROM
/// event_lock UNION ALL …`): the events take their positions under it, in the order given. The
/// writes `before` are common table expressions of the same statement (`deferred_0 AS (… RETURNING
/// 1)`, …) that the lock's row counts: they run, and take their row locks, before the lock is
/// taken. Their foreign keys' checks come at the end of the statement, the lock held: they must
/// not wait (see `db::WriteTx::defer`). Run after every other statement of the transaction.
fn insert_under_lock(
    before: Vec<crate::db::Write>,
    events: Vec<NewEvent>,
) -> Result<sea_orm::Statement, DbErr> {
    use sea_orm::{
        ActiveModelTrait, ActiveValue, Iterable,
        sea_query::{
            Alias, CommonTableExpression, Expr, Query, SelectStatement, UnionType, WithClause,
        },
    };

    let mut lock = Query::select();
    lock.expr(Expr::cust(
        "pg_advisory_xact_lock(hashtext('comptoir_events.' || current_schema()))",
    ));
    // The lock is taken from a row made of how many rows each write returned: each write runs
    // to completion, its row locks taken, before it.
    let mut with = WithClause::new();
    for (index, write) in crate::db::deferred_ctes(&mut with, before, true)
        .into_iter()
        .enumerate()
    {
        lock.from_subquery(
            Query::select()
                .expr(Expr::cust("count(*)"))
                .from(Alias::new(write))
                .to_owned(),
            Alias::new(format!("written_{index}")),
        );
    }
    with.cte(
        CommonTableExpression::new()
            .query(lock)
            .table_name(Alias::new("event_lock"))
            .to_owned(),
    );
    let mut columns = Vec::new();
    let mut rows: Option<SelectStatement> = None;
    for event in events {
        let model = active(event);
        let mut row = Query::select();
        for column in event::Column::iter() {
            if let ActiveValue::Set(value) = model.get(column) {
                if rows.is_none() {
                    columns.push(column);
                }
                row.expr(Expr::val(value));
            }
        }
        row.from(Alias::new("event_lock"));
        match &mut rows {
            None => rows = Some(row),
            Some(rows) => {
                rows.union(UnionType::All, row);
            }
        }
    }
    let rows = rows.ok_or_else(|| DbErr::Custom("no events to insert".to_owned()))?;
    let mut insert = Query::insert();
    insert
        .into_table(event::Entity)
        .columns(columns)
        .select_from(rows)
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .returning_all();
    Ok(DbBackend::Postgres.build(&with.query(insert)))
}

pub async fn find(db: &impl ConnectionTrait, id: i64) -> Result<Option<StoredEvent>, DbErr> {
    Ok(event::Entity::find_by_id(id).one(db).await?.map(from_row))
}

/// The position of the log's latest event; `None` while it is empty.
pub async fn last_id(db: &impl ConnectionTrait) -> Result<Option<i64>, DbErr> {
    event::Entity::find()
        .select_only()
        .column_as(event::Column::Id.max(), "last")
        .into_tuple::<Option<i64>>()
        .one(db)
        .await
        .map(Option::flatten)
}

fn active(event: NewEvent) -> event::ActiveModel {
    event::ActiveModel {
        kind: Set(event.kind.to_owned()),
        object_type: Set(event.object_type.to_owned()),
        object_id: Set(event.object_id),
        owner_user_id: Set(event.owner_user_id),
        owner_customer_id: Set(event.owner_customer_id),
        internal: Set(event.internal),
        actor_id: Set(event.actor_id),
        status: Set(event.status),
        changes: Set(event.changes),
        created_at: Set(event.at),
        ..Default::default()
    }
}

fn from_row(row: event::Model) -> StoredEvent {
    StoredEvent {
        id: row.id,
        kind: row.kind,
        object_type: row.object_type,
        object_id: row.object_id,
        owner_user_id: row.owner_user_id,
        owner_customer_id: row.owner_customer_id,
        internal: row.internal,
        actor_id: row.actor_id,
        status: row.status,
        changes: row.changes,
        created_at: row.created_at,
    }
}

/// Which events an audience may read.
fn visible_to(audience: Audience) -> Condition {
    match audience {
        Audience::Staff => Condition::all(),
        Audience::Owner {
            user_id,
            customer_id,
        } => {
            let mut any = Condition::any().add(event::Column::OwnerUserId.eq(user_id));
            if let Some(customer_id) = customer_id {
                any = any.add(
                    Condition::all()
                        .add(event::Column::OwnerCustomerId.eq(customer_id))
                        .add(event::Column::Internal.eq(false)),
                );
            }
            any
        }
    }
}

fn of_scope(scope: &Scope) -> Condition {
    let mut condition = Condition::all();
    if let Some(object_type) = scope.object_type {
        condition = condition.add(event::Column::ObjectType.eq(object_type));
    }
    if let Some(object_id) = scope.object_id {
        condition = condition.add(event::Column::ObjectId.eq(object_id));
    }
    condition
}

/// Events of `scope` that `audience` may see after `after`, oldest first; at most `limit`.
pub async fn visible_after(
    db: &impl ConnectionTrait,
    audience: Audience,
    scope: &Scope,
    after: i64,
    limit: u64,
) -> Result<Vec<StoredEvent>, DbErr> {
    Ok(event::Entity::find()
        .filter(visible_to(audience))
        .filter(of_scope(scope))
        .filter(event::Column::Id.gt(after))
        .order_by_asc(event::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect())
}

/// A page of the log after `after`, oldest first, of what `audience` may see.
pub async fn page(
    db: &impl ConnectionTrait,
    audience: Audience,
    after: Option<i64>,
    limit: u64,
) -> Result<(Vec<StoredEvent>, u64), DbErr> {
    use sea_orm::PaginatorTrait;
    let mut query = event::Entity::find().filter(visible_to(audience));
    let total = query.clone().count(db).await?;
    if let Some(after) = after {
        query = query.filter(event::Column::Id.gt(after));
    }
    let rows = query
        .order_by_asc(event::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    Ok((rows.into_iter().map(from_row).collect(), total))
}

/// The latest events of objects of `object_type` (timelines), newest first: at most 1,000 for
/// all the objects together, in one statement.
pub async fn of_objects(
    db: &impl ConnectionTrait,
    object_type: &str,
    ids: &[Uuid],
) -> Result<Vec<StoredEvent>, DbErr> {
    Ok(event::Entity::find()
        .filter(event::Column::ObjectType.eq(object_type))
        .filter(event::Column::ObjectId.is_in(ids.iter().copied()))
        .order_by_desc(event::Column::Id)
        .limit(1000)
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect())
}
