use async_graphql::{Context, Object, Result};

use super::types::{OutboxObject, RenderedMessage, StatusGql, TemplateObject};
use crate::{
    graphql::{
        context::{principal, state},
        relay::{RelayConnection, connection},
    },
    kernel::pagination::PageRequest,
    notifications::{outbox, templates},
};

#[derive(Default)]
pub struct NotificationsQuery;

#[Object]
impl NotificationsQuery {
    /// ADMIN: every message template, per language.
    async fn message_templates(&self, ctx: &Context<'_>) -> Result<Vec<TemplateObject>> {
        let list = templates::list(state(ctx), principal(ctx)).await?;
        Ok(list.into_iter().map(TemplateObject).collect())
    }

    /// ADMIN: renders a template with sample data: the saved version, or the draft given.
    async fn preview_message_template(
        &self,
        ctx: &Context<'_>,
        name: String,
        language: String,
        subject: Option<String>,
        body: Option<String>,
    ) -> Result<RenderedMessage> {
        let draft = subject.as_deref().zip(body.as_deref());
        let (subject, body) =
            templates::preview(state(ctx), principal(ctx), &name, &language, draft).await?;
        Ok(RenderedMessage { subject, body })
    }

    /// ADMIN: the outbox, newest first.
    #[graphql(complexity = "crate::graphql::relay::page_complexity(first, child_complexity)")]
    async fn outbox_messages(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<StatusGql>,
    ) -> Result<RelayConnection<OutboxObject>> {
        let page = PageRequest::parse(first, after)?;
        let page = outbox::list(state(ctx), principal(ctx), status.map(Into::into), page).await?;
        Ok(connection(page, |m| m.id.to_string(), OutboxObject))
    }
}
