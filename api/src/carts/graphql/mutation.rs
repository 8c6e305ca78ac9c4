use async_graphql::{Context, ID, Object, Result};

use super::types::{
    CartCreatePayload, CartLineInput, CartObject, CartTemplateObject, RentalPeriodInput,
};
use crate::{
    carts::{service, templates},
    graphql::context::{client_addr, early_epoch, principal, state},
    kernel::ids::{self, Kind},
};

#[derive(Default)]
pub struct CartsMutation;

/// Every cart mutation takes `cartToken` for an anonymous cart; without it, it works on the
/// logged-in user's cart.
#[Object]
impl CartsMutation {
    /// Creates a cart: an anonymous one with its token (rate-limited per client address), or
    /// returns the logged-in user's cart.
    async fn cart_create(&self, ctx: &Context<'_>) -> Result<CartCreatePayload> {
        let (cart, token) = service::create(state(ctx), principal(ctx), client_addr(ctx)).await?;
        Ok(CartCreatePayload {
            cart: CartObject(cart),
            cart_token: token,
        })
    }

    /// Adds a product (variant, configuration, rental period); the same thing again adds up.
    async fn cart_add_line(
        &self,
        ctx: &Context<'_>,
        cart_token: Option<String>,
        input: CartLineInput,
    ) -> Result<CartObject> {
        let input = input.into_domain()?;
        let cart = service::add_line(
            state(ctx),
            principal(ctx),
            cart_token.as_deref(),
            input,
            early_epoch(ctx),
        )
        .await?;
        Ok(CartObject(cart))
    }

    /// Adds by reference (a product's or a variant's); `NOT_FOUND` names an unknown reference.
    async fn cart_quick_add(
        &self,
        ctx: &Context<'_>,
        cart_token: Option<String>,
        reference: String,
        #[graphql(default = 1)] quantity: i32,
    ) -> Result<CartObject> {
        let cart = service::quick_add(
            state(ctx),
            principal(ctx),
            cart_token.as_deref(),
            &reference,
            quantity,
            early_epoch(ctx),
        )
        .await?;
        Ok(CartObject(cart))
    }

    /// Changes a line's quantity (0 removes it) or its rental period.
    async fn cart_update_line(
        &self,
        ctx: &Context<'_>,
        cart_token: Option<String>,
        line_id: ID,
        quantity: Option<i32>,
        rental_period: Option<RentalPeriodInput>,
    ) -> Result<CartObject> {
        let line_id = ids::decode(Kind::CartLine, &line_id, "lineId")?;
        let period = rental_period.map(|p| (p.start, p.end));
        let cart = service::update_line(
            state(ctx),
            principal(ctx),
            cart_token.as_deref(),
            line_id,
            quantity,
            period,
        )
        .await?;
        Ok(CartObject(cart))
    }

    async fn cart_remove_line(
        &self,
        ctx: &Context<'_>,
        cart_token: Option<String>,
        line_id: ID,
    ) -> Result<CartObject> {
        let line_id = ids::decode(Kind::CartLine, &line_id, "lineId")?;
        let cart = service::remove_line(state(ctx), principal(ctx), cart_token.as_deref(), line_id)
            .await?;
        Ok(CartObject(cart))
    }

    async fn cart_clear(
        &self,
        ctx: &Context<'_>,
        cart_token: Option<String>,
    ) -> Result<CartObject> {
        Ok(CartObject(
            service::clear(state(ctx), principal(ctx), cart_token.as_deref()).await?,
        ))
    }

    /// Copies a template cart's lines into the cart.
    async fn cart_load_template(
        &self,
        ctx: &Context<'_>,
        cart_token: Option<String>,
        template_id: ID,
    ) -> Result<CartObject> {
        let template_id = ids::decode(Kind::CartTemplate, &template_id, "templateId")?;
        let cart = templates::load(
            state(ctx),
            principal(ctx),
            cart_token.as_deref(),
            template_id,
        )
        .await?;
        Ok(CartObject(cart))
    }

    /// Saves the cart as a template for the caller's customer.
    async fn cart_save_as_template(
        &self,
        ctx: &Context<'_>,
        cart_token: Option<String>,
        name: String,
    ) -> Result<CartTemplateObject> {
        let template =
            templates::save_cart(state(ctx), principal(ctx), cart_token.as_deref(), &name).await?;
        Ok(CartTemplateObject(template))
    }

    /// Staff: publishes a template cart for every customer, or for `customerId`.
    async fn create_cart_template(
        &self,
        ctx: &Context<'_>,
        name: String,
        customer_id: Option<ID>,
        lines: Vec<CartLineInput>,
    ) -> Result<CartTemplateObject> {
        let customer_id = customer_id
            .map(|id| ids::decode(Kind::Customer, &id, "customerId"))
            .transpose()?;
        let lines = lines
            .into_iter()
            .map(CartLineInput::into_domain)
            .collect::<Result<Vec<_>>>()?;
        let template =
            templates::create(state(ctx), principal(ctx), &name, customer_id, lines).await?;
        Ok(CartTemplateObject(template))
    }

    /// Deletes a template: staff any; users their customer's own.
    async fn delete_cart_template(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let id = ids::decode(Kind::CartTemplate, &id, "id")?;
        templates::delete(state(ctx), principal(ctx), id).await?;
        Ok(true)
    }
}
