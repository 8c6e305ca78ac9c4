//! Orders made from other orders (a reprint with the same visuals, a duplicate, a new order for
//! the same customer, a free reprint after a quality claim), and what the documents and
//! production contexts need from an order: one of its lines, and a line on its timeline.
//!
//! A copy is a new `DRAFT` (the seller proposes or confirms it as usual), linked back to its
//! source (`order_copy`); both timelines show the copy. Its stock is taken like any new line's.

use chrono::{DateTime, Utc};
use comptoir_entity::{order_copy, order_line, sales_order};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    checkout::{ORDER_SERIES, take},
    model::{Order, OrderLine, OrderSource, OrderStatus},
    service::{find_for, keep_derived, order_event},
    store,
};
use crate::{
    auth::Principal,
    db::WriteTx,
    error::AppError,
    kernel::{numbering, string_enum},
};

string_enum!(CopyKind {
    Reprint => "REPRINT",
    ClaimReprint => "CLAIM_REPRINT",
    NewForCustomer => "NEW_FOR_CUSTOMER",
    Duplicate => "DUPLICATE",
});

/// A line of an order the caller may see, with its product kind (`CUSTOM`…).
pub struct LineRef {
    pub order: Order,
    pub line: OrderLine,
    pub product_kind: String,
}

/// Order line `line_id` if the caller may see its order; `NOT_FOUND` on `field` otherwise.
pub async fn line_for(
    db: &impl sea_orm::ConnectionTrait,
    principal: &Principal,
    line_id: Uuid,
    field: &str,
) -> Result<LineRef, AppError> {
    let not_found = || AppError::not_found("order line", field);
    let row = order_line::Entity::find_by_id(line_id)
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    let order = find_for(db, principal, row.order_id)
        .await
        .map_err(|_| not_found())?;
    let product_kind = row.kind.clone();
    Ok(LineRef {
        order,
        line: store::to_line(row),
        product_kind,
    })
}

/// Records an event on order `order_id`'s timeline, in the caller's transaction (`internal`:
/// staff only).
pub async fn record_event(
    tx: &mut WriteTx,
    order_id: Uuid,
    kind: &'static str,
    details: Value,
    internal: bool,
    actor: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let row = store::find(&**tx, order_id)
        .await?
        .ok_or_else(|| AppError::not_found("order", "orderId"))?;
    let mut event = order_event(&row, kind, actor, details, now);
    event.internal = event.internal || internal;
    tx.record(event);
    Ok(())
}

/// What to copy.
pub struct CopyRequest {
    pub source_id: Uuid,
    pub kind: CopyKind,
    /// Only this line (a claim's); every line when `None`.
    pub only_line: Option<Uuid>,
    pub claim_id: Option<Uuid>,
}

/// The copy made: the new order and, for each copied line, (source line, new line).
pub struct Copied {
    pub order: Order,
    pub lines: Vec<(Uuid, Uuid)>,
}

/// Staff: a new draft order from `request.source_id`, in the caller's transaction.
/// `NEW_FOR_CUSTOMER` takes the customer data only; `DUPLICATE` and `REPRINT` the lines too, at
/// their prices; `CLAIM_REPRINT` the claimed line at zero price and without shipping.
pub async fn copy(
    tx: &mut WriteTx,
    principal: &Principal,
    request: CopyRequest,
    now: DateTime<Utc>,
) -> Result<Copied, AppError> {
    let staff = principal.require_staff()?;
    let source = find_for(&**tx, principal, request.source_id)
        .await
        .map_err(|e| e.not_found_as("order", "orderId"))?;
    let source_row = store::find(&**tx, source.id)
        .await?
        .ok_or_else(|| AppError::not_found("order", "orderId"))?;
    let number = numbering::next(&**tx, ORDER_SERIES).await?;
    let free = request.kind == CopyKind::ClaimReprint;
    let empty = request.kind == CopyKind::NewForCustomer;
    let row = sales_order::Model {
        id: Uuid::now_v7(),
        number,
        status: OrderStatus::Draft.as_str().to_owned(),
        status_before_hold: None,
        hold_reason: None,
        source: OrderSource::Backoffice.as_str().to_owned(),
        customer_reference: String::new(),
        note: String::new(),
        shipping_e4: if free || empty {
            0
        } else {
            source_row.shipping_e4
        },
        discount_bp: if free || empty {
            0
        } else {
            source_row.discount_bp
        },
        total_e4: 0,
        paid_e4: 0,
        delivery_date: None,
        idempotency_key: None,
        customer_seen_change: 0,
        seller_seen_change: 0,
        version: 1,
        created_by: Some(staff.id),
        created_at: now,
        updated_at: now,
        confirmed_at: None,
        shown_to_customer: false,
        ..source_row.clone()
    };
    let mut row = store::insert_order(&**tx, row).await?;
    let source_lines = if empty {
        Vec::new()
    } else {
        store::lines_of(&**tx, &[source.id]).await?
    };
    let wanted: Vec<order_line::Model> = source_lines
        .into_iter()
        .filter(|l| request.only_line.is_none_or(|only| only == l.id))
        .filter(|l| l.rental_start.is_none())
        .collect();
    let (pairs, lines) = copy_lines(tx, row.id, wanted, free, now).await?;
    if request.only_line.is_some() && pairs.is_empty() {
        // The line is named by what the caller passed: a claim (the one caller of `only_line`).
        let field = if request.claim_id.is_some() {
            "claimId"
        } else {
            "lineId"
        };
        return Err(AppError::not_found("order line", field));
    }
    keep_derived(&mut row, &lines)?;
    let row = store::update_order(&**tx, row).await?;
    link(tx, &row, source.id, &request, staff.id, now).await?;
    let created = json!({
        "number": row.number,
        "source": row.source,
        "copyOf": source.number,
        "copyKind": request.kind.as_str(),
    });
    tx.record(order_event(
        &row,
        "ORDER_CREATED",
        Some(staff.id),
        created,
        now,
    ));
    // The copy is a draft the customer does not see yet: on the source, staff only.
    let copied = json!({ "copy": row.number, "copyKind": request.kind.as_str() });
    record_event(
        tx,
        source.id,
        "ORDER_COPIED",
        copied,
        true,
        Some(staff.id),
        now,
    )
    .await?;
    Ok(Copied {
        order: store::to_order(row)?,
        lines: pairs,
    })
}

/// Inserts copies of `wanted` into order `order_id` (stock taken), at zero price when `free`.
async fn copy_lines(
    tx: &WriteTx,
    order_id: Uuid,
    wanted: Vec<order_line::Model>,
    free: bool,
    now: DateTime<Utc>,
) -> Result<(Vec<(Uuid, Uuid)>, Vec<OrderLine>), AppError> {
    let by_stock = super::model::stock_order(&wanted, |l| (l.product_id, l.variant_id));
    let mut reserved = vec![0; wanted.len()];
    for index in by_stock {
        let line = &wanted[index];
        reserved[index] = take(
            tx,
            line.product_id,
            line.variant_id,
            line.quantity,
            &format!("lines.{index}"),
            &line.name,
        )
        .await?;
    }
    let mut pairs = Vec::new();
    let mut lines = Vec::new();
    for (index, (line, reserved)) in wanted.into_iter().zip(reserved).enumerate() {
        let copied = store::insert_line(
            &**tx,
            order_line::Model {
                id: Uuid::now_v7(),
                order_id,
                position: i32::try_from(index).unwrap_or(i32::MAX),
                unit_price_e4: if free { 0 } else { line.unit_price_e4 },
                discount_bp: if free { 0 } else { line.discount_bp },
                discount_amount_e4: if free { 0 } else { line.discount_amount_e4 },
                delivery_date: None,
                on_hold: false,
                reserved_stock: reserved,
                created_at: now,
                ..line.clone()
            },
        )
        .await?;
        pairs.push((line.id, copied.id));
        lines.push(store::to_line(copied));
    }
    Ok((pairs, lines))
}

/// The link from the copy back to its source.
async fn link(
    tx: &WriteTx,
    row: &sales_order::Model,
    source_id: Uuid,
    request: &CopyRequest,
    actor: Uuid,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    order_copy::ActiveModel {
        order_id: Set(row.id),
        source_order_id: Set(source_id),
        kind: Set(request.kind.as_str().to_owned()),
        claim_id: Set(request.claim_id),
        created_by: Set(Some(actor)),
        created_at: Set(now),
    }
    .insert(&**tx)
    .await?;
    Ok(())
}

/// A link between a copy and its source.
#[derive(Clone, Debug)]
pub struct CopyLink {
    pub order_id: Uuid,
    pub source_order_id: Uuid,
    pub kind: CopyKind,
    pub claim_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

fn to_link(row: &order_copy::Model) -> CopyLink {
    CopyLink {
        order_id: row.order_id,
        source_order_id: row.source_order_id,
        kind: CopyKind::parse(&row.kind).unwrap_or(CopyKind::Duplicate),
        claim_id: row.claim_id,
        at: row.created_at,
    }
}

/// Where orders came from (loaders; the caller could already see the orders).
pub async fn sources_of(
    db: &impl sea_orm::ConnectionTrait,
    order_ids: &[Uuid],
) -> Result<Vec<CopyLink>, AppError> {
    Ok(order_copy::Entity::find()
        .filter(order_copy::Column::OrderId.is_in(order_ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|row| to_link(&row))
        .collect())
}

/// The copies made of orders (loaders), oldest first.
pub async fn copies_of(
    db: &impl sea_orm::ConnectionTrait,
    order_ids: &[Uuid],
) -> Result<Vec<CopyLink>, AppError> {
    Ok(order_copy::Entity::find()
        .filter(order_copy::Column::SourceOrderId.is_in(order_ids.iter().copied()))
        .order_by_asc(order_copy::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|row| to_link(&row))
        .collect())
}

/// Orders by ID, only those the caller may see (loaders).
pub async fn visible(
    db: &impl sea_orm::ConnectionTrait,
    principal: &Principal,
    ids: &[Uuid],
) -> Result<Vec<Order>, AppError> {
    store::by_ids(db, ids)
        .await?
        .into_iter()
        .filter(|row| super::service::may_see(principal, row))
        .map(store::to_order)
        .collect()
}
