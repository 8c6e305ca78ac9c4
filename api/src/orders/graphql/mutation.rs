use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::types::{
    CheckoutInput, CreateOrderInput, NoteKindGql, OrderChangesInput, OrderLineChangesInput,
    OrderLineInput, OrderNoteObject, OrderObject, OrderStatusGql, OrderTemplateGql, PaymentInput,
    ReplyLineInput, ScheduledCallObject,
};
use crate::{
    catalog::graphql::types::raw_selections,
    graphql::context::{early_epoch, principal, state},
    kernel::ids::{self, Kind},
    notifications::graphql::types::ChannelGql,
    orders::{checkout, desk, editing},
};

fn order_id(id: &ID) -> Result<uuid::Uuid> {
    Ok(ids::decode(Kind::Order, id, "id")?)
}

fn line_id(id: &ID) -> Result<uuid::Uuid> {
    Ok(ids::decode(Kind::OrderLine, id, "lineId")?)
}

#[derive(Default)]
pub struct OrdersMutation;

/// Every mutation that changes an order's content or status takes the `version` it was based
/// on; a stale one gets `CONFLICT` with `extensions.currentVersion`.
#[Object]
impl OrdersMutation {
    /// Orders the caller's cart (`IDENTIFIED` or `ACCOUNT_CLIENT`): stock is reserved (or
    /// `OUT_OF_STOCK` names the line as `lines.N`), the cart is emptied, the seller and the
    /// customer are emailed. The order starts `SUBMITTED`.
    async fn checkout(
        &self,
        ctx: &Context<'_>,
        cart_id: ID,
        input: Option<CheckoutInput>,
    ) -> Result<OrderObject> {
        let cart_id = ids::decode(Kind::Cart, &cart_id, "cartId")?;
        let input = input.unwrap_or_default();
        let input = checkout::CheckoutInput {
            contact: input.contact.map(|c| checkout::ContactInput {
                name: c.name,
                email: c.email,
                phone: c.phone,
            }),
            delivery_address_id: input
                .delivery_address_id
                .map(|id| ids::decode(Kind::Address, &id, "deliveryAddressId"))
                .transpose()?,
            delivery_address: input.delivery_address.map(Into::into),
            delivery_method: input.delivery_method,
            payment_method: input.payment_method,
            customer_reference: input.customer_reference,
            title: input.title,
            note: input.note,
            idempotency_key: input.idempotency_key,
        };
        let order =
            checkout::checkout(state(ctx), principal(ctx), cart_id, input, early_epoch(ctx))
                .await?;
        Ok(OrderObject(order))
    }

    /// Staff: a new `DRAFT` order for a customer (contact and addresses from their record).
    async fn create_order(
        &self,
        ctx: &Context<'_>,
        customer_id: ID,
        input: Option<CreateOrderInput>,
    ) -> Result<OrderObject> {
        let customer_id = ids::decode(Kind::Customer, &customer_id, "customerId")?;
        let input = input.unwrap_or_default();
        let input = checkout::CreateOrderInput {
            delivery_address_id: input
                .delivery_address_id
                .map(|id| ids::decode(Kind::Address, &id, "deliveryAddressId"))
                .transpose()?,
            customer_reference: input.customer_reference,
            title: input.title,
            note: input.note,
            delivery_method: input.delivery_method,
            payment_method: input.payment_method,
        };
        let order = checkout::create_order(state(ctx), principal(ctx), customer_id, input).await?;
        Ok(OrderObject(order))
    }

    /// Staff: adds a product (variant, configuration) to an order, at the catalog price unless
    /// `unitPrice` is given. Stock is reserved.
    async fn order_add_line(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        version: i32,
        input: OrderLineInput,
    ) -> Result<OrderObject> {
        let id = ids::decode(Kind::Order, &order_id, "orderId")?;
        let input = checkout::AddLineInput {
            product_id: ids::decode(Kind::Product, &input.product_id, "productId")?,
            variant_id: input
                .variant_id
                .map(|v| ids::decode(Kind::Variant, &v, "variantId"))
                .transpose()?,
            configuration: raw_selections(input.configuration),
            quantity: input.quantity,
            unit_price: input.unit_price,
            discount_percent: input.discount_percent,
            delivery_date: input.delivery_date,
            instructions: input.instructions,
        };
        let order = checkout::add_line(state(ctx), principal(ctx), id, version, input).await?;
        Ok(OrderObject(order))
    }

    /// Staff: adjusts a line's quantity, unit price, discount or confirmed delivery date; each
    /// change is recorded and shown to the customer. A confirmed order goes back to `PROPOSED`.
    async fn order_update_line(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        version: i32,
        line_id: ID,
        input: OrderLineChangesInput,
    ) -> Result<OrderObject> {
        let id = ids::decode(Kind::Order, &order_id, "orderId")?;
        let changes = editing::LineChanges {
            quantity: input.quantity,
            unit_price: input.unit_price,
            discount_percent: input.discount_percent,
            delivery_date: input.delivery_date,
        };
        let order = editing::update_line(
            state(ctx),
            principal(ctx),
            id,
            version,
            self::line_id(&line_id)?,
            changes,
        )
        .await?;
        Ok(OrderObject(order))
    }

    /// Staff: removes a line; its stock goes back.
    async fn order_remove_line(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        version: i32,
        line_id: ID,
    ) -> Result<OrderObject> {
        let id = ids::decode(Kind::Order, &order_id, "orderId")?;
        let order = editing::remove_line(
            state(ctx),
            principal(ctx),
            id,
            version,
            self::line_id(&line_id)?,
        )
        .await?;
        Ok(OrderObject(order))
    }

    /// Staff: changes the order's terms (title, references, delivery, shipping, discount).
    /// Like every line edit, refused while the order has a standing invoice
    /// (`INVALID_TRANSITION`: issue a credit note first).
    async fn update_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        input: OrderChangesInput,
    ) -> Result<OrderObject> {
        let changes = editing::OrderChanges {
            title: input.title,
            customer_reference: input.customer_reference,
            note: input.note,
            delivery_address: input.delivery_address.map(Into::into),
            delivery_method: input.delivery_method,
            payment_method: input.payment_method,
            shipping: input.shipping,
            shipping_vat_rate: input.shipping_vat_rate,
            discount_percent: input.discount_percent,
        };
        let order =
            editing::update_order(state(ctx), principal(ctx), order_id(&id)?, version, changes)
                .await?;
        Ok(OrderObject(order))
    }

    /// Staff: sends the order to the customer for acceptance (`PROPOSED`); they are emailed.
    async fn propose_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        message: Option<String>,
    ) -> Result<OrderObject> {
        let order =
            editing::propose(state(ctx), principal(ctx), order_id(&id)?, version, message).await?;
        Ok(OrderObject(order))
    }

    /// Staff: confirms a submitted order (or a draft) as it is.
    async fn confirm_order(&self, ctx: &Context<'_>, id: ID, version: i32) -> Result<OrderObject> {
        let order = editing::confirm(state(ctx), principal(ctx), order_id(&id)?, version).await?;
        Ok(OrderObject(order))
    }

    /// The customer accepts a proposed order: it turns `CONFIRMED`.
    async fn accept_order(&self, ctx: &Context<'_>, id: ID, version: i32) -> Result<OrderObject> {
        let order = editing::accept(state(ctx), principal(ctx), order_id(&id)?, version).await?;
        Ok(OrderObject(order))
    }

    /// The customer answers a proposal with a comment and their own quantities; the order goes
    /// back to the seller (`SUBMITTED`).
    async fn reply_to_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        #[graphql(default)] comment: String,
        #[graphql(default)] lines: Vec<ReplyLineInput>,
    ) -> Result<OrderObject> {
        let quantities = lines
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                ids::decode(Kind::OrderLine, &l.line_id, &format!("lines.{i}.lineId"))
                    .map(|id| (id, l.quantity))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let order = editing::reply(
            state(ctx),
            principal(ctx),
            order_id(&id)?,
            version,
            &comment,
            quantities,
        )
        .await?;
        Ok(OrderObject(order))
    }

    /// Staff: moves a confirmed order along: `IN_PROGRESS`, `SHIPPED`, `COMPLETED`.
    async fn set_order_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        status: OrderStatusGql,
    ) -> Result<OrderObject> {
        let order = editing::advance(
            state(ctx),
            principal(ctx),
            order_id(&id)?,
            version,
            status.into(),
        )
        .await?;
        Ok(OrderObject(order))
    }

    /// Staff: puts the order on hold.
    async fn hold_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        #[graphql(default)] reason: String,
    ) -> Result<OrderObject> {
        let order =
            editing::hold(state(ctx), principal(ctx), order_id(&id)?, version, &reason).await?;
        Ok(OrderObject(order))
    }

    /// Staff: releases a held order to the status it was held in.
    async fn release_order(&self, ctx: &Context<'_>, id: ID, version: i32) -> Result<OrderObject> {
        let order = editing::release(state(ctx), principal(ctx), order_id(&id)?, version).await?;
        Ok(OrderObject(order))
    }

    /// Cancels the order (its stock goes back): staff before shipping, the customer while it is
    /// `SUBMITTED` or `PROPOSED`; not while it has a standing invoice (`INVALID_TRANSITION`:
    /// issue a credit note first).
    async fn cancel_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        version: i32,
        #[graphql(default)] reason: String,
    ) -> Result<OrderObject> {
        let order =
            editing::cancel(state(ctx), principal(ctx), order_id(&id)?, version, &reason).await?;
        Ok(OrderObject(order))
    }

    /// The caller has seen the other side's changes: they stop showing in `changes` and
    /// `changedFields`.
    async fn mark_order_seen(&self, ctx: &Context<'_>, id: ID) -> Result<OrderObject> {
        let order = editing::mark_seen(state(ctx), principal(ctx), order_id(&id)?).await?;
        Ok(OrderObject(order))
    }

    /// Staff: a line's production instructions and hold (internal; no version needed).
    async fn set_order_line_production(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        line_id: ID,
        instructions: Option<String>,
        on_hold: Option<bool>,
    ) -> Result<OrderObject> {
        let id = ids::decode(Kind::Order, &order_id, "orderId")?;
        let order = editing::set_line_production(
            state(ctx),
            principal(ctx),
            id,
            self::line_id(&line_id)?,
            instructions,
            on_hold,
        )
        .await?;
        Ok(OrderObject(order))
    }

    /// Staff: a note on the order, never shown to the customer.
    async fn add_order_note(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        #[graphql(default_with = "NoteKindGql::Internal")] kind: NoteKindGql,
        body: String,
        line_id: Option<ID>,
    ) -> Result<OrderNoteObject> {
        let id = ids::decode(Kind::Order, &order_id, "orderId")?;
        let line = line_id.as_ref().map(self::line_id).transpose()?;
        let note = desk::add_note(state(ctx), principal(ctx), id, kind.into(), &body, line).await?;
        Ok(OrderNoteObject(note))
    }

    /// Staff: records a payment; more than the balance due is refused.
    async fn record_payment(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        input: PaymentInput,
    ) -> Result<OrderObject> {
        let id = ids::decode(Kind::Order, &order_id, "orderId")?;
        let input = desk::PaymentInput {
            amount: input.amount,
            method: input.method,
            paid_on: input.paid_on,
            reference: input.reference,
        };
        let order = desk::record_payment(state(ctx), principal(ctx), id, input).await?;
        Ok(OrderObject(order))
    }

    /// Staff: plans a call about the order (by default in the caller's agenda).
    async fn schedule_call(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        at: DateTime<Utc>,
        with_whom: String,
        #[graphql(default)] note: String,
        manager_id: Option<ID>,
    ) -> Result<ScheduledCallObject> {
        let id = ids::decode(Kind::Order, &order_id, "orderId")?;
        let manager = manager_id
            .map(|m| ids::decode(Kind::User, &m, "managerId"))
            .transpose()?;
        let call = desk::schedule_call(
            state(ctx),
            principal(ctx),
            id,
            at,
            &with_whom,
            &note,
            manager,
        )
        .await?;
        Ok(ScheduledCallObject(call))
    }

    /// Staff: emails or texts (E.164) the order's contact, from a template or free text;
    /// returns the outbox message ID. The order's timeline records it.
    async fn send_order_message(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        channel: ChannelGql,
        #[graphql(default_with = "OrderTemplateGql::Free")] template: OrderTemplateGql,
        #[graphql(default)] subject: String,
        #[graphql(default)] body: String,
    ) -> Result<ID> {
        let id = ids::decode(Kind::Order, &order_id, "orderId")?;
        let message = desk::send_message(
            state(ctx),
            principal(ctx),
            id,
            channel.into(),
            template.into(),
            &subject,
            &body,
        )
        .await?;
        Ok(ID(ids::encode(Kind::OutboxMessage, message)))
    }
}
