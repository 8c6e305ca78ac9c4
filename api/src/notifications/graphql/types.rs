use async_graphql::{Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::{
    kernel::ids::{self, Kind},
    notifications::{outbox::OutboxView, templates::Template},
};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(
    name = "MessageChannel",
    remote = "crate::notifications::model::Channel"
)]
pub enum ChannelGql {
    Email,
    Sms,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "OutboxStatus", remote = "crate::notifications::model::Status")]
pub enum StatusGql {
    /// Waiting to be sent (or to be retried).
    Pending,
    /// Accepted by the mail server or SMS provider.
    Sent,
    /// Given up after the configured number of attempts.
    Failed,
}

/// A message template in one language.
pub struct TemplateObject(pub Template);

#[Object(name = "MessageTemplate")]
impl TemplateObject {
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn language(&self) -> &str {
        &self.0.language
    }
    /// Minijinja template of the subject.
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    /// Minijinja template of the body (plain text).
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// Changed by an admin; `resetMessageTemplate` restores the shipped version.
    async fn customized(&self) -> bool {
        self.0.customized
    }
}

/// A rendered message.
#[derive(SimpleObject)]
pub struct RenderedMessage {
    pub subject: String,
    pub body: String,
}

/// A message in the outbox.
pub struct OutboxObject(pub OutboxView);

#[Object(name = "OutboxMessage")]
impl OutboxObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::OutboxMessage, self.0.id))
    }
    async fn channel(&self) -> ChannelGql {
        self.0.channel.into()
    }
    /// Email address or E.164 phone number.
    async fn recipient(&self) -> &str {
        &self.0.recipient
    }
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    async fn template(&self) -> &str {
        &self.0.template
    }
    async fn status(&self) -> StatusGql {
        self.0.status.into()
    }
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    async fn next_attempt_at(&self) -> DateTime<Utc> {
        self.0.next_attempt_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.sent_at
    }
}
