//! What every way of creating a project shares (storefront, desk, repeat): the numbered row, its
//! items priced from the catalog, and the close that judges its shortage and records the event.

use chrono::{DateTime, Utc};
use comptoir_entity::{rental_item, rental_project};
use serde_json::json;
use uuid::Uuid;

use super::{
    ledger::{Ledger, Lock},
    model::ProjectStatus,
    service::{keep_derived, project_event},
    store,
};
use crate::{catalog, customers, db::WriteTx, error::AppError, kernel::money::to_e4};

/// A new project row for `customer`, numbered (`RP-2026-000001`); items come next, then
/// [`finish_new`].
pub(super) async fn new_project(
    tx: &WriteTx,
    customer: &customers::Customer,
    source: super::model::ProjectSource,
    contact: super::model::Contact,
    customer_note: String,
    created_by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<rental_project::Model, AppError> {
    use chrono::Datelike;
    let number = crate::kernel::numbering::next(&**tx, &format!("RP-{}", now.year())).await?;
    let row = rental_project::Model {
        id: Uuid::now_v7(),
        number,
        customer_id: customer.id,
        source: source.as_str().to_owned(),
        status: ProjectStatus::New.as_str().to_owned(),
        contact_name: contact.name,
        contact_email: contact.email,
        contact_phone: contact.phone,
        company: contact.company,
        customer_note,
        manager_note: String::new(),
        cancel_reason: None,
        short: false,
        accepted_shortage: json!([]),
        period_start: now,
        period_end: now,
        total_e4: 0,
        customer_name: customer.name.clone(),
        search_text: String::new(),
        created_by,
        repeated_from: None,
        idempotency_key: None,
        version: 1,
        created_at: now,
        updated_at: now,
        started_at: None,
        issued_at: None,
        returned_at: None,
        completed_at: None,
        cancelled_at: None,
    };
    Ok(store::insert_project(&**tx, row).await?)
}

/// An item of `product` for a project: the catalog's daily price, and the price of one unit
/// for the period (daily price × days) unless one is given.
pub(super) fn item_row(
    project_id: Uuid,
    position: i32,
    product: &catalog::Product,
    quantity: i32,
    period: crate::carts::model::RentalPeriod,
    unit_price: Option<rust_decimal::Decimal>,
    now: DateTime<Utc>,
) -> Result<rental_item::Model, AppError> {
    let daily = product.rental_daily_price.unwrap_or_default();
    let unit_price = unit_price.unwrap_or_else(|| super::model::period_price(daily, &period));
    Ok(rental_item::Model {
        id: Uuid::now_v7(),
        project_id,
        position,
        product_id: product.id,
        reference: product.reference.clone(),
        name: product.name.clone(),
        quantity,
        start_at: period.start,
        end_at: period.end,
        daily_price_e4: to_e4(daily, "dailyPrice")?,
        unit_price_e4: to_e4(unit_price, "unitPrice")?,
        vat_bp: crate::kernel::money::rate_to_bp(product.vat_rate, "vatRate")?,
        status: super::model::ItemStatus::Draft.as_str().to_owned(),
        created_at: now,
    })
}

/// Closes the creation of a project: derived columns, its own shortage (drafts block
/// nothing, but the customer and managers see what is short), the event.
pub(super) async fn finish_new(
    tx: &mut WriteTx,
    mut row: rental_project::Model,
    items: &[rental_item::Model],
    kind: &'static str,
    actor: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<rental_project::Model, AppError> {
    keep_derived(&mut row, items)?;
    let ledger = Ledger::for_items(&**tx, items, Some(row.id), now, Lock::Share).await?;
    row.short = !ledger.shortages(items).is_empty();
    let row = store::update_project(&**tx, row).await?;
    let detail = json!({ "items": items.len(), "short": row.short });
    tx.record(project_event(&row, kind, actor, detail, now));
    Ok(row)
}

/// A rental product the caller may book: `NOT_FOUND` on `field` otherwise (customers see only
/// what the storefront shows).
pub(super) fn require_rental(
    product: Option<&catalog::Product>,
    public_only: bool,
    field: &str,
) -> Result<catalog::Product, AppError> {
    product
        .filter(|p| {
            p.kind == catalog::ProductKind::Rental && !p.archived && (!public_only || p.is_public())
        })
        .cloned()
        .ok_or_else(|| AppError::not_found("rental product", field))
}
