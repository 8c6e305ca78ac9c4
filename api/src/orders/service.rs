//! Reading orders, and what every order use case shares: who may see an order, how an edit
//! opens (the row locked, the version checked) and how it closes (totals kept, changes and the
//! event written, one commit).

use chrono::{DateTime, Utc};
use comptoir_entity::{order_line, sales_order};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{
    model::{
        Change, Order, OrderLine, OrderStatus, PostalAddress, Side, invalid_transition, totals,
    },
    store::{self, NewChange, OrderCursor, OrderFilter, SortField},
};
use crate::{
    auth::{AuthUser, Principal},
    catalog,
    customers::{self, model::parse_text},
    db::WriteTx,
    error::AppError,
    events::NewEvent,
    kernel::{
        ids::{self, Kind},
        money::{rate_to_bp, to_e4},
        pagination::{Page, PageRequest},
    },
    notifications::{
        model::Recipient,
        outbox::{self, NewMessage},
        templates,
    },
    state::AppState,
};

pub const ORDER_OBJECT: &str = "Order";

fn order_not_found() -> AppError {
    AppError::not_found("order", "id")
}

/// Staff see every order; a customer's users see their customer's orders once the seller has
/// shown them (never a draft being composed, even one put on hold or cancelled).
pub(super) fn may_see(principal: &Principal, row: &sales_order::Model) -> bool {
    principal.is_staff()
        || (principal.customer_id() == Some(row.customer_id) && row.shown_to_customer)
}

/// The order `id` if the caller may see it; `NOT_FOUND` otherwise (whether or not it exists).
pub async fn find_for(
    db: &impl sea_orm::ConnectionTrait,
    principal: &Principal,
    id: Uuid,
) -> Result<Order, AppError> {
    principal.require_user()?;
    match store::find(db, id).await? {
        Some(row) if may_see(principal, &row) => store::to_order(row),
        _ => Err(order_not_found()),
    }
}

/// Like [`find_for`], with the order row locked until the end of the caller's transaction (what
/// other contexts use before writing something the order's edits must see, like an invoice).
pub async fn find_for_update(
    db: &impl sea_orm::ConnectionTrait,
    principal: &Principal,
    id: Uuid,
) -> Result<Order, AppError> {
    principal.require_user()?;
    match store::find_for_update(db, id).await? {
        Some(row) if may_see(principal, &row) => store::to_order(row),
        _ => Err(order_not_found()),
    }
}

/// An order for the caller; staff opening it adds it to their recently viewed orders.
pub async fn order(state: &AppState, principal: &Principal, id: Uuid) -> Result<Order, AppError> {
    let order = find_for(state.db.read(), principal, id).await?;
    if let Some(user) = principal.user_id().filter(|_| principal.is_staff()) {
        let tx = state.db.begin(&state.events).await?;
        store::record_view(&*tx, user, id, state.clock.now()).await?;
        tx.commit().await?;
    }
    Ok(order)
}

/// Orders by number or customer reference: staff across customers, customers among their own.
pub async fn by_reference(
    state: &AppState,
    principal: &Principal,
    reference: &str,
) -> Result<Vec<Order>, AppError> {
    let user = principal.require_user()?;
    if reference.trim().is_empty() {
        return Err(AppError::validation("reference", "required"));
    }
    let scope = if principal.is_staff() {
        None
    } else {
        match user.customer_id {
            Some(id) => Some(id),
            None => return Ok(Vec::new()),
        }
    };
    store::find_by_reference(state.db.read(), reference.trim(), scope)
        .await?
        .into_iter()
        .filter(|row| may_see(principal, row))
        .map(store::to_order)
        .collect()
}

/// The orders staff last opened, most recent first.
pub async fn recently_viewed(
    state: &AppState,
    principal: &Principal,
    limit: u64,
) -> Result<Vec<Order>, AppError> {
    let user = principal.require_staff()?;
    store::recently_viewed(state.db.read(), user.id, limit.min(50))
        .await?
        .into_iter()
        .map(store::to_order)
        .collect()
}

#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub filter: OrderFilter,
    pub sort: Option<SortField>,
    pub ascending: Option<bool>,
}

/// Staff: the order desk. Newest first unless sorted otherwise; completed and cancelled orders
/// only when asked for.
pub async fn orders(
    state: &AppState,
    principal: &Principal,
    query: ListQuery,
    page: PageRequest,
) -> Result<Page<(String, Order)>, AppError> {
    principal.require_staff()?;
    list(state, query, page).await
}

/// A customer's own orders (never drafts), newest first.
pub async fn my_orders(
    state: &AppState,
    principal: &Principal,
    include_completed: bool,
    include_cancelled: bool,
    page: PageRequest,
) -> Result<Page<(String, Order)>, AppError> {
    let user = principal.require_user()?;
    let Some(customer_id) = user.customer_id else {
        return Ok(Page::empty());
    };
    let query = ListQuery {
        filter: OrderFilter {
            customer_id: Some(customer_id),
            include_completed,
            include_cancelled,
            exclude_drafts: true,
            ..OrderFilter::default()
        },
        sort: None,
        ascending: None,
    };
    list(state, query, page).await
}

async fn list(
    state: &AppState,
    mut query: ListQuery,
    page: PageRequest,
) -> Result<Page<(String, Order)>, AppError> {
    query.filter.search = customers::service::parse_search(query.filter.search.take())?;
    let field = query.sort.unwrap_or(SortField::CreatedAt);
    let ascending = query
        .ascending
        .unwrap_or(!matches!(field, SortField::CreatedAt));
    let after =
        crate::kernel::pagination::keyset_cursor(page.after.as_deref(), |c: &OrderCursor| {
            c.sort == store::sort_name(field, ascending) && field.accepts(&c.value)
        })?;
    let has_previous = after.is_some();
    let (rows, total) = store::list(
        state.db.read(),
        &query.filter,
        field,
        ascending,
        after,
        page.limit,
    )
    .await?;
    Page::from_rows(rows, page.limit, has_previous, total, |row| {
        let key = serde_json::to_string(&store::cursor(field, ascending, &row)).unwrap_or_default();
        store::to_order(row).map(|order| (key, order))
    })
}

/// Lines of orders the caller may already see (loaders).
pub async fn lines_of(
    db: &impl sea_orm::ConnectionTrait,
    order_ids: &[Uuid],
) -> Result<Vec<OrderLine>, AppError> {
    Ok(store::lines_of(db, order_ids)
        .await?
        .into_iter()
        .map(store::to_line)
        .collect())
}

pub async fn changes_of(
    db: &impl sea_orm::ConnectionTrait,
    order_ids: &[Uuid],
) -> Result<Vec<Change>, AppError> {
    Ok(store::changes_of(db, order_ids).await?)
}

/// The side a caller edits and reads changes from.
pub fn side_of(principal: &Principal) -> Side {
    if principal.is_staff() {
        Side::Seller
    } else {
        Side::Customer
    }
}

/// An order opened for a change: its row locked, its version checked, its lines loaded. Every
/// change is recorded (field, old, new) and [`Edit::finish`] writes them with the event.
pub(super) struct Edit {
    pub tx: WriteTx,
    pub row: sales_order::Model,
    pub lines: Vec<order_line::Model>,
    pub changes: Vec<NewChange>,
    pub actor: AuthUser,
    pub side: Side,
    pub now: DateTime<Utc>,
    /// Event details beyond the changed fields.
    pub details: Map<String, Value>,
}

impl Edit {
    /// Opens order `id` for the caller, at `version` when given.
    pub async fn open(
        state: &AppState,
        principal: &Principal,
        id: Uuid,
        version: Option<i32>,
    ) -> Result<Self, AppError> {
        let actor = principal.require_user()?;
        let tx = state.db.begin(&state.events).await?;
        let row = store::find_for_update(&*tx, id)
            .await?
            .filter(|row| may_see(principal, row))
            .ok_or_else(order_not_found)?;
        if let Some(version) = version
            && version != row.version
        {
            return Err(AppError::stale(row.version));
        }
        let lines = store::lines_of(&*tx, &[id]).await?;
        Ok(Self {
            tx,
            row,
            lines,
            changes: Vec::new(),
            actor,
            side: side_of(principal),
            now: state.clock.now(),
            details: Map::new(),
        })
    }

    pub fn status(&self) -> OrderStatus {
        OrderStatus::parse(&self.row.status).unwrap_or(OrderStatus::Draft)
    }

    /// Records a change of an order field (nothing when the value did not change).
    pub fn change(&mut self, field: &'static str, old: Option<String>, new: Option<String>) {
        if old != new {
            self.changes.push(NewChange {
                line_id: None,
                field,
                old_value: old,
                new_value: new,
                comment: None,
            });
        }
    }

    pub fn line_change(
        &mut self,
        line_id: Uuid,
        field: &'static str,
        old: Option<String>,
        new: Option<String>,
    ) {
        if old != new {
            self.changes.push(NewChange {
                line_id: Some(line_id),
                field,
                old_value: old,
                new_value: new,
                comment: None,
            });
        }
    }

    /// Moves the order to `next` if its state machine allows it.
    pub fn set_status(&mut self, next: OrderStatus) -> Result<(), AppError> {
        let current = self.status();
        if current == OrderStatus::OnHold && next != OrderStatus::Cancelled {
            // Release: only back to where it was held.
            if self.row.status_before_hold.as_deref() != Some(next.as_str()) {
                return Err(invalid_transition(current, next.as_str()));
            }
        }
        current.check(next)?;
        if current == OrderStatus::OnHold {
            self.row.status_before_hold = None;
            self.row.hold_reason = None;
        }
        self.change(
            "status",
            Some(current.as_str().to_owned()),
            Some(next.as_str().to_owned()),
        );
        next.as_str().clone_into(&mut self.row.status);
        if next == OrderStatus::Confirmed {
            self.row.confirmed_at = Some(self.now);
        }
        Ok(())
    }

    /// Refuses `to` while the order has a standing invoice: the invoice prints the order as it
    /// was, so its content and its cancellation wait for a credit note. Read with the order row
    /// locked (`open`), as `documents::invoices::issue` locks it before its check and insert.
    pub async fn refuse_if_invoiced(&self, to: &str) -> Result<(), AppError> {
        if crate::documents::invoices::has_standing(&*self.tx, self.row.id).await? {
            return Err(AppError::TransitionBlocked {
                from: self.status().as_str(),
                to: to.to_owned(),
                first: "the order has a standing invoice; issue a credit note first",
            });
        }
        Ok(())
    }

    /// Before a seller change to lines or terms: refused once production started or while an
    /// invoice stands; a confirmed order goes back to the customer for acceptance.
    pub async fn seller_edits(&mut self) -> Result<(), AppError> {
        let status = self.status();
        if !status.seller_may_edit() {
            return Err(invalid_transition(status, "EDIT"));
        }
        self.refuse_if_invoiced("EDIT").await?;
        if status == OrderStatus::Confirmed {
            self.set_status(OrderStatus::Proposed)?;
        }
        Ok(())
    }

    /// Puts back the stock every line holds (the order is cancelled).
    pub async fn release_stock(&mut self) -> Result<(), AppError> {
        // In the same global order as checkout takes stock (product, variant).
        let mut sorted: Vec<&mut order_line::Model> = self.lines.iter_mut().collect();
        sorted.sort_by_key(|l| (l.product_id, l.variant_id));
        for line in sorted {
            catalog::service::return_stock(
                &*self.tx,
                line.product_id,
                line.variant_id,
                line.reserved_stock,
            )
            .await?;
            line.reserved_stock = 0;
            store::update_line(&*self.tx, line.clone()).await?;
        }
        Ok(())
    }

    /// Writes the changes, keeps the order's derived columns, bumps the version when the
    /// order's content changed, records the event, commits.
    pub async fn finish(mut self, kind: &'static str, bump: bool) -> Result<Order, AppError> {
        let lines: Vec<OrderLine> = self.lines.iter().cloned().map(store::to_line).collect();
        keep_derived(&mut self.row, &lines)?;
        if self.row.total_e4 < self.row.paid_e4
            && self.row.status != OrderStatus::Cancelled.as_str()
        {
            return Err(AppError::validation(
                "total",
                "the total would fall below what the customer already paid",
            ));
        }
        let event_changes = event_changes(&self.changes);
        store::insert_changes(
            &*self.tx,
            self.row.id,
            self.side,
            Some(self.actor.id),
            std::mem::take(&mut self.changes),
            self.now,
        )
        .await?;
        if bump {
            self.row.version += 1;
        }
        self.row.updated_at = self.now;
        let row = store::update_order(&*self.tx, self.row).await?;
        let mut changes = Value::Object(self.details);
        if let Value::Object(map) = &mut changes
            && let Value::Object(fields) = event_changes
        {
            map.extend(fields);
        }
        self.tx.record(order_event(
            &row,
            kind,
            Some(self.actor.id),
            changes,
            self.now,
        ));
        self.tx.commit().await?;
        store::to_order(row)
    }
}

/// The event of an order: visible to its customer unless the order is still a draft.
pub(super) fn order_event(
    row: &sales_order::Model,
    kind: &'static str,
    actor: Option<Uuid>,
    changes: Value,
    now: DateTime<Utc>,
) -> NewEvent {
    NewEvent {
        kind,
        object_type: ORDER_OBJECT,
        object_id: row.id,
        owner_user_id: None,
        owner_customer_id: Some(row.customer_id),
        internal: !row.shown_to_customer,
        actor_id: actor,
        status: Some(row.status.clone()),
        changes,
        at: now,
    }
}

/// Changed fields as the event shows them: `{"quantity@<line>": {"old": …, "new": …}}`.
fn event_changes(changes: &[NewChange]) -> Value {
    let mut map = Map::new();
    for change in changes {
        let key = match change.line_id {
            Some(line) => format!("{}@{}", change.field, ids::encode(Kind::OrderLine, line)),
            None => change.field.to_owned(),
        };
        map.insert(
            key,
            json!({ "old": change.old_value, "new": change.new_value }),
        );
    }
    Value::Object(map)
}

/// Columns derived from the lines: total, earliest delivery date, first product (for sorting),
/// search text.
pub(super) fn keep_derived(
    row: &mut sales_order::Model,
    lines: &[OrderLine],
) -> Result<(), AppError> {
    let order = store::to_order(row.clone())?;
    let totals = totals(lines, order.adjustments);
    row.total_e4 = to_e4(totals.total, "total")?;
    row.delivery_date = lines.iter().filter_map(|l| l.delivery_date).min();
    (row.delivery_sort, row.delivery_sort_desc) = store::delivery_sort(row.delivery_date);
    row.product_summary = lines
        .first()
        .map(|l| l.name.chars().take(200).collect())
        .unwrap_or_default();
    let mut search = format!(
        "{} {} {} {} {}",
        row.number, row.title, row.customer_reference, row.customer_code, row.contact_name
    );
    for line in lines {
        search.push(' ');
        search.push_str(&line.reference);
        search.push(' ');
        search.push_str(&line.name);
    }
    row.search_text = search.to_lowercase();
    Ok(())
}

/// A postal address typed for an order.
#[derive(Clone, Debug, Default)]
pub struct PostalAddressInput {
    pub name: String,
    pub line1: String,
    pub line2: String,
    pub postal_code: String,
    pub city: String,
    pub country: String,
}

impl PostalAddressInput {
    pub fn parse(self, field: &str) -> Result<PostalAddress, AppError> {
        let at = |name: &str| format!("{field}.{name}");
        Ok(PostalAddress {
            name: parse_text(&self.name, &at("name"), 200, false)?,
            line1: parse_text(&self.line1, &at("line1"), 200, true)?,
            line2: parse_text(&self.line2, &at("line2"), 200, false)?,
            postal_code: parse_text(&self.postal_code, &at("postalCode"), 20, true)?,
            city: parse_text(&self.city, &at("city"), 100, true)?,
            country: customers::model::parse_country(&self.country, &at("country"))?,
        })
    }
}

/// A saved address of the customer, copied onto the order.
pub fn copy_address(address: &customers::Address, name: &str) -> PostalAddress {
    PostalAddress {
        name: if address.label.is_empty() {
            name.to_owned()
        } else {
            address.label.clone()
        },
        line1: address.line1.clone(),
        line2: address.line2.clone(),
        postal_code: address.postal_code.clone(),
        city: address.city.clone(),
        country: address.country.clone(),
    }
}

/// Queues a message about an order to its contact, in the customer's language, if the contact
/// has an email.
pub(super) async fn email_contact(
    tx: &mut WriteTx,
    row: &sales_order::Model,
    template: &'static str,
    data: Value,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, AppError> {
    email_contact_with(tx, row, template, data, Vec::new(), now).await
}

/// The order confirmation email, with the confirmation PDF attached.
pub(super) async fn email_confirmation(
    tx: &mut WriteTx,
    row: &sales_order::Model,
    lines: &[OrderLine],
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, AppError> {
    if row.contact_email.is_none() {
        return Ok(None);
    }
    let settings = catalog::settings::get(&**tx).await?;
    let data = template_data_of(&settings, row, lines)?;
    let order = store::to_order(row.clone())?;
    let pdf = crate::documents::service::confirmation_attachment(&**tx, &order, lines, now).await?;
    email_contact_with(tx, row, "order_confirmed", data, vec![pdf], now).await
}

/// Like [`email_contact`], with attachments.
pub(super) async fn email_contact_with(
    tx: &mut WriteTx,
    row: &sales_order::Model,
    template: &'static str,
    data: Value,
    attachments: Vec<crate::notifications::model::Attachment>,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, AppError> {
    if row.contact_email.is_none() {
        return Ok(None);
    }
    let language = customers::service::language_of(tx, row.customer_id).await?;
    email_contact_in(tx, row, &language, template, data, attachments, now).await
}

/// Like [`email_contact_with`], in a language the caller already knows (the customer's).
pub(super) async fn email_contact_in(
    tx: &mut WriteTx,
    row: &sales_order::Model,
    language: &str,
    template: &'static str,
    data: Value,
    attachments: Vec<crate::notifications::model::Attachment>,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, AppError> {
    if row.contact_email.is_none() {
        return Ok(None);
    }
    let picked = templates::pick(&**tx, template, language).await?;
    email_contact_picked(tx, row, template, &picked, data, attachments, now)
}

/// [`email_contact_in`] with `template` picked beforehand, in the customer's language.
pub(super) fn email_contact_picked(
    tx: &mut WriteTx,
    row: &sales_order::Model,
    template: &'static str,
    picked: &templates::Picked,
    data: Value,
    attachments: Vec<crate::notifications::model::Attachment>,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, AppError> {
    let Some(email) = row.contact_email.as_deref() else {
        return Ok(None);
    };
    let recipient = Recipient::email(email, "contact.email")?;
    let id = outbox::enqueue_picked(
        tx,
        NewMessage {
            recipient,
            template,
            language: picked.language().to_owned(),
            data,
            attachments,
            customer_id: Some(row.customer_id),
        },
        picked,
        now,
    )?;
    Ok(Some(id))
}

/// What order templates can use: number, title, status, totals, lines, store name.
pub(super) async fn template_data(
    tx: &WriteTx,
    row: &sales_order::Model,
) -> Result<Value, AppError> {
    let settings = catalog::settings::get(&**tx).await?;
    let lines: Vec<OrderLine> = store::lines_of(&**tx, &[row.id])
        .await?
        .into_iter()
        .map(store::to_line)
        .collect();
    template_data_of(&settings, row, &lines)
}

/// [`template_data`] with the store settings and the order's lines the caller already holds.
pub(super) fn template_data_of(
    settings: &catalog::settings::StoreSettings,
    row: &sales_order::Model,
    lines: &[OrderLine],
) -> Result<Value, AppError> {
    let order = store::to_order(row.clone())?;
    let totals = totals(lines, order.adjustments);
    Ok(json!({
        "store_name": settings.name,
        "currency": settings.currency,
        "number": row.number,
        "title": row.title,
        "status": row.status,
        "customer_reference": row.customer_reference,
        "contact_name": row.contact_name,
        "total": totals.total.to_string(),
        "subtotal": totals.subtotal.to_string(),
        "vat_total": totals.vat_total.to_string(),
        "lines": lines.iter().map(|l| json!({
            "reference": l.reference,
            "name": l.name,
            "quantity": l.quantity,
            "unit_price": l.unit_price.to_string(),
            "total": l.amount.total.to_string(),
            "delivery_date": l.delivery_date.map(|d| d.to_string()),
        })).collect::<Vec<_>>(),
    }))
}

/// A decimal as stored in a change record.
pub(super) fn money_text(value: Decimal) -> String {
    value.normalize().to_string()
}

pub(super) fn bp(value: Decimal, field: &str) -> Result<i32, AppError> {
    rate_to_bp(value, field)
}
