//! Order queries. Rows become domain types here; nothing above sees a `Model`.

use chrono::{DateTime, NaiveDate, Utc};
use comptoir_entity::{
    order_change, order_line, order_note, order_payment, order_view, sales_order, scheduled_call,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
    sea_query::{InsertStatement, OnConflict, Query},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{
    Change, Contact, Note, NoteKind, Order, OrderLine, OrderSource, OrderStatus, Payment,
    ScheduledCall, Side,
};
use crate::{
    carts::model::RentalPeriod,
    error::AppError,
    kernel::money::{from_e4, rate_from_bp},
    pricing::{self, Adjustments},
};

fn corrupt(what: &str, value: &str) -> AppError {
    AppError::internal(anyhow::anyhow!("stored {what} is invalid: {value}"))
}

pub fn to_order(row: sales_order::Model) -> Result<Order, AppError> {
    let status =
        OrderStatus::parse(&row.status).ok_or_else(|| corrupt("order status", &row.status))?;
    let status_before_hold = row
        .status_before_hold
        .as_deref()
        .map(|s| OrderStatus::parse(s).ok_or_else(|| corrupt("order status", s)))
        .transpose()?;
    let source =
        OrderSource::parse(&row.source).ok_or_else(|| corrupt("order source", &row.source))?;
    Ok(Order {
        id: row.id,
        number: row.number,
        customer_id: row.customer_id,
        customer_code: row.customer_code,
        status,
        status_before_hold,
        hold_reason: row.hold_reason,
        source,
        title: row.title,
        customer_reference: row.customer_reference,
        note: row.note,
        contact: Contact {
            name: row.contact_name,
            email: row.contact_email,
            phone: row.contact_phone,
        },
        billing_address: serde_json::from_value(row.billing_address).unwrap_or_default(),
        delivery_address: serde_json::from_value(row.delivery_address).unwrap_or_default(),
        delivery_method: row.delivery_method,
        payment_method: row.payment_method,
        adjustments: Adjustments {
            discount_percent: rate_from_bp(row.discount_bp),
            shipping: from_e4(row.shipping_e4),
            shipping_vat_rate: rate_from_bp(row.shipping_vat_bp),
        },
        total: from_e4(row.total_e4),
        paid: from_e4(row.paid_e4),
        delivery_date: row.delivery_date,
        sales_rep_id: row.sales_rep_id,
        created_by: row.created_by,
        customer_seen_change: row.customer_seen_change,
        seller_seen_change: row.seller_seen_change,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
        confirmed_at: row.confirmed_at,
    })
}

pub fn to_line(row: order_line::Model) -> OrderLine {
    let unit_price = from_e4(row.unit_price_e4);
    let discount_percent = rate_from_bp(row.discount_bp);
    let discount_amount = from_e4(row.discount_amount_e4);
    let vat_rate = rate_from_bp(row.vat_bp);
    OrderLine {
        id: row.id,
        order_id: row.order_id,
        position: row.position,
        product_id: row.product_id,
        variant_id: row.variant_id,
        configuration: serde_json::from_value(row.configuration).unwrap_or_default(),
        reference: row.reference,
        name: row.name,
        quantity: row.quantity,
        unit_price,
        discount_percent,
        discount_amount,
        vat_rate,
        delivery_date: row.delivery_date,
        instructions: row.instructions,
        on_hold: row.on_hold,
        rental_period: match (row.rental_start, row.rental_end) {
            (Some(start), Some(end)) => Some(RentalPeriod { start, end }),
            _ => None,
        },
        amount: pricing::line_with_discounts(
            unit_price,
            row.quantity,
            vat_rate,
            discount_percent,
            discount_amount,
        ),
    }
}

fn to_change(row: order_change::Model) -> Change {
    Change {
        id: row.id,
        order_id: row.order_id,
        line_id: row.line_id,
        field: row.field,
        old_value: row.old_value,
        new_value: row.new_value,
        side: Side::parse(&row.side).unwrap_or(Side::Seller),
        actor_id: row.actor_id,
        comment: row.comment,
        at: row.created_at,
    }
}

pub async fn insert_order(
    db: &impl ConnectionTrait,
    row: sales_order::Model,
) -> Result<sales_order::Model, DbErr> {
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    row.into_active_model().reset_all().insert(db).await
}

pub async fn update_order(
    db: &impl ConnectionTrait,
    row: sales_order::Model,
) -> Result<sales_order::Model, DbErr> {
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    row.into_active_model().reset_all().update(db).await
}

pub async fn find(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<sales_order::Model>, DbErr> {
    sales_order::Entity::find_by_id(id).one(db).await
}

/// The order row, locked until the transaction ends (PostgreSQL; SQLite has one writer), so
/// that the version check and the writes after it are atomic.
pub async fn find_for_update(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<sales_order::Model>, DbErr> {
    sales_order::Entity::find_by_id(id)
        .lock_exclusive()
        .one(db)
        .await
}

pub async fn find_by_idempotency_key(
    db: &impl ConnectionTrait,
    key: &str,
) -> Result<Option<sales_order::Model>, DbErr> {
    sales_order::Entity::find()
        .filter(sales_order::Column::IdempotencyKey.eq(key))
        .one(db)
        .await
}

/// Orders whose number or customer reference is `reference` (exactly, case-insensitive for
/// the number).
pub async fn find_by_reference(
    db: &impl ConnectionTrait,
    reference: &str,
    customer_id: Option<Uuid>,
) -> Result<Vec<sales_order::Model>, DbErr> {
    let mut query = sales_order::Entity::find().filter(
        Condition::any()
            .add(sales_order::Column::Number.eq(reference.to_uppercase()))
            .add(sales_order::Column::CustomerReference.eq(reference)),
    );
    if let Some(customer_id) = customer_id {
        query = query.filter(sales_order::Column::CustomerId.eq(customer_id));
    }
    query
        .order_by_desc(sales_order::Column::CreatedAt)
        .limit(20)
        .all(db)
        .await
}

pub async fn by_ids(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<sales_order::Model>, DbErr> {
    sales_order::Entity::find()
        .filter(sales_order::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await
}

pub async fn lines_of(
    db: &impl ConnectionTrait,
    order_ids: &[Uuid],
) -> Result<Vec<order_line::Model>, DbErr> {
    order_line::Entity::find()
        .filter(order_line::Column::OrderId.is_in(order_ids.iter().copied()))
        .order_by_asc(order_line::Column::OrderId)
        .order_by_asc(order_line::Column::Position)
        .all(db)
        .await
}

pub async fn insert_line(
    db: &impl ConnectionTrait,
    row: order_line::Model,
) -> Result<order_line::Model, DbErr> {
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    row.into_active_model().reset_all().insert(db).await
}

/// Writes new lines in one statement.
pub async fn insert_lines(
    db: &impl ConnectionTrait,
    rows: Vec<order_line::Model>,
) -> Result<(), DbErr> {
    if let Some(insert) = insert_lines_query(rows) {
        db.execute(&insert).await?;
    }
    Ok(())
}

/// The insert of `rows` (none without rows), to run now or at commit.
pub fn insert_lines_query(rows: Vec<order_line::Model>) -> Option<InsertStatement> {
    use sea_orm::{ActiveModelTrait, IntoActiveModel, QueryTrait};
    (!rows.is_empty()).then(|| {
        order_line::Entity::insert_many(rows.into_iter().map(|r| r.into_active_model().reset_all()))
            .into_query()
    })
}

/// The insert of a new order's row, to run at commit (the caller keeps the row it gives).
pub fn insert_order_query(row: sales_order::Model) -> InsertStatement {
    use sea_orm::{ActiveModelTrait, IntoActiveModel, QueryTrait};
    sales_order::Entity::insert(row.into_active_model().reset_all()).into_query()
}

pub async fn update_line(
    db: &impl ConnectionTrait,
    row: order_line::Model,
) -> Result<order_line::Model, DbErr> {
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    row.into_active_model().reset_all().update(db).await
}

pub async fn delete_line(db: &impl ConnectionTrait, id: Uuid) -> Result<(), DbErr> {
    order_line::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// A change to record.
pub struct NewChange {
    pub line_id: Option<Uuid>,
    pub field: &'static str,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub comment: Option<String>,
}

/// Writes changes, in one statement.
pub async fn insert_changes(
    db: &impl ConnectionTrait,
    order_id: Uuid,
    side: Side,
    actor_id: Option<Uuid>,
    changes: Vec<NewChange>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    use sea_orm::Set;
    let rows = changes.into_iter().map(|change| order_change::ActiveModel {
        order_id: Set(order_id),
        line_id: Set(change.line_id),
        field: Set(change.field.to_owned()),
        old_value: Set(change.old_value),
        new_value: Set(change.new_value),
        side: Set(side.as_str().to_owned()),
        actor_id: Set(actor_id),
        comment: Set(change.comment),
        created_at: Set(now),
        ..Default::default()
    });
    order_change::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The last change recorded on an order (0 when none).
pub async fn last_change(db: &impl ConnectionTrait, order_id: Uuid) -> Result<i64, DbErr> {
    Ok(order_change::Entity::find()
        .filter(order_change::Column::OrderId.eq(order_id))
        .order_by_desc(order_change::Column::Id)
        .one(db)
        .await?
        .map_or(0, |c| c.id))
}

pub async fn changes_of(
    db: &impl ConnectionTrait,
    order_ids: &[Uuid],
) -> Result<Vec<Change>, DbErr> {
    Ok(order_change::Entity::find()
        .filter(order_change::Column::OrderId.is_in(order_ids.iter().copied()))
        .order_by_asc(order_change::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(to_change)
        .collect())
}

pub async fn insert_note(db: &impl ConnectionTrait, note: &Note) -> Result<(), DbErr> {
    use sea_orm::{ActiveModelTrait, Set};
    order_note::ActiveModel {
        id: Set(note.id),
        order_id: Set(note.order_id),
        line_id: Set(note.line_id),
        kind: Set(note.kind.as_str().to_owned()),
        body: Set(note.body.clone()),
        author_id: Set(note.author_id),
        created_at: Set(note.at),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn notes_of(db: &impl ConnectionTrait, order_ids: &[Uuid]) -> Result<Vec<Note>, DbErr> {
    Ok(order_note::Entity::find()
        .filter(order_note::Column::OrderId.is_in(order_ids.iter().copied()))
        .order_by_asc(order_note::Column::CreatedAt)
        .order_by_asc(order_note::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|row| Note {
            id: row.id,
            order_id: row.order_id,
            line_id: row.line_id,
            kind: NoteKind::parse(&row.kind).unwrap_or(NoteKind::Internal),
            body: row.body,
            author_id: row.author_id,
            at: row.created_at,
        })
        .collect())
}

pub async fn insert_payment(db: &impl ConnectionTrait, payment: &Payment) -> Result<(), DbErr> {
    use sea_orm::{ActiveModelTrait, Set};
    order_payment::ActiveModel {
        id: Set(payment.id),
        order_id: Set(payment.order_id),
        amount_e4: Set(crate::kernel::money::to_e4(payment.amount, "amount").unwrap_or_default()),
        method: Set(payment.method.clone()),
        paid_on: Set(payment.paid_on),
        reference: Set(payment.reference.clone()),
        recorded_by: Set(payment.recorded_by),
        created_at: Set(payment.at),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn payments_of(
    db: &impl ConnectionTrait,
    order_ids: &[Uuid],
) -> Result<Vec<Payment>, DbErr> {
    Ok(order_payment::Entity::find()
        .filter(order_payment::Column::OrderId.is_in(order_ids.iter().copied()))
        .order_by_asc(order_payment::Column::PaidOn)
        .order_by_asc(order_payment::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|row| Payment {
            id: row.id,
            order_id: row.order_id,
            amount: from_e4(row.amount_e4),
            method: row.method,
            paid_on: row.paid_on,
            reference: row.reference,
            recorded_by: row.recorded_by,
            at: row.created_at,
        })
        .collect())
}

fn to_call(row: scheduled_call::Model) -> ScheduledCall {
    ScheduledCall {
        id: row.id,
        order_id: row.order_id,
        manager_id: row.manager_id,
        at: row.at,
        with_whom: row.with_whom,
        note: row.note,
    }
}

pub async fn insert_call(
    db: &impl ConnectionTrait,
    call: &ScheduledCall,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    use sea_orm::{ActiveModelTrait, Set};
    scheduled_call::ActiveModel {
        id: Set(call.id),
        order_id: Set(call.order_id),
        manager_id: Set(call.manager_id),
        at: Set(call.at),
        with_whom: Set(call.with_whom.clone()),
        note: Set(call.note.clone()),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn calls_of(
    db: &impl ConnectionTrait,
    order_ids: &[Uuid],
) -> Result<Vec<ScheduledCall>, DbErr> {
    Ok(scheduled_call::Entity::find()
        .filter(scheduled_call::Column::OrderId.is_in(order_ids.iter().copied()))
        .order_by_asc(scheduled_call::Column::At)
        .all(db)
        .await?
        .into_iter()
        .map(to_call)
        .collect())
}

/// A manager's calls from `from` on, soonest first.
pub async fn agenda(
    db: &impl ConnectionTrait,
    manager_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ScheduledCall>, DbErr> {
    Ok(scheduled_call::Entity::find()
        .filter(scheduled_call::Column::ManagerId.eq(manager_id))
        .filter(scheduled_call::Column::At.gte(from))
        .filter(scheduled_call::Column::At.lt(to))
        .order_by_asc(scheduled_call::Column::At)
        .limit(500)
        .all(db)
        .await?
        .into_iter()
        .map(to_call)
        .collect())
}

/// Records that `user_id` opened the order (one row per user and order, kept fresh).
pub async fn record_view(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    order_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let statement = Query::insert()
        .into_table(order_view::Entity)
        .columns([
            order_view::Column::UserId,
            order_view::Column::OrderId,
            order_view::Column::ViewedAt,
        ])
        .values_panic([user_id.into(), order_id.into(), now.into()])
        .on_conflict(
            OnConflict::columns([order_view::Column::UserId, order_view::Column::OrderId])
                .update_column(order_view::Column::ViewedAt)
                .to_owned(),
        )
        .to_owned();
    db.execute(&statement).await?;
    Ok(())
}

pub async fn recently_viewed(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    limit: u64,
) -> Result<Vec<sales_order::Model>, DbErr> {
    let ids: Vec<Uuid> = order_view::Entity::find()
        .filter(order_view::Column::UserId.eq(user_id))
        .order_by_desc(order_view::Column::ViewedAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|v| v.order_id)
        .collect();
    let mut rows = by_ids(db, &ids).await?;
    rows.sort_by_key(|row| ids.iter().position(|id| *id == row.id));
    Ok(rows)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortField {
    Number,
    Title,
    CustomerCode,
    Product,
    CreatedAt,
    DeliveryDate,
}

impl SortField {
    fn column(self, ascending: bool) -> sales_order::Column {
        match self {
            Self::DeliveryDate if !ascending => sales_order::Column::DeliverySortDesc,
            Self::Number => sales_order::Column::Number,
            Self::Title => sales_order::Column::Title,
            Self::CustomerCode => sales_order::Column::CustomerCode,
            Self::Product => sales_order::Column::ProductSummary,
            Self::CreatedAt => sales_order::Column::CreatedAt,
            Self::DeliveryDate => sales_order::Column::DeliverySort,
        }
    }

    /// Whether a cursor's value is of this sort's type (a forged one would compare text with
    /// a timestamp, which PostgreSQL refuses).
    pub fn accepts(self, value: &SortValue) -> bool {
        matches!(
            (self, value),
            (Self::CreatedAt, SortValue::Time(_))
                | (
                    Self::Number
                        | Self::Title
                        | Self::CustomerCode
                        | Self::Product
                        | Self::DeliveryDate,
                    SortValue::Text(_)
                )
        )
    }

    fn key(self, ascending: bool, row: &sales_order::Model) -> SortValue {
        match self {
            Self::DeliveryDate if !ascending => SortValue::Text(row.delivery_sort_desc.clone()),
            Self::Number => SortValue::Text(row.number.clone()),
            Self::Title => SortValue::Text(row.title.clone()),
            Self::CustomerCode => SortValue::Text(row.customer_code.clone()),
            Self::Product => SortValue::Text(row.product_summary.clone()),
            Self::CreatedAt => SortValue::Time(row.created_at),
            Self::DeliveryDate => SortValue::Text(row.delivery_sort.clone()),
        }
    }
}

/// Where a page of orders ends: the sort it was made for, the sort value and ID of its last row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OrderCursor {
    pub sort: String,
    pub value: SortValue,
    pub id: Uuid,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum SortValue {
    Text(String),
    Time(DateTime<Utc>),
}

pub fn cursor(field: SortField, ascending: bool, row: &sales_order::Model) -> OrderCursor {
    OrderCursor {
        sort: sort_name(field, ascending),
        value: field.key(ascending, row),
        id: row.id,
    }
}

pub fn sort_name(field: SortField, ascending: bool) -> String {
    format!("{field:?}:{ascending}")
}

/// The texts `delivery_sort` and `delivery_sort_desc` hold: the date, or for "no date" a value
/// after every date (`~`) and before every date (empty), so that undated orders come last in
/// both directions.
pub fn delivery_sort(date: Option<NaiveDate>) -> (String, String) {
    match date {
        Some(d) => {
            let text = d.format("%Y-%m-%d").to_string();
            (text.clone(), text)
        }
        None => ("~".to_owned(), String::new()),
    }
}

#[derive(Clone, Debug, Default)]
pub struct OrderFilter {
    pub customer_id: Option<Uuid>,
    pub statuses: Vec<OrderStatus>,
    pub sales_rep_id: Option<Uuid>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub include_completed: bool,
    pub include_cancelled: bool,
    /// Customers list only what the seller has shown them (never drafts being composed).
    pub exclude_drafts: bool,
    pub search: Option<String>,
}

fn filtered(filter: &OrderFilter) -> sea_orm::Select<sales_order::Entity> {
    let mut query = sales_order::Entity::find();
    if let Some(customer_id) = filter.customer_id {
        query = query.filter(sales_order::Column::CustomerId.eq(customer_id));
    }
    if !filter.statuses.is_empty() {
        query = query
            .filter(sales_order::Column::Status.is_in(filter.statuses.iter().map(|s| s.as_str())));
    }
    let mut excluded = Vec::new();
    if !filter.include_completed {
        excluded.push(OrderStatus::Completed.as_str());
    }
    if !filter.include_cancelled {
        excluded.push(OrderStatus::Cancelled.as_str());
    }
    if filter.exclude_drafts {
        query = query.filter(sales_order::Column::ShownToCustomer.eq(true));
    }
    if !excluded.is_empty() {
        query = query.filter(sales_order::Column::Status.is_not_in(excluded));
    }
    if let Some(rep) = filter.sales_rep_id {
        query = query.filter(sales_order::Column::SalesRepId.eq(rep));
    }
    if let Some(from) = filter.created_from {
        query = query.filter(sales_order::Column::CreatedAt.gte(from));
    }
    if let Some(to) = filter.created_to {
        query = query.filter(sales_order::Column::CreatedAt.lt(to));
    }
    if let Some(search) = filter.search.as_deref() {
        query = query.filter(sales_order::Column::SearchText.like(
            crate::catalog::store::contains_pattern(&search.to_lowercase()),
        ));
    }
    query
}

/// A page of orders in the given order after `after`, and the total matching `filter`.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &OrderFilter,
    field: SortField,
    ascending: bool,
    after: Option<OrderCursor>,
    limit: u64,
) -> Result<(Vec<sales_order::Model>, u64), DbErr> {
    let query = filtered(filter);
    let total = query.clone().count(db).await?;
    let column = field.column(ascending);
    let mut query = query;
    if let Some(cursor) = after {
        let value: sea_orm::Value = match cursor.value {
            SortValue::Text(text) => text.into(),
            SortValue::Time(time) => time.into(),
        };
        query = query.filter(crate::kernel::pagination::keyset_after(
            column,
            sales_order::Column::Id,
            ascending,
            value,
            cursor.id,
        ));
    }
    let query = if ascending {
        query
            .order_by_asc(column)
            .order_by_asc(sales_order::Column::Id)
    } else {
        query
            .order_by_desc(column)
            .order_by_desc(sales_order::Column::Id)
    };
    let rows = query.limit(limit + 1).all(db).await?;
    Ok((rows, total))
}
