//! Quality claims and the orders made from orders. A claim concerns a made-to-order (`CUSTOM`)
//! line of a shipped or completed order; staff accept or reject it once; an accepted claim gets
//! one free reprint (the claimed line and its files, at zero price). Reprints, duplicates and new
//! orders for the same customer are made by `orders::copies`, in this context's transaction.

use comptoir_entity::{quality_claim, quality_claim_photo};
use serde_json::json;
use uuid::Uuid;

use super::{
    files,
    model::{Claim, ClaimPhoto, ClaimReason, ClaimStatus},
    storage::{self, ByteStream},
    store,
};
use crate::{
    auth::Principal,
    catalog::ProductKind,
    customers::model::parse_text,
    error::AppError,
    kernel::{
        ids::{self, Kind},
        pagination::{Page, PageRequest},
    },
    orders::{
        self, Order, OrderStatus,
        copies::{CopyKind, CopyRequest, record_event},
    },
    quotes::requests::{UploadedFile, check_file},
    state::AppState,
};

fn claim_not_found(field: &str) -> AppError {
    AppError::not_found("quality claim", field)
}

/// What a customer (or staff for them) reports.
pub struct ClaimInput {
    pub line_id: Uuid,
    pub reason: ClaimReason,
    pub description: String,
    pub photos: Vec<UploadedFile>,
}

/// The order's customer or staff: opens a claim on a `CUSTOM` line of a shipped or completed
/// order, with photos (images only).
pub async fn open(
    state: &AppState,
    principal: &Principal,
    input: ClaimInput,
) -> Result<Claim, AppError> {
    let user = principal.require_user()?;
    let description = parse_text(&input.description, "description", 5_000, true)?;
    check_photos(&state.config, &input.photos)?;
    let line =
        orders::copies::line_for(state.db.read(), principal, input.line_id, "orderLineId").await?;
    check_claimable(&line)?;
    let store_files = storage::from_config(&state.config);
    let stored = store_photos(&*store_files, &input.photos).await?;
    let result = async {
        let now = state.clock.now();
        let mut tx = state.db.begin(&state.events).await?;
        let line = orders::copies::line_for(&*tx, principal, input.line_id, "orderLineId").await?;
        check_claimable(&line)?;
        let row = store::insert_claim(
            &*tx,
            quality_claim::Model {
                id: Uuid::now_v7(),
                order_id: line.order.id,
                line_id: line.line.id,
                customer_id: line.order.customer_id,
                reason: input.reason.as_str().to_owned(),
                description,
                status: ClaimStatus::Open.as_str().to_owned(),
                decision_note: String::new(),
                reprint_order_id: None,
                opened_by: Some(user.id),
                decided_by: None,
                created_at: now,
                decided_at: None,
            },
        )
        .await?;
        for (photo, key) in input.photos.iter().zip(&stored) {
            store::insert_photo(
                &*tx,
                quality_claim_photo::Model {
                    id: Uuid::now_v7(),
                    claim_id: row.id,
                    filename: photo
                        .filename
                        .rsplit(['/', '\\'])
                        .next()
                        .unwrap_or_default()
                        .chars()
                        .take(255)
                        .collect(),
                    content_type: photo.content_type.to_ascii_lowercase(),
                    size: i64::try_from(photo.content.len()).unwrap_or(i64::MAX),
                    storage_key: key.clone(),
                    created_at: now,
                },
            )
            .await?;
        }
        let details = json!({
            "claim": ids::encode(Kind::QualityClaim, row.id),
            "line": ids::encode(Kind::OrderLine, row.line_id),
            "reason": row.reason,
        });
        record_event(
            &mut tx,
            row.order_id,
            "CLAIM_OPENED",
            details,
            false,
            Some(user.id),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(store::to_claim(row))
    }
    .await;
    if result.is_err() {
        for key in &stored {
            drop(store_files.delete(key).await);
        }
    }
    result
}

/// Photos are PNG or JPEG images, within the upload limits.
fn check_photos(config: &crate::config::Config, photos: &[UploadedFile]) -> Result<(), AppError> {
    if photos.len() > config.max_upload_files {
        return Err(AppError::validation(
            "photos",
            format!("at most {} photos", config.max_upload_files),
        ));
    }
    for (index, photo) in photos.iter().enumerate() {
        let field = format!("photos.{index}");
        if !matches!(
            photo.content_type.to_ascii_lowercase().as_str(),
            "image/png" | "image/jpeg"
        ) {
            return Err(AppError::validation(field, "a PNG or JPEG photo"));
        }
        check_file(config, photo, &field)?;
    }
    Ok(())
}

/// Stores the photos under fresh keys; on failure, removes those already stored.
async fn store_photos(
    files: &dyn storage::FileStore,
    photos: &[UploadedFile],
) -> Result<Vec<String>, AppError> {
    let mut stored: Vec<String> = Vec::new();
    for photo in photos {
        let key = format!("claims/{}", Uuid::now_v7().simple());
        if let Err(error) = files.put(&key, &photo.content).await {
            for key in &stored {
                drop(files.delete(key).await);
            }
            return Err(AppError::internal(error));
        }
        stored.push(key);
    }
    Ok(stored)
}

fn check_claimable(line: &orders::copies::LineRef) -> Result<(), AppError> {
    if line.product_kind != ProductKind::Custom.as_str() {
        return Err(AppError::validation(
            "orderLineId",
            "quality claims are for made-to-order (CUSTOM) lines",
        ));
    }
    if !matches!(
        line.order.status,
        OrderStatus::Shipped | OrderStatus::Completed
    ) {
        return Err(orders::model::invalid_transition(
            line.order.status,
            "CLAIM",
        ));
    }
    Ok(())
}

/// A claim the caller may see: staff, or the customer of its order.
pub async fn find_for(
    db: &impl sea_orm::ConnectionTrait,
    principal: &Principal,
    id: Uuid,
    field: &str,
    lock: bool,
) -> Result<quality_claim::Model, AppError> {
    principal.require_user()?;
    let row = if lock {
        store::find_claim_for_update(db, id).await?
    } else {
        store::find_claim(db, id).await?
    }
    .ok_or_else(|| claim_not_found(field))?;
    if !principal.is_staff() && principal.customer_id() != Some(row.customer_id) {
        return Err(claim_not_found(field));
    }
    Ok(row)
}

pub async fn claim(state: &AppState, principal: &Principal, id: Uuid) -> Result<Claim, AppError> {
    find_for(state.db.read(), principal, id, "id", false)
        .await
        .map(store::to_claim)
}

/// Staff: accepts or rejects an open claim, with a note the customer sees.
pub async fn decide(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    accept: bool,
    note: &str,
) -> Result<Claim, AppError> {
    let staff = principal.require_staff()?;
    let note = parse_text(note, "note", 5_000, false)?;
    let now = state.clock.now();
    let mut tx = state.db.begin(&state.events).await?;
    let mut row = find_for(&*tx, principal, id, "claimId", true).await?;
    let next = if accept {
        ClaimStatus::Accepted
    } else {
        ClaimStatus::Rejected
    };
    store::to_claim(row.clone()).status.check(next)?;
    next.as_str().clone_into(&mut row.status);
    row.decision_note = note;
    row.decided_by = Some(staff.id);
    row.decided_at = Some(now);
    let row = store::update_claim(&*tx, row).await?;
    let details = json!({
        "claim": ids::encode(Kind::QualityClaim, row.id),
        "status": row.status,
        "note": row.decision_note,
    });
    let kind = if accept {
        "CLAIM_ACCEPTED"
    } else {
        "CLAIM_REJECTED"
    };
    record_event(
        &mut tx,
        row.order_id,
        kind,
        details,
        false,
        Some(staff.id),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(store::to_claim(row))
}

/// Staff: the free reprint of an accepted claim: a new draft order for the same customer with
/// the claimed line and its current files, at zero price, linked to the claim and the order.
/// Once per claim.
pub async fn reprint(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<(Claim, Order), AppError> {
    principal.require_staff()?;
    let now = state.clock.now();
    let mut tx = state.db.begin(&state.events).await?;
    let mut row = find_for(&*tx, principal, id, "claimId", true).await?;
    let claim = store::to_claim(row.clone());
    if claim.status != ClaimStatus::Accepted {
        return Err(AppError::InvalidTransition {
            from: claim.status.as_str(),
            to: "REPRINT".to_owned(),
        });
    }
    if claim.reprint_order_id.is_some() {
        return Err(AppError::conflict(
            "claimId",
            "this claim already has its reprint",
        ));
    }
    let copied = orders::copies::copy(
        &mut tx,
        principal,
        CopyRequest {
            source_id: claim.order_id,
            kind: CopyKind::ClaimReprint,
            only_line: Some(claim.line_id),
            claim_id: Some(claim.id),
        },
        now,
    )
    .await?;
    files::copy_to(&tx, copied.order.id, &copied.lines, now).await?;
    row.reprint_order_id = Some(copied.order.id);
    let row = store::update_claim(&*tx, row).await?;
    tx.commit().await?;
    Ok((store::to_claim(row), copied.order))
}

/// Staff: a new order from `order_id`: `REPRINT` (lines and current files, same prices),
/// `DUPLICATE` (lines, no files), `NEW_FOR_CUSTOMER` (customer data only).
pub async fn copy_order(
    state: &AppState,
    principal: &Principal,
    order_id: Uuid,
    kind: CopyKind,
) -> Result<Order, AppError> {
    principal.require_staff()?;
    let now = state.clock.now();
    let mut tx = state.db.begin(&state.events).await?;
    let copied = orders::copies::copy(
        &mut tx,
        principal,
        CopyRequest {
            source_id: order_id,
            kind,
            only_line: None,
            claim_id: None,
        },
        now,
    )
    .await?;
    if kind == CopyKind::Reprint {
        files::copy_to(&tx, copied.order.id, &copied.lines, now).await?;
    }
    tx.commit().await?;
    Ok(copied.order)
}

/// Claims, newest first: staff all; customers their own.
pub async fn list(
    state: &AppState,
    principal: &Principal,
    status: Option<ClaimStatus>,
    page: PageRequest,
) -> Result<Page<Claim>, AppError> {
    let user = principal.require_user()?;
    let customer_id = if principal.is_staff() {
        None
    } else {
        match user.customer_id {
            Some(id) => Some(id),
            None => {
                return Ok(Page::empty());
            }
        }
    };
    let after = page.after_id()?;
    let (rows, total) =
        store::list_claims(state.db.read(), customer_id, status, after, page.limit).await?;
    Page::from_rows(rows, page.limit, after.is_some(), total, |row| {
        Ok::<_, AppError>(store::to_claim(row))
    })
}

pub async fn of_orders(
    db: &impl sea_orm::ConnectionTrait,
    order_ids: &[Uuid],
) -> Result<Vec<Claim>, AppError> {
    Ok(store::claims_of_orders(db, order_ids).await?)
}

pub async fn photos_of(
    db: &impl sea_orm::ConnectionTrait,
    claim_ids: &[Uuid],
) -> Result<Vec<ClaimPhoto>, AppError> {
    Ok(store::photos_of(db, claim_ids).await?)
}

/// A claim photo's content for a caller who may see the claim.
pub async fn photo(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<(String, String, u64, ByteStream), AppError> {
    principal.require_user()?;
    let not_found = || AppError::not_found("photo", "id");
    let photo = store::find_photo(state.db.read(), id)
        .await?
        .ok_or_else(not_found)?;
    find_for(state.db.read(), principal, photo.claim_id, "id", false)
        .await
        .map_err(|_| not_found())?;
    let (size, stream) = storage::from_config(&state.config)
        .open(&photo.storage_key)
        .await
        .map_err(AppError::internal)?;
    Ok((photo.filename, photo.content_type, size, stream))
}
