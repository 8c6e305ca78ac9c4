//! Rental queries. Rows become domain types here; nothing above sees a `Model`.

use chrono::{DateTime, Utc};
use comptoir_entity::{rental_change, rental_item, rental_project};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{
    Change, Contact, Item, ItemStatus, Project, ProjectSource, ProjectStatus, Shortage,
};
use crate::{
    carts::model::RentalPeriod,
    error::AppError,
    kernel::money::{from_e4, rate_from_bp},
    orders::model::Side,
    pricing,
};

fn corrupt(what: &str, value: &str) -> AppError {
    AppError::internal(anyhow::anyhow!("stored {what} is invalid: {value}"))
}

pub fn to_project(row: rental_project::Model) -> Result<Project, AppError> {
    let status = ProjectStatus::parse(&row.status)
        .ok_or_else(|| corrupt("rental project status", &row.status))?;
    let source = ProjectSource::parse(&row.source)
        .ok_or_else(|| corrupt("rental project source", &row.source))?;
    let accepted_shortage: Vec<Shortage> = serde_json::from_value(row.accepted_shortage)
        .map_err(|e| corrupt("accepted shortage", &e.to_string()))?;
    Ok(Project {
        id: row.id,
        number: row.number,
        customer_id: row.customer_id,
        source,
        status,
        contact: Contact {
            name: row.contact_name,
            email: row.contact_email,
            phone: row.contact_phone,
            company: row.company,
        },
        customer_note: row.customer_note,
        manager_note: row.manager_note,
        cancel_reason: row.cancel_reason,
        short: row.short,
        accepted_shortage,
        period_start: row.period_start,
        period_end: row.period_end,
        total: from_e4(row.total_e4),
        created_by: row.created_by,
        repeated_from: row.repeated_from,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
        started_at: row.started_at,
        issued_at: row.issued_at,
        returned_at: row.returned_at,
        completed_at: row.completed_at,
        cancelled_at: row.cancelled_at,
    })
}

pub fn to_item(row: rental_item::Model) -> Item {
    let unit_price = from_e4(row.unit_price_e4);
    Item {
        id: row.id,
        project_id: row.project_id,
        position: row.position,
        product_id: row.product_id,
        reference: row.reference,
        name: row.name,
        quantity: row.quantity,
        period: RentalPeriod {
            start: row.start_at,
            end: row.end_at,
        },
        daily_price: from_e4(row.daily_price_e4),
        unit_price,
        amount: pricing::line(unit_price, row.quantity, rate_from_bp(row.vat_bp)),
        status: ItemStatus::parse(&row.status).unwrap_or(ItemStatus::Draft),
    }
}

fn to_change(row: rental_change::Model) -> Change {
    Change {
        id: row.id,
        project_id: row.project_id,
        item_id: row.item_id,
        field: row.field,
        old_value: row.old_value,
        new_value: row.new_value,
        side: Side::parse(&row.side).unwrap_or(Side::Seller),
        actor_id: row.actor_id,
        at: row.created_at,
    }
}

pub async fn insert_project(
    db: &impl ConnectionTrait,
    row: rental_project::Model,
) -> Result<rental_project::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

pub async fn update_project(
    db: &impl ConnectionTrait,
    row: rental_project::Model,
) -> Result<rental_project::Model, DbErr> {
    row.into_active_model().reset_all().update(db).await
}

pub async fn find(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<rental_project::Model>, DbErr> {
    rental_project::Entity::find_by_id(id).one(db).await
}

/// The project row, locked until the transaction ends (PostgreSQL; SQLite has one writer).
pub async fn find_for_update(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<rental_project::Model>, DbErr> {
    rental_project::Entity::find_by_id(id)
        .lock_exclusive()
        .one(db)
        .await
}

pub async fn find_by_idempotency_key(
    db: &impl ConnectionTrait,
    key: &str,
) -> Result<Option<rental_project::Model>, DbErr> {
    rental_project::Entity::find()
        .filter(rental_project::Column::IdempotencyKey.eq(key))
        .one(db)
        .await
}

pub async fn by_ids(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<rental_project::Model>, DbErr> {
    rental_project::Entity::find()
        .filter(rental_project::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(rental_project::Column::Id)
        .all(db)
        .await
}

/// The `NEW` projects among `ids`, locked, skipping those another transaction holds (it is
/// changing them and judges their shortage itself): waiting for them could deadlock with a
/// transaction that holds a draft and waits for this one's products.
pub async fn lock_drafts(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<rental_project::Model>, DbErr> {
    use sea_orm::sea_query::{LockBehavior, LockType};
    rental_project::Entity::find()
        .filter(rental_project::Column::Id.is_in(ids.iter().copied()))
        .filter(rental_project::Column::Status.eq(ProjectStatus::New.as_str()))
        .order_by_asc(rental_project::Column::Id)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(db)
        .await
}

/// Most projects listed per customer (the newest).
pub const PER_CUSTOMER: u64 = 100;

/// A project with how many its customer has in all.
#[derive(sea_orm::FromQueryResult)]
pub struct Ranked {
    #[sea_orm(nested)]
    pub project: rental_project::Model,
    pub total: i64,
}

/// The newest [`PER_CUSTOMER`] projects of each customer, with each customer's total: one
/// statement for a whole page of customers (window functions rank within each customer).
pub async fn of_customers(
    db: &impl ConnectionTrait,
    customer_ids: &[Uuid],
) -> Result<Vec<Ranked>, DbErr> {
    use sea_orm::{
        FromQueryResult, QueryTrait,
        sea_query::{Alias, Asterisk, Expr, ExprTrait, Order, Query},
    };
    let ranked = rental_project::Entity::find()
        .filter(rental_project::Column::CustomerId.is_in(customer_ids.iter().copied()))
        .column_as(
            Expr::cust(
                r#"ROW_NUMBER() OVER (PARTITION BY "customer_id" ORDER BY "created_at" DESC, "id" DESC)"#,
            ),
            "rank",
        )
        .column_as(
            Expr::cust(r#"COUNT(*) OVER (PARTITION BY "customer_id")"#),
            "total",
        )
        .into_query();
    let statement = Query::select()
        .column(Asterisk)
        .from_subquery(ranked, Alias::new("ranked"))
        .and_where(Expr::col(Alias::new("rank")).lte(PER_CUSTOMER))
        .order_by(Alias::new("customer_id"), Order::Asc)
        .order_by(Alias::new("rank"), Order::Asc)
        .to_owned();
    Ranked::find_by_statement(db.get_database_backend().build(&statement))
        .all(db)
        .await
}

pub async fn items_of(
    db: &impl ConnectionTrait,
    project_ids: &[Uuid],
) -> Result<Vec<rental_item::Model>, DbErr> {
    rental_item::Entity::find()
        .filter(rental_item::Column::ProjectId.is_in(project_ids.iter().copied()))
        .order_by_asc(rental_item::Column::ProjectId)
        .order_by_asc(rental_item::Column::Position)
        .all(db)
        .await
}

pub async fn items_by_ids(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<rental_item::Model>, DbErr> {
    rental_item::Entity::find()
        .filter(rental_item::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await
}

pub async fn insert_item(
    db: &impl ConnectionTrait,
    row: rental_item::Model,
) -> Result<rental_item::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

/// Writes `rows` in one statement; they are returned as written.
pub async fn insert_items(
    db: &impl ConnectionTrait,
    rows: Vec<rental_item::Model>,
) -> Result<Vec<rental_item::Model>, DbErr> {
    crate::db::insert_as_given(db, rows).await
}

pub async fn update_item(
    db: &impl ConnectionTrait,
    row: rental_item::Model,
) -> Result<rental_item::Model, DbErr> {
    row.into_active_model().reset_all().update(db).await
}

pub async fn delete_item(db: &impl ConnectionTrait, id: Uuid) -> Result<(), DbErr> {
    rental_item::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// Moves the project's items after `position` one place up (after the item there is deleted),
/// in one statement.
pub async fn close_gap(
    db: &impl ConnectionTrait,
    project_id: Uuid,
    position: i32,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    rental_item::Entity::update_many()
        .col_expr(
            rental_item::Column::Position,
            Expr::col(rental_item::Column::Position).sub(1),
        )
        .filter(rental_item::Column::ProjectId.eq(project_id))
        .filter(rental_item::Column::Position.gt(position))
        .exec(db)
        .await?;
    Ok(())
}

/// Items of `product_ids` whose units are in use (reserved or handed out) at some moment of
/// `[from, to)`, other than those of `except`. Items handed out count until they come back,
/// however late.
pub async fn holding(
    db: &impl ConnectionTrait,
    product_ids: &[Uuid],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    except: Option<Uuid>,
) -> Result<Vec<rental_item::Model>, DbErr> {
    let mut query = rental_item::Entity::find()
        .filter(rental_item::Column::ProductId.is_in(product_ids.iter().copied()))
        .filter(rental_item::Column::Status.is_in(ItemStatus::HOLDING.map(ItemStatus::as_str)))
        .filter(rental_item::Column::StartAt.lt(to))
        .filter(
            Condition::any()
                .add(rental_item::Column::EndAt.gt(from))
                .add(rental_item::Column::Status.eq(ItemStatus::Issued.as_str())),
        );
    if let Some(project) = except {
        query = query.filter(rental_item::Column::ProjectId.ne(project));
    }
    query.all(db).await
}

/// IDs of `NEW` projects (other than `except`) with items of `product_ids` over `[from, to)`:
/// the drafts whose shortage a reservation may have changed.
pub async fn drafts_touching(
    db: &impl ConnectionTrait,
    product_ids: &[Uuid],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    except: Uuid,
) -> Result<Vec<Uuid>, DbErr> {
    let mut ids: Vec<Uuid> = rental_item::Entity::find()
        .select_only()
        .column(rental_item::Column::ProjectId)
        .filter(rental_item::Column::ProductId.is_in(product_ids.iter().copied()))
        .filter(rental_item::Column::Status.eq(ItemStatus::Draft.as_str()))
        .filter(rental_item::Column::StartAt.lt(to))
        .filter(rental_item::Column::EndAt.gt(from))
        .filter(rental_item::Column::ProjectId.ne(except))
        .into_tuple()
        .all(db)
        .await?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Sets the status of every item of a project.
pub async fn set_items_status(
    db: &impl ConnectionTrait,
    project_id: Uuid,
    status: ItemStatus,
) -> Result<(), DbErr> {
    rental_item::Entity::update_many()
        .col_expr(
            rental_item::Column::Status,
            sea_orm::sea_query::Expr::value(status.as_str()),
        )
        .filter(rental_item::Column::ProjectId.eq(project_id))
        .exec(db)
        .await?;
    Ok(())
}

/// A change to record.
pub struct NewChange {
    pub item_id: Option<Uuid>,
    pub field: &'static str,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

pub async fn insert_changes(
    db: &impl ConnectionTrait,
    project_id: Uuid,
    side: Side,
    actor_id: Option<Uuid>,
    changes: Vec<NewChange>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if changes.is_empty() {
        return Ok(());
    }
    let rows = changes
        .into_iter()
        .map(|change| rental_change::ActiveModel {
            project_id: Set(project_id),
            item_id: Set(change.item_id),
            field: Set(change.field.to_owned()),
            old_value: Set(change.old_value),
            new_value: Set(change.new_value),
            side: Set(side.as_str().to_owned()),
            actor_id: Set(actor_id),
            created_at: Set(now),
            ..Default::default()
        });
    rental_change::Entity::insert_many(rows).exec(db).await?;
    Ok(())
}

pub async fn changes_of(
    db: &impl ConnectionTrait,
    project_ids: &[Uuid],
) -> Result<Vec<Change>, DbErr> {
    Ok(rental_change::Entity::find()
        .filter(rental_change::Column::ProjectId.is_in(project_ids.iter().copied()))
        .order_by_asc(rental_change::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(to_change)
        .collect())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortField {
    CreatedAt,
    Number,
    PeriodStart,
    CustomerName,
}

impl SortField {
    fn column(self) -> rental_project::Column {
        match self {
            Self::CreatedAt => rental_project::Column::CreatedAt,
            Self::Number => rental_project::Column::Number,
            Self::PeriodStart => rental_project::Column::PeriodStart,
            Self::CustomerName => rental_project::Column::CustomerName,
        }
    }

    /// Whether a cursor's value is of this sort's type (a forged one would compare text with
    /// a timestamp, which PostgreSQL refuses).
    pub fn accepts(self, value: &SortValue) -> bool {
        matches!(
            (self, value),
            (Self::CreatedAt | Self::PeriodStart, SortValue::Time(_))
                | (Self::Number | Self::CustomerName, SortValue::Text(_))
        )
    }

    fn key(self, row: &rental_project::Model) -> SortValue {
        match self {
            Self::CreatedAt => SortValue::Time(row.created_at),
            Self::Number => SortValue::Text(row.number.clone()),
            Self::PeriodStart => SortValue::Time(row.period_start),
            Self::CustomerName => SortValue::Text(row.customer_name.clone()),
        }
    }
}

/// Where a page of projects ends: the sort it was made for, the sort value and ID of its last
/// row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProjectCursor {
    pub sort: String,
    pub value: SortValue,
    pub id: Uuid,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum SortValue {
    Text(String),
    Time(DateTime<Utc>),
}

pub fn cursor(field: SortField, ascending: bool, row: &rental_project::Model) -> ProjectCursor {
    ProjectCursor {
        sort: sort_name(field, ascending),
        value: field.key(row),
        id: row.id,
    }
}

pub fn sort_name(field: SortField, ascending: bool) -> String {
    format!("rental:{field:?}:{ascending}")
}

#[derive(Clone, Debug, Default)]
pub struct ProjectFilter {
    pub statuses: Vec<ProjectStatus>,
    pub source: Option<ProjectSource>,
    pub customer_id: Option<Uuid>,
    /// Projects whose period overlaps `[from, to)`.
    pub period_from: Option<DateTime<Utc>>,
    pub period_to: Option<DateTime<Utc>>,
    /// Short of units (drafts others' reservations left short, or a shortage accepted).
    pub short: Option<bool>,
    /// Handed out and past their end at this moment.
    pub late_at: Option<DateTime<Utc>>,
    pub search: Option<String>,
}

fn filtered(filter: &ProjectFilter) -> sea_orm::Select<rental_project::Entity> {
    use rental_project::Column;
    let mut query = rental_project::Entity::find();
    if !filter.statuses.is_empty() {
        query = query.filter(Column::Status.is_in(filter.statuses.iter().map(|s| s.as_str())));
    }
    if let Some(source) = filter.source {
        query = query.filter(Column::Source.eq(source.as_str()));
    }
    if let Some(customer_id) = filter.customer_id {
        query = query.filter(Column::CustomerId.eq(customer_id));
    }
    if let Some(from) = filter.period_from {
        query = query.filter(Column::PeriodEnd.gt(from));
    }
    if let Some(to) = filter.period_to {
        query = query.filter(Column::PeriodStart.lt(to));
    }
    if let Some(short) = filter.short {
        query = query.filter(Column::Short.eq(short));
    }
    if let Some(now) = filter.late_at {
        query = query
            .filter(Column::Status.eq(ProjectStatus::Issued.as_str()))
            .filter(Column::PeriodEnd.lt(now));
    }
    if let Some(search) = filter.search.as_deref() {
        query = query.filter(
            Column::SearchText.like(crate::catalog::store::contains_pattern(
                &search.to_lowercase(),
            )),
        );
    }
    query
}

/// A page of projects in the given order after `after`, and the total matching `filter`.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &ProjectFilter,
    field: SortField,
    ascending: bool,
    after: Option<ProjectCursor>,
    limit: u64,
) -> Result<(Vec<rental_project::Model>, u64), DbErr> {
    let query = filtered(filter);
    let total = query.clone().count(db).await?;
    let column = field.column();
    let mut query = query;
    if let Some(cursor) = after {
        let value: sea_orm::Value = match cursor.value {
            SortValue::Text(text) => text.into(),
            SortValue::Time(time) => time.into(),
        };
        query = query.filter(crate::kernel::pagination::keyset_after(
            column,
            rental_project::Column::Id,
            ascending,
            value,
            cursor.id,
        ));
    }
    let query = if ascending {
        query
            .order_by_asc(column)
            .order_by_asc(rental_project::Column::Id)
    } else {
        query
            .order_by_desc(column)
            .order_by_desc(rental_project::Column::Id)
    };
    let rows = query.limit(limit + 1).all(db).await?;
    Ok((rows, total))
}
