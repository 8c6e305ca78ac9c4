//! Reading rental projects, and what every project use case shares: who may see a project, how
//! an edit opens (the row locked, the version checked) and how it closes (derived columns kept,
//! changes and the event written, one commit).

use chrono::{DateTime, Utc};
use comptoir_entity::{rental_item, rental_project};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{
    ledger::{Ledger, Lock},
    model::{Change, Item, Project, ProjectStatus, Shortage, totals},
    store::{self, NewChange, ProjectCursor, ProjectFilter, SortField},
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
        money::to_e4,
        pagination::{Page, PageRequest},
    },
    notifications::{
        model::Recipient,
        outbox::{self, NewMessage},
    },
    orders::model::Side,
    state::AppState,
};

pub const PROJECT_OBJECT: &str = "RentalProject";

pub fn project_not_found() -> AppError {
    AppError::not_found("rental project", "id")
}

/// Staff see every project; a customer's users their customer's.
fn may_see(principal: &Principal, row: &rental_project::Model) -> bool {
    principal.is_staff() || principal.customer_id() == Some(row.customer_id)
}

/// The project `id` if the caller may see it; `NOT_FOUND` otherwise (whether or not it exists).
pub async fn find_for(
    db: &impl sea_orm::ConnectionTrait,
    principal: &Principal,
    id: Uuid,
) -> Result<Project, AppError> {
    principal.require_user()?;
    match store::find(db, id).await? {
        Some(row) if may_see(principal, &row) => store::to_project(row),
        _ => Err(project_not_found()),
    }
}

pub async fn project(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<Project, AppError> {
    find_for(state.db.read(), principal, id).await
}

#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub filter: ProjectFilter,
    /// Only projects handed out and past their end.
    pub late: bool,
    pub sort: Option<SortField>,
    pub ascending: Option<bool>,
}

/// Staff: every project, newest first unless sorted otherwise.
pub async fn projects(
    state: &AppState,
    principal: &Principal,
    query: ListQuery,
    page: PageRequest,
) -> Result<Page<(String, Project)>, AppError> {
    principal.require_staff()?;
    list(state, query, page).await
}

/// The caller's customer's projects, newest first.
pub async fn my_projects(
    state: &AppState,
    principal: &Principal,
    statuses: Vec<ProjectStatus>,
    page: PageRequest,
) -> Result<Page<(String, Project)>, AppError> {
    let user = principal.require_user()?;
    let Some(customer_id) = user.customer_id else {
        return Ok(Page::empty());
    };
    let query = ListQuery {
        filter: ProjectFilter {
            customer_id: Some(customer_id),
            statuses,
            ..ProjectFilter::default()
        },
        ..ListQuery::default()
    };
    list(state, query, page).await
}

async fn list(
    state: &AppState,
    mut query: ListQuery,
    page: PageRequest,
) -> Result<Page<(String, Project)>, AppError> {
    query.filter.search = customers::service::parse_search(query.filter.search.take())?;
    if query.late {
        query.filter.late_at = Some(state.clock.now());
    }
    if let (Some(from), Some(to)) = (query.filter.period_from, query.filter.period_to)
        && to <= from
    {
        return Err(AppError::validation(
            "periodTo",
            "the end must be after the start",
        ));
    }
    let field = query.sort.unwrap_or(SortField::CreatedAt);
    let ascending = query
        .ascending
        .unwrap_or(!matches!(field, SortField::CreatedAt));
    let after =
        crate::kernel::pagination::keyset_cursor(page.after.as_deref(), |c: &ProjectCursor| {
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
        store::to_project(row).map(|project| (key, project))
    })
}

/// Items of projects the caller may already see (loaders).
pub async fn items_of(
    db: &impl sea_orm::ConnectionTrait,
    project_ids: &[Uuid],
) -> Result<Vec<Item>, AppError> {
    Ok(store::items_of(db, project_ids)
        .await?
        .into_iter()
        .map(store::to_item)
        .collect())
}

pub async fn changes_of(
    db: &impl sea_orm::ConnectionTrait,
    project_ids: &[Uuid],
) -> Result<Vec<Change>, AppError> {
    Ok(store::changes_of(db, project_ids).await?)
}

/// A customer's newest projects (at most [`store::PER_CUSTOMER`]) and how many they have.
#[derive(Clone, Debug, Default)]
pub struct CustomerProjects {
    pub projects: Vec<Project>,
    pub total: u64,
}

/// Projects of customers the caller may already see (loaders), newest first.
pub async fn of_customers(
    db: &impl sea_orm::ConnectionTrait,
    customer_ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, CustomerProjects>, AppError> {
    let mut by_customer: std::collections::HashMap<Uuid, CustomerProjects> =
        std::collections::HashMap::new();
    for ranked in store::of_customers(db, customer_ids).await? {
        let entry = by_customer.entry(ranked.project.customer_id).or_default();
        entry.total = u64::try_from(ranked.total).unwrap_or(0);
        entry.projects.push(store::to_project(ranked.project)?);
    }
    Ok(by_customer)
}

/// A project opened for a change: its row locked, its version checked, its items loaded.
/// Every change is recorded (field, old, new) and [`Edit::finish`] writes them with the event.
pub(super) struct Edit {
    pub tx: WriteTx,
    pub row: rental_project::Model,
    pub items: Vec<rental_item::Model>,
    pub changes: Vec<NewChange>,
    pub actor: AuthUser,
    pub side: Side,
    pub now: DateTime<Utc>,
    /// Event details beyond the changed fields.
    pub details: Map<String, Value>,
    /// A shortage the manager accepted: recorded as a staff-only event (it names other
    /// customers' projects).
    pub accepted: Option<Value>,
}

impl Edit {
    /// Opens project `id` for the caller, at `version`.
    pub async fn open(
        state: &AppState,
        principal: &Principal,
        id: Uuid,
        version: i32,
    ) -> Result<Self, AppError> {
        let actor = principal.require_user()?;
        let tx = state.db.begin(&state.events).await?;
        let row = store::find_for_update(&*tx, id)
            .await?
            .filter(|row| may_see(principal, row))
            .ok_or_else(project_not_found)?;
        if version != row.version {
            return Err(AppError::stale(row.version));
        }
        let items = store::items_of(&*tx, &[id]).await?;
        Ok(Self {
            tx,
            row,
            items,
            changes: Vec::new(),
            actor,
            side: if principal.is_staff() {
                Side::Seller
            } else {
                Side::Customer
            },
            now: state.clock.now(),
            details: Map::new(),
            accepted: None,
        })
    }

    pub fn status(&self) -> ProjectStatus {
        ProjectStatus::parse(&self.row.status).unwrap_or(ProjectStatus::New)
    }

    /// Records a change of a project field (nothing when the value did not change).
    pub fn change(&mut self, field: &'static str, old: Option<String>, new: Option<String>) {
        if old != new {
            self.changes.push(NewChange {
                item_id: None,
                field,
                old_value: old,
                new_value: new,
            });
        }
    }

    pub fn item_change(
        &mut self,
        item_id: Uuid,
        field: &'static str,
        old: Option<String>,
        new: Option<String>,
    ) {
        if old != new {
            self.changes.push(NewChange {
                item_id: Some(item_id),
                field,
                old_value: old,
                new_value: new,
            });
        }
    }

    /// Moves the project to `next` if its state machine allows it; its items follow, written
    /// at once so that availability read later in the transaction sees them.
    pub async fn set_status(&mut self, next: ProjectStatus) -> Result<(), AppError> {
        let current = self.status();
        current.check(next)?;
        self.change(
            "status",
            Some(current.as_str().to_owned()),
            Some(next.as_str().to_owned()),
        );
        next.as_str().clone_into(&mut self.row.status);
        let item_status = next.item_status();
        for item in &mut self.items {
            item_status.as_str().clone_into(&mut item.status);
        }
        store::set_items_status(&*self.tx, self.row.id, item_status).await?;
        let at = Some(self.now);
        match next {
            ProjectStatus::InWork => self.row.started_at = at,
            ProjectStatus::Issued => self.row.issued_at = at,
            ProjectStatus::Returned => self.row.returned_at = at,
            ProjectStatus::Completed => self.row.completed_at = at,
            ProjectStatus::Cancelled => self.row.cancelled_at = at,
            ProjectStatus::New => {}
        }
        Ok(())
    }

    /// Refused unless managers may still change the project's items and prices.
    pub fn require_editable(&self) -> Result<(), AppError> {
        let status = self.status();
        if status.editable() {
            Ok(())
        } else {
            Err(AppError::InvalidTransition {
                from: status.as_str(),
                to: "EDIT".to_owned(),
            })
        }
    }

    /// The items' shortages against what other projects hold, products locked first when
    /// the project's items count (so that a parallel reservation waits for this one).
    pub async fn shortages(&self) -> Result<Vec<Shortage>, AppError> {
        let ledger = Ledger::for_items(
            &*self.tx,
            &self.items,
            Some(self.row.id),
            self.now,
            Lock::Reserve,
        )
        .await?;
        Ok(ledger.shortages(&self.items))
    }

    /// Writes the changes, keeps the project's derived columns, bumps the version, records the
    /// event, commits.
    pub async fn finish(mut self, kind: &'static str) -> Result<Project, AppError> {
        keep_derived(&mut self.row, &self.items)?;
        self.row.version += 1;
        self.row.updated_at = self.now;
        let row = store::update_project(&*self.tx, self.row).await?;
        let mut changes = event_changes(&self.changes);
        if let Value::Object(map) = &mut changes {
            map.extend(self.details);
        }
        store::insert_changes(
            &*self.tx,
            row.id,
            self.side,
            Some(self.actor.id),
            self.changes,
            self.now,
        )
        .await?;
        self.tx.record(project_event(
            &row,
            kind,
            Some(self.actor.id),
            changes,
            self.now,
        ));
        if let Some(shortage) = self.accepted {
            let mut event = project_event(
                &row,
                "SHORTAGE_ACCEPTED",
                Some(self.actor.id),
                json!({ "acceptedShortage": shortage }),
                self.now,
            );
            event.internal = true;
            self.tx.record(event);
        }
        self.tx.commit().await?;
        store::to_project(row)
    }
}

/// The event of a project: its customer's users see it.
pub(super) fn project_event(
    row: &rental_project::Model,
    kind: &'static str,
    actor: Option<Uuid>,
    changes: Value,
    now: DateTime<Utc>,
) -> NewEvent {
    NewEvent {
        kind,
        object_type: PROJECT_OBJECT,
        object_id: row.id,
        owner_user_id: None,
        owner_customer_id: Some(row.customer_id),
        internal: false,
        actor_id: actor,
        status: Some(row.status.clone()),
        changes,
        at: now,
    }
}

/// Changed fields as the event shows them: `{"quantity@<item>": {"old": …, "new": …}}`.
fn event_changes(changes: &[NewChange]) -> Value {
    let mut map = Map::new();
    for change in changes {
        let key = match change.item_id {
            Some(item) => format!("{}@{}", change.field, ids::encode(Kind::RentalItem, item)),
            None => change.field.to_owned(),
        };
        map.insert(
            key,
            json!({ "old": change.old_value, "new": change.new_value }),
        );
    }
    Value::Object(map)
}

/// Columns derived from the items: total, the period they span, search text.
pub(super) fn keep_derived(
    row: &mut rental_project::Model,
    items: &[rental_item::Model],
) -> Result<(), AppError> {
    let items: Vec<Item> = items.iter().cloned().map(store::to_item).collect();
    row.total_e4 = to_e4(totals(&items).total, "total")?;
    if let Some(start) = items.iter().map(|i| i.period.start).min() {
        row.period_start = start;
    }
    if let Some(end) = items.iter().map(|i| i.period.end).max() {
        row.period_end = end;
    }
    let mut search = format!(
        "{} {} {} {} {}",
        row.number,
        row.customer_name,
        row.contact_name,
        row.company,
        row.contact_email.as_deref().unwrap_or_default()
    );
    for item in &items {
        search.push(' ');
        search.push_str(&item.reference);
        search.push(' ');
        search.push_str(&item.name);
    }
    row.search_text = search.to_lowercase();
    Ok(())
}

/// The shortages as the `INSUFFICIENT_AVAILABILITY` error lists them (IDs opaque).
pub(super) fn insufficient(shortages: &[Shortage]) -> AppError {
    let detail = shortages
        .iter()
        .map(|s| {
            json!({
                "field": format!("items.{}", s.position),
                "itemId": ids::encode(Kind::RentalItem, s.item_id),
                "productId": ids::encode(Kind::Product, s.product_id),
                "reference": s.reference,
                "name": s.name,
                "requested": s.requested,
                "available": s.available,
                "short": s.short,
                "clashes": s.clashes,
            })
        })
        .collect();
    AppError::InsufficientAvailability {
        field: shortages
            .first()
            .map(|s| format!("items.{}", s.position))
            .unwrap_or_default(),
        shortages: Value::Array(detail),
    }
}

/// Re-judges the drafts (`NEW` projects) with items of `product_ids` over `[from, to)` after
/// units were reserved or freed: a draft that turns short is flagged, its customer emailed and
/// told live; one whose shortage is gone is unflagged. Drafts another transaction is changing
/// are skipped (it judges them itself).
pub(super) async fn refresh_drafts(
    tx: &mut WriteTx,
    product_ids: &[Uuid],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    except: Uuid,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let ids = store::drafts_touching(&**tx, product_ids, from, to, except).await?;
    if ids.is_empty() {
        return Ok(());
    }
    let drafts = store::lock_drafts(&**tx, &ids).await?;
    let draft_ids: Vec<Uuid> = drafts.iter().map(|d| d.id).collect();
    let items = store::items_of(&**tx, &draft_ids).await?;
    // A plain read: sharing other products' locks here could wait in a circle with another
    // reservation; a draft that two parallel reservations leave short together may be flagged
    // late (its items always show what is free).
    let ledger = Ledger::for_items(&**tx, &items, None, now, Lock::None).await?;
    for mut draft in drafts {
        let own: Vec<rental_item::Model> = items
            .iter()
            .filter(|i| i.project_id == draft.id)
            .cloned()
            .collect();
        let shortages = ledger.shortages(&own);
        let short = !shortages.is_empty();
        if short == draft.short {
            continue;
        }
        // A derived flag: no version bump, so that a manager's edit in progress stays valid.
        draft.short = short;
        let draft = store::update_project(&**tx, draft).await?;
        let kind = if short {
            "SHORTAGE"
        } else {
            "SHORTAGE_RESOLVED"
        };
        let detail = json!({ "short": { "old": !short, "new": short } });
        tx.record(project_event(&draft, kind, None, detail, now));
        if short {
            let data = template_data(tx, &draft, &own).await?;
            email_contact(tx, &draft, "rental_shortage", data, now).await?;
        }
    }
    Ok(())
}

/// Queues a message about a project to its contact, in the customer's language, if the contact
/// has an email.
pub(super) async fn email_contact(
    tx: &mut WriteTx,
    row: &rental_project::Model,
    template: &'static str,
    data: Value,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let Some(email) = row.contact_email.as_deref() else {
        return Ok(());
    };
    let recipient = Recipient::email(email, "contact.email")?;
    let language = customers::service::language_of(tx, row.customer_id).await?;
    outbox::enqueue(
        tx,
        NewMessage {
            recipient,
            template,
            language,
            data,
            attachments: Vec::new(),
            customer_id: Some(row.customer_id),
        },
        now,
    )
    .await?;
    Ok(())
}

/// What rental templates can use: number, status, contact, items, totals, store name.
pub(super) async fn template_data(
    tx: &WriteTx,
    row: &rental_project::Model,
    items: &[rental_item::Model],
) -> Result<Value, AppError> {
    let settings = catalog::settings::get(&**tx).await?;
    let items: Vec<Item> = items.iter().cloned().map(store::to_item).collect();
    let totals = totals(&items);
    let day = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M").to_string();
    Ok(json!({
        "store_name": settings.name,
        "currency": settings.currency,
        "number": row.number,
        "status": row.status,
        "contact_name": row.contact_name,
        "contact_email": row.contact_email,
        "contact_phone": row.contact_phone,
        "company": row.company,
        "note": row.customer_note,
        "manager_note": row.manager_note,
        "reason": row.cancel_reason,
        "total": totals.total.to_string(),
        "items": items.iter().map(|i| json!({
            "reference": i.reference,
            "name": i.name,
            "quantity": i.quantity,
            "start": day(i.period.start),
            "end": day(i.period.end),
            "days": i.period.days(),
            "total": i.amount.total.to_string(),
        })).collect::<Vec<_>>(),
    }))
}

/// A free text a manager or customer writes on a project: at most 5,000 characters.
pub(super) fn parse_note(value: &str, field: &str) -> Result<String, AppError> {
    parse_text(value, field, 5_000, false)
}
