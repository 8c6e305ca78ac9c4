//! Store settings: the seller's name and currency (one row).

use comptoir_entity::store_settings;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QuerySelect, Set};

use crate::{auth::Principal, error::AppError, state::AppState};

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
    let tx = state.db.begin(&state.events).await?;
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
    tx.commit().await?;
    Ok(to_settings(row))
}
