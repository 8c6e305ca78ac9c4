//! Messages staff send to customers, recorded on the customer's timeline.

use serde_json::json;
use uuid::Uuid;

use super::{
    model::{Channel, Recipient},
    outbox::{self, NewMessage},
};
use crate::{
    auth::Principal,
    customers::{self, model::parse_text},
    error::AppError,
    events::NewEvent,
    state::AppState,
};

/// Staff: sends a free email or SMS to a contact of a customer (default: the primary contact),
/// through the outbox; the customer's timeline records it. Returns the outbox message ID.
pub async fn send_customer_message(
    state: &AppState,
    principal: &Principal,
    customer_id: Uuid,
    contact_id: Option<Uuid>,
    channel: Channel,
    subject: &str,
    body: &str,
) -> Result<Uuid, AppError> {
    let staff = principal.require_staff()?;
    let body = parse_text(body, "body", 10_000, true)?;
    let subject = match channel {
        Channel::Email => parse_text(subject, "subject", 200, true)?,
        Channel::Sms => String::new(),
    };
    let db = state.db.read();
    let customer = customers::service::find_for(db, principal, customer_id).await?;
    let contacts = customers::service::contacts_of(db, &[customer_id]).await?;
    let contact = match contact_id {
        Some(id) => contacts.into_iter().find(|c| c.id == id),
        None => contacts.into_iter().find(|c| c.is_primary),
    }
    .ok_or_else(|| AppError::not_found("contact", "contactId"))?;
    let recipient =
        match channel {
            Channel::Email => Recipient::email(
                contact.email.as_deref().ok_or_else(|| {
                    AppError::validation("contactId", "this contact has no email")
                })?,
                "contactId",
            )?,
            Channel::Sms => Recipient::phone(
                contact.phone.as_deref().ok_or_else(|| {
                    AppError::validation("contactId", "this contact has no phone")
                })?,
                "contactId",
            )?,
        };
    let settings = crate::catalog::settings::get(db).await?;
    let now = state.clock.now();
    let mut tx = state.db.begin(&state.events).await?;
    let message = NewMessage {
        recipient: recipient.clone(),
        template: "customer_message",
        language: customer.language.clone(),
        data: json!({ "subject": subject, "body": body, "store_name": settings.name }),
        attachments: Vec::new(),
        customer_id: Some(customer_id),
    };
    let id = outbox::enqueue(&mut tx, message, now).await?;
    tx.record(NewEvent {
        kind: "MESSAGE_SENT",
        object_type: "Customer",
        object_id: customer_id,
        owner_user_id: None,
        owner_customer_id: None,
        internal: false,
        actor_id: Some(staff.id),
        status: None,
        changes: json!({ "channel": channel.as_str(), "to": recipient.address, "subject": subject, "outboxMessage": id }),
        at: now,
    });
    tx.commit().await?;
    Ok(id)
}
