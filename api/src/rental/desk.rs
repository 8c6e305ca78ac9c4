//! Managers' work on rental projects: projects of their own, item edits, taking a project into
//! work (units checked and reserved in one transaction), cancelling, and the later lifecycle.

use chrono::{DateTime, Utc};
use comptoir_entity::rental_item;
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

use super::{
    create::{finish_new, item_row, new_project, require_rental},
    ledger::{Ledger, Lock},
    model::{Contact, ItemStatus, Project, ProjectSource, ProjectStatus},
    service::{Edit, email_contact, insufficient, parse_note, refresh_drafts, template_data},
    store,
};
use crate::{
    auth::Principal,
    carts::model::{RentalPeriod, parse_quantity},
    catalog,
    customers::{self, model::parse_text},
    error::AppError,
    kernel::money::{from_e4, price_to_e4},
    state::AppState,
};

/// An item a manager books.
#[derive(Clone, Debug)]
pub struct ItemInput {
    pub product_id: Uuid,
    pub quantity: i32,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// One unit for the whole period; the daily price × days when absent.
    pub unit_price: Option<Decimal>,
}

#[derive(Clone, Debug)]
pub struct CreateInput {
    pub customer_id: Uuid,
    pub items: Vec<ItemInput>,
    /// A note to the customer.
    pub note: String,
}

fn parse_price(price: Option<Decimal>, field: &str) -> Result<Option<Decimal>, AppError> {
    price
        .map(|p| price_to_e4(p, field).map(from_e4))
        .transpose()
}

/// Staff: a project of their own for a customer (source `BACKOFFICE`), in `NEW` with its items
/// as drafts.
pub async fn create_project(
    state: &AppState,
    principal: &Principal,
    input: CreateInput,
) -> Result<Project, AppError> {
    let staff = principal.require_staff()?;
    let note = parse_note(&input.note, "note")?;
    if input.items.is_empty() {
        return Err(AppError::validation("items", "at least one item"));
    }
    let now = state.clock.now();
    let mut tx = state.db.begin(&state.events).await?;
    let customer = customers::service::find_for(&*tx, principal, input.customer_id)
        .await
        .map_err(|e| e.not_found_as("customer", "customerId"))?;
    if customer.blocked {
        return Err(AppError::CustomerBlocked);
    }
    let primary = customers::service::contacts_of(&*tx, &[customer.id])
        .await?
        .into_iter()
        .next();
    let contact = Contact {
        name: primary
            .as_ref()
            .map_or_else(|| customer.name.clone(), |c| c.name.clone()),
        email: primary.as_ref().and_then(|c| c.email.clone()),
        phone: primary.and_then(|c| c.phone),
        company: String::new(),
    };
    let mut row = new_project(
        &tx,
        &customer,
        ProjectSource::Backoffice,
        contact,
        String::new(),
        Some(staff.id),
        now,
    )
    .await?;
    row.manager_note = note;
    let mut items = Vec::with_capacity(input.items.len());
    for (index, item) in input.items.into_iter().enumerate() {
        let field = format!("items.{index}");
        let position = i32::try_from(index).unwrap_or(i32::MAX);
        items.push(new_item(&tx, row.id, position, item, &field, now).await?);
    }
    let row = finish_new(
        &mut tx,
        row,
        &items,
        "RENTAL_PROJECT_CREATED",
        Some(staff.id),
        now,
    )
    .await?;
    tx.commit().await?;
    store::to_project(row)
}

/// A checked item row, inserted.
async fn new_item(
    tx: &crate::db::WriteTx,
    project_id: Uuid,
    position: i32,
    input: ItemInput,
    field: &str,
    now: DateTime<Utc>,
) -> Result<rental_item::Model, AppError> {
    let quantity = parse_quantity(input.quantity, &format!("{field}.quantity"), false)?;
    let period = RentalPeriod::parse(input.start, input.end, now, &format!("{field}.period"))?;
    let price = parse_price(input.unit_price, &format!("{field}.unitPrice"))?;
    let products = catalog::service::products_by_ids(&**tx, &[input.product_id]).await?;
    let product = require_rental(products.first(), false, &format!("{field}.productId"))?;
    let row = item_row(project_id, position, &product, quantity, period, price, now)?;
    Ok(store::insert_item(&**tx, row).await?)
}

/// After an edit of items that hold units: refused with `INSUFFICIENT_AVAILABILITY` when they
/// need more than is free (unless the manager accepts the shortage); drafts touching them are
/// judged again.
async fn check_reserved(
    edit: &mut Edit,
    allow_shortage: bool,
    before: &[rental_item::Model],
) -> Result<(), AppError> {
    if !edit.status().holds_units() {
        // Drafts block nothing: only flag what is short.
        let ledger = Ledger::for_items(
            &*edit.tx,
            &edit.items,
            Some(edit.row.id),
            edit.now,
            Lock::Share,
        )
        .await?;
        edit.row.short = !ledger.shortages(&edit.items).is_empty();
        return Ok(());
    }
    let shortages = edit.shortages().await?;
    if !shortages.is_empty() && !allow_shortage {
        return Err(insufficient(&shortages));
    }
    accept_shortage(edit, &shortages)?;
    refresh_around(edit, before).await
}

/// Records the shortage a manager knowingly accepts (sub-renting): on the project, for lists,
/// and on its timeline (staff only).
fn accept_shortage(edit: &mut Edit, shortages: &[super::model::Shortage]) -> Result<(), AppError> {
    edit.row.short = !shortages.is_empty();
    edit.row.accepted_shortage = serde_json::to_value(shortages).map_err(AppError::internal)?;
    if !shortages.is_empty() {
        edit.accepted = Some(json!(
            shortages
                .iter()
                .map(
                    |s| json!({ "reference": s.reference, "short": s.short, "clashes": s.clashes })
                )
                .collect::<Vec<_>>()
        ));
    }
    Ok(())
}

/// Judges again the drafts over the project's products and dates, and those of `before` (what
/// items were before the edit: a removed item, an old period).
async fn refresh_around(edit: &mut Edit, before: &[rental_item::Model]) -> Result<(), AppError> {
    let all: Vec<&rental_item::Model> = edit.items.iter().chain(before).collect();
    let mut product_ids: Vec<Uuid> = all.iter().map(|i| i.product_id).collect();
    product_ids.sort_unstable();
    product_ids.dedup();
    let (Some(from), Some(to)) = (
        all.iter().map(|i| i.start_at).min(),
        all.iter().map(|i| i.end_at).max(),
    ) else {
        return Ok(());
    };
    // Buffers reach beyond the dates: 61 days cover the longest pair (720 hours each side).
    let margin = chrono::Duration::days(61);
    // Equipment handed out and late counted without end: drafts of any later date may have
    // been judged against it.
    let late = edit
        .items
        .iter()
        .any(|i| i.status == ItemStatus::Issued.as_str() && i.end_at < edit.now);
    let until = if late || edit.status() == ProjectStatus::Returned {
        edit.now.max(to) + chrono::Duration::days(36_500)
    } else {
        to + margin
    };
    refresh_drafts(
        &mut edit.tx,
        &product_ids,
        from - margin,
        until,
        edit.row.id,
        edit.now,
    )
    .await
}

/// Staff: adds an item to a `NEW` or `IN_WORK` project.
pub async fn add_item(
    state: &AppState,
    principal: &Principal,
    project_id: Uuid,
    version: i32,
    input: ItemInput,
    allow_shortage: bool,
) -> Result<Project, AppError> {
    principal.require_staff()?;
    let mut edit = Edit::open(state, principal, project_id, version).await?;
    edit.require_editable()?;
    let position = i32::try_from(edit.items.len()).unwrap_or(i32::MAX);
    let mut item = new_item(&edit.tx, project_id, position, input, "input", edit.now).await?;
    edit.status()
        .item_status()
        .as_str()
        .clone_into(&mut item.status);
    let item = store::update_item(&*edit.tx, item).await?;
    edit.item_change(
        item.id,
        "added",
        None,
        Some(format!("{} × {}", item.quantity, item.reference)),
    );
    edit.items.push(item);
    check_reserved(&mut edit, allow_shortage, &[]).await?;
    edit.finish("RENTAL_PROJECT_EDITED").await
}

/// What a manager changes on an item (absent: unchanged).
#[derive(Clone, Debug, Default)]
pub struct ItemChanges {
    pub quantity: Option<i32>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub unit_price: Option<Decimal>,
}

async fn open_for_item(
    state: &AppState,
    principal: &Principal,
    item_id: Uuid,
    version: i32,
) -> Result<(Edit, usize), AppError> {
    principal.require_staff()?;
    let item = store::items_by_ids(state.db.read(), &[item_id])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::not_found("rental item", "itemId"))?;
    let edit = Edit::open(state, principal, item.project_id, version).await?;
    edit.require_editable()?;
    let index = edit
        .items
        .iter()
        .position(|i| i.id == item_id)
        .ok_or_else(|| AppError::not_found("rental item", "itemId"))?;
    Ok((edit, index))
}

/// Staff: changes an item's quantity, period or price. A new period is re-priced from the daily
/// price unless a price is given.
pub async fn update_item(
    state: &AppState,
    principal: &Principal,
    item_id: Uuid,
    version: i32,
    changes: ItemChanges,
    allow_shortage: bool,
) -> Result<Project, AppError> {
    let quantity = changes
        .quantity
        .map(|q| parse_quantity(q, "input.quantity", false))
        .transpose()?;
    let price = parse_price(changes.unit_price, "input.unitPrice")?;
    let (mut edit, index) = open_for_item(state, principal, item_id, version).await?;
    let before = edit.items[index].clone();
    let mut item = before.clone();
    if let Some(quantity) = quantity {
        edit.item_change(
            item.id,
            "quantity",
            Some(item.quantity.to_string()),
            Some(quantity.to_string()),
        );
        item.quantity = quantity;
    }
    if changes.start.is_some() || changes.end.is_some() {
        let start = changes.start.unwrap_or(item.start_at);
        let end = changes.end.unwrap_or(item.end_at);
        // A rental under way keeps its start: only a new start must not be in the past.
        let since = if changes.start.is_some() {
            edit.now
        } else {
            edit.now.min(start)
        };
        let period = RentalPeriod::parse(start, end, since, "input.period")?;
        let old = RentalPeriod {
            start: item.start_at,
            end: item.end_at,
        };
        if old != period {
            edit.item_change(
                item.id,
                "period",
                Some(period_text(&old)),
                Some(period_text(&period)),
            );
            item.start_at = period.start;
            item.end_at = period.end;
            if price.is_none() {
                let daily = from_e4(item.daily_price_e4);
                item.unit_price_e4 = price_e4(super::model::period_price(daily, &period))?;
            }
        }
    }
    if let Some(price) = price {
        item.unit_price_e4 = price_e4(price)?;
    }
    let old_price = from_e4(edit.items[index].unit_price_e4);
    let new_price = from_e4(item.unit_price_e4);
    edit.item_change(
        item.id,
        "unitPrice",
        Some(old_price.normalize().to_string()),
        Some(new_price.normalize().to_string()),
    );
    let item = store::update_item(&*edit.tx, item).await?;
    edit.items[index] = item;
    check_reserved(&mut edit, allow_shortage, &[before]).await?;
    edit.finish("RENTAL_PROJECT_EDITED").await
}

fn price_e4(price: Decimal) -> Result<i64, AppError> {
    crate::kernel::money::to_e4(price, "input.unitPrice")
}

fn period_text(period: &RentalPeriod) -> String {
    format!(
        "{} – {}",
        period.start.format("%Y-%m-%d %H:%M"),
        period.end.format("%Y-%m-%d %H:%M")
    )
}

/// Staff: removes an item (a project keeps at least one: cancel it instead).
pub async fn remove_item(
    state: &AppState,
    principal: &Principal,
    item_id: Uuid,
    version: i32,
) -> Result<Project, AppError> {
    let (mut edit, index) = open_for_item(state, principal, item_id, version).await?;
    if edit.items.len() == 1 {
        return Err(AppError::validation(
            "itemId",
            "a project keeps at least one item: cancel the project instead",
        ));
    }
    let item = edit.items.remove(index);
    store::delete_item(&*edit.tx, item.id).await?;
    // Positions stay 0..n so that `items.N` names the Nth item.
    store::close_gap(&*edit.tx, item.project_id, item.position).await?;
    for other in &mut edit.items {
        if other.position > item.position {
            other.position -= 1;
        }
    }
    edit.item_change(
        item.id,
        "removed",
        Some(format!("{} × {}", item.quantity, item.reference)),
        None,
    );
    // Freed units may end other drafts' shortage; a removal accepts no new shortage.
    check_reserved(&mut edit, true, &[item]).await?;
    edit.accepted = None;
    edit.finish("RENTAL_PROJECT_EDITED").await
}

/// Staff: the note to the customer and the contact on the project.
#[derive(Clone, Debug, Default)]
pub struct ProjectChanges {
    pub note: Option<String>,
    pub contact_name: Option<String>,
    pub contact_email: Option<Option<String>>,
    pub contact_phone: Option<Option<String>>,
}

pub async fn update_project(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
    changes: ProjectChanges,
) -> Result<Project, AppError> {
    principal.require_staff()?;
    let note = changes
        .note
        .as_deref()
        .map(|n| parse_note(n, "input.note"))
        .transpose()?;
    let name = changes
        .contact_name
        .as_deref()
        .map(|n| parse_text(n, "input.contactName", 200, true))
        .transpose()?;
    let email = changes
        .contact_email
        .map(|e| {
            e.filter(|e| !e.trim().is_empty())
                .map(|e| {
                    crate::notifications::model::Recipient::email(&e, "input.contactEmail")
                        .map(|r| r.address)
                })
                .transpose()
        })
        .transpose()?;
    let phone = changes
        .contact_phone
        .map(|p| {
            p.filter(|p| !p.trim().is_empty())
                .map(|p| customers::model::parse_phone(&p, "input.contactPhone"))
                .transpose()
        })
        .transpose()?;
    let mut edit = Edit::open(state, principal, id, version).await?;
    if matches!(
        edit.status(),
        ProjectStatus::Completed | ProjectStatus::Cancelled
    ) {
        return Err(AppError::InvalidTransition {
            from: edit.status().as_str(),
            to: "EDIT".to_owned(),
        });
    }
    if let Some(note) = note {
        edit.change(
            "note",
            Some(edit.row.manager_note.clone()),
            Some(note.clone()),
        );
        edit.row.manager_note = note;
    }
    if let Some(name) = name {
        edit.change(
            "contactName",
            Some(edit.row.contact_name.clone()),
            Some(name.clone()),
        );
        edit.row.contact_name = name;
    }
    if let Some(email) = email {
        edit.change(
            "contactEmail",
            edit.row.contact_email.clone(),
            email.clone(),
        );
        edit.row.contact_email = email;
    }
    if let Some(phone) = phone {
        edit.change(
            "contactPhone",
            edit.row.contact_phone.clone(),
            phone.clone(),
        );
        edit.row.contact_phone = phone;
    }
    edit.finish("RENTAL_PROJECT_EDITED").await
}

/// Staff: takes a project into work (`NEW → IN_WORK`): its items become `RESERVED` and count
/// against availability. The check and the change are one transaction, on the products locked:
/// if any item would overbook, nothing changes and `INSUFFICIENT_AVAILABILITY` lists each one,
/// unless the manager accepts the shortage (`allow_shortage`). Drafts left short are flagged
/// and their customers told; the project's customer is emailed.
pub async fn start(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
    allow_shortage: bool,
) -> Result<Project, AppError> {
    principal.require_staff()?;
    let mut edit = Edit::open(state, principal, id, version).await?;
    edit.set_status(ProjectStatus::InWork).await?;
    check_reserved(&mut edit, allow_shortage, &[]).await?;
    let data = template_data(&edit.tx, &edit.row, &edit.items).await?;
    email_contact(
        &mut edit.tx,
        &edit.row,
        "rental_project_started",
        data,
        edit.now,
    )
    .await?;
    edit.finish("RENTAL_PROJECT_STARTED").await
}

/// Staff: cancels a project from `NEW` or `IN_WORK`; reserved units are freed (drafts they
/// left short are judged again) and the customer is emailed.
pub async fn cancel(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
    reason: &str,
) -> Result<Project, AppError> {
    principal.require_staff()?;
    let reason = parse_text(reason, "reason", 1_000, true)?;
    let edit = Edit::open(state, principal, id, version).await?;
    cancel_open(edit, reason).await
}

/// Cancels an opened project (staff or its customer).
pub(super) async fn cancel_open(mut edit: Edit, reason: String) -> Result<Project, AppError> {
    let held = edit.status().holds_units();
    edit.set_status(ProjectStatus::Cancelled).await?;
    edit.change(
        "cancelReason",
        edit.row.cancel_reason.clone(),
        Some(reason.clone()),
    );
    edit.row.cancel_reason = Some(reason);
    edit.row.short = false;
    edit.row.accepted_shortage = json!([]);
    if held {
        refresh_around(&mut edit, &[]).await?;
    }
    let data = template_data(&edit.tx, &edit.row, &edit.items).await?;
    email_contact(
        &mut edit.tx,
        &edit.row,
        "rental_project_cancelled",
        data,
        edit.now,
    )
    .await?;
    edit.finish("RENTAL_PROJECT_CANCELLED").await
}

/// Staff: the equipment is handed out (`IN_WORK → ISSUED`).
pub async fn issue(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
) -> Result<Project, AppError> {
    advance(
        state,
        principal,
        id,
        version,
        ProjectStatus::Issued,
        "RENTAL_PROJECT_ISSUED",
    )
    .await
}

/// Staff: the equipment is back (`ISSUED → RETURNED`): its units are free again.
pub async fn mark_returned(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
) -> Result<Project, AppError> {
    principal.require_staff()?;
    let mut edit = Edit::open(state, principal, id, version).await?;
    edit.set_status(ProjectStatus::Returned).await?;
    edit.row.short = false;
    refresh_around(&mut edit, &[]).await?;
    edit.finish("RENTAL_PROJECT_RETURNED").await
}

/// Staff: closes a returned project (`RETURNED → COMPLETED`).
pub async fn complete(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
) -> Result<Project, AppError> {
    advance(
        state,
        principal,
        id,
        version,
        ProjectStatus::Completed,
        "RENTAL_PROJECT_COMPLETED",
    )
    .await
}

async fn advance(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
    next: ProjectStatus,
    kind: &'static str,
) -> Result<Project, AppError> {
    principal.require_staff()?;
    let mut edit = Edit::open(state, principal, id, version).await?;
    edit.set_status(next).await?;
    edit.finish(kind).await
}
