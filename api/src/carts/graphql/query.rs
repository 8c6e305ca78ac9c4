use async_graphql::{Context, Object, Result};

use super::types::{CartObject, CartTemplateObject};
use crate::{
    carts::{service, templates},
    graphql::context::{early_epoch, principal, state},
};

#[derive(Default)]
pub struct CartsQuery;

#[Object]
impl CartsQuery {
    /// An anonymous cart by the token `cartCreate` returned; null when unknown or merged.
    async fn cart(&self, ctx: &Context<'_>, token: String) -> Result<Option<CartObject>> {
        Ok(service::by_token(state(ctx), &token, early_epoch(ctx))
            .await?
            .map(CartObject))
    }

    /// The logged-in user's cart; null until something is added.
    async fn my_cart(&self, ctx: &Context<'_>) -> Result<Option<CartObject>> {
        Ok(service::mine(state(ctx), principal(ctx), early_epoch(ctx))
            .await?
            .map(CartObject))
    }

    /// Template carts the caller may load: those for every customer and for their own; staff
    /// see all.
    async fn cart_templates(&self, ctx: &Context<'_>) -> Result<Vec<CartTemplateObject>> {
        let templates = templates::list(state(ctx), principal(ctx)).await?;
        Ok(templates.into_iter().map(CartTemplateObject).collect())
    }
}
