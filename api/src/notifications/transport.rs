//! How messages leave: SMTP (lettre) or `.eml` files for email; an HTTP provider or files for SMS.

use std::path::PathBuf;

use comptoir_entity::outbox_message;
use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Attachment as MailAttachment, Mailbox, MultiPart, SinglePart, header::ContentType},
    transport::smtp::PoolConfig,
};
use serde_json::json;

use super::model::{Attachment, Channel};
use crate::config::Config;

pub struct Transports {
    from: Mailbox,
    email: EmailTransport,
    sms: SmsTransport,
}

enum EmailTransport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

enum SmsTransport {
    Files(PathBuf),
    Http {
        client: reqwest::Client,
        url: String,
        token: Option<String>,
    },
}

impl Transports {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let from: Mailbox = config
            .mail_from
            .parse()
            .map_err(|e| anyhow::anyhow!("COMPTOIR_MAIL_FROM is not a mailbox: {e}"))?;
        let dir = config.mail_dir();
        let email = if let Some(url) = &config.smtp_url {
            EmailTransport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .map_err(|e| anyhow::anyhow!("COMPTOIR_SMTP_URL: {e}"))?
                    .timeout(Some(std::time::Duration::from_secs(20)))
                    // One connection per message the worker sends at once.
                    .pool_config(PoolConfig::new().max_size(config.outbox_concurrency))
                    .build(),
            )
        } else {
            std::fs::create_dir_all(&dir)?;
            EmailTransport::Files(AsyncFileTransport::new(&dir))
        };
        let sms = if let Some(url) = &config.sms_url {
            SmsTransport::Http {
                client: reqwest::Client::builder()
                    .timeout(std::time::Duration::from_secs(20))
                    .build()?,
                url: url.clone(),
                token: config.sms_token.as_ref().map(|t| t.expose().to_owned()),
            }
        } else {
            std::fs::create_dir_all(&dir)?;
            SmsTransport::Files(dir)
        };
        Ok(Self { from, email, sms })
    }

    /// Hands one message over; `Ok` once the server (or the file system) has accepted it.
    pub async fn send(&self, message: &outbox_message::Model) -> Result<(), String> {
        match Channel::parse(&message.channel) {
            Some(Channel::Email) => self.send_email(message).await,
            Some(Channel::Sms) => self.send_sms(message).await,
            None => Err(format!("unknown channel {}", message.channel)),
        }
    }

    async fn send_email(&self, message: &outbox_message::Model) -> Result<(), String> {
        let to: Mailbox = message
            .recipient
            .parse()
            .map_err(|e| format!("bad recipient: {e}"))?;
        let attachments: Vec<Attachment> =
            serde_json::from_value(message.attachments.clone()).unwrap_or_default();
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .message_id(Some(message.message_id.clone()));
        let email = if attachments.is_empty() {
            builder
                .header(ContentType::TEXT_PLAIN)
                .body(message.body.clone())
        } else {
            let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(message.body.clone()));
            for attachment in attachments {
                let content_type =
                    ContentType::parse(&attachment.content_type).unwrap_or(ContentType::TEXT_PLAIN);
                parts = parts.singlepart(
                    MailAttachment::new(attachment.filename).body(attachment.content, content_type),
                );
            }
            builder.multipart(parts)
        }
        .map_err(|e| format!("cannot build the email: {e}"))?;
        match &self.email {
            EmailTransport::Smtp(smtp) => {
                smtp.send(email).await.map(drop).map_err(|e| e.to_string())
            }
            EmailTransport::Files(files) => {
                let id = files.send(email).await.map_err(|e| e.to_string())?;
                tracing::info!(to = %message.recipient, subject = %message.subject, file = %id, "email written to the mail folder");
                Ok(())
            }
        }
    }

    async fn send_sms(&self, message: &outbox_message::Model) -> Result<(), String> {
        match &self.sms {
            SmsTransport::Files(dir) => {
                let path = dir.join(format!("{}.sms.txt", message.id.simple()));
                let text = format!("To: {}\n\n{}\n", message.recipient, message.body);
                tokio::fs::write(&path, text)
                    .await
                    .map_err(|e| e.to_string())?;
                tracing::info!(to = %message.recipient, file = %path.display(), "SMS written to the mail folder");
                Ok(())
            }
            SmsTransport::Http { client, url, token } => {
                let mut request = client
                    .post(url)
                    .json(&json!({ "to": message.recipient, "text": message.body, "id": message.message_id }));
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                let response = request.send().await.map_err(|e| e.to_string())?;
                if response.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("SMS provider answered {}", response.status()))
                }
            }
        }
    }
}
