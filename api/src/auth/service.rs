//! Account use cases: one function per operation, one transaction each.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use comptoir_entity::user_account;
use futures_util::{Stream, StreamExt};
use serde_json::json;
use uuid::Uuid;

use super::{
    jwt,
    model::{Email, NewPassword, OfferedPassword, Reason, Role, Session, User, UserRole},
    one_time::{self, Purpose},
    principal::{AuthUser, Principal},
    rate_limit,
    store::{self, AccountChanges, UserFilter},
};
use crate::{
    catalog::snapshot::EarlyEpoch,
    db::WriteTx,
    error::AppError,
    events::{NewEvent, StoredEvent},
    kernel::{
        pagination::{Page, PageRequest},
        secret_token,
        time::chrono_duration,
    },
    notifications::{
        model::Recipient,
        outbox::{self, NewMessage},
    },
    state::AppState,
};

/// Object type of account events in the event log.
pub const USER_OBJECT: &str = "User";

/// Resolves a bearer token to the caller, against the account's current state: a blocked account
/// gets `ACCOUNT_BLOCKED`, a revoked or invalid token `UNAUTHENTICATED`. The catalog's epoch is
/// read in the same statement, for the request to use if it may (see [`EarlyEpoch`]).
pub async fn authenticate(
    state: &AppState,
    token: &str,
) -> Result<(Principal, EarlyEpoch), AppError> {
    let claims = state.jwt.verify(token)?;
    let found = store::find_at_catalog_epoch(state.db.read(), claims.sub)
        .await?
        .ok_or(AppError::Unauthenticated("invalid or expired access token"))?;
    let principal = caller(found.account, claims.tv)?;
    let epoch = EarlyEpoch {
        catalog: found.catalog_epoch,
        rows: found.rows_epoch,
    };
    Ok((principal, epoch))
}

/// The caller of a token verified earlier (its subject and token version), against the
/// account's current state, as [`authenticate`] does.
pub async fn recheck(
    state: &AppState,
    user_id: Uuid,
    token_version: i32,
) -> Result<Principal, AppError> {
    let account = store::find_by_id(state.db.read(), user_id)
        .await?
        .ok_or(AppError::Unauthenticated("invalid or expired access token"))?;
    caller(account, token_version)
}

/// The caller an account row names, if a token of `token_version` still may.
fn caller(account: user_account::Model, token_version: i32) -> Result<Principal, AppError> {
    if account.blocked {
        return Err(AppError::AccountBlocked);
    }
    if account.token_version != token_version {
        return Err(AppError::Unauthenticated("access token revoked"));
    }
    let customer_id = account.customer_id;
    let user = store::to_user(account)?;
    Ok(Principal::user(AuthUser {
        id: user.id,
        role: user.role,
        customer_id,
    }))
}

pub async fn register(
    state: &AppState,
    email: &str,
    password: String,
    client: Option<IpAddr>,
    cart_token: Option<&str>,
) -> Result<Session, AppError> {
    let email = Email::parse(email, "email")?;
    let password = NewPassword::parse(password, "password")?;
    let now = state.clock.now();
    if let Some(addr) = client {
        let key = format!("register:addr:{}", rate_limit::address_bucket(addr));
        let limits = [(key, state.config.login_max_per_address)];
        rate_limit::enforce(state, &limits, state.config.login_rate_window, now).await?;
    }
    let hash = state.hasher.hash(password.into_inner()).await?;
    let mut tx = state.db.begin(&state.events).await?;
    let row = insert_user(&tx, &email, hash, Role::Identified, None, now).await?;
    send_verification(state, &mut tx, &row, now).await?;
    if let Some(token) = cart_token {
        crate::carts::service::merge_into_user(&tx, token, row.id, now).await?;
    }
    let session = start_session(state, &mut tx, row, now).await?;
    tx.commit().await?;
    Ok(session)
}

/// Logs in. Attempts are counted per email and address, per address, and per email (a higher
/// bar), before any hashing; the count is committed even when the login fails.
/// With `cart_token`, the anonymous cart's lines move into the user's cart.
pub async fn login(
    state: &AppState,
    email: &str,
    password: String,
    client: Option<IpAddr>,
    cart_token: Option<&str>,
) -> Result<Session, AppError> {
    let password = OfferedPassword::parse(password)?;
    // An unparsable email is simply a failed login: no hint about what exists.
    let email = Email::parse(email, "email").map_err(|_| AppError::InvalidCredentials)?;
    let now = state.clock.now();
    let config = &state.config;
    let bucket = client.map_or_else(|| "unknown".to_owned(), rate_limit::address_bucket);
    let email_from_addr = format!("login:email-addr:{}:{bucket}", email.as_str());
    let limits = [
        (email_from_addr.clone(), config.login_max_per_email),
        (format!("login:addr:{bucket}"), config.login_max_per_address),
        (
            format!("login:email:{}", email.as_str()),
            config
                .login_max_per_email
                .saturating_mul(EMAIL_LIMIT_FACTOR),
        ),
    ];
    rate_limit::enforce(state, &limits, config.login_rate_window, now).await?;

    let row = store::find_by_email(state.db.read(), email.as_str()).await?;
    let hash = row.as_ref().map(|row| row.password_hash.clone());
    if !state.hasher.verify(password.into_inner(), hash).await? {
        return Err(AppError::InvalidCredentials);
    }
    let Some(row) = row else {
        return Err(AppError::InvalidCredentials);
    };
    let mut tx = state.db.begin(&state.events).await?;
    // The account may have changed while the password was being checked: decide on the locked row.
    let current = store::find_for_update(&*tx, row.id)
        .await?
        .ok_or(AppError::InvalidCredentials)?;
    if current.blocked {
        return Err(AppError::AccountBlocked);
    }
    if current.password_hash != row.password_hash {
        return Err(AppError::InvalidCredentials);
    }
    rate_limit::reset(&*tx, &email_from_addr).await?;
    if let Some(token) = cart_token {
        crate::carts::service::merge_into_user(&tx, token, current.id, now).await?;
    }
    let session = start_session(state, &mut tx, current, now).await?;
    tx.commit().await?;
    Ok(session)
}

/// The per-email limit counted over every address is this many times the per-address one: it
/// slows a distributed guess at one account without letting one address lock it out.
const EMAIL_LIMIT_FACTOR: u32 = 5;

/// Rotates a refresh token: the old one is spent, a new one of the same family returned. A spent
/// token presented again means it leaked: the whole family is revoked. A token issued before the
/// account's tokens were revoked (role, password, blocking) is refused.
pub async fn refresh(state: &AppState, refresh_token: &str) -> Result<Session, AppError> {
    let invalid = || AppError::Unauthenticated("invalid or expired refresh token");
    let now = state.clock.now();
    let mut tx = state.db.begin(&state.events).await?;
    let Some(token) = store::find_refresh_token(&*tx, &secret_token::hash(refresh_token)).await?
    else {
        return Err(invalid());
    };
    let user = store::find_for_update(&*tx, token.user_id)
        .await?
        .ok_or_else(invalid)?;
    if user.blocked {
        return Err(AppError::AccountBlocked);
    }
    if token.revoked_at.is_some()
        || token.expires_at <= now
        || token.token_version != user.token_version
    {
        return Err(invalid());
    }
    if token.used_at.is_some() || !store::mark_refresh_token_used(&*tx, token.id, now).await? {
        store::revoke_family(&*tx, token.family_id, now).await?;
        tx.commit().await?;
        tracing::warn!(user_id = %token.user_id, "refresh token reused; family revoked");
        return Err(AppError::Unauthenticated(
            "refresh token already used; session revoked",
        ));
    }
    let session = issue_session(state, &mut tx, user, token.family_id, now).await?;
    tx.commit().await?;
    Ok(session)
}

/// Ends the session of `refresh_token` (its family); with `everywhere`, every session and every
/// access token of its user. Unknown or dead tokens are ignored (logging out twice is fine) and
/// cannot end other sessions.
pub async fn logout(
    state: &AppState,
    refresh_token: &str,
    everywhere: bool,
) -> Result<(), AppError> {
    let now = state.clock.now();
    let tx = state.db.begin(&state.events).await?;
    if let Some(token) = store::find_refresh_token(&*tx, &secret_token::hash(refresh_token)).await?
    {
        let alive = token.revoked_at.is_none() && token.used_at.is_none() && token.expires_at > now;
        store::revoke_family(&*tx, token.family_id, now).await?;
        if everywhere
            && alive
            && let Some(user) = store::find_for_update(&*tx, token.user_id).await?
            && user.token_version == token.token_version
        {
            store::update_and_revoke(&*tx, user, AccountChanges::default(), now).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Changes the caller's password; every other session ends, this one gets fresh tokens.
/// Attempts are rate-limited per user like logins.
pub async fn change_password(
    state: &AppState,
    principal: &Principal,
    current: String,
    new: String,
) -> Result<Session, AppError> {
    let me = principal.require_user()?;
    let new = NewPassword::parse(new, "newPassword")?;
    let current = OfferedPassword::parse(current)?;
    let now = state.clock.now();
    let limits = [(
        format!("password:user:{}", me.id),
        state.config.login_max_per_email,
    )];
    rate_limit::enforce(state, &limits, state.config.login_rate_window, now).await?;
    let row = store::find_by_id(state.db.read(), me.id)
        .await?
        .ok_or(AppError::Unauthenticated("account not found"))?;
    if !state
        .hasher
        .verify(current.into_inner(), Some(row.password_hash.clone()))
        .await?
    {
        return Err(AppError::InvalidCredentials);
    }
    let hash = state.hasher.hash(new.into_inner()).await?;
    let mut tx = state.db.begin(&state.events).await?;
    let locked = current_row(&tx, me.id).await?;
    if locked.password_hash != row.password_hash {
        return Err(AppError::stale(locked.token_version));
    }
    let changes = AccountChanges {
        password_hash: Some(hash),
        ..AccountChanges::default()
    };
    let locked = store::update_and_revoke(&*tx, locked, changes, now).await?;
    tx.record(account_event(
        "PASSWORD_CHANGED",
        &locked,
        me.id,
        json!({}),
        now,
    ));
    let session = start_session(state, &mut tx, locked, now).await?;
    tx.commit().await?;
    Ok(session)
}

/// The caller's account; `None` for a caller without a token, `UNAUTHENTICATED` for one whose
/// token was refused.
pub async fn me(state: &AppState, principal: &Principal) -> Result<Option<User>, AppError> {
    if let Some(reason) = principal.rejection() {
        return Err(AppError::Unauthenticated(reason));
    }
    let Some(id) = principal.user_id() else {
        return Ok(None);
    };
    store::find_by_id(state.db.read(), id)
        .await?
        .map(store::to_user)
        .transpose()
}

/// Admin: creates an account of any role. An `ACCOUNT_CLIENT` belongs to a customer, given as
/// `customer_id`; staff accounts belong to none.
pub async fn create_user(
    state: &AppState,
    principal: &Principal,
    email: &str,
    password: String,
    role: Role,
    customer_id: Option<Uuid>,
) -> Result<User, AppError> {
    principal.require_admin()?;
    let email = Email::parse(email, "email")?;
    let role = UserRole::parse(role, "role")?;
    check_customer_link(role.get(), customer_id)?;
    let password = NewPassword::parse(password, "password")?;
    let hash = state.hasher.hash(password.into_inner()).await?;
    let now = state.clock.now();
    let tx = state.db.begin(&state.events).await?;
    let customer_block = match customer_id {
        Some(id) => crate::customers::service::blocked_reason(&tx, id, "customerId").await?,
        None => None,
    };
    let row = insert_user(&tx, &email, hash, role.get(), customer_id, now).await?;
    let row = block_for_customer(&tx, row, customer_block, now).await?;
    tx.commit().await?;
    store::to_user(row)
}

/// Which roles may or must belong to a customer.
fn check_customer_link(role: Role, customer_id: Option<Uuid>) -> Result<(), AppError> {
    match (role, customer_id) {
        (Role::AccountClient, None) => Err(AppError::validation(
            "customerId",
            "an ACCOUNT_CLIENT belongs to a customer",
        )),
        (Role::Manager | Role::Admin, Some(_)) => Err(AppError::validation(
            "customerId",
            "staff accounts do not belong to a customer",
        )),
        _ => Ok(()),
    }
}

/// Staff: attaches a user to a customer, or detaches them (`None`).
pub async fn set_user_customer(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    customer_id: Option<Uuid>,
) -> Result<User, AppError> {
    principal.require_staff()?;
    let now = state.clock.now();
    let tx = state.db.begin(&state.events).await?;
    let row = target_row(&tx, id).await?;
    let role = store::to_user(row.clone())?.role;
    check_customer_link(role, customer_id)?;
    let customer_block = match customer_id {
        Some(id) => crate::customers::service::blocked_reason(&tx, id, "customerId").await?,
        None => None,
    };
    let row = store::set_customer(&*tx, row, customer_id, now).await?;
    let row = block_for_customer(&tx, row, customer_block, now).await?;
    tx.commit().await?;
    store::to_user(row)
}

/// The account of `email`, if there is one (storefront checkout attaches orders to it).
pub async fn account_by_email(
    db: &impl sea_orm::ConnectionTrait,
    email: &Email,
) -> Result<Option<User>, AppError> {
    store::find_by_email(db, email.as_str())
        .await?
        .map(store::to_user)
        .transpose()
}

/// A password for an account the storefront creates for a visitor, sent to them by email:
/// 16 letters and digits (about 95 bits).
pub fn generate_password() -> String {
    use rand::{Rng, distr::Alphanumeric};
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(16)
        .map(char::from)
        .collect()
}

/// Inside a storefront checkout: an `IDENTIFIED` account for a visitor, belonging to the
/// customer created for them, with a password hashed beforehand (never in a transaction).
pub async fn create_storefront_account(
    tx: &WriteTx,
    email: &Email,
    password_hash: String,
    customer_id: Uuid,
    now: DateTime<Utc>,
) -> Result<User, AppError> {
    let row = insert_user(
        tx,
        email,
        password_hash,
        Role::Identified,
        Some(customer_id),
        now,
    )
    .await?;
    store::to_user(row)
}

/// Creates an account outside GraphQL (the command line and the demo seed).
pub async fn create_user_unchecked(
    state: &AppState,
    email: &str,
    password: String,
    role: Role,
    customer_id: Option<Uuid>,
) -> Result<User, AppError> {
    let system = Principal::user(AuthUser {
        id: Uuid::nil(),
        role: Role::Admin,
        customer_id: None,
    });
    create_user(state, &system, email, password, role, customer_id).await
}

/// Sets a new password on an existing account, outside GraphQL (the demo seed).
pub async fn set_password_unchecked(
    state: &AppState,
    email: &str,
    password: String,
) -> Result<User, AppError> {
    let email = Email::parse(email, "email")?;
    let password = NewPassword::parse(password, "password")?;
    let hash = state.hasher.hash(password.into_inner()).await?;
    let now = state.clock.now();
    let tx = state.db.begin(&state.events).await?;
    let row = store::find_by_email(&*tx, email.as_str())
        .await?
        .ok_or_else(|| AppError::not_found("user", "email"))?;
    let changes = AccountChanges {
        password_hash: Some(hash),
        ..AccountChanges::default()
    };
    let row = store::update_and_revoke(&*tx, row, changes, now).await?;
    tx.commit().await?;
    store::to_user(row)
}

pub async fn set_user_role(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    role: Role,
) -> Result<User, AppError> {
    let admin = principal.require_admin()?;
    let role = UserRole::parse(role, "role")?;
    if admin.id == id {
        return Err(AppError::validation(
            "id",
            "you cannot change your own role",
        ));
    }
    let now = state.clock.now();
    let mut tx = state.db.begin(&state.events).await?;
    let row = target_row(&tx, id).await?;
    let old = row.role.clone();
    let customer_id = if role.get().is_staff() {
        None
    } else {
        row.customer_id
    };
    check_customer_link(role.get(), customer_id)?;
    let row = if customer_id == row.customer_id {
        row
    } else {
        store::set_customer(&*tx, row, customer_id, now).await?
    };
    if old == role.get().as_str() {
        tx.commit().await?;
        return store::to_user(row);
    }
    let changes = AccountChanges {
        role: Some(role.get()),
        ..AccountChanges::default()
    };
    let row = store::update_and_revoke(&*tx, row, changes, now).await?;
    let change = json!({ "role": { "old": old, "new": role.get().as_str() } });
    tx.record(account_event("ROLE_CHANGED", &row, admin.id, change, now));
    tx.commit().await?;
    store::to_user(row)
}

pub async fn block_user(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    reason: &str,
) -> Result<User, AppError> {
    let admin = principal.require_admin()?;
    let reason = Reason::parse(reason, "reason")?.into_inner();
    if admin.id == id {
        return Err(AppError::validation(
            "id",
            "you cannot block your own account",
        ));
    }
    let now = state.clock.now();
    let mut tx = state.db.begin(&state.events).await?;
    let row = target_row(&tx, id).await?;
    let changes = AccountChanges {
        blocked: Some((true, Some(reason.clone()), Some(now))),
        ..AccountChanges::default()
    };
    let row = store::update_and_revoke(&*tx, row, changes, now).await?;
    let change = json!({ "blocked": { "old": false, "new": true }, "reason": reason });
    tx.record(account_event("BLOCKED", &row, admin.id, change, now));
    tx.commit().await?;
    store::to_user(row)
}

pub async fn unblock_user(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<User, AppError> {
    let admin = principal.require_admin()?;
    let now = state.clock.now();
    let mut tx = state.db.begin(&state.events).await?;
    let row = target_row(&tx, id).await?;
    if !row.blocked {
        tx.commit().await?;
        return store::to_user(row);
    }
    let changes = AccountChanges {
        blocked: Some((false, None, None)),
        ..AccountChanges::default()
    };
    let row = store::update_and_revoke(&*tx, row, changes, now).await?;
    let change = json!({ "blocked": { "old": true, "new": false } });
    tx.record(account_event("UNBLOCKED", &row, admin.id, change, now));
    tx.commit().await?;
    store::to_user(row)
}

pub struct UserListFilter {
    pub role: Option<Role>,
    pub blocked: Option<bool>,
}

pub async fn users(
    state: &AppState,
    principal: &Principal,
    filter: UserListFilter,
    page: PageRequest,
) -> Result<Page<User>, AppError> {
    principal.require_admin()?;
    let after = page
        .after
        .as_deref()
        .map(|cursor| {
            Uuid::try_parse(cursor).map_err(|_| AppError::validation("after", "not a valid cursor"))
        })
        .transpose()?;
    let filter = UserFilter {
        role: filter.role,
        blocked: filter.blocked,
    };
    let (rows, total_count) = store::list(state.db.read(), &filter, after, page.limit).await?;
    Page::from_rows(
        rows,
        page.limit,
        after.is_some(),
        total_count,
        store::to_user,
    )
}

async fn insert_user(
    tx: &WriteTx,
    email: &Email,
    password_hash: String,
    role: Role,
    customer_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<user_account::Model, AppError> {
    if store::find_by_email(&**tx, email.as_str()).await?.is_some() {
        return Err(AppError::conflict(
            "email",
            "an account with this email already exists",
        ));
    }
    let new = store::NewUser {
        email: email.as_str(),
        password_hash,
        role,
        customer_id,
        now,
    };
    store::insert(&**tx, new)
        .await
        .map_err(|error| match AppError::from(error) {
            // Lost a race with another registration of the same email.
            AppError::Conflict { .. } => {
                AppError::conflict("email", "an account with this email already exists")
            }
            other => other,
        })
}

async fn current_row(tx: &WriteTx, id: Uuid) -> Result<user_account::Model, AppError> {
    store::find_for_update(&**tx, id)
        .await?
        .ok_or(AppError::Unauthenticated("account not found"))
}

async fn target_row(tx: &WriteTx, id: Uuid) -> Result<user_account::Model, AppError> {
    store::find_for_update(&**tx, id)
        .await?
        .ok_or_else(|| AppError::not_found("user", "id"))
}

/// A new login: a new refresh-token family.
async fn start_session(
    state: &AppState,
    tx: &mut WriteTx,
    user: user_account::Model,
    now: DateTime<Utc>,
) -> Result<Session, AppError> {
    issue_session(state, tx, user, Uuid::now_v7(), now).await
}

async fn issue_session(
    state: &AppState,
    tx: &mut WriteTx,
    user: user_account::Model,
    family_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Session, AppError> {
    let access_expires = now + chrono_duration(state.config.access_token_ttl);
    let refresh_expires = now + chrono_duration(state.config.refresh_token_ttl);
    let access_token = state.jwt.issue(&jwt::claims(
        user.id,
        &user.role,
        user.token_version,
        now,
        access_expires,
    ))?;
    let refresh_token = secret_token::generate();
    let token = store::NewRefreshToken {
        user_id: user.id,
        family_id,
        token_hash: secret_token::hash(&refresh_token),
        token_version: user.token_version,
        now,
        expires_at: refresh_expires,
    };
    store::insert_refresh_token(&**tx, token).await?;
    Ok(Session {
        access_token,
        access_token_expires_at: access_expires,
        refresh_token,
        refresh_token_expires_at: refresh_expires,
        user: store::to_user(user)?,
    })
}

fn account_event(
    kind: &'static str,
    row: &user_account::Model,
    actor: Uuid,
    changes: serde_json::Value,
    at: DateTime<Utc>,
) -> NewEvent {
    NewEvent {
        kind,
        object_type: USER_OBJECT,
        object_id: row.id,
        owner_user_id: Some(row.id),
        owner_customer_id: None,
        internal: false,
        actor_id: Some(actor),
        status: None,
        changes,
        at,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountEventKind {
    RoleChanged,
    Blocked,
    Unblocked,
    PasswordChanged,
}

/// A change to an account, as its owner sees it.
#[derive(Clone, Debug)]
pub struct AccountEvent {
    pub id: i64,
    pub kind: AccountEventKind,
    pub role: Option<Role>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

impl AccountEvent {
    fn from_stored(event: &StoredEvent) -> Option<Self> {
        let kind = match event.kind.as_str() {
            "ROLE_CHANGED" => AccountEventKind::RoleChanged,
            "BLOCKED" => AccountEventKind::Blocked,
            "UNBLOCKED" => AccountEventKind::Unblocked,
            "PASSWORD_CHANGED" => AccountEventKind::PasswordChanged,
            _ => return None,
        };
        let role = event.changes["role"]["new"]
            .as_str()
            .and_then(Role::parse_user_role);
        let reason = event.changes["reason"].as_str().map(str::to_owned);
        Some(Self {
            id: event.id,
            kind,
            role,
            reason,
            at: event.created_at,
        })
    }
}

/// The caller's own account events: those after `after` from the log (a client catching up
/// after a disconnection), then the live ones, without gap or repeat. Ends after `BLOCKED`; a
/// subscriber that falls behind gets a `LAGGED` error item and can catch up with `events`.
pub async fn account_events(
    state: &AppState,
    principal: &Principal,
    after: Option<i64>,
) -> Result<impl Stream<Item = Result<AccountEvent, AppError>> + Send + 'static + use<>, AppError> {
    let me = principal.require_user()?;
    // Only the caller's own account, whatever their role.
    let audience = crate::events::Audience::Owner {
        user_id: me.id,
        customer_id: None,
    };
    let scope = crate::events::Scope {
        object_type: Some(USER_OBJECT),
        object_id: Some(me.id),
    };
    let events = crate::events::follow(state, audience, scope, after)
        .await?
        .filter_map(|item| {
            std::future::ready(match item {
                Ok(event) => AccountEvent::from_stored(&event).map(Ok),
                Err(error) => Some(Err(error)),
            })
        });
    // Stop right after the event that blocks the account (its tokens are dead), without waiting
    // for another event to arrive.
    Ok(futures_util::stream::unfold(
        (Box::pin(events), false),
        |(mut events, done)| async move {
            if done {
                return None;
            }
            let item = events.next().await?;
            let blocked = matches!(&item, Ok(event) if event.kind == AccountEventKind::Blocked);
            Some((item, (events, blocked)))
        },
    ))
}

/// Blocks (or unblocks) every user of a customer, inside the caller's transaction: called when a
/// customer is blocked, so that its people are cut off exactly as if blocked one by one.
pub async fn set_customer_users_blocked(
    tx: &mut WriteTx,
    customer_id: Uuid,
    blocked: bool,
    reason: Option<&str>,
    actor: Uuid,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    for row in store::users_of_customer(&**tx, customer_id).await? {
        // Blocking touches users not yet blocked; unblocking only those the customer blocked
        // (a user blocked on their own account stays blocked).
        let affected = if blocked {
            !row.blocked
        } else {
            row.blocked && row.blocked_by_customer
        };
        if !affected {
            continue;
        }
        let changes = AccountChanges {
            blocked: Some((blocked, reason.map(str::to_owned), blocked.then_some(now))),
            by_customer: true,
            ..AccountChanges::default()
        };
        let row = store::update_and_revoke(&**tx, row, changes, now).await?;
        let (kind, change) = if blocked {
            (
                "BLOCKED",
                json!({ "blocked": { "old": false, "new": true }, "reason": reason }),
            )
        } else {
            (
                "UNBLOCKED",
                json!({ "blocked": { "old": true, "new": false } }),
            )
        };
        tx.record(account_event(kind, &row, actor, change, now));
    }
    Ok(())
}

/// Attaches a user to a customer inside the caller's transaction (self-service sign-up).
pub async fn attach_customer(
    tx: &WriteTx,
    user_id: Uuid,
    customer_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let row = current_row(tx, user_id).await?;
    // Checked on the locked row: two sign-ups racing for one user create one customer link.
    if row.customer_id.is_some() {
        return Err(AppError::conflict(
            "customer",
            "you already belong to a customer",
        ));
    }
    store::set_customer(&**tx, row, Some(customer_id), now).await?;
    Ok(())
}

/// A user by ID, for other contexts' checks (a sales representative exists and is staff).
pub async fn user_by_id(state: &AppState, id: Uuid) -> Result<Option<User>, AppError> {
    store::find_by_id(state.db.read(), id)
        .await?
        .map(store::to_user)
        .transpose()
}

/// Users by ID, for loaders.
pub async fn users_by_ids(
    db: &impl sea_orm::ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<User>, AppError> {
    store::by_ids(db, ids)
        .await?
        .into_iter()
        .map(store::to_user)
        .collect()
}

/// A user who joins a blocked customer is blocked with it.
async fn block_for_customer(
    tx: &WriteTx,
    row: user_account::Model,
    customer_block: Option<String>,
    now: DateTime<Utc>,
) -> Result<user_account::Model, AppError> {
    match customer_block {
        Some(reason) if !row.blocked => {
            let changes = AccountChanges {
                blocked: Some((true, Some(reason), Some(now))),
                by_customer: true,
                ..AccountChanges::default()
            };
            Ok(store::update_and_revoke(&**tx, row, changes, now).await?)
        }
        _ => Ok(row),
    }
}

/// Sends the email-verification link to a new account, in the caller's transaction.
async fn send_verification(
    state: &AppState,
    tx: &mut WriteTx,
    user: &user_account::Model,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let ttl = state.config.email_token_ttl;
    let secret = one_time::issue(&**tx, user.id, Purpose::VerifyEmail, ttl, now).await?;
    let link = format!(
        "{}/verify-email?token={secret}",
        state.config.public_url.trim_end_matches('/')
    );
    let message = NewMessage {
        recipient: Recipient::email(&user.email, "email")?,
        template: "verify_email",
        language: "en".to_owned(),
        data: json!({ "email": user.email, "link": link, "expires_at": (now + chrono_duration(ttl)).format("%Y-%m-%d %H:%M UTC").to_string() }),
        attachments: Vec::new(),
        customer_id: user.customer_id,
    };
    outbox::enqueue(tx, message, now).await?;
    Ok(())
}

/// Confirms the email address of the account the token was sent to.
pub async fn verify_email(state: &AppState, token: &str) -> Result<User, AppError> {
    let now = state.clock.now();
    let tx = state.db.begin(&state.events).await?;
    let user_id = one_time::consume(&*tx, token, Purpose::VerifyEmail, now).await?;
    let row = current_row(&tx, user_id).await?;
    let mut active: user_account::ActiveModel = row.into();
    active.email_verified_at = sea_orm::Set(Some(now));
    active.updated_at = sea_orm::Set(now);
    let row = sea_orm::ActiveModelTrait::update(active, &*tx).await?;
    tx.commit().await?;
    store::to_user(row)
}

/// Emails a password-reset link when the address belongs to an account that may log in. The
/// answer is the same either way, so it tells nothing about which addresses exist.
pub async fn request_password_reset(
    state: &AppState,
    email: &str,
    client: Option<IpAddr>,
) -> Result<(), AppError> {
    let Ok(email) = Email::parse(email, "email") else {
        return Ok(());
    };
    let now = state.clock.now();
    let bucket = client.map_or_else(|| "unknown".to_owned(), rate_limit::address_bucket);
    let limits = [
        (
            format!("reset:addr:{bucket}"),
            state.config.login_max_per_address,
        ),
        (
            format!("reset:email:{}", email.as_str()),
            state.config.login_max_per_email,
        ),
    ];
    rate_limit::enforce(state, &limits, state.config.login_rate_window, now).await?;
    let mut tx = state.db.begin(&state.events).await?;
    if let Some(user) = store::find_by_email(&*tx, email.as_str()).await?
        && !user.blocked
    {
        let ttl = state.config.email_token_ttl;
        let secret = one_time::issue(&*tx, user.id, Purpose::ResetPassword, ttl, now).await?;
        let link = format!(
            "{}/reset-password?token={secret}",
            state.config.public_url.trim_end_matches('/')
        );
        let language = match user.customer_id {
            Some(id) => crate::customers::service::language_of(&tx, id).await?,
            None => "en".to_owned(),
        };
        let message = NewMessage {
            recipient: Recipient::email(&user.email, "email")?,
            template: "password_reset",
            language,
            data: json!({ "email": user.email, "link": link, "expires_at": (now + chrono_duration(ttl)).format("%Y-%m-%d %H:%M UTC").to_string() }),
            attachments: Vec::new(),
            customer_id: user.customer_id,
        };
        outbox::enqueue(&mut tx, message, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Sets a new password with a reset token; every session and token of the account ends.
pub async fn reset_password(
    state: &AppState,
    token: &str,
    new_password: String,
) -> Result<(), AppError> {
    let password = NewPassword::parse(new_password, "newPassword")?;
    let hash = state.hasher.hash(password.into_inner()).await?;
    let now = state.clock.now();
    let mut tx = state.db.begin(&state.events).await?;
    let user_id = one_time::consume(&*tx, token, Purpose::ResetPassword, now).await?;
    let row = current_row(&tx, user_id).await?;
    let changes = AccountChanges {
        password_hash: Some(hash),
        ..AccountChanges::default()
    };
    let row = store::update_and_revoke(&*tx, row, changes, now).await?;
    tx.record(account_event(
        "PASSWORD_CHANGED",
        &row,
        row.id,
        json!({}),
        now,
    ));
    tx.commit().await?;
    Ok(())
}
