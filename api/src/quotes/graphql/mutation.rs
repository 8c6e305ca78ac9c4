use async_graphql::{Context, ID, Object, Result, Upload};

use super::types::{
    ConversionPayload, ConvertQuoteInput, NegotiationGql, QuoteContactInput, QuoteLineChangesInput,
    QuoteLineInput, QuoteObject, QuoteSettingsInput, QuoteSettingsObject, QuoteTermsInput,
    audiences,
};
use crate::{
    catalog::graphql::types::{SelectionInput, raw_selections},
    graphql::context::{principal, state},
    kernel::ids::{self, Kind},
    quotes::{customer, desk, requests, service},
};

fn quote_id(id: &ID) -> Result<uuid::Uuid> {
    Ok(ids::decode(Kind::Quote, id, "id")?)
}

fn line_id(id: &ID) -> Result<uuid::Uuid> {
    Ok(ids::decode(Kind::QuoteLine, id, "lineId")?)
}

#[derive(Default)]
pub struct QuotesMutation;

/// Quote operations of non-staff callers answer `QUOTES_UNAVAILABLE` when the settings do not
/// offer quotes to their customer type. Changes take the `version` they were based on.
#[Object]
impl QuotesMutation {
    /// ADMIN: changes the quote settings; `version` is the one read.
    async fn update_quote_settings(
        &self,
        ctx: &Context<'_>,
        version: i32,
        input: QuoteSettingsInput,
    ) -> Result<QuoteSettingsObject> {
        let changes = service::SettingsChanges {
            enabled: input.enabled,
            visible_to: input.visible_to.map(audiences),
            cart_button: input.cart_button,
            button_label: input.button_label,
            customer_notice: input.customer_notice,
            minimal_checkout: input.minimal_checkout,
            lock_payment_method: input.lock_payment_method,
            validity_days: input.validity_days,
            sales_manager_email: match input.sales_manager_email {
                async_graphql::MaybeUndefined::Undefined => None,
                async_graphql::MaybeUndefined::Null => Some(None),
                async_graphql::MaybeUndefined::Value(v) => Some(Some(v)),
            },
            notify_sales_rep: input.notify_sales_rep,
            notify_on_request: input.notify_on_request,
            allow_out_of_stock: input.allow_out_of_stock,
            retention_days: input.retention_days,
        };
        let settings =
            service::update_settings(state(ctx), principal(ctx), version, changes).await?;
        Ok(QuoteSettingsObject(settings))
    }

    /// Asks for a quote on a cart (the caller's, or an anonymous one with `cartToken`): its
    /// lines become the quote's and the cart is emptied. The public gives a `contact`.
    /// `OUT_OF_STOCK` names a line over the stock unless the settings allow it.
    async fn request_quote(
        &self,
        ctx: &Context<'_>,
        cart_id: ID,
        cart_token: Option<String>,
        #[graphql(default)] message: String,
        contact: Option<QuoteContactInput>,
        idempotency_key: Option<String>,
    ) -> Result<QuoteObject> {
        let cart_id = ids::decode(Kind::Cart, &cart_id, "cartId")?;
        let quote = requests::request_from_cart(
            state(ctx),
            principal(ctx),
            cart_id,
            cart_token,
            &message,
            contact.map(Into::into),
            idempotency_key,
        )
        .await?;
        Ok(QuoteObject(quote))
    }

    /// Asks for a quote on one configured product, with modifications described in text and
    /// files (a GraphQL multipart request; size and type limits from the settings).
    #[allow(clippy::too_many_arguments)]
    async fn request_quote_for_configuration(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        variant_id: Option<ID>,
        configuration: Option<Vec<SelectionInput>>,
        #[graphql(default = 1)] quantity: i32,
        #[graphql(default)] modifications: String,
        attachments: Option<Vec<Upload>>,
        contact: Option<QuoteContactInput>,
        idempotency_key: Option<String>,
    ) -> Result<QuoteObject> {
        let mut files = Vec::new();
        for (index, upload) in attachments.unwrap_or_default().into_iter().enumerate() {
            let value = upload.value(ctx).map_err(|_| {
                crate::error::AppError::validation(
                    format!("attachments.{index}"),
                    "cannot read the file",
                )
            })?;
            let content_type = value
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".to_owned());
            let filename = value.filename.clone();
            // The upload sits in a temporary file: read it off the runtime.
            let content = tokio::task::spawn_blocking(move || {
                let mut content = Vec::new();
                std::io::Read::read_to_end(&mut value.into_read(), &mut content).map(|_| content)
            })
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| {
                crate::error::AppError::validation(
                    format!("attachments.{index}"),
                    "cannot read the file",
                )
            })?;
            files.push(requests::UploadedFile {
                filename,
                content_type,
                content,
            });
        }
        let request = requests::ConfigurationRequest {
            product_id: ids::decode(Kind::Product, &product_id, "productId")?,
            variant_id: variant_id
                .map(|v| ids::decode(Kind::Variant, &v, "variantId"))
                .transpose()?,
            configuration: raw_selections(configuration),
            quantity,
            modifications,
            attachments: files,
        };
        let quote = requests::request_for_configuration(
            state(ctx),
            principal(ctx),
            request,
            contact.map(Into::into),
            idempotency_key,
        )
        .await?;
        Ok(QuoteObject(quote))
    }

    /// Attaches the public requests made with the caller's verified email to their customer;
    /// returns how many.
    async fn claim_quotes(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(requests::claim(state(ctx), principal(ctx)).await?)
    }

    /// Staff: a quote for a customer, from scratch.
    async fn create_quote(&self, ctx: &Context<'_>, customer_id: ID) -> Result<QuoteObject> {
        let customer_id = ids::decode(Kind::Customer, &customer_id, "customerId")?;
        Ok(QuoteObject(
            desk::create(state(ctx), principal(ctx), customer_id).await?,
        ))
    }

    /// Staff: adds a product line. On a sent quote, changes open a new revision (returned).
    async fn quote_add_line(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        input: QuoteLineInput,
    ) -> Result<QuoteObject> {
        let input = desk::LineInput {
            product_id: ids::decode(Kind::Product, &input.product_id, "productId")?,
            variant_id: input
                .variant_id
                .map(|v| ids::decode(Kind::Variant, &v, "variantId"))
                .transpose()?,
            configuration: raw_selections(input.configuration),
            quantity: input.quantity,
            unit_price: input.unit_price,
            discount_percent: input.discount_percent,
            discount_amount: input.discount_amount,
        };
        Ok(QuoteObject(
            desk::add_line(state(ctx), principal(ctx), quote_id(&id)?, version, input).await?,
        ))
    }

    /// Staff: a comment line.
    async fn quote_add_comment_line(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        text: String,
    ) -> Result<QuoteObject> {
        Ok(QuoteObject(
            desk::add_comment_line(state(ctx), principal(ctx), quote_id(&id)?, version, &text)
                .await?,
        ))
    }

    /// Staff: changes a line (quantity, price, discounts, a comment's text).
    async fn quote_update_line(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        line_id: ID,
        input: QuoteLineChangesInput,
    ) -> Result<QuoteObject> {
        let changes = desk::LineChanges {
            quantity: input.quantity,
            unit_price: input.unit_price,
            discount_percent: input.discount_percent,
            discount_amount: input.discount_amount,
            comment: input.comment,
        };
        Ok(QuoteObject(
            desk::update_line(
                state(ctx),
                principal(ctx),
                quote_id(&id)?,
                version,
                self::line_id(&line_id)?,
                changes,
            )
            .await?,
        ))
    }

    async fn quote_remove_line(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        line_id: ID,
    ) -> Result<QuoteObject> {
        Ok(QuoteObject(
            desk::remove_line(
                state(ctx),
                principal(ctx),
                quote_id(&id)?,
                version,
                self::line_id(&line_id)?,
            )
            .await?,
        ))
    }

    /// Staff: shipping, payment method, footer discount, delivery address.
    async fn update_quote_terms(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        input: QuoteTermsInput,
    ) -> Result<QuoteObject> {
        let terms = desk::Terms {
            shipping_method: input.shipping_method,
            shipping: input.shipping,
            shipping_vat_rate: input.shipping_vat_rate,
            payment_method: input.payment_method,
            discount_percent: input.discount_percent,
            delivery_address: input.delivery_address.map(Into::into),
        };
        Ok(QuoteObject(
            desk::update_terms(state(ctx), principal(ctx), quote_id(&id)?, version, terms).await?,
        ))
    }

    /// Staff: the negotiation state and its comments.
    async fn set_quote_negotiation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        negotiation: Option<NegotiationGql>,
        customer_comment: Option<String>,
        internal_comment: Option<String>,
    ) -> Result<QuoteObject> {
        Ok(QuoteObject(
            desk::set_negotiation(
                state(ctx),
                principal(ctx),
                quote_id(&id)?,
                version,
                negotiation.map(Into::into),
                customer_comment,
                internal_comment,
            )
            .await?,
        ))
    }

    /// Staff: sends the quote (valid `validityDays`, by default the settings') and emails the
    /// customer; a revision supersedes the one it replaces.
    async fn send_quote(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        validity_days: Option<i32>,
    ) -> Result<QuoteObject> {
        Ok(QuoteObject(
            desk::send(
                state(ctx),
                principal(ctx),
                quote_id(&id)?,
                version,
                validity_days,
            )
            .await?,
        ))
    }

    /// Staff: takes a sent quote back.
    async fn withdraw_quote(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        #[graphql(default)] reason: String,
    ) -> Result<QuoteObject> {
        Ok(QuoteObject(
            desk::withdraw(state(ctx), principal(ctx), quote_id(&id)?, version, &reason).await?,
        ))
    }

    /// Staff: a new quote with the same lines and terms.
    async fn duplicate_quote(&self, ctx: &Context<'_>, id: ID) -> Result<QuoteObject> {
        Ok(QuoteObject(
            desk::duplicate(state(ctx), principal(ctx), quote_id(&id)?).await?,
        ))
    }

    /// The customer declines the quote.
    async fn decline_quote(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        #[graphql(default)] reason: String,
    ) -> Result<QuoteObject> {
        Ok(QuoteObject(
            customer::decline(state(ctx), principal(ctx), quote_id(&id)?, version, &reason).await?,
        ))
    }

    /// The customer accepts the latest revision of a sent, valid quote: it becomes an order.
    async fn convert_quote_to_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        input: Option<ConvertQuoteInput>,
    ) -> Result<ConversionPayload> {
        let input = input.unwrap_or_default();
        let input = customer::ConvertInput {
            delivery_address_id: input
                .delivery_address_id
                .map(|a| ids::decode(Kind::Address, &a, "deliveryAddressId"))
                .transpose()?,
            delivery_address: input.delivery_address.map(Into::into),
            delivery_method: input.delivery_method,
            payment_method: input.payment_method,
        };
        let (quote, order) =
            customer::convert(state(ctx), principal(ctx), quote_id(&id)?, version, input).await?;
        Ok(ConversionPayload { quote, order })
    }

    /// The customer asks to negotiate a sent quote; the seller is emailed.
    async fn request_quote_negotiation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        message: String,
    ) -> Result<QuoteObject> {
        Ok(QuoteObject(
            customer::request_negotiation(
                state(ctx),
                principal(ctx),
                quote_id(&id)?,
                version,
                &message,
            )
            .await?,
        ))
    }

    /// The customer deletes the quote (managers still see it).
    async fn delete_quote(&self, ctx: &Context<'_>, id: ID, version: i32) -> Result<QuoteObject> {
        Ok(QuoteObject(
            customer::delete(state(ctx), principal(ctx), quote_id(&id)?, version).await?,
        ))
    }
}
