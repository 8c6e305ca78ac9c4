//! Store settings: the seller's name and currency (one row).

use comptoir_entity::store_settings;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QuerySelect, Set};

use crate::{auth::Principal, error::AppError, kernel::kept::Kept, state::AppState};

#[derive(Clone, Debug)]
pub struct StoreSettings {
    pub name: String,
    /// ISO 4217 code of the store currency (`EUR`).
    pub currency: String,
    /// Where new orders are announced (the order desk).
    pub orders_email: Option<String>,
    /// Customers must verify their email before ordering or requesting quotes.
    pub require_verified_email: bool,
    /// Where new rental orders are announced (the rental desk).
    pub rental_email: Option<String>,
    pub version: i32,
}

fn to_settings(row: store_settings::Model) -> StoreSettings {
    StoreSettings {
        name: row.name,
        currency: row.currency,
        orders_email: row.orders_email,
        require_verified_email: row.require_verified_email,
        rental_email: row.rental_email,
        version: row.version,
    }
}

/// The store settings as requests read them (every amount shows their currency), kept (see
/// [`Kept`]).
#[derive(Clone, Debug)]
pub struct Cache(Kept<(), StoreSettings>);

/// The event a change of the store settings records (staff only).
pub const SETTINGS_OBJECT: &str = "StoreSettings";

impl Default for Cache {
    fn default() -> Self {
        Self(Kept::new(1))
    }
}

impl Cache {
    /// The settings, read from the database when not held.
    pub async fn get(&self, db: &impl ConnectionTrait) -> Result<StoreSettings, AppError> {
        self.0.get_or_read((), || get(db)).await
    }

    pub fn invalidate(&self) {
        self.0.invalidate();
    }

    /// Drops the settings whenever an event says they changed, on any instance.
    pub fn follow(&self, bus: &crate::events::EventBus) {
        self.0.follow(bus, SETTINGS_OBJECT);
    }
}

pub async fn get(db: &impl ConnectionTrait) -> Result<StoreSettings, AppError> {
    let row = store_settings::Entity::find_by_id(1)
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("store settings row missing")))?;
    Ok(to_settings(row))
}

pub struct SettingsChanges {
    pub name: Option<String>,
    pub currency: Option<String>,
    /// `Some(None)` clears it.
    pub orders_email: Option<Option<String>>,
    pub require_verified_email: Option<bool>,
    /// `Some(None)` clears it.
    pub rental_email: Option<Option<String>>,
}

/// ADMIN: changes the store settings; `version` must be the one read.
pub async fn update(
    state: &AppState,
    principal: &Principal,
    version: i32,
    changes: SettingsChanges,
) -> Result<StoreSettings, AppError> {
    principal.require_admin()?;
    let name = changes
        .name
        .map(|name| super::model::parse_name(&name, "name"))
        .transpose()?;
    let currency = changes
        .currency
        .map(|c| {
            let c = c.trim().to_ascii_uppercase();
            if c.len() == 3 && c.chars().all(|ch| ch.is_ascii_uppercase()) {
                Ok(c)
            } else {
                Err(AppError::validation(
                    "currency",
                    "a three-letter ISO 4217 code",
                ))
            }
        })
        .transpose()?;
    let optional_email = |value: Option<Option<String>>, field: &str| {
        value
            .map(|email| {
                email
                    .filter(|e| !e.trim().is_empty())
                    .map(|e| {
                        crate::notifications::model::Recipient::email(&e, field).map(|r| r.address)
                    })
                    .transpose()
            })
            .transpose()
    };
    let orders_email = optional_email(changes.orders_email, "ordersEmail")?;
    let rental_email = optional_email(changes.rental_email, "rentalEmail")?;
    let mut tx = state.db.begin(&state.events).await?;
    let row = store_settings::Entity::find_by_id(1)
        .lock_exclusive()
        .one(&*tx)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("store settings row missing")))?;
    if row.version != version {
        return Err(AppError::stale(row.version));
    }
    let mut active: store_settings::ActiveModel = row.clone().into();
    if let Some(name) = name {
        active.name = Set(name);
    }
    if let Some(currency) = currency {
        active.currency = Set(currency);
    }
    if let Some(email) = orders_email {
        active.orders_email = Set(email);
    }
    if let Some(email) = rental_email {
        active.rental_email = Set(email);
    }
    if let Some(required) = changes.require_verified_email {
        active.require_verified_email = Set(required);
    }
    active.version = Set(row.version + 1);
    active.updated_at = Set(state.clock.now());
    let row = active.update(&*tx).await?;
    tx.record(crate::events::NewEvent::store_change(
        "STORE_SETTINGS_CHANGED",
        SETTINGS_OBJECT,
        principal.user_id(),
        serde_json::json!({ "version": row.version }),
        state.clock.now(),
    ));
    tx.commit().await?;
    state.settings.invalidate();
    Ok(to_settings(row))
}
