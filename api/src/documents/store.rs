//! Invoice queries. Rows become domain types here.

use comptoir_entity::invoice;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::model::{DocumentKind, DocumentModel};
use crate::{error::AppError, kernel::money::from_e4};

/// An issued invoice or credit note.
#[derive(Clone, Debug)]
pub struct Invoice {
    pub id: Uuid,
    pub number: String,
    pub kind: DocumentKind,
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub credited_invoice_id: Option<Uuid>,
    /// An invoice not (yet) cancelled by a credit note.
    pub standing: bool,
    pub total: rust_decimal::Decimal,
    pub document: DocumentModel,
    pub reason: String,
    pub issued_by: Option<Uuid>,
    pub issued_at: chrono::DateTime<chrono::Utc>,
}

pub fn to_invoice(row: invoice::Model) -> Result<Invoice, AppError> {
    let kind = DocumentKind::parse(&row.kind)
        .filter(|k| matches!(k, DocumentKind::Invoice | DocumentKind::CreditNote))
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("stored invoice kind {}", row.kind)))?;
    let document: DocumentModel =
        serde_json::from_value(row.document).map_err(AppError::internal)?;
    Ok(Invoice {
        id: row.id,
        number: row.number,
        kind,
        order_id: row.order_id,
        customer_id: row.customer_id,
        credited_invoice_id: row.credited_invoice_id,
        standing: row.standing_order_id.is_some(),
        total: from_e4(row.total_e4),
        document,
        reason: row.reason,
        issued_by: row.issued_by,
        issued_at: row.issued_at,
    })
}

pub async fn insert(
    db: &impl ConnectionTrait,
    row: invoice::Model,
) -> Result<invoice::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<invoice::Model>, DbErr> {
    invoice::Entity::find_by_id(id).one(db).await
}

pub async fn find_for_update(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<invoice::Model>, DbErr> {
    invoice::Entity::find_by_id(id)
        .lock_exclusive()
        .one(db)
        .await
}

/// Whether order `order_id` has a standing invoice (the unique key's column).
pub async fn has_standing(db: &impl ConnectionTrait, order_id: Uuid) -> Result<bool, DbErr> {
    Ok(invoice::Entity::find()
        .filter(invoice::Column::StandingOrderId.eq(order_id))
        .count(db)
        .await?
        > 0)
}

/// The credit note cancels the invoice: the one change an issued invoice ever sees.
pub async fn mark_credited(db: &impl ConnectionTrait, row: invoice::Model) -> Result<(), DbErr> {
    let mut active = row.into_active_model();
    active.standing_order_id = sea_orm::Set(None);
    active.update(db).await?;
    Ok(())
}

/// Invoices and credit notes of orders, oldest first (loaders).
pub async fn of_orders(
    db: &impl ConnectionTrait,
    order_ids: &[Uuid],
) -> Result<Vec<invoice::Model>, DbErr> {
    invoice::Entity::find()
        .filter(invoice::Column::OrderId.is_in(order_ids.iter().copied()))
        .order_by_asc(invoice::Column::IssuedAt)
        .order_by_asc(invoice::Column::Number)
        .all(db)
        .await
}

/// A page of invoices, newest first (IDs are time-ordered), after `after`.
pub async fn list(
    db: &impl ConnectionTrait,
    customer_id: Option<Uuid>,
    order_id: Option<Uuid>,
    after: Option<Uuid>,
    limit: u64,
) -> Result<(Vec<invoice::Model>, u64), DbErr> {
    let mut query = invoice::Entity::find();
    if let Some(customer_id) = customer_id {
        query = query.filter(invoice::Column::CustomerId.eq(customer_id));
    }
    if let Some(order_id) = order_id {
        query = query.filter(invoice::Column::OrderId.eq(order_id));
    }
    let total = query.clone().count(db).await?;
    if let Some(after) = after {
        query = query.filter(invoice::Column::Id.lt(after));
    }
    let rows = query
        .order_by_desc(invoice::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    Ok((rows, total))
}
