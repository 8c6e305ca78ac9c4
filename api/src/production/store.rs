//! Production queries. Rows become domain types here.

use comptoir_entity::{
    production_file, production_file_comment, quality_claim, quality_claim_photo,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::model::{Claim, ClaimPhoto, ClaimReason, ClaimStatus, FileComment, ProductionFile};

pub fn to_file(row: production_file::Model) -> ProductionFile {
    ProductionFile {
        id: row.id,
        order_id: row.order_id,
        line_id: row.line_id,
        first_id: row.first_id,
        version: row.version,
        current: row.current,
        filename: row.filename,
        content_type: row.content_type,
        size: row.size,
        sha256: row.sha256,
        storage_key: row.storage_key,
        certified_at: row.certified_at,
        certified_by: row.certified_by,
        uploaded_by: row.uploaded_by,
        created_at: row.created_at,
    }
}

pub fn to_claim(row: quality_claim::Model) -> Claim {
    Claim {
        id: row.id,
        order_id: row.order_id,
        line_id: row.line_id,
        customer_id: row.customer_id,
        reason: ClaimReason::parse(&row.reason).unwrap_or(ClaimReason::Other),
        description: row.description,
        status: ClaimStatus::parse(&row.status).unwrap_or(ClaimStatus::Open),
        decision_note: row.decision_note,
        reprint_order_id: row.reprint_order_id,
        opened_by: row.opened_by,
        decided_by: row.decided_by,
        created_at: row.created_at,
        decided_at: row.decided_at,
    }
}

pub async fn insert_file(
    db: &impl ConnectionTrait,
    row: production_file::Model,
) -> Result<production_file::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

pub async fn update_file(
    db: &impl ConnectionTrait,
    row: production_file::Model,
) -> Result<production_file::Model, DbErr> {
    row.into_active_model().reset_all().update(db).await
}

pub async fn find_file(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<production_file::Model>, DbErr> {
    production_file::Entity::find_by_id(id).one(db).await
}

/// The file row locked until the transaction ends: two replacements of one version queue, and
/// the second finds it superseded.
pub async fn find_file_for_update(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<production_file::Model>, DbErr> {
    production_file::Entity::find_by_id(id)
        .lock_exclusive()
        .one(db)
        .await
}

/// Every version of the files of orders, oldest first.
pub async fn files_of_orders(
    db: &impl ConnectionTrait,
    order_ids: &[Uuid],
) -> Result<Vec<ProductionFile>, DbErr> {
    Ok(production_file::Entity::find()
        .filter(production_file::Column::OrderId.is_in(order_ids.iter().copied()))
        .order_by_asc(production_file::Column::CreatedAt)
        .order_by_asc(production_file::Column::Version)
        .all(db)
        .await?
        .into_iter()
        .map(to_file)
        .collect())
}

/// The current versions of the files of lines.
pub async fn current_files_of_lines(
    db: &impl ConnectionTrait,
    line_ids: &[Uuid],
) -> Result<Vec<ProductionFile>, DbErr> {
    Ok(production_file::Entity::find()
        .filter(production_file::Column::LineId.is_in(line_ids.iter().copied()))
        .filter(production_file::Column::Current.eq(true))
        .order_by_asc(production_file::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(to_file)
        .collect())
}

pub async fn insert_comment(
    db: &impl ConnectionTrait,
    row: production_file_comment::Model,
) -> Result<FileComment, DbErr> {
    let row = row.into_active_model().reset_all().insert(db).await?;
    Ok(to_comment(row))
}

fn to_comment(row: production_file_comment::Model) -> FileComment {
    FileComment {
        id: row.id,
        file_id: row.file_id,
        author_id: row.author_id,
        body: row.body,
        at: row.created_at,
    }
}

pub async fn comments_of(
    db: &impl ConnectionTrait,
    file_ids: &[Uuid],
) -> Result<Vec<FileComment>, DbErr> {
    Ok(production_file_comment::Entity::find()
        .filter(production_file_comment::Column::FileId.is_in(file_ids.iter().copied()))
        .order_by_asc(production_file_comment::Column::CreatedAt)
        .order_by_asc(production_file_comment::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(to_comment)
        .collect())
}

pub async fn insert_claim(
    db: &impl ConnectionTrait,
    row: quality_claim::Model,
) -> Result<quality_claim::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

pub async fn update_claim(
    db: &impl ConnectionTrait,
    row: quality_claim::Model,
) -> Result<quality_claim::Model, DbErr> {
    row.into_active_model().reset_all().update(db).await
}

pub async fn find_claim(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<quality_claim::Model>, DbErr> {
    quality_claim::Entity::find_by_id(id).one(db).await
}

pub async fn find_claim_for_update(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<quality_claim::Model>, DbErr> {
    quality_claim::Entity::find_by_id(id)
        .lock_exclusive()
        .one(db)
        .await
}

pub async fn claims_of_orders(
    db: &impl ConnectionTrait,
    order_ids: &[Uuid],
) -> Result<Vec<Claim>, DbErr> {
    Ok(quality_claim::Entity::find()
        .filter(quality_claim::Column::OrderId.is_in(order_ids.iter().copied()))
        .order_by_asc(quality_claim::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(to_claim)
        .collect())
}

/// A page of claims, newest first (IDs are time-ordered).
pub async fn list_claims(
    db: &impl ConnectionTrait,
    customer_id: Option<Uuid>,
    status: Option<ClaimStatus>,
    after: Option<Uuid>,
    limit: u64,
) -> Result<(Vec<quality_claim::Model>, u64), DbErr> {
    let mut query = quality_claim::Entity::find();
    if let Some(customer_id) = customer_id {
        query = query.filter(quality_claim::Column::CustomerId.eq(customer_id));
    }
    if let Some(status) = status {
        query = query.filter(quality_claim::Column::Status.eq(status.as_str()));
    }
    let total = query.clone().count(db).await?;
    if let Some(after) = after {
        query = query.filter(quality_claim::Column::Id.lt(after));
    }
    let rows = query
        .order_by_desc(quality_claim::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    Ok((rows, total))
}

pub async fn insert_photo(
    db: &impl ConnectionTrait,
    row: quality_claim_photo::Model,
) -> Result<(), DbErr> {
    row.into_active_model().reset_all().insert(db).await?;
    Ok(())
}

fn to_photo(row: quality_claim_photo::Model) -> ClaimPhoto {
    ClaimPhoto {
        id: row.id,
        claim_id: row.claim_id,
        filename: row.filename,
        content_type: row.content_type,
        size: row.size,
        storage_key: row.storage_key,
    }
}

pub async fn photos_of(
    db: &impl ConnectionTrait,
    claim_ids: &[Uuid],
) -> Result<Vec<ClaimPhoto>, DbErr> {
    Ok(quality_claim_photo::Entity::find()
        .filter(quality_claim_photo::Column::ClaimId.is_in(claim_ids.iter().copied()))
        .order_by_asc(quality_claim_photo::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(to_photo)
        .collect())
}

pub async fn find_photo(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<ClaimPhoto>, DbErr> {
    Ok(quality_claim_photo::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(to_photo))
}
