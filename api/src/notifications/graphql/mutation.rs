use async_graphql::{Context, ID, Object, Result};

use super::types::{ChannelGql, OutboxObject, TemplateObject};
use crate::{
    graphql::context::{principal, state},
    kernel::ids::{self, Kind},
    notifications::{outbox, service, templates},
};

#[derive(Default)]
pub struct NotificationsMutation;

#[Object]
impl NotificationsMutation {
    /// ADMIN: saves a version of a template; an invalid one is refused (`VALIDATION` with the
    /// line and the reason).
    async fn update_message_template(
        &self,
        ctx: &Context<'_>,
        name: String,
        language: String,
        subject: String,
        body: String,
    ) -> Result<TemplateObject> {
        let template = templates::update(
            state(ctx),
            principal(ctx),
            &name,
            &language,
            &subject,
            &body,
        )
        .await?;
        Ok(TemplateObject(template))
    }

    /// ADMIN: restores the shipped version of a template.
    async fn reset_message_template(
        &self,
        ctx: &Context<'_>,
        name: String,
        language: String,
    ) -> Result<TemplateObject> {
        Ok(TemplateObject(
            templates::reset(state(ctx), principal(ctx), &name, &language).await?,
        ))
    }

    /// ADMIN: sends a failed message again.
    async fn retry_outbox_message(&self, ctx: &Context<'_>, id: ID) -> Result<OutboxObject> {
        let id = ids::decode(Kind::OutboxMessage, &id, "id")?;
        Ok(OutboxObject(
            outbox::retry(state(ctx), principal(ctx), id).await?,
        ))
    }

    /// Staff: emails or texts a customer's contact (default: the primary one); the message goes
    /// through the outbox and the customer's timeline records it. Returns the outbox message ID.
    async fn send_customer_message(
        &self,
        ctx: &Context<'_>,
        customer_id: ID,
        contact_id: Option<ID>,
        channel: ChannelGql,
        #[graphql(default)] subject: String,
        body: String,
    ) -> Result<ID> {
        let customer_id = ids::decode(Kind::Customer, &customer_id, "customerId")?;
        let contact_id = contact_id
            .map(|id| ids::decode(Kind::Contact, &id, "contactId"))
            .transpose()?;
        let id = service::send_customer_message(
            state(ctx),
            principal(ctx),
            customer_id,
            contact_id,
            channel.into(),
            &subject,
            &body,
        )
        .await?;
        Ok(ID(ids::encode(Kind::OutboxMessage, id)))
    }
}
