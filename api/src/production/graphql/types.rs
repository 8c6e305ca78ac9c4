use async_graphql::{Context, Enum, ID, Object, Result};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    auth::graphql::UserObject,
    documents::signing,
    graphql::{
        context::{principal, state},
        loaders::{
            ClaimsOfOrder, CommentsOfFile, CopiesOfOrder, CopySourceOfOrder, FilesOfOrder,
            OrderLoader, PhotosOfClaim, UserLoader, load_error, loader,
        },
    },
    kernel::ids::{self, Kind},
    orders::{copies::CopyLink, graphql::types::OrderObject},
    production::model::{Claim, ClaimPhoto, FileComment, ProductionFile, line_ready},
};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "QualityClaimStatus",
    remote = "crate::production::model::ClaimStatus"
)]
pub enum ClaimStatusGql {
    Open,
    Accepted,
    Rejected,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "QualityClaimReason",
    remote = "crate::production::model::ClaimReason"
)]
pub enum ClaimReasonGql {
    PrintDefect,
    WrongColours,
    WrongSize,
    Damaged,
    WrongQuantity,
    Other,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "OrderCopyKind", remote = "crate::orders::copies::CopyKind")]
pub enum CopyKindGql {
    /// The same lines and production files, at the same prices.
    Reprint,
    /// A free reprint of a claimed line after an accepted quality claim.
    ClaimReprint,
    /// The customer data only, no lines.
    NewForCustomer,
    /// The same lines, no files.
    Duplicate,
}

async fn user(ctx: &Context<'_>, id: Option<Uuid>) -> Result<Option<UserObject>> {
    let Some(id) = id else { return Ok(None) };
    Ok(loader::<UserLoader>(ctx)?
        .load_one(id)
        .await
        .map_err(|e| load_error(&e))?
        .map(|user| UserObject::seen_by(user, principal(ctx))))
}

async fn files_of_order(ctx: &Context<'_>, order_id: Uuid) -> Result<Vec<ProductionFile>> {
    Ok(loader::<FilesOfOrder>(ctx)?
        .load_one(order_id)
        .await
        .map_err(|e| load_error(&e))?
        .unwrap_or_default())
}

/// One version of a production file on an order line.
pub struct ProductionFileObject(pub ProductionFile);

#[Object(name = "ProductionFile")]
impl ProductionFileObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::ProductionFile, self.0.id))
    }
    async fn order_line_id(&self) -> ID {
        ID(ids::encode(Kind::OrderLine, self.0.line_id))
    }
    async fn filename(&self) -> &str {
        &self.0.filename
    }
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }
    /// Bytes.
    async fn size(&self) -> i64 {
        self.0.size
    }
    /// SHA-256 of the content, hex.
    async fn sha256(&self) -> &str {
        &self.0.sha256
    }
    /// 1 for the first upload, +1 for each replacement.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// The version in use (earlier versions are kept).
    async fn current(&self) -> bool {
        self.0.current
    }
    /// Checked by staff and ready for production; not replaced until uncertified.
    async fn certified(&self) -> bool {
        self.0.certified()
    }
    async fn certified_at(&self) -> Option<DateTime<Utc>> {
        self.0.certified_at
    }
    async fn certified_by(&self, ctx: &Context<'_>) -> Result<Option<UserObject>> {
        user(ctx, self.0.certified_by).await
    }
    async fn uploaded_by(&self, ctx: &Context<'_>) -> Result<Option<UserObject>> {
        user(ctx, self.0.uploaded_by).await
    }
    async fn uploaded_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Every version of this file, oldest first (this one included).
    async fn versions(&self, ctx: &Context<'_>) -> Result<Vec<ProductionFileObject>> {
        Ok(files_of_order(ctx, self.0.order_id)
            .await?
            .into_iter()
            .filter(|f| f.first_id == self.0.first_id)
            .map(ProductionFileObject)
            .collect())
    }
    /// Comments on this version, oldest first.
    async fn comments(&self, ctx: &Context<'_>) -> Result<Vec<FileCommentObject>> {
        Ok(loader::<CommentsOfFile>(ctx)?
            .load_one(self.0.id)
            .await
            .map_err(|e| load_error(&e))?
            .unwrap_or_default()
            .into_iter()
            .map(FileCommentObject)
            .collect())
    }
    /// A short-lived signed download URL (also `GET /files/production-files/{id}` with the
    /// bearer token).
    async fn url(&self, ctx: &Context<'_>) -> String {
        signing::sign(
            state(ctx),
            &format!(
                "/files/production-files/{}",
                ids::encode(Kind::ProductionFile, self.0.id)
            ),
        )
    }
}

pub struct FileCommentObject(pub FileComment);

#[Object(name = "ProductionFileComment")]
impl FileCommentObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::ProductionFileComment, self.0.id))
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<UserObject>> {
        user(ctx, self.0.author_id).await
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

/// `OrderLine.productionFiles`: the current version of each file of the line.
pub async fn line_files(
    ctx: &Context<'_>,
    order_id: Uuid,
    line_id: Uuid,
) -> Result<Vec<ProductionFileObject>> {
    Ok(files_of_order(ctx, order_id)
        .await?
        .into_iter()
        .filter(|f| f.line_id == line_id && f.current)
        .map(ProductionFileObject)
        .collect())
}

/// `OrderLine.productionReady`.
pub async fn line_is_ready(ctx: &Context<'_>, order_id: Uuid, line_id: Uuid) -> Result<bool> {
    let files = files_of_order(ctx, order_id).await?;
    Ok(line_ready(files.iter().filter(|f| f.line_id == line_id)))
}

/// `Order.readyLineIds`: lines whose current files are all certified.
pub async fn ready_lines(ctx: &Context<'_>, order_id: Uuid) -> Result<Vec<ID>> {
    let files = files_of_order(ctx, order_id).await?;
    let mut lines: Vec<Uuid> = files.iter().map(|f| f.line_id).collect();
    lines.sort_unstable();
    lines.dedup();
    Ok(lines
        .into_iter()
        .filter(|line| line_ready(files.iter().filter(|f| f.line_id == *line)))
        .map(|line| ID(ids::encode(Kind::OrderLine, line)))
        .collect())
}

/// A quality claim on a made-to-order line.
pub struct QualityClaimObject(pub Claim);

#[Object(name = "QualityClaim")]
impl QualityClaimObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::QualityClaim, self.0.id))
    }
    async fn order_id(&self) -> ID {
        ID(ids::encode(Kind::Order, self.0.order_id))
    }
    async fn order_line_id(&self) -> ID {
        ID(ids::encode(Kind::OrderLine, self.0.line_id))
    }
    async fn reason(&self) -> ClaimReasonGql {
        self.0.reason.into()
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn status(&self) -> ClaimStatusGql {
        self.0.status.into()
    }
    /// Staff's answer.
    async fn decision_note(&self) -> &str {
        &self.0.decision_note
    }
    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at
    }
    async fn opened_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The free reprint made for this claim (null until made, or while the caller may not see
    /// it yet).
    async fn reprint_order(&self, ctx: &Context<'_>) -> Result<Option<OrderObject>> {
        let Some(id) = self.0.reprint_order_id else {
            return Ok(None);
        };
        Ok(loader::<OrderLoader>(ctx)?
            .load_one(id)
            .await
            .map_err(|e| load_error(&e))?
            .map(OrderObject))
    }
    async fn photos(&self, ctx: &Context<'_>) -> Result<Vec<ClaimPhotoObject>> {
        Ok(loader::<PhotosOfClaim>(ctx)?
            .load_one(self.0.id)
            .await
            .map_err(|e| load_error(&e))?
            .unwrap_or_default()
            .into_iter()
            .map(ClaimPhotoObject)
            .collect())
    }
}

pub struct ClaimPhotoObject(pub ClaimPhoto);

#[Object(name = "QualityClaimPhoto")]
impl ClaimPhotoObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::ClaimPhoto, self.0.id))
    }
    async fn filename(&self) -> &str {
        &self.0.filename
    }
    async fn content_type(&self) -> &str {
        &self.0.content_type
    }
    async fn size(&self) -> i64 {
        self.0.size
    }
    /// A short-lived signed download URL.
    async fn url(&self, ctx: &Context<'_>) -> String {
        signing::sign(
            state(ctx),
            &format!(
                "/files/claim-photos/{}",
                ids::encode(Kind::ClaimPhoto, self.0.id)
            ),
        )
    }
}

/// `Order.qualityClaims`.
pub async fn claims_of(ctx: &Context<'_>, order_id: Uuid) -> Result<Vec<QualityClaimObject>> {
    Ok(loader::<ClaimsOfOrder>(ctx)?
        .load_one(order_id)
        .await
        .map_err(|e| load_error(&e))?
        .unwrap_or_default()
        .into_iter()
        .map(QualityClaimObject)
        .collect())
}

/// A link between an order and a copy of it.
pub struct OrderCopyLinkObject {
    link: CopyLink,
    /// The order at the other end: the source (for `copiedFrom`) or the copy (for `copies`).
    other: Uuid,
}

#[Object(name = "OrderCopyLink")]
impl OrderCopyLinkObject {
    async fn kind(&self) -> CopyKindGql {
        self.link.kind.into()
    }
    /// The order at the other end of the link (null while the caller may not see it: a copy
    /// is a draft until proposed).
    async fn order(&self, ctx: &Context<'_>) -> Result<Option<OrderObject>> {
        Ok(loader::<OrderLoader>(ctx)?
            .load_one(self.other)
            .await
            .map_err(|e| load_error(&e))?
            .map(OrderObject))
    }
    async fn order_id(&self) -> ID {
        ID(ids::encode(Kind::Order, self.other))
    }
    /// The quality claim a free reprint answers.
    async fn claim_id(&self) -> Option<ID> {
        self.link
            .claim_id
            .map(|id| ID(ids::encode(Kind::QualityClaim, id)))
    }
    async fn at(&self) -> DateTime<Utc> {
        self.link.at
    }
}

/// `Order.copiedFrom`.
pub async fn source_of(ctx: &Context<'_>, order_id: Uuid) -> Result<Option<OrderCopyLinkObject>> {
    Ok(loader::<CopySourceOfOrder>(ctx)?
        .load_one(order_id)
        .await
        .map_err(|e| load_error(&e))?
        .unwrap_or_default()
        .into_iter()
        .next()
        .map(|link| OrderCopyLinkObject {
            other: link.source_order_id,
            link,
        }))
}

/// `Order.copies`: customers see only the copies shown to them (a copy starts as a draft).
pub async fn copies_of(ctx: &Context<'_>, order_id: Uuid) -> Result<Vec<OrderCopyLinkObject>> {
    let links = loader::<CopiesOfOrder>(ctx)?
        .load_one(order_id)
        .await
        .map_err(|e| load_error(&e))?
        .unwrap_or_default();
    let visible = loader::<OrderLoader>(ctx)?
        .load_many(links.iter().map(|l| l.order_id))
        .await
        .map_err(|e| load_error(&e))?;
    Ok(links
        .into_iter()
        .filter(|link| visible.contains_key(&link.order_id))
        .map(|link| OrderCopyLinkObject {
            other: link.order_id,
            link,
        })
        .collect())
}
