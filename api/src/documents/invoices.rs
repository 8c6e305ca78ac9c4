//! Invoices and credit notes. An invoice is issued from an order, numbered in a gapless yearly
//! series (`INV-2026-000001`) by the transaction that issues it, and stored as the snapshot it
//! prints: it never changes afterwards, its logo included (kept by content in `document_logo`;
//! a credit note prints its invoice's). A correction is a credit note (`CN-2026-000001`) that
//! cancels it; the order may then be invoiced again. An order has at most one standing invoice
//! (a unique key: a parallel second issue fails with `CONFLICT` and gives its number back).
//! While it stands, the order's content is frozen: `orders::service::Edit` refuses edits,
//! proposals, replies and cancellation (`INVALID_TRANSITION`: a credit note first). Both sides
//! hold the order row locked (`issue` through `orders::service::find_for_update`), so an edit
//! cannot slip between the invoice's check and its insert.

use chrono::Datelike;
use comptoir_entity::{document_logo, invoice};
use serde_json::json;
use uuid::Uuid;

use super::{
    build,
    model::{DocumentKind, DocumentModel, IssuedLogo, Logo},
    seller,
    store::{self, Invoice},
};
use crate::{
    auth::Principal,
    customers,
    customers::model::parse_text,
    error::AppError,
    kernel::{
        money::to_e4,
        numbering,
        pagination::{Page, PageRequest},
    },
    orders::{self, OrderStatus, copies::record_event},
    state::AppState,
};

fn invoice_not_found(field: &str) -> AppError {
    AppError::not_found("invoice", field)
}

/// Staff: issues the invoice of an order that is confirmed or further along.
pub async fn issue(
    state: &AppState,
    principal: &Principal,
    order_id: Uuid,
) -> Result<Invoice, AppError> {
    let staff = principal.require_staff()?;
    let now = state.clock.now();
    let mut tx = state.db.begin(&state.events).await?;
    // Locked: a parallel edit or cancellation waits for the invoice, and sees it (they check
    // for a standing invoice on the locked row).
    let order = orders::service::find_for_update(&*tx, principal, order_id)
        .await
        .map_err(|e| e.not_found_as("order", "orderId"))?;
    if !matches!(
        order.status,
        OrderStatus::Confirmed
            | OrderStatus::InProgress
            | OrderStatus::Shipped
            | OrderStatus::Completed
    ) {
        return Err(orders::model::invalid_transition(order.status, "INVOICE"));
    }
    let lines = orders::service::lines_of(&*tx, &[order.id]).await?;
    if lines.is_empty() {
        return Err(AppError::validation("orderId", "the order has no lines"));
    }
    // An invoice names its buyer: if the customer cannot be read, nothing is issued.
    let customer = customers::service::find_for(&*tx, principal, order.customer_id).await?;
    let seller = seller::get(&*tx).await?;
    let number = numbering::next(&*tx, &format!("INV-{}", now.year())).await?;
    let mut document = build::order_document(
        DocumentKind::Invoice,
        &number,
        now,
        &order,
        &lines,
        Some(&customer),
        &seller,
    );
    document.issued_logo = Some(keep_logo(&*tx, seller.logo.as_ref(), now).await?);
    let total = document.totals.as_ref().map_or(order.total, |t| t.total);
    let row = store::insert(
        &*tx,
        invoice::Model {
            id: Uuid::now_v7(),
            number,
            kind: DocumentKind::Invoice.as_str().to_owned(),
            order_id: order.id,
            customer_id: order.customer_id,
            credited_invoice_id: None,
            standing_order_id: Some(order.id),
            total_e4: to_e4(total, "total")?,
            document: serde_json::to_value(&document).map_err(AppError::internal)?,
            reason: String::new(),
            issued_by: Some(staff.id),
            issued_at: now,
        },
    )
    .await
    .map_err(|e| match AppError::from(e) {
        AppError::Conflict { .. } => {
            AppError::conflict("orderId", "this order already has an invoice")
        }
        other => other,
    })?;
    crate::quotes::service::set_invoiced(&mut tx, order.id, true, Some(staff.id), now).await?;
    let details = json!({ "invoice": row.number, "total": total.to_string() });
    record_event(
        &mut tx,
        order.id,
        "INVOICE_ISSUED",
        details,
        false,
        Some(staff.id),
        now,
    )
    .await?;
    tx.commit().await?;
    store::to_invoice(row)
}

/// Keeps `logo` (the seller's, as a document is issued) among the logos of issued documents,
/// once per content, and names it for the document.
async fn keep_logo(
    db: &impl sea_orm::ConnectionTrait,
    logo: Option<&Logo>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<IssuedLogo, AppError> {
    use sea_orm::{EntityTrait, Set, sea_query::OnConflict};
    use sha2::Digest;

    let Some(logo) = logo else {
        return Ok(IssuedLogo { sha256: None });
    };
    let sha256 = hex::encode(sha2::Sha256::digest(&logo.bytes));
    document_logo::Entity::insert(document_logo::ActiveModel {
        sha256: Set(sha256.clone()),
        content_type: Set(logo.content_type.clone()),
        bytes: Set(logo.bytes.clone()),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(document_logo::Column::Sha256)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(IssuedLogo {
        sha256: Some(sha256),
    })
}

/// The logo an issued document prints: the one it was issued with, or, for a document issued
/// before logos were kept, `current` (the seller's).
pub async fn issued_logo(
    db: &impl sea_orm::ConnectionTrait,
    document: &DocumentModel,
    current: Option<Logo>,
) -> Result<Option<Logo>, AppError> {
    use sea_orm::EntityTrait;

    let Some(issued) = &document.issued_logo else {
        return Ok(current);
    };
    let Some(sha256) = &issued.sha256 else {
        return Ok(None);
    };
    let row = document_logo::Entity::find_by_id(sha256.clone())
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("issued logo {sha256} missing")))?;
    Ok(Some(Logo {
        content_type: row.content_type,
        bytes: row.bytes,
    }))
}

/// Staff: cancels a standing invoice with a credit note of the same amounts, negated.
pub async fn credit(
    state: &AppState,
    principal: &Principal,
    invoice_id: Uuid,
    reason: &str,
) -> Result<Invoice, AppError> {
    let staff = principal.require_staff()?;
    let reason = parse_text(reason, "reason", 1_000, true)?;
    let now = state.clock.now();
    let mut tx = state.db.begin(&state.events).await?;
    let row = store::find_for_update(&*tx, invoice_id)
        .await?
        .ok_or_else(|| invoice_not_found("invoiceId"))?;
    let invoice = store::to_invoice(row.clone())?;
    if invoice.kind != DocumentKind::Invoice || !invoice.standing {
        return Err(AppError::InvalidTransition {
            from: if invoice.kind == DocumentKind::Invoice {
                "CREDITED"
            } else {
                "CREDIT_NOTE"
            },
            to: "CREDIT".to_owned(),
        });
    }
    store::mark_credited(&*tx, row).await?;
    let number = numbering::next(&*tx, &format!("CN-{}", now.year())).await?;
    let document = build::credit_note(&invoice.document, &number, now, &reason);
    let note = store::insert(
        &*tx,
        invoice::Model {
            id: Uuid::now_v7(),
            number,
            kind: DocumentKind::CreditNote.as_str().to_owned(),
            order_id: invoice.order_id,
            customer_id: invoice.customer_id,
            credited_invoice_id: Some(invoice.id),
            standing_order_id: None,
            total_e4: to_e4(-invoice.total, "total")?,
            document: serde_json::to_value(&document).map_err(AppError::internal)?,
            reason,
            issued_by: Some(staff.id),
            issued_at: now,
        },
    )
    .await?;
    crate::quotes::service::set_invoiced(&mut tx, invoice.order_id, false, Some(staff.id), now)
        .await?;
    let details = json!({ "creditNote": note.number, "invoice": invoice.number });
    record_event(
        &mut tx,
        invoice.order_id,
        "CREDIT_NOTE_ISSUED",
        details,
        false,
        Some(staff.id),
        now,
    )
    .await?;
    tx.commit().await?;
    store::to_invoice(note)
}

/// Whether order `order_id` has a standing invoice, read through `db` (the order's edit reads
/// it with the order row locked, as [`issue`] does: the two cannot interleave).
pub async fn has_standing(
    db: &impl sea_orm::ConnectionTrait,
    order_id: Uuid,
) -> Result<bool, AppError> {
    Ok(store::has_standing(db, order_id).await?)
}

/// An invoice or credit note the caller may see: staff, or the customer of its order.
pub async fn find_for(
    db: &impl sea_orm::ConnectionTrait,
    principal: &Principal,
    id: Uuid,
    field: &str,
) -> Result<Invoice, AppError> {
    principal.require_user()?;
    let row = store::find(db, id)
        .await?
        .ok_or_else(|| invoice_not_found(field))?;
    if !principal.is_staff() {
        orders::service::find_for(db, principal, row.order_id)
            .await
            .map_err(|_| invoice_not_found(field))?;
    }
    store::to_invoice(row)
}

/// Invoices of orders the caller could already see (loaders).
pub async fn of_orders(
    db: &impl sea_orm::ConnectionTrait,
    order_ids: &[Uuid],
) -> Result<Vec<Invoice>, AppError> {
    store::of_orders(db, order_ids)
        .await?
        .into_iter()
        .map(store::to_invoice)
        .collect()
}

/// Invoices and credit notes, newest first: staff all (or a customer's, an order's); customers
/// their own.
pub async fn list(
    state: &AppState,
    principal: &Principal,
    customer_id: Option<Uuid>,
    order_id: Option<Uuid>,
    page: PageRequest,
) -> Result<Page<Invoice>, AppError> {
    let user = principal.require_user()?;
    let customer_id = if principal.is_staff() {
        customer_id
    } else {
        match user.customer_id {
            Some(own) => Some(own),
            None => {
                return Ok(Page::empty());
            }
        }
    };
    let after = page.after_id()?;
    let (rows, total) =
        store::list(state.db.read(), customer_id, order_id, after, page.limit).await?;
    Page::from_rows(rows, page.limit, after.is_some(), total, store::to_invoice)
}
