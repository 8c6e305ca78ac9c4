//! Customer use cases. Every lookup by ID goes through the principal: staff see all customers,
//! a user only the customer they belong to; anything else is `NOT_FOUND`, so IDs leak nothing.

use chrono::{DateTime, Utc};
use comptoir_entity::{customer, customer_address, customer_contact};
use rand::Rng;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, ModelTrait, QueryFilter, Set,
    sea_query::Expr,
};
use uuid::Uuid;

use super::{
    model::{
        Address, AddressKind, Contact, Customer, CustomerKind, CustomerSource, parse_country,
        parse_customer_code, parse_language, parse_phone, parse_text, parse_vat_id,
    },
    store::{self, CustomerFilter},
};
use crate::{
    auth::{Principal, Role, model::Email},
    db::WriteTx,
    error::AppError,
    kernel::pagination::{Page, PageRequest},
    state::AppState,
};

fn may_access(principal: &Principal, customer_id: Uuid) -> bool {
    principal.is_staff() || principal.customer_id() == Some(customer_id)
}

fn customer_not_found(field: &str) -> AppError {
    AppError::not_found("customer", field)
}

/// `NOT_FOUND` unless the customer exists (for links from other contexts).
pub async fn require_exists(tx: &WriteTx, id: Uuid, field: &str) -> Result<(), AppError> {
    store::find(&**tx, id)
        .await?
        .ok_or_else(|| customer_not_found(field))?;
    Ok(())
}

/// Why the customer is blocked (`None` when it is not); `NOT_FOUND` on `field` when it does not
/// exist. For contexts that link things to a customer.
pub async fn blocked_reason(
    tx: &WriteTx,
    id: Uuid,
    field: &str,
) -> Result<Option<String>, AppError> {
    let row = store::find(&**tx, id)
        .await?
        .ok_or_else(|| customer_not_found(field))?;
    Ok(row.blocked.then(|| {
        row.blocked_reason
            .unwrap_or_else(|| "customer blocked".to_owned())
    }))
}

/// `NOT_FOUND` unless the caller may see customer `id` (`UNAUTHENTICATED` without a user).
fn require_access(principal: &Principal, id: Uuid) -> Result<(), AppError> {
    principal.require_user()?;
    if may_access(principal, id) {
        Ok(())
    } else {
        Err(customer_not_found("id"))
    }
}

/// The customer `id` if the caller may see it.
pub async fn find_for(
    db: &impl ConnectionTrait,
    principal: &Principal,
    id: Uuid,
) -> Result<Customer, AppError> {
    require_access(principal, id)?;
    store::find(db, id)
        .await?
        .map(store::to_customer)
        .transpose()?
        .ok_or_else(|| customer_not_found("id"))
}

/// The customer `id` if the caller may see it, with their saved addresses (one statement).
pub async fn find_with_addresses_for(
    db: &impl ConnectionTrait,
    principal: &Principal,
    id: Uuid,
) -> Result<(Customer, Vec<Address>), AppError> {
    require_access(principal, id)?;
    let (customer, addresses) = store::find_with_addresses(db, id)
        .await?
        .ok_or_else(|| customer_not_found("id"))?;
    let addresses = addresses.into_iter().map(store::to_address).collect();
    Ok((store::to_customer(customer)?, addresses))
}

/// The caller's own customer, if they belong to one.
pub async fn my_customer(
    state: &AppState,
    principal: &Principal,
) -> Result<Option<Customer>, AppError> {
    match principal.customer_id() {
        Some(id) => find_for(state.db.read(), principal, id).await.map(Some),
        None => Ok(None),
    }
}

/// Customers by ID, for loaders; only those the caller may see.
pub async fn by_ids(
    db: &impl ConnectionTrait,
    principal: &Principal,
    ids: &[Uuid],
) -> Result<Vec<Customer>, AppError> {
    let ids: Vec<Uuid> = ids
        .iter()
        .copied()
        .filter(|id| may_access(principal, *id))
        .collect();
    store::by_ids(db, &ids)
        .await?
        .into_iter()
        .map(store::to_customer)
        .collect()
}

pub async fn contacts_of(
    db: &impl ConnectionTrait,
    customer_ids: &[Uuid],
) -> Result<Vec<Contact>, AppError> {
    Ok(store::contacts_of(db, customer_ids)
        .await?
        .into_iter()
        .map(store::to_contact)
        .collect())
}

pub async fn addresses_of(
    db: &impl ConnectionTrait,
    customer_ids: &[Uuid],
) -> Result<Vec<Address>, AppError> {
    Ok(store::addresses_of(db, customer_ids)
        .await?
        .into_iter()
        .map(store::to_address)
        .collect())
}

pub struct CustomerListFilter {
    pub search: Option<String>,
    pub blocked: Option<bool>,
    pub source: Option<CustomerSource>,
    pub kind: Option<CustomerKind>,
    pub sales_rep_id: Option<Uuid>,
}

/// Staff: customers by name, searchable by name, code and contact email.
pub async fn customers(
    state: &AppState,
    principal: &Principal,
    filter: CustomerListFilter,
    page: PageRequest,
) -> Result<Page<Customer>, AppError> {
    principal.require_staff()?;
    let after = page
        .after
        .as_deref()
        .map(|cursor| {
            serde_json::from_str::<(String, Uuid)>(cursor)
                .map_err(|_| AppError::validation("after", "not a valid cursor"))
        })
        .transpose()?;
    let filter = CustomerFilter {
        search: parse_search(filter.search)?,
        blocked: filter.blocked,
        source: filter.source,
        kind: filter.kind,
        sales_rep_id: filter.sales_rep_id,
    };
    let (rows, total_count) =
        store::list(state.db.read(), &filter, after.clone(), page.limit).await?;
    Page::from_rows(
        rows,
        page.limit,
        after.is_some(),
        total_count,
        store::to_customer,
    )
}

/// The cursor of a customer in the list.
pub fn cursor(customer: &Customer) -> String {
    serde_json::to_string(&(&customer.name, customer.id)).unwrap_or_default()
}

pub struct CustomerInput {
    pub name: Option<String>,
    pub code: Option<String>,
    pub kind: Option<CustomerKind>,
    pub vat_id: Option<String>,
    pub language: Option<String>,
    pub sales_rep_id: Option<Uuid>,
    pub notes: Option<String>,
}

struct ParsedCustomer {
    name: Option<String>,
    code: Option<String>,
    vat_id: Option<String>,
    language: Option<String>,
    notes: Option<String>,
}

fn parse_customer(input: &CustomerInput) -> Result<ParsedCustomer, AppError> {
    Ok(ParsedCustomer {
        name: input
            .name
            .as_deref()
            .map(|n| parse_text(n, "name", 200, true))
            .transpose()?,
        code: input
            .code
            .as_deref()
            .map(|c| parse_customer_code(c, "code"))
            .transpose()?,
        vat_id: input
            .vat_id
            .as_deref()
            .filter(|v| !v.trim().is_empty())
            .map(|v| parse_vat_id(v, "vatId"))
            .transpose()?,
        language: input
            .language
            .as_deref()
            .map(|l| parse_language(l, "language"))
            .transpose()?,
        notes: input
            .notes
            .as_deref()
            .map(|n| parse_text(n, "notes", 10_000, false))
            .transpose()?,
    })
}

/// Staff: creates a customer (source `BACKOFFICE`); the code is generated when not given.
pub async fn create_customer(
    state: &AppState,
    principal: &Principal,
    input: CustomerInput,
) -> Result<Customer, AppError> {
    principal.require_staff()?;
    let parsed = parse_customer(&input)?;
    let name = parsed
        .name
        .ok_or_else(|| AppError::validation("name", "required"))?;
    let tx = state.db.begin(&state.events).await?;
    if let Some(rep) = input.sales_rep_id {
        require_sales_rep(state, rep).await?;
    }
    let row = insert(
        &tx,
        NewCustomer {
            name,
            code: parsed.code,
            kind: input.kind.unwrap_or(CustomerKind::Professional),
            vat_id: parsed.vat_id,
            source: CustomerSource::Backoffice,
            language: parsed.language,
            sales_rep_id: input.sales_rep_id,
            notes: parsed.notes.unwrap_or_default(),
        },
        state.clock.now(),
    )
    .await?;
    tx.commit().await?;
    store::to_customer(row)
}

/// An `IDENTIFIED` user without a customer creates their own (source `STOREFRONT`) and belongs to
/// it from then on.
pub async fn create_my_customer(
    state: &AppState,
    principal: &Principal,
    input: CustomerInput,
) -> Result<Customer, AppError> {
    let me = principal.require_role(&[Role::Identified])?;
    if me.customer_id.is_some() {
        return Err(AppError::conflict(
            "customer",
            "you already belong to a customer",
        ));
    }
    let parsed = parse_customer(&input)?;
    let name = parsed
        .name
        .ok_or_else(|| AppError::validation("name", "required"))?;
    let now = state.clock.now();
    let tx = state.db.begin(&state.events).await?;
    let row = insert(
        &tx,
        NewCustomer {
            name,
            code: None,
            kind: input.kind.unwrap_or(CustomerKind::Individual),
            vat_id: parsed.vat_id,
            source: CustomerSource::Storefront,
            language: parsed.language,
            sales_rep_id: None,
            notes: String::new(),
        },
        now,
    )
    .await?;
    crate::auth::service::attach_customer(&tx, me.id, row.id, now).await?;
    tx.commit().await?;
    store::to_customer(row)
}

/// Inside a checkout: the customer of a user who has none yet, created from what they typed
/// (an individual, source `STOREFRONT`) and attached to the user.
pub async fn create_for_user(
    tx: &WriteTx,
    user_id: Uuid,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Customer, AppError> {
    let name = parse_text(name, "contact.name", 200, true)?;
    let row = insert(
        tx,
        NewCustomer {
            name,
            code: None,
            kind: CustomerKind::Individual,
            vat_id: None,
            source: CustomerSource::Storefront,
            language: None,
            sales_rep_id: None,
            notes: String::new(),
        },
        now,
    )
    .await?;
    crate::auth::service::attach_customer(tx, user_id, row.id, now).await?;
    store::to_customer(row)
}

/// Who a storefront visitor says they are: a person, perhaps for a company.
pub struct StorefrontContact<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub phone: Option<&'a str>,
    pub company: Option<&'a str>,
}

/// Inside a storefront checkout by a visitor: a customer (source `STOREFRONT`; a company when
/// one is named, else the person) with the visitor as its primary contact.
pub async fn create_storefront_customer(
    tx: &WriteTx,
    contact: &StorefrontContact<'_>,
    now: DateTime<Utc>,
) -> Result<Customer, AppError> {
    let company = contact.company.filter(|c| !c.trim().is_empty());
    let row = insert(
        tx,
        NewCustomer {
            name: parse_text(company.unwrap_or(contact.name), "contact.name", 200, true)?,
            code: None,
            kind: if company.is_some() {
                CustomerKind::Professional
            } else {
                CustomerKind::Individual
            },
            vat_id: None,
            source: CustomerSource::Storefront,
            language: None,
            sales_rep_id: None,
            notes: String::new(),
        },
        now,
    )
    .await?;
    customer_contact::ActiveModel {
        id: Set(Uuid::now_v7()),
        customer_id: Set(row.id),
        name: Set(parse_text(contact.name, "contact.name", 200, true)?),
        email: Set(parse_optional_email(Some(contact.email))?),
        phone: Set(parse_optional_phone(contact.phone)?),
        is_primary: Set(true),
        created_at: Set(now),
    }
    .insert(&**tx)
    .await?;
    let row = refresh_search_text(tx, row).await?;
    store::to_customer(row)
}

/// Whether a blocked customer has a contact with this email or phone: a visitor typing a
/// blocked customer's details is that customer.
pub async fn blocked_contact(
    tx: &WriteTx,
    email: &str,
    phone: Option<&str>,
) -> Result<bool, AppError> {
    Ok(store::blocked_contact(&**tx, email, phone).await?)
}

/// Staff: changes a customer; `version` must be the one read.
pub async fn update_customer(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
    input: CustomerInput,
) -> Result<Customer, AppError> {
    principal.require_staff()?;
    let parsed = parse_customer(&input)?;
    if input.code.is_some() {
        return Err(AppError::validation(
            "code",
            "a customer code cannot change",
        ));
    }
    if let Some(rep) = input.sales_rep_id {
        require_sales_rep(state, rep).await?;
    }
    let tx = state.db.begin(&state.events).await?;
    let row = customer_row(&tx, id).await?;
    if row.version != version {
        return Err(AppError::stale(row.version));
    }
    let current = row.version;
    let mut active: customer::ActiveModel = row.into();
    if let Some(name) = parsed.name {
        active.name = Set(name);
    }
    if let Some(kind) = input.kind {
        active.kind = Set(kind.as_str().to_owned());
    }
    if input.vat_id.is_some() {
        active.vat_id = Set(parsed.vat_id);
    }
    if let Some(language) = parsed.language {
        active.language = Set(language);
    }
    if let Some(rep) = input.sales_rep_id {
        active.sales_rep_id = Set(Some(rep));
    }
    if let Some(notes) = parsed.notes {
        active.notes = Set(notes);
    }
    active.version = Set(current + 1);
    active.updated_at = Set(state.clock.now());
    let row = active.update(&*tx).await?;
    let row = refresh_search_text(&tx, row).await?;
    tx.commit().await?;
    store::to_customer(row)
}

/// Staff: blocks a customer and every user of it, or unblocks them.
pub async fn set_blocked(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    blocked: bool,
    reason: Option<&str>,
) -> Result<Customer, AppError> {
    let staff = principal.require_staff()?;
    let reason = match (blocked, reason) {
        (true, Some(reason)) => Some(parse_text(reason, "reason", 500, true)?),
        (true, None) => return Err(AppError::validation("reason", "required")),
        (false, _) => None,
    };
    let now = state.clock.now();
    let mut tx = state.db.begin(&state.events).await?;
    let row = customer_row(&tx, id).await?;
    let version = row.version;
    let mut active: customer::ActiveModel = row.into();
    active.blocked = Set(blocked);
    active.blocked_reason = Set(reason.clone());
    active.version = Set(version + 1);
    active.updated_at = Set(now);
    let row = active.update(&*tx).await?;
    crate::auth::service::set_customer_users_blocked(
        &mut tx,
        id,
        blocked,
        reason.as_deref(),
        staff.id,
        now,
    )
    .await?;
    tx.commit().await?;
    store::to_customer(row)
}

pub struct ContactInput {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub is_primary: Option<bool>,
}

/// Adds a contact to `customer_id` (default: the caller's own customer).
pub async fn add_contact(
    state: &AppState,
    principal: &Principal,
    customer_id: Option<Uuid>,
    input: ContactInput,
) -> Result<Contact, AppError> {
    let customer_id = target_customer(principal, customer_id)?;
    let name = parse_text(input.name.as_deref().unwrap_or_default(), "name", 200, true)?;
    let email = parse_optional_email(input.email.as_deref())?;
    let phone = parse_optional_phone(input.phone.as_deref())?;
    let now = state.clock.now();
    let tx = state.db.begin(&state.events).await?;
    let customer = customer_row(&tx, customer_id).await?;
    let first = store::contacts_of(&*tx, &[customer_id]).await?.is_empty();
    let is_primary = input.is_primary.unwrap_or(first);
    if is_primary {
        clear_primary(&tx, customer_id).await?;
    }
    let row = customer_contact::ActiveModel {
        id: Set(Uuid::now_v7()),
        customer_id: Set(customer_id),
        name: Set(name),
        email: Set(email),
        phone: Set(phone),
        is_primary: Set(is_primary),
        created_at: Set(now),
    }
    .insert(&*tx)
    .await?;
    refresh_search_text(&tx, customer).await?;
    tx.commit().await?;
    Ok(store::to_contact(row))
}

pub async fn update_contact(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    input: ContactInput,
) -> Result<Contact, AppError> {
    principal.require_user()?;
    let name = input
        .name
        .as_deref()
        .map(|n| parse_text(n, "name", 200, true))
        .transpose()?;
    let email = input
        .email
        .as_deref()
        .map(|e| parse_optional_email(Some(e)))
        .transpose()?;
    let phone = input
        .phone
        .as_deref()
        .map(|p| parse_optional_phone(Some(p)))
        .transpose()?;
    let tx = state.db.begin(&state.events).await?;
    let row = owned_contact(&tx, principal, id).await?;
    let customer_id = row.customer_id;
    if input.is_primary == Some(true) {
        clear_primary(&tx, customer_id).await?;
    }
    let mut active: customer_contact::ActiveModel = row.into();
    if let Some(name) = name {
        active.name = Set(name);
    }
    if let Some(email) = email {
        active.email = Set(email);
    }
    if let Some(phone) = phone {
        active.phone = Set(phone);
    }
    if let Some(primary) = input.is_primary {
        active.is_primary = Set(primary);
    }
    let row = active.update(&*tx).await?;
    let customer = customer_row(&tx, customer_id).await?;
    refresh_search_text(&tx, customer).await?;
    tx.commit().await?;
    Ok(store::to_contact(row))
}

pub async fn remove_contact(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<(), AppError> {
    principal.require_user()?;
    let tx = state.db.begin(&state.events).await?;
    let row = owned_contact(&tx, principal, id).await?;
    let customer_id = row.customer_id;
    row.delete(&*tx).await?;
    let customer = customer_row(&tx, customer_id).await?;
    refresh_search_text(&tx, customer).await?;
    tx.commit().await?;
    Ok(())
}

pub struct AddressInput {
    pub kind: Option<AddressKind>,
    pub label: Option<String>,
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub is_default: Option<bool>,
}

struct ParsedAddress {
    label: Option<String>,
    line1: Option<String>,
    line2: Option<String>,
    postal_code: Option<String>,
    city: Option<String>,
    country: Option<String>,
}

fn parse_address(input: &AddressInput, creating: bool) -> Result<ParsedAddress, AppError> {
    let required =
        |value: &Option<String>, field: &str, max: usize| -> Result<Option<String>, AppError> {
            match value {
                Some(v) => parse_text(v, field, max, true).map(Some),
                None if creating => Err(AppError::validation(field, "required")),
                None => Ok(None),
            }
        };
    Ok(ParsedAddress {
        label: input
            .label
            .as_deref()
            .map(|l| parse_text(l, "label", 100, false))
            .transpose()?,
        line1: required(&input.line1, "line1", 200)?,
        line2: input
            .line2
            .as_deref()
            .map(|l| parse_text(l, "line2", 200, false))
            .transpose()?,
        postal_code: required(&input.postal_code, "postalCode", 20)?,
        city: required(&input.city, "city", 100)?,
        country: match &input.country {
            Some(c) => Some(parse_country(c, "country")?),
            None if creating => return Err(AppError::validation("country", "required")),
            None => None,
        },
    })
}

/// Adds an address to `customer_id` (default: the caller's own customer). A customer has one
/// billing address; the first delivery address becomes the default.
pub async fn add_address(
    state: &AppState,
    principal: &Principal,
    customer_id: Option<Uuid>,
    input: AddressInput,
) -> Result<Address, AppError> {
    let customer_id = target_customer(principal, customer_id)?;
    let kind = input
        .kind
        .ok_or_else(|| AppError::validation("kind", "required"))?;
    let parsed = parse_address(&input, true)?;
    let tx = state.db.begin(&state.events).await?;
    customer_row(&tx, customer_id).await?;
    let existing = store::addresses_of(&*tx, &[customer_id]).await?;
    if kind == AddressKind::Billing
        && existing
            .iter()
            .any(|a| a.kind == AddressKind::Billing.as_str())
    {
        return Err(AppError::conflict(
            "kind",
            "this customer already has a billing address; update it",
        ));
    }
    let no_delivery_yet = !existing
        .iter()
        .any(|a| a.kind == AddressKind::Delivery.as_str());
    let is_default =
        kind == AddressKind::Delivery && (input.is_default.unwrap_or(false) || no_delivery_yet);
    if is_default {
        clear_default(&tx, customer_id).await?;
    }
    let row = customer_address::ActiveModel {
        id: Set(Uuid::now_v7()),
        customer_id: Set(customer_id),
        kind: Set(kind.as_str().to_owned()),
        label: Set(parsed.label.unwrap_or_default()),
        line1: Set(parsed.line1.unwrap_or_default()),
        line2: Set(parsed.line2.unwrap_or_default()),
        postal_code: Set(parsed.postal_code.unwrap_or_default()),
        city: Set(parsed.city.unwrap_or_default()),
        country: Set(parsed.country.unwrap_or_default()),
        is_default: Set(is_default),
        created_at: Set(state.clock.now()),
    }
    .insert(&*tx)
    .await?;
    tx.commit().await?;
    Ok(store::to_address(row))
}

pub async fn update_address(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    input: AddressInput,
) -> Result<Address, AppError> {
    principal.require_user()?;
    let parsed = parse_address(&input, false)?;
    let tx = state.db.begin(&state.events).await?;
    let row = owned_address(&tx, principal, id).await?;
    if input.kind.is_some_and(|kind| kind.as_str() != row.kind) {
        return Err(AppError::validation(
            "kind",
            "an address's kind cannot change; add a new one",
        ));
    }
    let delivery = row.kind == AddressKind::Delivery.as_str();
    match input.is_default {
        Some(true) if !delivery => {
            return Err(AppError::validation(
                "isDefault",
                "only delivery addresses are defaults",
            ));
        }
        Some(false) if row.is_default => {
            return Err(AppError::validation(
                "isDefault",
                "make another delivery address the default instead",
            ));
        }
        Some(true) => clear_default(&tx, row.customer_id).await?,
        _ => {}
    }
    let mut active: customer_address::ActiveModel = row.into();
    if let Some(v) = parsed.label {
        active.label = Set(v);
    }
    if let Some(v) = parsed.line1 {
        active.line1 = Set(v);
    }
    if let Some(v) = parsed.line2 {
        active.line2 = Set(v);
    }
    if let Some(v) = parsed.postal_code {
        active.postal_code = Set(v);
    }
    if let Some(v) = parsed.city {
        active.city = Set(v);
    }
    if let Some(v) = parsed.country {
        active.country = Set(v);
    }
    if input.is_default == Some(true) {
        active.is_default = Set(true);
    }
    let row = active.update(&*tx).await?;
    tx.commit().await?;
    Ok(store::to_address(row))
}

/// Removes an address; when it was the default, the oldest other delivery address takes over.
pub async fn remove_address(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<(), AppError> {
    principal.require_user()?;
    let tx = state.db.begin(&state.events).await?;
    let row = owned_address(&tx, principal, id).await?;
    let (customer_id, was_default) = (row.customer_id, row.is_default);
    row.delete(&*tx).await?;
    if was_default
        && let Some(next) = store::addresses_of(&*tx, &[customer_id])
            .await?
            .into_iter()
            .find(|a| a.kind == AddressKind::Delivery.as_str())
    {
        let mut active: customer_address::ActiveModel = next.into();
        active.is_default = Set(true);
        active.update(&*tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Which customer an operation is about: the given one if the caller may act on it, or the
/// caller's own.
fn target_customer(principal: &Principal, customer_id: Option<Uuid>) -> Result<Uuid, AppError> {
    principal.require_user()?;
    match customer_id {
        Some(id) if may_access(principal, id) => Ok(id),
        Some(_) => Err(customer_not_found("customerId")),
        None => principal.customer_id().ok_or_else(|| {
            AppError::validation("customerId", "required: you do not belong to a customer")
        }),
    }
}

fn parse_optional_email(value: Option<&str>) -> Result<Option<String>, AppError> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| Email::parse(v, "email").map(|e| e.as_str().to_owned()))
        .transpose()
}

fn parse_optional_phone(value: Option<&str>) -> Result<Option<String>, AppError> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| parse_phone(v, "phone"))
        .transpose()
}

async fn require_sales_rep(state: &AppState, user_id: Uuid) -> Result<(), AppError> {
    let user = crate::auth::service::user_by_id(state, user_id)
        .await?
        .ok_or_else(|| AppError::not_found("user", "salesRepId"))?;
    if user.role == Role::Manager || user.role == Role::Admin {
        Ok(())
    } else {
        Err(AppError::validation(
            "salesRepId",
            "a sales representative is a MANAGER or ADMIN",
        ))
    }
}

struct NewCustomer {
    name: String,
    code: Option<String>,
    kind: CustomerKind,
    vat_id: Option<String>,
    source: CustomerSource,
    language: Option<String>,
    sales_rep_id: Option<Uuid>,
    notes: String,
}

async fn insert(
    tx: &WriteTx,
    new: NewCustomer,
    now: DateTime<Utc>,
) -> Result<customer::Model, AppError> {
    let code = match new.code {
        Some(code) => {
            if store::code_taken(&**tx, &code).await? {
                return Err(AppError::conflict(
                    "code",
                    format!("customer code `{code}` is already used"),
                ));
            }
            code
        }
        None => generated_code(),
    };
    customer::ActiveModel {
        id: Set(Uuid::now_v7()),
        search_text: Set(format!("{} {}", new.name, code).to_lowercase()),
        code: Set(code),
        name: Set(new.name),
        kind: Set(new.kind.as_str().to_owned()),
        vat_id: Set(new.vat_id),
        source: Set(new.source.as_str().to_owned()),
        language: Set(new.language.unwrap_or_else(|| "en".to_owned())),
        sales_rep_id: Set(new.sales_rep_id),
        blocked: Set(false),
        blocked_reason: Set(None),
        notes: Set(new.notes),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&**tx)
    .await
    .map_err(|error| match AppError::from(error) {
        AppError::Conflict { .. } => {
            AppError::conflict("code", "this customer code is already used")
        }
        other => other,
    })
}

/// `C-` and eight characters from an alphabet without look-alikes.
fn generated_code() -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::rng();
    let tail: String = (0..8)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("C-{tail}")
}

/// Recomputes what customer search looks into: name, code and contact emails.
async fn refresh_search_text(
    tx: &WriteTx,
    row: customer::Model,
) -> Result<customer::Model, AppError> {
    let emails: Vec<String> = store::contacts_of(&**tx, &[row.id])
        .await?
        .into_iter()
        .filter_map(|c| c.email)
        .collect();
    let mut text = format!("{} {} {}", row.name, row.code, emails.join(" ")).to_lowercase();
    let mut end = text.len().min(1200);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    let mut active: customer::ActiveModel = row.into();
    active.search_text = Set(text);
    Ok(active.update(&**tx).await?)
}

async fn clear_primary(tx: &WriteTx, customer_id: Uuid) -> Result<(), AppError> {
    customer_contact::Entity::update_many()
        .col_expr(customer_contact::Column::IsPrimary, Expr::value(false))
        .filter(customer_contact::Column::CustomerId.eq(customer_id))
        .exec(&**tx)
        .await?;
    Ok(())
}

async fn clear_default(tx: &WriteTx, customer_id: Uuid) -> Result<(), AppError> {
    customer_address::Entity::update_many()
        .col_expr(customer_address::Column::IsDefault, Expr::value(false))
        .filter(customer_address::Column::CustomerId.eq(customer_id))
        .exec(&**tx)
        .await?;
    Ok(())
}

/// The customer row, locked until the transaction ends (PostgreSQL): versions, the single
/// billing address, the default address and the primary contact are decided on it.
async fn customer_row(tx: &WriteTx, id: Uuid) -> Result<customer::Model, AppError> {
    store::find_for_update(&**tx, id)
        .await?
        .ok_or_else(|| customer_not_found("id"))
}

/// A search text: at most 200 characters.
pub fn parse_search(search: Option<String>) -> Result<Option<String>, AppError> {
    match search {
        Some(s) if s.chars().count() > 200 => {
            Err(AppError::validation("search", "at most 200 characters"))
        }
        other => Ok(other),
    }
}

/// A contact of a customer the caller may act on; `NOT_FOUND` otherwise.
async fn owned_contact(
    tx: &WriteTx,
    principal: &Principal,
    id: Uuid,
) -> Result<customer_contact::Model, AppError> {
    store::find_contact(&**tx, id)
        .await?
        .filter(|row| may_access(principal, row.customer_id))
        .ok_or_else(|| AppError::not_found("contact", "id"))
}

/// An address of a customer the caller may act on; `NOT_FOUND` otherwise.
async fn owned_address(
    tx: &WriteTx,
    principal: &Principal,
    id: Uuid,
) -> Result<customer_address::Model, AppError> {
    store::find_address(&**tx, id)
        .await?
        .filter(|row| may_access(principal, row.customer_id))
        .ok_or_else(|| AppError::not_found("address", "id"))
}

/// The language messages to this customer are written in.
pub async fn language_of(tx: &WriteTx, id: Uuid) -> Result<String, AppError> {
    Ok(store::find(&**tx, id)
        .await?
        .map_or_else(|| "en".to_owned(), |c| c.language))
}
