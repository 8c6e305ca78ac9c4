//! Quote queries. Rows become domain types here.

use chrono::{DateTime, Utc};
use comptoir_entity::{quote, quote_attachment, quote_line, quote_settings};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{
    Attachment, Audience, Contact, LineKind, Negotiation, Quote, QuoteLine, QuoteSettings,
    QuoteStatus,
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

pub fn to_settings(row: &quote_settings::Model) -> QuoteSettings {
    let mut visible_to = Vec::new();
    if row.visible_public {
        visible_to.push(Audience::Public);
    }
    if row.visible_identified {
        visible_to.push(Audience::Identified);
    }
    if row.visible_account_client {
        visible_to.push(Audience::AccountClient);
    }
    QuoteSettings {
        enabled: row.enabled,
        visible_to,
        cart_button: row.cart_button,
        button_label: row.button_label.clone(),
        customer_notice: row.customer_notice.clone(),
        minimal_checkout: row.minimal_checkout,
        lock_payment_method: row.lock_payment_method,
        validity_days: row.validity_days,
        sales_manager_email: row.sales_manager_email.clone(),
        notify_sales_rep: row.notify_sales_rep,
        notify_on_request: row.notify_on_request,
        allow_out_of_stock: row.allow_out_of_stock,
        retention_days: row.retention_days,
        version: row.version,
    }
}

pub async fn settings_row(
    db: &impl ConnectionTrait,
    lock: bool,
) -> Result<quote_settings::Model, AppError> {
    let mut query = quote_settings::Entity::find_by_id(1);
    if lock {
        query = query.lock_exclusive();
    }
    query
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("quote settings row missing")))
}

pub async fn save_settings(
    db: &impl ConnectionTrait,
    row: quote_settings::Model,
) -> Result<quote_settings::Model, DbErr> {
    row.into_active_model().reset_all().update(db).await
}

pub fn to_quote(row: quote::Model) -> Result<Quote, AppError> {
    let status = QuoteStatus::parse(&row.status).ok_or_else(|| corrupt("status", &row.status))?;
    let negotiation = Negotiation::parse(&row.negotiation)
        .ok_or_else(|| corrupt("negotiation", &row.negotiation))?;
    Ok(Quote {
        id: row.id,
        number: row.number,
        root_id: row.root_id,
        revision: row.revision,
        superseded_by: row.superseded_by,
        customer_id: row.customer_id,
        requested_by: row.requested_by,
        contact: Contact {
            name: row.contact_name,
            email: row.contact_email,
            phone: row.contact_phone,
            company: row.contact_company,
        },
        status,
        negotiation,
        message: row.message,
        modifications: row.modifications,
        customer_comment: row.customer_comment,
        internal_comment: row.internal_comment,
        delivery_address: serde_json::from_value(row.delivery_address).ok(),
        shipping_method: row.shipping_method,
        payment_method: row.payment_method,
        adjustments: Adjustments {
            discount_percent: rate_from_bp(row.discount_bp),
            shipping: from_e4(row.shipping_e4),
            shipping_vat_rate: rate_from_bp(row.shipping_vat_bp),
        },
        total: from_e4(row.total_e4),
        sales_rep_id: row.sales_rep_id,
        valid_until: row.valid_until,
        sent_at: row.sent_at,
        order_id: row.order_id,
        transferred_to_invoice: row.transferred_to_invoice,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

pub fn to_line(row: quote_line::Model) -> QuoteLine {
    let unit_price = from_e4(row.unit_price_e4);
    let discount_percent = rate_from_bp(row.discount_bp);
    let discount_amount = from_e4(row.discount_amount_e4);
    let vat_rate = rate_from_bp(row.vat_bp);
    QuoteLine {
        id: row.id,
        quote_id: row.quote_id,
        position: row.position,
        kind: LineKind::parse(&row.kind).unwrap_or(LineKind::Comment),
        product_id: row.product_id,
        variant_id: row.variant_id,
        configuration: serde_json::from_value(row.configuration).unwrap_or_default(),
        reference: row.reference,
        name: row.name,
        comment: row.comment,
        quantity: row.quantity,
        unit_price,
        discount_percent,
        discount_amount,
        vat_rate,
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

pub async fn insert(db: &impl ConnectionTrait, row: quote::Model) -> Result<quote::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

pub async fn update(db: &impl ConnectionTrait, row: quote::Model) -> Result<quote::Model, DbErr> {
    row.into_active_model().reset_all().update(db).await
}

pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<quote::Model>, DbErr> {
    quote::Entity::find_by_id(id).one(db).await
}

pub async fn find_for_update(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<quote::Model>, DbErr> {
    quote::Entity::find_by_id(id).lock_exclusive().one(db).await
}

pub async fn find_by_idempotency_key(
    db: &impl ConnectionTrait,
    key: &str,
) -> Result<Option<quote::Model>, DbErr> {
    quote::Entity::find()
        .filter(quote::Column::IdempotencyKey.eq(key))
        .one(db)
        .await
}

/// Every revision of a quote, first to last, locked until the transaction ends (sending or
/// revising must not race a conversion of another revision).
pub async fn revisions_for_update(
    db: &impl ConnectionTrait,
    root_id: Uuid,
) -> Result<Vec<quote::Model>, DbErr> {
    quote::Entity::find()
        .filter(quote::Column::RootId.eq(root_id))
        .order_by_asc(quote::Column::Revision)
        .lock_exclusive()
        .all(db)
        .await
}

/// Every revision of a quote, first to last.
pub async fn revisions(
    db: &impl ConnectionTrait,
    root_ids: &[Uuid],
) -> Result<Vec<quote::Model>, DbErr> {
    quote::Entity::find()
        .filter(quote::Column::RootId.is_in(root_ids.iter().copied()))
        .order_by_asc(quote::Column::RootId)
        .order_by_asc(quote::Column::Revision)
        .all(db)
        .await
}

pub async fn lines_of(
    db: &impl ConnectionTrait,
    quote_ids: &[Uuid],
) -> Result<Vec<quote_line::Model>, DbErr> {
    quote_line::Entity::find()
        .filter(quote_line::Column::QuoteId.is_in(quote_ids.iter().copied()))
        .order_by_asc(quote_line::Column::QuoteId)
        .order_by_asc(quote_line::Column::Position)
        .all(db)
        .await
}

pub async fn insert_line(
    db: &impl ConnectionTrait,
    row: quote_line::Model,
) -> Result<quote_line::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

/// Writes `rows` in one statement; they are returned as written.
pub async fn insert_lines(
    db: &impl ConnectionTrait,
    rows: Vec<quote_line::Model>,
) -> Result<Vec<quote_line::Model>, DbErr> {
    crate::db::insert_as_given(db, rows).await
}

pub async fn update_line(
    db: &impl ConnectionTrait,
    row: quote_line::Model,
) -> Result<quote_line::Model, DbErr> {
    row.into_active_model().reset_all().update(db).await
}

pub async fn delete_line(db: &impl ConnectionTrait, id: Uuid) -> Result<(), DbErr> {
    quote_line::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// Writes `rows` in one statement.
pub async fn insert_attachments(
    db: &impl ConnectionTrait,
    rows: Vec<quote_attachment::Model>,
) -> Result<(), DbErr> {
    crate::db::insert_as_given(db, rows).await?;
    Ok(())
}

/// Attachments without their content (lists).
pub async fn attachments_of(
    db: &impl ConnectionTrait,
    quote_ids: &[Uuid],
) -> Result<Vec<Attachment>, DbErr> {
    use sea_orm::FromQueryResult;
    #[derive(FromQueryResult)]
    struct Row {
        id: Uuid,
        quote_id: Uuid,
        filename: String,
        content_type: String,
        size: i64,
    }
    Ok(quote_attachment::Entity::find()
        .select_only()
        .columns([
            quote_attachment::Column::Id,
            quote_attachment::Column::QuoteId,
            quote_attachment::Column::Filename,
            quote_attachment::Column::ContentType,
            quote_attachment::Column::Size,
        ])
        .filter(quote_attachment::Column::QuoteId.is_in(quote_ids.iter().copied()))
        .order_by_asc(quote_attachment::Column::CreatedAt)
        .into_model::<Row>()
        .all(db)
        .await?
        .into_iter()
        .map(|r| Attachment {
            id: r.id,
            quote_id: r.quote_id,
            filename: r.filename,
            content_type: r.content_type,
            size: r.size,
        })
        .collect())
}

/// Unclaimed quotes requested with `email` (a public requester's), for its verified owner.
pub async fn unclaimed_with_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> Result<Vec<quote::Model>, DbErr> {
    quote::Entity::find()
        .filter(quote::Column::CustomerId.is_null())
        .filter(quote::Column::ContactEmail.eq(email))
        .lock_exclusive()
        .all(db)
        .await
}

/// Sent quotes past their validity, not superseded, at most `limit`.
pub async fn due_to_expire(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<quote::Model>, DbErr> {
    quote::Entity::find()
        .filter(quote::Column::Status.eq(QuoteStatus::Sent.as_str()))
        .filter(quote::Column::SupersededBy.is_null())
        .filter(quote::Column::ValidUntil.lt(now))
        .limit(limit)
        .all(db)
        .await
}

/// Requests never sent (requested or in preparation, first revision), created before `before`.
pub async fn stale_requests(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<quote::Model>, DbErr> {
    quote::Entity::find()
        .filter(quote::Column::Status.is_in([
            QuoteStatus::Requested.as_str(),
            QuoteStatus::InPreparation.as_str(),
        ]))
        .filter(quote::Column::Revision.eq(1))
        .filter(quote::Column::CreatedAt.lt(before))
        .limit(limit)
        .all(db)
        .await
}

pub async fn delete(db: &impl ConnectionTrait, id: Uuid) -> Result<(), DbErr> {
    quote::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortField {
    CreatedAt,
    Number,
    Total,
}

#[derive(Clone, Debug, Default)]
pub struct QuoteFilter {
    pub customer_id: Option<Uuid>,
    pub statuses: Vec<QuoteStatus>,
    pub negotiations: Vec<Negotiation>,
    pub transferred_to_order: Option<bool>,
    pub transferred_to_invoice: Option<bool>,
    pub sales_rep_id: Option<Uuid>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub search: Option<String>,
    /// Customers' lists: their current revisions only, never deleted ones.
    pub for_customer: bool,
}

/// Where a page ends.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QuoteCursor {
    pub sort: String,
    pub text: Option<String>,
    pub int: Option<i64>,
    pub time: Option<DateTime<Utc>>,
    pub id: Uuid,
}

fn value_of(field: SortField, row: &quote::Model) -> QuoteCursor {
    let mut cursor = QuoteCursor {
        sort: String::new(),
        text: None,
        int: None,
        time: None,
        id: row.id,
    };
    match field {
        SortField::CreatedAt => cursor.time = Some(row.created_at),
        SortField::Number => cursor.text = Some(row.number.clone()),
        SortField::Total => cursor.int = Some(row.total_e4),
    }
    cursor
}

pub fn cursor(field: SortField, ascending: bool, row: &quote::Model) -> QuoteCursor {
    let mut cursor = value_of(field, row);
    cursor.sort = sort_name(field, ascending);
    cursor
}

pub fn sort_name(field: SortField, ascending: bool) -> String {
    format!("{field:?}:{ascending}")
}

fn filtered(filter: &QuoteFilter) -> sea_orm::Select<quote::Entity> {
    let mut query = quote::Entity::find();
    if let Some(customer) = filter.customer_id {
        query = query.filter(quote::Column::CustomerId.eq(customer));
    }
    if !filter.statuses.is_empty() {
        query =
            query.filter(quote::Column::Status.is_in(filter.statuses.iter().map(|s| s.as_str())));
    }
    if !filter.negotiations.is_empty() {
        query = query.filter(
            quote::Column::Negotiation.is_in(filter.negotiations.iter().map(|s| s.as_str())),
        );
    }
    match filter.transferred_to_order {
        Some(true) => query = query.filter(quote::Column::OrderId.is_not_null()),
        Some(false) => query = query.filter(quote::Column::OrderId.is_null()),
        None => {}
    }
    if let Some(invoiced) = filter.transferred_to_invoice {
        query = query.filter(quote::Column::TransferredToInvoice.eq(invoiced));
    }
    if let Some(rep) = filter.sales_rep_id {
        query = query.filter(quote::Column::SalesRepId.eq(rep));
    }
    if let Some(from) = filter.created_from {
        query = query.filter(quote::Column::CreatedAt.gte(from));
    }
    if let Some(to) = filter.created_to {
        query = query.filter(quote::Column::CreatedAt.lt(to));
    }
    if let Some(search) = filter.search.as_deref() {
        query = query.filter(quote::Column::SearchText.like(
            crate::catalog::store::contains_pattern(&search.to_lowercase()),
        ));
    }
    if filter.for_customer {
        // The current revision: not superseded, and not a revision still being prepared (the
        // customer keeps seeing the one they were sent until the new one is sent).
        query = query
            .filter(quote::Column::SupersededBy.is_null())
            .filter(quote::Column::Status.ne(QuoteStatus::Deleted.as_str()))
            .filter(
                Condition::any()
                    .add(quote::Column::Revision.eq(1))
                    .add(quote::Column::Status.ne(QuoteStatus::InPreparation.as_str())),
            );
    }
    query
}

pub async fn list(
    db: &impl ConnectionTrait,
    filter: &QuoteFilter,
    field: SortField,
    ascending: bool,
    after: Option<QuoteCursor>,
    limit: u64,
) -> Result<(Vec<quote::Model>, u64), DbErr> {
    let query = filtered(filter);
    let total = query.clone().count(db).await?;
    let column = match field {
        SortField::CreatedAt => quote::Column::CreatedAt,
        SortField::Number => quote::Column::Number,
        SortField::Total => quote::Column::TotalE4,
    };
    let mut query = query;
    if let Some(cursor) = after {
        let value: sea_orm::Value = match field {
            SortField::CreatedAt => cursor.time.into(),
            SortField::Number => cursor.text.into(),
            SortField::Total => cursor.int.into(),
        };
        query = query.filter(crate::kernel::pagination::keyset_after(
            column,
            quote::Column::Id,
            ascending,
            value,
            cursor.id,
        ));
    }
    let query = if ascending {
        query.order_by_asc(column).order_by_asc(quote::Column::Id)
    } else {
        query.order_by_desc(column).order_by_desc(quote::Column::Id)
    };
    let rows = query.limit(limit + 1).all(db).await?;
    Ok((rows, total))
}

/// One attachment with its content.
pub async fn attachment(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<quote_attachment::Model>, DbErr> {
    quote_attachment::Entity::find_by_id(id).one(db).await
}

/// The quotes converted into order `order_id`, locked until the transaction ends.
pub async fn of_order_for_update(
    db: &impl ConnectionTrait,
    order_id: Uuid,
) -> Result<Vec<quote::Model>, DbErr> {
    quote::Entity::find()
        .filter(quote::Column::OrderId.eq(order_id))
        .lock_exclusive()
        .all(db)
        .await
}
