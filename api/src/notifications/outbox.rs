//! The outbox table: messages written in a mutation's transaction, claimed and marked by the
//! worker, listed and retried by admins.

use std::time::Duration;

use chrono::{DateTime, Utc};
use comptoir_entity::{outbox_attempt, outbox_message};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DbErr, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set,
    sea_query::{CaseStatement, Expr, LockBehavior, LockType, Order, Query},
};
use serde_json::Value;
use uuid::Uuid;

use super::{
    model::{Attachment, Channel, Recipient, Status},
    templates,
};
use crate::{
    auth::Principal,
    db::WriteTx,
    error::AppError,
    kernel::{
        pagination::{Page, PageRequest},
        time::chrono_duration,
    },
    state::AppState,
};

/// Templates whose messages carry a secret (a generated password): their body is wiped once
/// the message is sent.
pub const SECRET_TEMPLATES: &[&str] = &["rental_account_created"];

/// A message to send once the current transaction commits.
pub struct NewMessage {
    pub recipient: Recipient,
    pub template: &'static str,
    /// The recipient's language; English when the template has no version in it.
    pub language: String,
    pub data: Value,
    pub attachments: Vec<Attachment>,
    /// The customer whose timeline shows the message.
    pub customer_id: Option<Uuid>,
}

/// Renders `message` and writes it to the outbox in `tx`; the worker is woken at commit.
pub async fn enqueue(
    tx: &mut WriteTx,
    message: NewMessage,
    now: DateTime<Utc>,
) -> Result<Uuid, AppError> {
    let template = templates::pick(&**tx, message.template, &message.language).await?;
    enqueue_picked(tx, message, &template, now)
}

/// [`enqueue`] with the template picked beforehand (outside the transaction: one round trip
/// less on the writer), which must be `message.template` in `message.language`.
pub fn enqueue_picked(
    tx: &mut WriteTx,
    message: NewMessage,
    template: &templates::Picked,
    now: DateTime<Utc>,
) -> Result<Uuid, AppError> {
    debug_assert_eq!(template.name(), message.template);
    let (subject, body) = template.render(&message.data)?;
    let id = Uuid::now_v7();
    let row = outbox_message::ActiveModel {
        id: Set(id),
        channel: Set(message.recipient.channel.as_str().to_owned()),
        recipient: Set(message.recipient.address),
        subject: Set(subject),
        body: Set(body),
        attachments: Set(serde_json::to_value(&message.attachments).unwrap_or_default()),
        template: Set(message.template.to_owned()),
        message_id: Set(format!("<{}@comptoir>", id.simple())),
        customer_id: Set(message.customer_id),
        status: Set(Status::Pending.as_str().to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        claimed_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
    };
    // Nothing in a transaction reads the outbox back: the row is written at commit, with the
    // transaction's other last writes.
    tx.defer(outbox_message::Entity::insert(row).into_query());
    tx.wake_outbox_on_commit();
    Ok(id)
}

/// Claims up to `limit` due messages for `lease`: no other worker takes them meanwhile. One
/// statement, outside any transaction: an `UPDATE` of the due rows a subquery picks
/// (`FOR UPDATE SKIP LOCKED` on PostgreSQL, where a row another worker is claiming is skipped
/// and a row it has just claimed no longer matches; SQLite has one writer).
pub async fn claim(
    state: &AppState,
    limit: u64,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<outbox_message::Model>, AppError> {
    let due = Query::select()
        .column(outbox_message::Column::Id)
        .from(outbox_message::Entity)
        .and_where(outbox_message::Column::Status.eq(Status::Pending.as_str()))
        .and_where(outbox_message::Column::NextAttemptAt.lte(now))
        .cond_where(
            Condition::any()
                .add(outbox_message::Column::ClaimedUntil.is_null())
                .add(outbox_message::Column::ClaimedUntil.lt(now)),
        )
        .order_by(outbox_message::Column::CreatedAt, Order::Asc)
        .limit(limit)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .to_owned();
    let mut claim = outbox_message::Entity::update_many()
        .col_expr(
            outbox_message::Column::ClaimedUntil,
            Expr::value(now + chrono_duration(lease)),
        )
        .filter(outbox_message::Column::Id.in_subquery(due))
        .into_query();
    claim.returning_all();
    let mut claimed = state
        .db
        .write_one(state.db.backend().build(&claim))
        .await?
        .iter()
        .map(|row| outbox_message::Model::from_query_result(row, ""))
        .collect::<Result<Vec<_>, _>>()?;
    // RETURNING gives no order: oldest first, as picked.
    claimed.sort_by_key(|m| (m.created_at, m.id));
    Ok(claimed)
}

/// One send of a message and how it went.
pub struct Attempt {
    pub message: outbox_message::Model,
    pub outcome: Result<(), String>,
    pub at: DateTime<Utc>,
}

/// Records attempts in one transaction: each message sent, or failed (retried later with
/// back-off, or given up). The messages sent, the common case, are marked in one statement
/// whatever their number (under load a group holds tens of them, and each statement waits for
/// the writer behind the mutations that queued them).
pub async fn record(state: &AppState, attempts: Vec<Attempt>) -> Result<(), DbErr> {
    use outbox_message::Column;

    let tx = state.db.begin(&state.events).await?;
    let rows: Vec<outbox_attempt::ActiveModel> = attempts
        .iter()
        .map(|attempt| outbox_attempt::ActiveModel {
            id: Set(Uuid::now_v7()),
            message_id: Set(attempt.message.id),
            at: Set(attempt.at),
            succeeded: Set(attempt.outcome.is_ok()),
            error: Set(attempt.outcome.clone().err()),
        })
        .collect();
    let (sent, failed): (Vec<Attempt>, Vec<Attempt>) =
        attempts.into_iter().partition(|a| a.outcome.is_ok());
    if !sent.is_empty() {
        // Each message keeps the time of its own send.
        let sent_at = sent
            .iter()
            .fold(CaseStatement::new(), |case, a| {
                case.case(Column::Id.eq(a.message.id), Expr::value(a.at))
            })
            .finally(Expr::col(Column::SentAt));
        // Delivered: the secret a message carried need not stay in the database.
        let body = CaseStatement::new()
            .case(
                Column::Template.is_in(SECRET_TEMPLATES.iter().copied()),
                Expr::value("(removed once sent: it held credentials)"),
            )
            .finally(Expr::col(Column::Body));
        outbox_message::Entity::update_many()
            .col_expr(Column::Status, Expr::value(Status::Sent.as_str()))
            .col_expr(
                Column::Attempts,
                sea_orm::ExprTrait::add(Expr::col(Column::Attempts), 1),
            )
            .col_expr(Column::ClaimedUntil, Expr::value(None::<DateTime<Utc>>))
            .col_expr(Column::LastError, Expr::value(None::<String>))
            .col_expr(Column::SentAt, sent_at.into())
            .col_expr(Column::Body, body.into())
            .filter(Column::Id.is_in(sent.iter().map(|a| a.message.id)))
            .exec(&*tx)
            .await?;
    }
    for Attempt {
        message,
        outcome,
        at,
    } in failed
    {
        let error = outcome.err().unwrap_or_default();
        let tries = message.attempts + 1;
        let mut active: outbox_message::ActiveModel = message.into();
        active.attempts = Set(tries);
        active.claimed_until = Set(None);
        active.last_error = Set(Some(error));
        if tries >= state.config.outbox_max_attempts {
            active.status = Set(Status::Failed.as_str().to_owned());
        } else {
            let factor = 2_u32.saturating_pow(u32::try_from(tries - 1).unwrap_or(0).min(16));
            let wait = state
                .config
                .outbox_retry
                .saturating_mul(factor)
                .min(Duration::from_hours(1));
            active.next_attempt_at = Set(at + chrono_duration(wait));
        }
        outbox_message::Entity::update(active)
            .exec_without_returning(&*tx)
            .await?;
    }
    if !rows.is_empty() {
        outbox_attempt::Entity::insert_many(rows)
            .exec_without_returning(&*tx)
            .await?;
    }
    tx.commit().await
}

/// A message as admins see it.
#[derive(Clone, Debug)]
pub struct OutboxView {
    pub id: Uuid,
    pub channel: Channel,
    pub recipient: String,
    pub subject: String,
    pub template: String,
    pub status: Status,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

fn view(row: outbox_message::Model) -> OutboxView {
    OutboxView {
        channel: Channel::parse(&row.channel).unwrap_or(Channel::Email),
        status: Status::parse(&row.status).unwrap_or(Status::Pending),
        id: row.id,
        recipient: row.recipient,
        subject: row.subject,
        template: row.template,
        attempts: row.attempts,
        last_error: row.last_error,
        next_attempt_at: row.next_attempt_at,
        created_at: row.created_at,
        sent_at: row.sent_at,
    }
}

/// ADMIN: outbox messages, newest first.
pub async fn list(
    state: &AppState,
    principal: &Principal,
    status: Option<Status>,
    page: PageRequest,
) -> Result<Page<OutboxView>, AppError> {
    principal.require_admin()?;
    let after = page
        .after
        .as_deref()
        .map(|c| {
            Uuid::try_parse(c).map_err(|_| AppError::validation("after", "not a valid cursor"))
        })
        .transpose()?;
    let mut query = outbox_message::Entity::find();
    if let Some(status) = status {
        query = query.filter(outbox_message::Column::Status.eq(status.as_str()));
    }
    let db = state.db.read();
    let total = query.clone().count(db).await?;
    if let Some(after) = after {
        query = query.filter(outbox_message::Column::Id.lt(after));
    }
    let rows = query
        .order_by_desc(outbox_message::Column::Id)
        .limit(page.limit + 1)
        .all(db)
        .await?;
    Page::from_rows(rows, page.limit, after.is_some(), total, |row| {
        Ok::<_, AppError>(view(row))
    })
}

/// ADMIN: sends a failed message again (a fresh set of attempts).
pub async fn retry(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<OutboxView, AppError> {
    principal.require_admin()?;
    let now = state.clock.now();
    let mut tx = state.db.begin(&state.events).await?;
    let row = outbox_message::Entity::find_by_id(id)
        .one(&*tx)
        .await?
        .ok_or_else(|| AppError::not_found("outbox message", "id"))?;
    if row.status != Status::Failed.as_str() {
        return Err(AppError::conflict("id", "only failed messages are retried"));
    }
    let mut active: outbox_message::ActiveModel = row.into();
    active.status = Set(Status::Pending.as_str().to_owned());
    active.attempts = Set(0);
    active.next_attempt_at = Set(now);
    active.claimed_until = Set(None);
    let row = active.update(&*tx).await?;
    tx.wake_outbox_on_commit();
    tx.commit().await?;
    Ok(view(row))
}
