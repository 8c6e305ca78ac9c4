use async_graphql::{Context, ID, Object, Result};

use super::types::{ClaimStatusGql, QualityClaimObject};
use crate::{
    graphql::{
        context::{principal, state},
        relay::{RelayConnection, connection},
    },
    kernel::{
        ids::{self, Kind},
        pagination::PageRequest,
    },
    production::claims,
};

#[derive(Default)]
pub struct ProductionQuery;

#[Object]
impl ProductionQuery {
    /// A quality claim: staff any, customers their own.
    async fn quality_claim(&self, ctx: &Context<'_>, id: ID) -> Result<QualityClaimObject> {
        let id = ids::decode(Kind::QualityClaim, &id, "id")?;
        Ok(QualityClaimObject(
            claims::claim(state(ctx), principal(ctx), id).await?,
        ))
    }

    /// Quality claims, newest first: staff every one, customers their own.
    #[graphql(complexity = "crate::graphql::relay::page_complexity(first, child_complexity)")]
    async fn quality_claims(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<ClaimStatusGql>,
    ) -> Result<RelayConnection<QualityClaimObject>> {
        let page = PageRequest::parse(first, after)?;
        let page = claims::list(state(ctx), principal(ctx), status.map(Into::into), page).await?;
        Ok(connection(page, |c| c.id.to_string(), QualityClaimObject))
    }
}
