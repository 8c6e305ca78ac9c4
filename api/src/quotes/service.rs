//! Quote settings, who may see which quote, listing, and the edit every quote mutation goes
//! through (row locked, version checked, one event, one commit).

use chrono::{DateTime, Utc};
use comptoir_entity::{quote, quote_line};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{
    model::{Negotiation, Quote, QuoteLine, QuoteSettings, QuoteStatus, totals},
    store::{self, QuoteCursor, QuoteFilter, SortField},
};
use crate::{
    auth::{AuthUser, Principal, Role},
    db::WriteTx,
    error::AppError,
    events::NewEvent,
    kernel::{
        money::to_e4,
        pagination::{Page, PageRequest},
    },
    state::AppState,
};

pub const QUOTE_OBJECT: &str = "Quote";

pub fn quote_not_found() -> AppError {
    AppError::not_found("quote", "id")
}

/// The settings, as everyone may read them.
pub async fn settings(db: &impl sea_orm::ConnectionTrait) -> Result<QuoteSettings, AppError> {
    Ok(store::to_settings(&store::settings_row(db, false).await?))
}

/// The settings if quotes are offered to the caller; `QUOTES_UNAVAILABLE` otherwise.
pub async fn require_available(
    db: &impl sea_orm::ConnectionTrait,
    principal: &Principal,
) -> Result<QuoteSettings, AppError> {
    let settings = settings(db).await?;
    settings.require(principal.role())?;
    Ok(settings)
}

/// What admins may change in the settings (`None`: unchanged).
#[derive(Clone, Debug, Default)]
pub struct SettingsChanges {
    pub enabled: Option<bool>,
    pub visible_to: Option<Vec<super::model::Audience>>,
    pub cart_button: Option<bool>,
    pub button_label: Option<String>,
    pub customer_notice: Option<String>,
    pub minimal_checkout: Option<bool>,
    pub lock_payment_method: Option<bool>,
    pub validity_days: Option<i32>,
    pub sales_manager_email: Option<Option<String>>,
    pub notify_sales_rep: Option<bool>,
    pub notify_on_request: Option<bool>,
    pub allow_out_of_stock: Option<bool>,
    pub retention_days: Option<i32>,
}

/// ADMIN: changes the quote settings; `version` is the one read.
pub async fn update_settings(
    state: &AppState,
    principal: &Principal,
    version: i32,
    changes: SettingsChanges,
) -> Result<QuoteSettings, AppError> {
    use super::model::Audience;
    use crate::customers::model::parse_text;
    principal.require_admin()?;
    let validity = changes
        .validity_days
        .map(|d| super::model::parse_validity_days(d, "validityDays"))
        .transpose()?;
    let retention = changes
        .retention_days
        .map(|d| {
            if (1..=3650).contains(&d) {
                Ok(d)
            } else {
                Err(AppError::validation(
                    "retentionDays",
                    "between 1 and 3650 days",
                ))
            }
        })
        .transpose()?;
    let label = changes
        .button_label
        .as_deref()
        .map(|l| parse_text(l, "buttonLabel", 100, true))
        .transpose()?;
    let notice = changes
        .customer_notice
        .as_deref()
        .map(|n| parse_text(n, "customerNotice", 5_000, false))
        .transpose()?;
    let email = changes
        .sales_manager_email
        .map(|e| {
            e.filter(|e| !e.trim().is_empty())
                .map(|e| {
                    crate::notifications::model::Recipient::email(&e, "salesManagerEmail")
                        .map(|r| r.address)
                })
                .transpose()
        })
        .transpose()?;
    let tx = state.db.begin(&state.events).await?;
    let mut row = store::settings_row(&*tx, true).await?;
    if row.version != version {
        return Err(AppError::stale(row.version));
    }
    macro_rules! set {
        ($field:ident, $value:expr) => {
            if let Some(value) = $value {
                row.$field = value;
            }
        };
    }
    set!(enabled, changes.enabled);
    if let Some(visible) = changes.visible_to {
        row.visible_public = visible.contains(&Audience::Public);
        row.visible_identified = visible.contains(&Audience::Identified);
        row.visible_account_client = visible.contains(&Audience::AccountClient);
    }
    set!(cart_button, changes.cart_button);
    set!(button_label, label);
    set!(customer_notice, notice);
    set!(minimal_checkout, changes.minimal_checkout);
    set!(lock_payment_method, changes.lock_payment_method);
    set!(validity_days, validity);
    set!(sales_manager_email, email);
    set!(notify_sales_rep, changes.notify_sales_rep);
    set!(notify_on_request, changes.notify_on_request);
    set!(allow_out_of_stock, changes.allow_out_of_stock);
    set!(retention_days, retention);
    row.version += 1;
    row.updated_at = state.clock.now();
    let row = store::save_settings(&*tx, row).await?;
    tx.commit().await?;
    Ok(store::to_settings(&row))
}

/// Staff see every quote; a customer's users their customer's, except deleted ones and a
/// revision still being prepared.
pub fn may_see(principal: &Principal, row: &quote::Model) -> bool {
    if principal.is_staff() {
        return true;
    }
    let Some(customer) = principal.customer_id() else {
        return false;
    };
    row.customer_id == Some(customer)
        && row.status != QuoteStatus::Deleted.as_str()
        && !(row.revision > 1 && row.status == QuoteStatus::InPreparation.as_str())
}

/// A quote the caller may see (quotes must be available to them).
pub async fn quote(state: &AppState, principal: &Principal, id: Uuid) -> Result<Quote, AppError> {
    principal.require_user()?;
    require_available(state.db.read(), principal).await?;
    match store::find(state.db.read(), id).await? {
        Some(row) if may_see(principal, &row) => store::to_quote(row),
        _ => Err(quote_not_found()),
    }
}

#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub filter: QuoteFilter,
    pub sort: Option<SortField>,
    pub ascending: Option<bool>,
}

/// Staff: every quote (all revisions), newest first by default.
pub async fn quotes(
    state: &AppState,
    principal: &Principal,
    query: ListQuery,
    page: PageRequest,
) -> Result<Page<(String, Quote)>, AppError> {
    principal.require_staff()?;
    list(state, query, page).await
}

/// The caller's customer's quotes: the current revision of each, newest first.
pub async fn my_quotes(
    state: &AppState,
    principal: &Principal,
    page: PageRequest,
) -> Result<Page<(String, Quote)>, AppError> {
    let user = principal.require_user()?;
    require_available(state.db.read(), principal).await?;
    let Some(customer_id) = user.customer_id else {
        return Ok(Page::empty());
    };
    let query = ListQuery {
        filter: QuoteFilter {
            customer_id: Some(customer_id),
            for_customer: true,
            ..QuoteFilter::default()
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
) -> Result<Page<(String, Quote)>, AppError> {
    query.filter.search = crate::customers::service::parse_search(query.filter.search.take())?;
    let field = query.sort.unwrap_or(SortField::CreatedAt);
    let ascending = query
        .ascending
        .unwrap_or(!matches!(field, SortField::CreatedAt));
    let after =
        crate::kernel::pagination::keyset_cursor(page.after.as_deref(), |c: &QuoteCursor| {
            c.sort == store::sort_name(field, ascending)
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
        store::to_quote(row).map(|q| (key, q))
    })
}

pub async fn lines_of(
    db: &impl sea_orm::ConnectionTrait,
    quote_ids: &[Uuid],
) -> Result<Vec<QuoteLine>, AppError> {
    Ok(store::lines_of(db, quote_ids)
        .await?
        .into_iter()
        .map(store::to_line)
        .collect())
}

/// Every revision of the quotes rooted at `root_ids` (loaders).
pub async fn revisions_of(
    db: &impl sea_orm::ConnectionTrait,
    root_ids: &[Uuid],
) -> Result<Vec<Quote>, AppError> {
    store::revisions(db, root_ids)
        .await?
        .into_iter()
        .map(store::to_quote)
        .collect()
}

/// A quote opened for a change.
pub(super) struct Edit {
    pub tx: WriteTx,
    pub row: quote::Model,
    pub lines: Vec<quote_line::Model>,
    pub actor: AuthUser,
    pub now: DateTime<Utc>,
    pub changes: Map<String, Value>,
    pub internal: bool,
}

impl Edit {
    /// Opens quote `id` for the caller at `version` (when given). Customers must be offered
    /// quotes; the quote must be one they may see.
    pub async fn open(
        state: &AppState,
        principal: &Principal,
        id: Uuid,
        version: Option<i32>,
    ) -> Result<Self, AppError> {
        let actor = principal.require_user()?;
        if !principal.is_staff() {
            require_available(state.db.read(), principal).await?;
        }
        let tx = state.db.begin(&state.events).await?;
        let row = store::find_for_update(&*tx, id)
            .await?
            .filter(|row| may_see(principal, row))
            .ok_or_else(quote_not_found)?;
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
            actor,
            now: state.clock.now(),
            changes: Map::new(),
            internal: false,
        })
    }

    pub fn status(&self) -> QuoteStatus {
        QuoteStatus::parse(&self.row.status).unwrap_or(QuoteStatus::Requested)
    }

    pub fn negotiation(&self) -> Negotiation {
        Negotiation::parse(&self.row.negotiation).unwrap_or(Negotiation::None)
    }

    pub fn set_status(&mut self, next: QuoteStatus) -> Result<(), AppError> {
        let current = self.status();
        current.check(next)?;
        self.change("status", json!(current.as_str()), json!(next.as_str()));
        next.as_str().clone_into(&mut self.row.status);
        Ok(())
    }

    pub fn set_negotiation(&mut self, next: Negotiation) {
        let current = self.negotiation();
        if current != next {
            self.change("negotiation", json!(current.as_str()), json!(next.as_str()));
            next.as_str().clone_into(&mut self.row.negotiation);
        }
    }

    #[allow(clippy::needless_pass_by_value)] // Callers build the values with `json!`.
    pub fn change(&mut self, field: &str, old: Value, new: Value) {
        if old != new {
            self.changes
                .insert(field.to_owned(), json!({ "old": old, "new": new }));
        }
    }

    /// Keeps the total, bumps the version, records the event, commits.
    pub async fn finish(mut self, kind: &'static str) -> Result<Quote, AppError> {
        keep_derived(&mut self.row, &self.lines)?;
        self.row.version += 1;
        self.row.updated_at = self.now;
        let row = store::update(&*self.tx, self.row).await?;
        let mut event = quote_event(
            &row,
            kind,
            Some(self.actor.id),
            Value::Object(self.changes),
            self.now,
        );
        event.internal = event.internal || self.internal;
        self.tx.record(event);
        self.tx.commit().await?;
        store::to_quote(row)
    }
}

/// The event of a quote: its customer sees it, unless it concerns a revision still being
/// prepared.
pub(super) fn quote_event(
    row: &quote::Model,
    kind: &'static str,
    actor: Option<Uuid>,
    changes: Value,
    now: DateTime<Utc>,
) -> NewEvent {
    NewEvent {
        kind,
        object_type: QUOTE_OBJECT,
        object_id: row.id,
        owner_user_id: row.requested_by.filter(|_| row.customer_id.is_none()),
        owner_customer_id: row.customer_id,
        internal: row.revision > 1 && row.status == QuoteStatus::InPreparation.as_str(),
        actor_id: actor,
        status: Some(row.status.clone()),
        changes,
        at: now,
    }
}

/// Total and search text, from the lines.
pub(super) fn keep_derived(
    row: &mut quote::Model,
    lines: &[quote_line::Model],
) -> Result<(), AppError> {
    let quote = store::to_quote(row.clone())?;
    let lines: Vec<QuoteLine> = lines.iter().cloned().map(store::to_line).collect();
    row.total_e4 = to_e4(totals(&lines, quote.adjustments).total, "total")?;
    let mut search = format!(
        "{} {} {} {}",
        row.number,
        row.contact_name,
        row.contact_company,
        row.contact_email.as_deref().unwrap_or_default()
    );
    for line in &lines {
        search.push(' ');
        search.push_str(&line.reference);
        search.push(' ');
        search.push_str(&line.name);
    }
    row.search_text = search.to_lowercase();
    Ok(())
}

/// Quotes are for customers: staff act on them from the desk, never as requesters.
pub fn require_customer_side(principal: &Principal) -> Result<(), AppError> {
    if matches!(principal.role(), Role::Manager | Role::Admin) {
        Err(AppError::Forbidden)
    } else {
        Ok(())
    }
}

/// A file of a quote the caller may see: its name, type and content.
pub async fn attachment(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<(String, String, Vec<u8>), AppError> {
    principal.require_user()?;
    let not_found = || AppError::not_found("attachment", "id");
    let file = store::attachment(state.db.read(), id)
        .await?
        .ok_or_else(not_found)?;
    if !principal.is_staff() {
        require_available(state.db.read(), principal).await?;
    }
    match store::find(state.db.read(), file.quote_id).await? {
        Some(row) if may_see(principal, &row) => {
            Ok((file.filename, file.content_type, file.content))
        }
        _ => Err(not_found()),
    }
}

/// The quote converted into order `order_id` follows the order's invoicing
/// (`transferredToInvoice`), in the invoice's transaction: row locked, version bumped, one event.
pub async fn set_invoiced(
    tx: &mut WriteTx,
    order_id: Uuid,
    invoiced: bool,
    actor: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    for mut row in store::of_order_for_update(&**tx, order_id).await? {
        if row.transferred_to_invoice == invoiced {
            continue;
        }
        row.transferred_to_invoice = invoiced;
        row.version += 1;
        row.updated_at = now;
        let row = store::update(&**tx, row).await?;
        let changes = json!({ "transferredToInvoice": { "old": !invoiced, "new": invoiced } });
        tx.record(quote_event(&row, "QUOTE_INVOICED", actor, changes, now));
    }
    Ok(())
}
