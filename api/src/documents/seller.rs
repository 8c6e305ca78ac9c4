//! The seller's identity printed on every document: name and currency from the store settings,
//! and the columns this context adds to that row (address, VAT ID, email, payment terms, logo).

use comptoir_entity::store_seller;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QuerySelect, Set};

use super::model::{Logo, Party, lines_of};
use crate::{
    auth::Principal, catalog, customers::model::parse_text, error::AppError, state::AppState,
};

/// Everything documents print about the seller.
#[derive(Clone, Debug)]
pub struct Seller {
    pub name: String,
    pub currency: String,
    pub address: String,
    pub vat_id: String,
    pub email: String,
    pub payment_terms: String,
    pub logo: Option<Logo>,
    /// The store settings' version (shared with the catalog's settings).
    pub version: i32,
}

impl Seller {
    pub fn party(&self) -> Party {
        Party {
            name: self.name.clone(),
            address: lines_of(&self.address),
            vat_id: self.vat_id.clone(),
            contact: if self.email.is_empty() {
                Vec::new()
            } else {
                vec![self.email.clone()]
            },
        }
    }
}

fn missing() -> AppError {
    AppError::internal(anyhow::anyhow!("store settings row missing"))
}

pub async fn get(db: &impl ConnectionTrait) -> Result<Seller, AppError> {
    let store = catalog::settings::get(db).await?;
    let row = store_seller::Entity::find_by_id(1)
        .one(db)
        .await?
        .ok_or_else(missing)?;
    Ok(Seller {
        name: store.name,
        currency: store.currency,
        address: row.seller_address,
        vat_id: row.seller_vat_id,
        email: row.seller_email,
        payment_terms: row.payment_terms,
        logo: match (row.logo, row.logo_content_type) {
            (Some(bytes), Some(content_type)) => Some(Logo {
                content_type,
                bytes,
            }),
            _ => None,
        },
        version: row.version,
    })
}

/// What admins may change (`None`: unchanged).
#[derive(Default)]
pub struct SellerChanges {
    pub address: Option<String>,
    pub vat_id: Option<String>,
    pub email: Option<String>,
    pub payment_terms: Option<String>,
    /// `Some(None)` removes the logo.
    pub logo: Option<Option<Logo>>,
}

/// Largest logo accepted.
const MAX_LOGO_BYTES: usize = 512 * 1024;
/// Widest and tallest logo accepted, in pixels: a small compressed file may declare a huge
/// image, which every document render would decode.
const MAX_LOGO_SIDE: usize = 4096;

/// ADMIN: changes the seller's printed identity; `version` is the store settings' version read.
pub async fn update(
    state: &AppState,
    principal: &Principal,
    version: i32,
    changes: SellerChanges,
) -> Result<Seller, AppError> {
    principal.require_admin()?;
    let text = |value: Option<String>, field: &str, max: usize| {
        value.map(|v| parse_text(&v, field, max, false)).transpose()
    };
    let address = text(changes.address, "address", 500)?;
    let vat_id = text(changes.vat_id, "vatId", 40)?;
    let terms = text(changes.payment_terms, "paymentTerms", 2_000)?;
    let email = changes
        .email
        .map(|e| {
            if e.trim().is_empty() {
                Ok(String::new())
            } else {
                crate::notifications::model::Recipient::email(&e, "email").map(|r| r.address)
            }
        })
        .transpose()?;
    if let Some(Some(logo)) = &changes.logo {
        check_logo(logo)?;
    }
    let tx = state.db.begin(&state.events).await?;
    let row = store_seller::Entity::find_by_id(1)
        .lock_exclusive()
        .one(&*tx)
        .await?
        .ok_or_else(missing)?;
    if row.version != version {
        return Err(AppError::stale(row.version));
    }
    let mut active: store_seller::ActiveModel = row.clone().into();
    if let Some(address) = address {
        active.seller_address = Set(address);
    }
    if let Some(vat_id) = vat_id {
        active.seller_vat_id = Set(vat_id);
    }
    if let Some(email) = email {
        active.seller_email = Set(email);
    }
    if let Some(terms) = terms {
        active.payment_terms = Set(terms);
    }
    if let Some(logo) = changes.logo {
        active.logo_content_type = Set(logo.as_ref().map(|l| l.content_type.clone()));
        active.logo = Set(logo.map(|l| l.bytes));
    }
    active.version = Set(row.version + 1);
    active.updated_at = Set(state.clock.now());
    active.update(&*tx).await?;
    let seller = get(&*tx).await?;
    tx.commit().await?;
    Ok(seller)
}

/// A logo is a PNG or JPEG (by its content, not only its declared type), at most 512 KiB and
/// 4096 × 4096 pixels (read from the header before anything decodes it), that decodes.
fn check_logo(logo: &Logo) -> Result<(), AppError> {
    if logo.bytes.len() > MAX_LOGO_BYTES {
        return Err(AppError::validation("logo", "at most 512 KiB"));
    }
    let media = logo.content_type.as_str();
    if !matches!(media, "image/png" | "image/jpeg") {
        return Err(AppError::validation("logo", "a PNG or JPEG image"));
    }
    if !crate::quotes::requests::looks_like(media, &logo.bytes) {
        return Err(AppError::validation(
            "logo",
            format!("the content is not {media}"),
        ));
    }
    let size = imagesize::blob_size(&logo.bytes)
        .map_err(|_| AppError::validation("logo", "the image cannot be read"))?;
    if size.width > MAX_LOGO_SIDE || size.height > MAX_LOGO_SIDE {
        return Err(AppError::validation(
            "logo",
            format!("at most {MAX_LOGO_SIDE} × {MAX_LOGO_SIDE} pixels"),
        ));
    }
    let data: krilla::Data = logo.bytes.clone().into();
    let decoded = if media == "image/png" {
        krilla::image::Image::from_png(data, true).is_ok()
    } else {
        krilla::image::Image::from_jpeg(data, true).is_ok()
    };
    if decoded {
        Ok(())
    } else {
        Err(AppError::validation("logo", "the image cannot be read"))
    }
}
