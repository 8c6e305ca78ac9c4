use async_graphql::{Context, ID, Object, Result, SimpleObject, Upload};

use super::{
    read_upload,
    types::{ClaimReasonGql, FileCommentObject, ProductionFileObject, QualityClaimObject},
};
use crate::{
    graphql::context::{principal, state},
    kernel::ids::{self, Kind},
    orders::{copies::CopyKind, graphql::types::OrderObject},
    production::{claims, files},
};

fn file_id(id: &ID) -> Result<uuid::Uuid> {
    Ok(ids::decode(Kind::ProductionFile, id, "fileId")?)
}

fn order_id(id: &ID) -> Result<uuid::Uuid> {
    Ok(ids::decode(Kind::Order, id, "orderId")?)
}

/// A claim's free reprint.
#[derive(SimpleObject)]
pub struct ReprintPayload {
    pub claim: QualityClaimObject,
    /// The new draft order: the claimed line and its files, at zero price.
    pub order: OrderObject,
}

#[derive(Default)]
pub struct ProductionMutation;

/// Files are multipart GraphQL uploads (send `Apollo-Require-Preflight`), within
/// `COMPTOIR_MAX_UPLOAD_BYTES` and `COMPTOIR_UPLOAD_TYPES`.
#[Object]
impl ProductionMutation {
    /// Staff or the order's customer: a production file on an order line.
    async fn upload_production_file(
        &self,
        ctx: &Context<'_>,
        order_line_id: ID,
        file: Upload,
    ) -> Result<ProductionFileObject> {
        let line_id = ids::decode(Kind::OrderLine, &order_line_id, "orderLineId")?;
        let file = read_upload(ctx, file, "file").await?;
        Ok(ProductionFileObject(
            files::upload(state(ctx), principal(ctx), line_id, file).await?,
        ))
    }

    /// Staff or the order's customer: a new version of a file (the previous one is kept).
    /// `INVALID_TRANSITION` while the file is certified or when it was already replaced.
    async fn replace_production_file(
        &self,
        ctx: &Context<'_>,
        file_id: ID,
        file: Upload,
    ) -> Result<ProductionFileObject> {
        let id = self::file_id(&file_id)?;
        let file = read_upload(ctx, file, "file").await?;
        Ok(ProductionFileObject(
            files::replace(state(ctx), principal(ctx), id, file).await?,
        ))
    }

    /// Staff or the order's customer: a comment on a file.
    async fn comment_production_file(
        &self,
        ctx: &Context<'_>,
        file_id: ID,
        body: String,
    ) -> Result<FileCommentObject> {
        let id = self::file_id(&file_id)?;
        Ok(FileCommentObject(
            files::comment(state(ctx), principal(ctx), id, &body).await?,
        ))
    }

    /// Staff: the file is checked and ready for production.
    async fn certify_production_file(
        &self,
        ctx: &Context<'_>,
        file_id: ID,
    ) -> Result<ProductionFileObject> {
        let id = self::file_id(&file_id)?;
        Ok(ProductionFileObject(
            files::certify(state(ctx), principal(ctx), id, true).await?,
        ))
    }

    /// Staff: takes a certification back (the file may then be replaced).
    async fn uncertify_production_file(
        &self,
        ctx: &Context<'_>,
        file_id: ID,
    ) -> Result<ProductionFileObject> {
        let id = self::file_id(&file_id)?;
        Ok(ProductionFileObject(
            files::certify(state(ctx), principal(ctx), id, false).await?,
        ))
    }

    /// The order's customer or staff: a claim on a `CUSTOM` line of a shipped or completed
    /// order (`OPEN`).
    async fn open_quality_claim(
        &self,
        ctx: &Context<'_>,
        order_line_id: ID,
        reason: ClaimReasonGql,
        description: String,
        #[graphql(desc = "PNG or JPEG photos (multipart upload), within the upload limits.")]
        photos: Option<Vec<Upload>>,
    ) -> Result<QualityClaimObject> {
        let line_id = ids::decode(Kind::OrderLine, &order_line_id, "orderLineId")?;
        let mut uploads = Vec::new();
        for (index, upload) in photos.unwrap_or_default().into_iter().enumerate() {
            uploads.push(read_upload(ctx, upload, &format!("photos.{index}")).await?);
        }
        let claim = claims::open(
            state(ctx),
            principal(ctx),
            claims::ClaimInput {
                line_id,
                reason: reason.into(),
                description,
                photos: uploads,
            },
        )
        .await?;
        Ok(QualityClaimObject(claim))
    }

    /// Staff: accepts an open claim.
    async fn accept_quality_claim(
        &self,
        ctx: &Context<'_>,
        claim_id: ID,
        #[graphql(default)] note: String,
    ) -> Result<QualityClaimObject> {
        let id = ids::decode(Kind::QualityClaim, &claim_id, "claimId")?;
        Ok(QualityClaimObject(
            claims::decide(state(ctx), principal(ctx), id, true, &note).await?,
        ))
    }

    /// Staff: rejects an open claim.
    async fn reject_quality_claim(
        &self,
        ctx: &Context<'_>,
        claim_id: ID,
        #[graphql(default)] note: String,
    ) -> Result<QualityClaimObject> {
        let id = ids::decode(Kind::QualityClaim, &claim_id, "claimId")?;
        Ok(QualityClaimObject(
            claims::decide(state(ctx), principal(ctx), id, false, &note).await?,
        ))
    }

    /// Staff: the free reprint of an accepted claim (once): a new draft order for the same
    /// customer with the claimed line and its files at zero price, linked to the claim and to
    /// the original order.
    async fn create_reprint_after_claim(
        &self,
        ctx: &Context<'_>,
        claim_id: ID,
    ) -> Result<ReprintPayload> {
        let id = ids::decode(Kind::QualityClaim, &claim_id, "claimId")?;
        let (claim, order) = claims::reprint(state(ctx), principal(ctx), id).await?;
        Ok(ReprintPayload {
            claim: QualityClaimObject(claim),
            order: OrderObject(order),
        })
    }

    /// Staff: a new draft order with the same lines and production files ("same visuals"),
    /// at the original order's prices.
    async fn reprint_order(&self, ctx: &Context<'_>, order_id: ID) -> Result<OrderObject> {
        let id = self::order_id(&order_id)?;
        Ok(OrderObject(
            claims::copy_order(state(ctx), principal(ctx), id, CopyKind::Reprint).await?,
        ))
    }

    /// Staff: a new empty draft for the customer of this order, with its contact and addresses.
    async fn new_order_for_customer(&self, ctx: &Context<'_>, order_id: ID) -> Result<OrderObject> {
        let id = self::order_id(&order_id)?;
        Ok(OrderObject(
            claims::copy_order(state(ctx), principal(ctx), id, CopyKind::NewForCustomer).await?,
        ))
    }

    /// Staff: a new draft with the same products and quantities, without files (the customer
    /// sends new ones).
    async fn duplicate_order(&self, ctx: &Context<'_>, order_id: ID) -> Result<OrderObject> {
        let id = self::order_id(&order_id)?;
        Ok(OrderObject(
            claims::copy_order(state(ctx), principal(ctx), id, CopyKind::Duplicate).await?,
        ))
    }
}
