//! What customers do with their own rental projects: cancel one while it is still open, or
//! book the same equipment again for new dates.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    create::{finish_new, item_row, new_project, require_rental},
    desk::cancel_open,
    model::{Contact, Project, ProjectSource, ProjectStatus},
    service::{Edit, email_contact, find_for, template_data},
    store,
};
use crate::{
    auth::Principal,
    carts::model::RentalPeriod,
    catalog,
    customers::{self, model::parse_text},
    error::AppError,
    state::AppState,
};

/// A customer cancels their project: while `NEW`, or `IN_WORK` before its period starts.
pub async fn cancel_mine(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
    reason: Option<&str>,
) -> Result<Project, AppError> {
    principal.require_user()?;
    let reason = match reason.filter(|r| !r.trim().is_empty()) {
        Some(reason) => parse_text(reason, "reason", 1_000, true)?,
        None => "cancelled by the customer".to_owned(),
    };
    let edit = Edit::open(state, principal, id, version).await?;
    let status = edit.status();
    let allowed = match status {
        ProjectStatus::New => true,
        ProjectStatus::InWork => edit.now < edit.row.period_start,
        _ => false,
    };
    if !allowed {
        return Err(AppError::InvalidTransition {
            from: status.as_str(),
            to: ProjectStatus::Cancelled.as_str().to_owned(),
        });
    }
    cancel_open(edit, reason).await
}

/// A new `NEW` project with the same equipment and quantities as project `id`, every item for
/// `from`–`to`, priced from today's catalog. Staff may repeat any project; a customer their own.
pub async fn repeat(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Project, AppError> {
    let user = principal.require_user()?;
    let now = state.clock.now();
    let period = RentalPeriod::parse(from, to, now, "from")?;
    let source = find_for(state.db.read(), principal, id).await?;
    let mut tx = state.db.begin(&state.events).await?;
    let customer = customers::service::find_for(&*tx, principal, source.customer_id).await?;
    if customer.blocked {
        return Err(AppError::CustomerBlocked);
    }
    let old_items = store::items_of(&*tx, &[source.id]).await?;
    let product_ids: Vec<Uuid> = old_items.iter().map(|i| i.product_id).collect();
    let products = catalog::service::products_by_ids(&*tx, &product_ids).await?;
    let mut row = new_project(
        &tx,
        &customer,
        if principal.is_staff() {
            ProjectSource::Backoffice
        } else {
            ProjectSource::Storefront
        },
        Contact {
            name: source.contact.name.clone(),
            email: source.contact.email.clone(),
            phone: source.contact.phone.clone(),
            company: source.contact.company.clone(),
        },
        source.customer_note.clone(),
        Some(user.id),
        now,
    )
    .await?;
    row.repeated_from = Some(source.id);
    let row = store::update_project(&*tx, row).await?;
    let mut rows = Vec::with_capacity(old_items.len());
    for (index, old) in old_items.iter().enumerate() {
        let product = require_rental(
            products.iter().find(|p| p.id == old.product_id),
            !principal.is_staff(),
            &format!("items.{index}"),
        )?;
        let position = i32::try_from(index).unwrap_or(i32::MAX);
        rows.push(item_row(
            row.id,
            position,
            &product,
            old.quantity,
            period,
            None,
            now,
        )?);
    }
    let items = store::insert_items(&*tx, rows).await?;
    let row = finish_new(
        &mut tx,
        row,
        &items,
        "RENTAL_PROJECT_REPEATED",
        Some(user.id),
        now,
    )
    .await?;
    let data = template_data(&tx, &row, &items).await?;
    email_contact(&mut tx, &row, "rental_order_received", data, now).await?;
    tx.commit().await?;
    store::to_project(row)
}
