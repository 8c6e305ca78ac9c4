//! Production files: uploaded on an order line by staff or the order's customer, replaced with a
//! new version (the old one is kept), commented, certified by staff as ready for production. The
//! content goes to the file store first; the row and the order's event follow in one
//! transaction, and a failed transaction removes the content it stored.

use comptoir_entity::{production_file, production_file_comment};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    model::{FileComment, ProductionFile},
    storage::{self, ByteStream},
    store,
};
use crate::{
    auth::Principal,
    customers::model::parse_text,
    db::WriteTx,
    error::AppError,
    kernel::ids::{self, Kind},
    orders::{self, OrderStatus, copies::record_event},
    quotes::requests::{UploadedFile, check_file},
    state::AppState,
};

fn file_not_found(field: &str) -> AppError {
    AppError::not_found("production file", field)
}

/// Files go on orders still being made.
fn check_open(status: OrderStatus) -> Result<(), AppError> {
    if matches!(status, OrderStatus::Cancelled | OrderStatus::Completed) {
        Err(orders::model::invalid_transition(status, "PRODUCTION_FILE"))
    } else {
        Ok(())
    }
}

/// Content stored, row not yet written: removed again unless the transaction commits.
struct Stored {
    key: String,
    sha256: String,
    size: i64,
}

async fn put(state: &AppState, file: &UploadedFile) -> Result<Stored, AppError> {
    let key = format!("production/{}", Uuid::now_v7().simple());
    storage::from_config(&state.config)
        .put(&key, &file.content)
        .await
        .map_err(AppError::internal)?;
    Ok(Stored {
        key,
        sha256: hex::encode(Sha256::digest(&file.content)),
        size: i64::try_from(file.content.len()).unwrap_or(i64::MAX),
    })
}

async fn forget(state: &AppState, key: &str) {
    if let Err(error) = storage::from_config(&state.config).delete(key).await {
        tracing::warn!(%error, key, "could not remove an unused stored file");
    }
}

fn file_name(name: &str, field: &str) -> Result<String, AppError> {
    let name = parse_text(name, field, 255, true)?;
    // Only the last path segment a browser might send.
    Ok(name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .to_owned())
}

async fn event(
    tx: &mut WriteTx,
    file: &production_file::Model,
    kind: &'static str,
    actor: Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), AppError> {
    let details = json!({
        "file": ids::encode(Kind::ProductionFile, file.id),
        "line": ids::encode(Kind::OrderLine, file.line_id),
        "filename": file.filename,
        "version": file.version,
    });
    record_event(tx, file.order_id, kind, details, false, Some(actor), now).await
}

/// Staff or the order's customer: a new file on an order line.
pub async fn upload(
    state: &AppState,
    principal: &Principal,
    line_id: Uuid,
    file: UploadedFile,
) -> Result<ProductionFile, AppError> {
    let user = principal.require_user()?;
    check_file(&state.config, &file, "file")?;
    let filename = file_name(&file.filename, "file")?;
    // The line must be the caller's before anything is stored.
    let line = orders::copies::line_for(state.db.read(), principal, line_id, "orderLineId").await?;
    check_open(line.order.status)?;
    let stored = put(state, &file).await?;
    let result = async {
        let now = state.clock.now();
        let mut tx = state.db.begin(&state.events).await?;
        let line = orders::copies::line_for(&*tx, principal, line_id, "orderLineId").await?;
        check_open(line.order.status)?;
        let id = Uuid::now_v7();
        let row = store::insert_file(
            &*tx,
            production_file::Model {
                id,
                order_id: line.order.id,
                line_id,
                first_id: id,
                version: 1,
                current: true,
                filename,
                content_type: file.content_type.to_ascii_lowercase(),
                size: stored.size,
                sha256: stored.sha256.clone(),
                storage_key: stored.key.clone(),
                certified_at: None,
                certified_by: None,
                uploaded_by: Some(user.id),
                created_at: now,
            },
        )
        .await?;
        event(&mut tx, &row, "PRODUCTION_FILE_UPLOADED", user.id, now).await?;
        tx.commit().await?;
        Ok(store::to_file(row))
    }
    .await;
    if result.is_err() {
        forget(state, &stored.key).await;
    }
    result
}

/// A file the caller may see (its order's staff or customer), read through `db`.
async fn file_for(
    db: &impl sea_orm::ConnectionTrait,
    principal: &Principal,
    id: Uuid,
    field: &str,
    lock: bool,
) -> Result<(production_file::Model, orders::Order), AppError> {
    principal.require_user()?;
    let row = if lock {
        store::find_file_for_update(db, id).await?
    } else {
        store::find_file(db, id).await?
    }
    .ok_or_else(|| file_not_found(field))?;
    let order = orders::service::find_for(db, principal, row.order_id)
        .await
        .map_err(|_| file_not_found(field))?;
    Ok((row, order))
}

/// Staff or the order's customer: a new version of a file; the previous one is kept. Refused
/// while the file is certified, or for a version that was already replaced.
pub async fn replace(
    state: &AppState,
    principal: &Principal,
    file_id: Uuid,
    file: UploadedFile,
) -> Result<ProductionFile, AppError> {
    let user = principal.require_user()?;
    check_file(&state.config, &file, "file")?;
    let filename = file_name(&file.filename, "file")?;
    let (previous, order) = file_for(state.db.read(), principal, file_id, "fileId", false).await?;
    check_open(order.status)?;
    store::to_file(previous).check_replaceable()?;
    let stored = put(state, &file).await?;
    let result = async {
        let now = state.clock.now();
        let mut tx = state.db.begin(&state.events).await?;
        let (mut previous, order) = file_for(&*tx, principal, file_id, "fileId", true).await?;
        check_open(order.status)?;
        store::to_file(previous.clone()).check_replaceable()?;
        previous.current = false;
        let previous = store::update_file(&*tx, previous).await?;
        let row = store::insert_file(
            &*tx,
            production_file::Model {
                id: Uuid::now_v7(),
                version: previous.version + 1,
                current: true,
                filename,
                content_type: file.content_type.to_ascii_lowercase(),
                size: stored.size,
                sha256: stored.sha256.clone(),
                storage_key: stored.key.clone(),
                certified_at: None,
                certified_by: None,
                uploaded_by: Some(user.id),
                created_at: now,
                ..previous
            },
        )
        .await?;
        event(&mut tx, &row, "PRODUCTION_FILE_REPLACED", user.id, now).await?;
        tx.commit().await?;
        Ok(store::to_file(row))
    }
    .await;
    if result.is_err() {
        forget(state, &stored.key).await;
    }
    result
}

/// Staff or the order's customer: a comment on a file (any version).
pub async fn comment(
    state: &AppState,
    principal: &Principal,
    file_id: Uuid,
    body: &str,
) -> Result<FileComment, AppError> {
    let user = principal.require_user()?;
    let body = parse_text(body, "body", 5_000, true)?;
    let now = state.clock.now();
    let mut tx = state.db.begin(&state.events).await?;
    let (file, _) = file_for(&*tx, principal, file_id, "fileId", false).await?;
    let comment = store::insert_comment(
        &*tx,
        production_file_comment::Model {
            id: Uuid::now_v7(),
            file_id,
            author_id: Some(user.id),
            body,
            created_at: now,
        },
    )
    .await?;
    event(&mut tx, &file, "PRODUCTION_FILE_COMMENTED", user.id, now).await?;
    tx.commit().await?;
    Ok(comment)
}

/// Staff: marks the current version of a file checked and ready for production (`certified`),
/// or takes that back (`!certified`) so that it can be replaced.
pub async fn certify(
    state: &AppState,
    principal: &Principal,
    file_id: Uuid,
    certified: bool,
) -> Result<ProductionFile, AppError> {
    let staff = principal.require_staff()?;
    let now = state.clock.now();
    let mut tx = state.db.begin(&state.events).await?;
    let (mut row, order) = file_for(&*tx, principal, file_id, "fileId", true).await?;
    let file = store::to_file(row.clone());
    file.check_current(if certified { "CERTIFY" } else { "UNCERTIFY" })?;
    if file.certified() == certified {
        return Err(AppError::InvalidTransition {
            from: if certified {
                "CERTIFIED"
            } else {
                "UNCERTIFIED"
            },
            to: if certified { "CERTIFY" } else { "UNCERTIFY" }.to_owned(),
        });
    }
    if certified {
        check_open(order.status)?;
    }
    row.certified_at = certified.then_some(now);
    row.certified_by = certified.then_some(staff.id);
    let row = store::update_file(&*tx, row).await?;
    let kind = if certified {
        "PRODUCTION_FILE_CERTIFIED"
    } else {
        "PRODUCTION_FILE_UNCERTIFIED"
    };
    event(&mut tx, &row, kind, staff.id, now).await?;
    tx.commit().await?;
    Ok(store::to_file(row))
}

/// Every version of the files of orders the caller could already see (loaders).
pub async fn of_orders(
    db: &impl sea_orm::ConnectionTrait,
    order_ids: &[Uuid],
) -> Result<Vec<ProductionFile>, AppError> {
    Ok(store::files_of_orders(db, order_ids).await?)
}

pub async fn comments_of(
    db: &impl sea_orm::ConnectionTrait,
    file_ids: &[Uuid],
) -> Result<Vec<FileComment>, AppError> {
    Ok(store::comments_of(db, file_ids).await?)
}

/// A file's content for a caller who may see it, streamed, with its name and type.
pub async fn download(
    state: &AppState,
    principal: &Principal,
    file_id: Uuid,
) -> Result<(String, String, u64, ByteStream), AppError> {
    let (row, _) = file_for(state.db.read(), principal, file_id, "id", false).await?;
    let (size, stream) = storage::from_config(&state.config)
        .open(&row.storage_key)
        .await
        .map_err(AppError::internal)?;
    Ok((row.filename, row.content_type, size, stream))
}

/// Copies the current files of `lines` (source line → new line) onto a new order, sharing the
/// stored contents (they never change), in the copy's transaction.
pub async fn copy_to(
    tx: &WriteTx,
    new_order_id: Uuid,
    lines: &[(Uuid, Uuid)],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<usize, AppError> {
    let sources: Vec<Uuid> = lines.iter().map(|(from, _)| *from).collect();
    let files = store::current_files_of_lines(&**tx, &sources).await?;
    for file in &files {
        let Some((_, to)) = lines.iter().find(|(from, _)| *from == file.line_id) else {
            continue;
        };
        let id = Uuid::now_v7();
        store::insert_file(
            &**tx,
            production_file::Model {
                id,
                order_id: new_order_id,
                line_id: *to,
                first_id: id,
                version: 1,
                current: true,
                filename: file.filename.clone(),
                content_type: file.content_type.clone(),
                size: file.size,
                sha256: file.sha256.clone(),
                storage_key: file.storage_key.clone(),
                // The certification is the source's, as it happened: who checked this content,
                // and when (the copy does not re-certify it in anyone's name).
                certified_at: file.certified_at,
                certified_by: file.certified_by,
                uploaded_by: file.uploaded_by,
                created_at: now,
            },
        )
        .await?;
    }
    Ok(files.len())
}
