//! The shared order: the seller adjusts lines and terms and proposes; the customer accepts or
//! replies; both see what the other changed. Every use case takes the version it was based on.

use async_graphql::MaybeUndefined;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    checkout::take,
    model::{Order, OrderStatus, Side, parse_delivery_date, parse_discount},
    service::{Edit, PostalAddressInput, email_contact, money_text, template_data},
    store,
};
use crate::{
    auth::Principal,
    carts::model::parse_quantity,
    catalog,
    customers::model::parse_text,
    error::AppError,
    kernel::money::{from_e4, rate_from_bp, to_e4},
    state::AppState,
};

fn line_not_found() -> AppError {
    AppError::not_found("order line", "lineId")
}

/// Changes of one line, as a manager types them.
#[derive(Clone, Debug, Default)]
pub struct LineChanges {
    pub quantity: Option<i32>,
    pub unit_price: Option<Decimal>,
    pub discount_percent: Option<Decimal>,
    pub delivery_date: MaybeUndefined<NaiveDate>,
}

/// Staff: adjusts a line (a stock-out, a negotiated price, a confirmed delivery date). Each
/// field that changes is recorded; the customer sees it.
pub async fn update_line(
    state: &AppState,
    principal: &Principal,
    order_id: Uuid,
    version: i32,
    line_id: Uuid,
    changes: LineChanges,
) -> Result<Order, AppError> {
    principal.require_staff()?;
    let quantity = changes
        .quantity
        .map(|q| parse_quantity(q, "quantity", false))
        .transpose()?;
    let discount = changes
        .discount_percent
        .map(|d| parse_discount(d, "discountPercent"))
        .transpose()?;
    if let Some(price) = changes.unit_price {
        to_e4(price, "unitPrice")?;
        if price < Decimal::ZERO {
            return Err(AppError::validation("unitPrice", "must not be negative"));
        }
    }
    let mut edit = Edit::open(state, principal, order_id, Some(version)).await?;
    let delivery_date = match changes.delivery_date {
        MaybeUndefined::Value(date) => {
            Some(Some(parse_delivery_date(date, edit.now, "deliveryDate")?))
        }
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Undefined => None,
    };
    edit.seller_edits().await?;
    let index = edit
        .lines
        .iter()
        .position(|l| l.id == line_id)
        .ok_or_else(line_not_found)?;
    let mut line = edit.lines[index].clone();
    if let Some(quantity) = quantity {
        set_quantity(&mut edit, &mut line, quantity, "quantity").await?;
    }
    if let Some(price) = changes.unit_price {
        let new = to_e4(price, "unitPrice")?;
        edit.line_change(
            line.id,
            "unitPrice",
            Some(money_text(from_e4(line.unit_price_e4))),
            Some(money_text(from_e4(new))),
        );
        line.unit_price_e4 = new;
    }
    if let Some(discount) = discount {
        let new = super::service::bp(discount, "discountPercent")?;
        edit.line_change(
            line.id,
            "discountPercent",
            Some(money_text(rate_from_bp(line.discount_bp))),
            Some(money_text(rate_from_bp(new))),
        );
        line.discount_bp = new;
    }
    if let Some(date) = delivery_date {
        edit.line_change(
            line.id,
            "deliveryDate",
            line.delivery_date.map(|d| d.to_string()),
            date.map(|d| d.to_string()),
        );
        line.delivery_date = date;
    }
    let line = store::update_line(&*edit.tx, line).await?;
    edit.lines[index] = line;
    edit.finish("ORDER_UPDATED", true).await
}

/// Sets a line's quantity, taking or returning stock for the difference.
async fn set_quantity(
    edit: &mut Edit,
    line: &mut comptoir_entity::order_line::Model,
    quantity: i32,
    field: &str,
) -> Result<(), AppError> {
    let delta = quantity - line.quantity;
    if delta > 0 {
        let taken = take(
            &edit.tx,
            line.product_id,
            line.variant_id,
            delta,
            field,
            &line.name,
        )
        .await?;
        line.reserved_stock += taken;
    } else if delta < 0 {
        // Keep what the smaller quantity can still use; return only the rest.
        let back = line.reserved_stock - line.reserved_stock.min(quantity);
        catalog::service::return_stock(&*edit.tx, line.product_id, line.variant_id, back).await?;
        line.reserved_stock -= back;
    }
    edit.line_change(
        line.id,
        "quantity",
        Some(line.quantity.to_string()),
        Some(quantity.to_string()),
    );
    line.quantity = quantity;
    Ok(())
}

/// Staff: removes a line (its stock goes back).
pub async fn remove_line(
    state: &AppState,
    principal: &Principal,
    order_id: Uuid,
    version: i32,
    line_id: Uuid,
) -> Result<Order, AppError> {
    principal.require_staff()?;
    let mut edit = Edit::open(state, principal, order_id, Some(version)).await?;
    edit.seller_edits().await?;
    let index = edit
        .lines
        .iter()
        .position(|l| l.id == line_id)
        .ok_or_else(line_not_found)?;
    let line = edit.lines.remove(index);
    catalog::service::return_stock(
        &*edit.tx,
        line.product_id,
        line.variant_id,
        line.reserved_stock,
    )
    .await?;
    store::delete_line(&*edit.tx, line.id).await?;
    edit.line_change(
        line.id,
        "line",
        Some(format!("{} × {}", line.quantity, line.name)),
        None,
    );
    edit.finish("ORDER_UPDATED", true).await
}

/// The order's terms a manager may change.
#[derive(Clone, Debug, Default)]
pub struct OrderChanges {
    pub title: Option<String>,
    pub customer_reference: Option<String>,
    pub note: Option<String>,
    pub delivery_address: Option<PostalAddressInput>,
    pub delivery_method: Option<String>,
    pub payment_method: Option<String>,
    pub shipping: Option<Decimal>,
    pub shipping_vat_rate: Option<Decimal>,
    pub discount_percent: Option<Decimal>,
}

/// Staff: changes the order's terms (title, references, delivery, shipping, footer discount).
pub async fn update_order(
    state: &AppState,
    principal: &Principal,
    order_id: Uuid,
    version: i32,
    changes: OrderChanges,
) -> Result<Order, AppError> {
    principal.require_staff()?;
    let text = |value: &Option<String>, field: &str, max: usize| {
        value
            .as_deref()
            .map(|v| parse_text(v, field, max, false))
            .transpose()
    };
    let title = text(&changes.title, "title", 200)?;
    let reference = text(&changes.customer_reference, "customerReference", 100)?;
    let note = text(&changes.note, "note", 5_000)?;
    let delivery_method = text(&changes.delivery_method, "deliveryMethod", 100)?;
    let payment_method = text(&changes.payment_method, "paymentMethod", 100)?;
    let address = changes
        .delivery_address
        .map(|a| a.parse("deliveryAddress"))
        .transpose()?;
    let shipping = changes
        .shipping
        .map(|s| {
            if s < Decimal::ZERO {
                Err(AppError::validation("shipping", "must not be negative"))
            } else {
                to_e4(s, "shipping")
            }
        })
        .transpose()?;
    let shipping_vat = changes
        .shipping_vat_rate
        .map(|r| super::service::bp(r, "shippingVatRate"))
        .transpose()?;
    let discount = changes
        .discount_percent
        .map(|d| parse_discount(d, "discountPercent"))
        .transpose()?
        .map(|d| super::service::bp(d, "discountPercent"))
        .transpose()?;
    let mut edit = Edit::open(state, principal, order_id, Some(version)).await?;
    edit.seller_edits().await?;
    macro_rules! set_text {
        ($value:expr, $column:ident, $field:literal) => {
            if let Some(value) = $value {
                let old = std::mem::replace(&mut edit.row.$column, value.clone());
                edit.change($field, Some(old), Some(value));
            }
        };
    }
    set_text!(title, title, "title");
    set_text!(reference, customer_reference, "customerReference");
    set_text!(note, note, "note");
    set_text!(delivery_method, delivery_method, "deliveryMethod");
    set_text!(payment_method, payment_method, "paymentMethod");
    if let Some(address) = address {
        let new = serde_json::to_value(&address).unwrap_or_default();
        let old = std::mem::replace(&mut edit.row.delivery_address, new.clone());
        edit.change(
            "deliveryAddress",
            Some(old.to_string()),
            Some(new.to_string()),
        );
    }
    if let Some(shipping) = shipping {
        let old = std::mem::replace(&mut edit.row.shipping_e4, shipping);
        edit.change(
            "shipping",
            Some(money_text(from_e4(old))),
            Some(money_text(from_e4(shipping))),
        );
    }
    if let Some(rate) = shipping_vat {
        let old = std::mem::replace(&mut edit.row.shipping_vat_bp, rate);
        edit.change(
            "shippingVatRate",
            Some(money_text(rate_from_bp(old))),
            Some(money_text(rate_from_bp(rate))),
        );
    }
    if let Some(discount) = discount {
        let old = std::mem::replace(&mut edit.row.discount_bp, discount);
        edit.change(
            "discountPercent",
            Some(money_text(rate_from_bp(old))),
            Some(money_text(rate_from_bp(discount))),
        );
    }
    edit.finish("ORDER_UPDATED", true).await
}

/// Staff: sends the order to the customer for acceptance (`PROPOSED`), with an optional
/// message; the customer is emailed. Proposing a draft shows it to the customer for the first
/// time: what the seller changed while composing it is not news to them.
pub async fn propose(
    state: &AppState,
    principal: &Principal,
    order_id: Uuid,
    version: i32,
    message: Option<String>,
) -> Result<Order, AppError> {
    principal.require_staff()?;
    let message = message
        .as_deref()
        .map(|m| parse_text(m, "message", 5_000, false))
        .transpose()?
        .filter(|m| !m.is_empty());
    let mut edit = Edit::open(state, principal, order_id, Some(version)).await?;
    if edit.lines.is_empty() {
        return Err(AppError::validation("id", "the order has no lines"));
    }
    let was_draft = edit.status() == OrderStatus::Draft;
    // Proposing again reopens the terms: not while an invoice prints them.
    edit.refuse_if_invoiced(OrderStatus::Proposed.as_str())
        .await?;
    edit.set_status(OrderStatus::Proposed)?;
    if let Some(message) = &message {
        edit.change("message", None, Some(message.clone()));
    }
    if was_draft || !edit.row.shown_to_customer {
        show(&mut edit, order_id).await?;
    }
    let mut data = template_data(&edit.tx, &edit.row).await?;
    if let Value::Object(map) = &mut data {
        map.insert("message".to_owned(), json!(message.unwrap_or_default()));
    }
    let row = edit.row.clone();
    email_contact(&mut edit.tx, &row, "order_proposed", data, edit.now).await?;
    let order = edit.finish("ORDER_PROPOSED", true).await?;
    Ok(order)
}

/// Staff: confirms a submitted order (or a draft) as it is.
pub async fn confirm(
    state: &AppState,
    principal: &Principal,
    order_id: Uuid,
    version: i32,
) -> Result<Order, AppError> {
    principal.require_staff()?;
    let mut edit = Edit::open(state, principal, order_id, Some(version)).await?;
    if edit.status() == OrderStatus::Proposed {
        // The customer holds the order: only they accept it.
        return Err(super::model::invalid_transition(
            OrderStatus::Proposed,
            OrderStatus::Confirmed.as_str(),
        ));
    }
    edit.set_status(OrderStatus::Confirmed)?;
    if !edit.row.shown_to_customer {
        show(&mut edit, order_id).await?;
    }
    confirmed(edit).await
}

/// The customer sees the order from now on; what the seller did while composing it is not news
/// to them.
async fn show(edit: &mut Edit, order_id: Uuid) -> Result<(), AppError> {
    edit.row.shown_to_customer = true;
    edit.row.customer_seen_change = store::last_change(&*edit.tx, order_id).await?;
    Ok(())
}

/// The customer accepts the proposed order: it is `CONFIRMED`, and every change so far counts
/// as seen.
pub async fn accept(
    state: &AppState,
    principal: &Principal,
    order_id: Uuid,
    version: i32,
) -> Result<Order, AppError> {
    principal.require_user()?;
    if principal.is_staff() {
        return Err(AppError::Forbidden);
    }
    let mut edit = Edit::open(state, principal, order_id, Some(version)).await?;
    let status = edit.status();
    if status != OrderStatus::Proposed {
        return Err(super::model::invalid_transition(
            status,
            OrderStatus::Confirmed.as_str(),
        ));
    }
    edit.set_status(OrderStatus::Confirmed)?;
    edit.row.customer_seen_change = store::last_change(&*edit.tx, order_id).await?;
    confirmed(edit).await
}

async fn confirmed(mut edit: Edit) -> Result<Order, AppError> {
    let row = edit.row.clone();
    let lines: Vec<_> = edit.lines.iter().cloned().map(store::to_line).collect();
    super::service::email_confirmation(&mut edit.tx, &row, &lines, edit.now).await?;
    edit.finish("ORDER_CONFIRMED", true).await
}

/// The customer's answer to a proposal: a comment and their own quantities. The order goes back
/// to the seller (`SUBMITTED`), who sees the changes as the customer's.
pub async fn reply(
    state: &AppState,
    principal: &Principal,
    order_id: Uuid,
    version: i32,
    comment: &str,
    quantities: Vec<(Uuid, i32)>,
) -> Result<Order, AppError> {
    principal.require_user()?;
    if principal.is_staff() {
        return Err(AppError::Forbidden);
    }
    let comment = parse_text(comment, "comment", 5_000, false)?;
    if comment.is_empty() && quantities.is_empty() {
        return Err(AppError::validation(
            "comment",
            "say something or change a quantity",
        ));
    }
    let mut edit = Edit::open(state, principal, order_id, Some(version)).await?;
    let status = edit.status();
    if !matches!(status, OrderStatus::Proposed | OrderStatus::Submitted) {
        return Err(super::model::invalid_transition(status, "REPLY"));
    }
    edit.refuse_if_invoiced("REPLY").await?;
    // Checked in the order given, then applied in stock order, as every transaction that takes
    // or returns stock of several lines does: two replies to orders of the same products queue
    // instead of deadlocking. Of one line given twice, the last still wins (a stable sort).
    let mut wanted = Vec::with_capacity(quantities.len());
    for (index, (line_id, quantity)) in quantities.into_iter().enumerate() {
        let field = format!("lines.{index}.quantity");
        let quantity = parse_quantity(quantity, &field, false)?;
        let at = edit
            .lines
            .iter()
            .position(|l| l.id == line_id)
            .ok_or_else(|| AppError::not_found("order line", format!("lines.{index}.lineId")))?;
        wanted.push((at, quantity, field));
    }
    let by_stock = super::model::stock_order(&wanted, |&(at, _, _)| {
        (edit.lines[at].product_id, edit.lines[at].variant_id)
    });
    for index in by_stock {
        let (at, quantity, field) = &wanted[index];
        let mut line = edit.lines[*at].clone();
        set_quantity(&mut edit, &mut line, *quantity, field).await?;
        edit.lines[*at] = store::update_line(&*edit.tx, line).await?;
    }
    if !comment.is_empty() {
        edit.change("comment", None, Some(comment));
    }
    if status == OrderStatus::Proposed {
        edit.set_status(OrderStatus::Submitted)?;
    }
    edit.finish("ORDER_REPLIED", true).await
}

/// Staff: moves a confirmed order along production: `IN_PROGRESS`, `SHIPPED`, `COMPLETED`.
pub async fn advance(
    state: &AppState,
    principal: &Principal,
    order_id: Uuid,
    version: i32,
    next: OrderStatus,
) -> Result<Order, AppError> {
    principal.require_staff()?;
    let mut edit = Edit::open(state, principal, order_id, Some(version)).await?;
    if !matches!(
        next,
        OrderStatus::InProgress | OrderStatus::Shipped | OrderStatus::Completed
    ) {
        return Err(super::model::invalid_transition(
            edit.status(),
            next.as_str(),
        ));
    }
    edit.set_status(next)?;
    edit.finish("ORDER_STATUS_CHANGED", true).await
}

/// Staff: puts the order on hold, remembering where it was.
pub async fn hold(
    state: &AppState,
    principal: &Principal,
    order_id: Uuid,
    version: i32,
    reason: &str,
) -> Result<Order, AppError> {
    principal.require_staff()?;
    let reason = parse_text(reason, "reason", 500, false)?;
    let mut edit = Edit::open(state, principal, order_id, Some(version)).await?;
    let before = edit.status();
    edit.set_status(OrderStatus::OnHold)?;
    edit.row.status_before_hold = Some(before.as_str().to_owned());
    edit.row.hold_reason = Some(reason.clone()).filter(|r| !r.is_empty());
    edit.details.insert("reason".to_owned(), json!(reason));
    edit.finish("ORDER_STATUS_CHANGED", true).await
}

/// Staff: releases a held order to the status it was held in.
pub async fn release(
    state: &AppState,
    principal: &Principal,
    order_id: Uuid,
    version: i32,
) -> Result<Order, AppError> {
    principal.require_staff()?;
    let mut edit = Edit::open(state, principal, order_id, Some(version)).await?;
    let status = edit.status();
    let back = edit
        .row
        .status_before_hold
        .as_deref()
        .and_then(OrderStatus::parse)
        .filter(|_| status == OrderStatus::OnHold)
        .ok_or_else(|| super::model::invalid_transition(status, "RELEASE"))?;
    edit.set_status(back)?;
    edit.row.status_before_hold = None;
    edit.row.hold_reason = None;
    edit.finish("ORDER_STATUS_CHANGED", true).await
}

/// Cancels the order and returns its stock: staff before shipping, the customer while the
/// order waits (`SUBMITTED` or `PROPOSED`).
pub async fn cancel(
    state: &AppState,
    principal: &Principal,
    order_id: Uuid,
    version: i32,
    reason: &str,
) -> Result<Order, AppError> {
    let reason = parse_text(reason, "reason", 500, false)?;
    let mut edit = Edit::open(state, principal, order_id, Some(version)).await?;
    let status = edit.status();
    if edit.side == Side::Customer && !status.customer_may_cancel() {
        return Err(super::model::invalid_transition(
            status,
            OrderStatus::Cancelled.as_str(),
        ));
    }
    edit.refuse_if_invoiced(OrderStatus::Cancelled.as_str())
        .await?;
    edit.set_status(OrderStatus::Cancelled)?;
    edit.release_stock().await?;
    edit.details.insert("reason".to_owned(), json!(reason));
    edit.finish("ORDER_CANCELLED", true).await
}

/// The caller has seen the other side's changes so far (they stop showing as new).
pub async fn mark_seen(
    state: &AppState,
    principal: &Principal,
    order_id: Uuid,
) -> Result<Order, AppError> {
    let mut edit = Edit::open(state, principal, order_id, None).await?;
    let last = store::last_change(&*edit.tx, order_id).await?;
    match edit.side {
        Side::Seller => edit.row.seller_seen_change = last,
        Side::Customer => edit.row.customer_seen_change = last,
    }
    let row = store::update_order(&*edit.tx, edit.row).await?;
    edit.tx.commit().await?;
    store::to_order(row)
}

/// Staff: production details of a line: instructions (finishing options, notes for the
/// workshop) and whether it is on hold. Internal: the customer does not see them, and they do
/// not change the order's version (they never conflict with a price or quantity edit).
pub async fn set_line_production(
    state: &AppState,
    principal: &Principal,
    order_id: Uuid,
    line_id: Uuid,
    instructions: Option<String>,
    on_hold: Option<bool>,
) -> Result<Order, AppError> {
    principal.require_staff()?;
    let instructions = instructions
        .as_deref()
        .map(|i| parse_text(i, "instructions", 5_000, false))
        .transpose()?;
    let mut edit = Edit::open(state, principal, order_id, None).await?;
    let index = edit
        .lines
        .iter()
        .position(|l| l.id == line_id)
        .ok_or_else(line_not_found)?;
    let mut line = edit.lines[index].clone();
    let mut details = serde_json::Map::new();
    if let Some(instructions) = instructions {
        details.insert(
            "instructions".to_owned(),
            json!({ "old": line.instructions, "new": instructions }),
        );
        line.instructions = instructions;
    }
    if let Some(on_hold) = on_hold {
        details.insert(
            "onHold".to_owned(),
            json!({ "old": line.on_hold, "new": on_hold }),
        );
        line.on_hold = on_hold;
    }
    details.insert(
        "line".to_owned(),
        json!(crate::kernel::ids::encode(
            crate::kernel::ids::Kind::OrderLine,
            line.id
        )),
    );
    edit.lines[index] = store::update_line(&*edit.tx, line).await?;
    let row = edit.row.clone();
    let mut event = super::service::order_event(
        &row,
        "LINE_PRODUCTION_CHANGED",
        Some(edit.actor.id),
        Value::Object(details),
        edit.now,
    );
    event.internal = true;
    edit.tx.record(event);
    edit.tx.commit().await?;
    store::to_order(row)
}
