//! The order desk around an order: internal notes, payments, scheduled calls, messages to the
//! customer. Notes, payments and calls are staff-only (their events are internal); messages
//! show on the customer's timeline.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

use super::{
    model::{Note, NoteKind, Order, Payment, ScheduledCall},
    service::{Edit, order_event, template_data},
    store,
};
use crate::{
    auth::{Principal, Role},
    customers::model::parse_text,
    error::AppError,
    kernel::money::{from_e4, to_e4},
    notifications::{
        model::{Channel, Recipient},
        outbox::{self, NewMessage},
    },
    state::AppState,
};

/// Records a staff-only event on the order and commits.
async fn internal_event(
    mut edit: Edit,
    kind: &'static str,
    details: serde_json::Value,
) -> Result<Order, AppError> {
    let row = store::update_order(&*edit.tx, edit.row).await?;
    let mut event = order_event(&row, kind, Some(edit.actor.id), details, edit.now);
    event.internal = true;
    edit.tx.record(event);
    edit.tx.commit().await?;
    store::to_order(row)
}

/// Staff: a note on the order (internal, or about the payment, the invoice or the purchase
/// order), optionally about one line. Never shown to the customer.
pub async fn add_note(
    state: &AppState,
    principal: &Principal,
    order_id: Uuid,
    kind: NoteKind,
    body: &str,
    line_id: Option<Uuid>,
) -> Result<Note, AppError> {
    principal.require_staff()?;
    let body = parse_text(body, "body", 10_000, true)?;
    let edit = Edit::open(state, principal, order_id, None).await?;
    if let Some(line_id) = line_id
        && !edit.lines.iter().any(|l| l.id == line_id)
    {
        return Err(AppError::not_found("order line", "lineId"));
    }
    let note = Note {
        id: Uuid::now_v7(),
        order_id,
        line_id,
        kind,
        body,
        author_id: Some(edit.actor.id),
        at: edit.now,
    };
    store::insert_note(&*edit.tx, &note).await?;
    let details = json!({ "kind": kind.as_str(), "body": note.body });
    internal_event(edit, "NOTE_ADDED", details).await?;
    Ok(note)
}

/// What a payment records.
pub struct PaymentInput {
    pub amount: Decimal,
    pub method: String,
    pub paid_on: NaiveDate,
    pub reference: String,
}

/// Staff: records a payment. The balance due follows; paying more than is due is refused.
pub async fn record_payment(
    state: &AppState,
    principal: &Principal,
    order_id: Uuid,
    input: PaymentInput,
) -> Result<Order, AppError> {
    principal.require_staff()?;
    let amount_e4 = to_e4(input.amount, "amount")?;
    if amount_e4 <= 0 || amount_e4 % 100 != 0 {
        return Err(AppError::validation("amount", "a positive amount in cents"));
    }
    let method = parse_text(&input.method, "method", 100, true)?;
    let reference = parse_text(&input.reference, "reference", 200, false)?;
    let mut edit = Edit::open(state, principal, order_id, None).await?;
    let status = edit.status();
    if status == super::model::OrderStatus::Cancelled {
        return Err(super::model::invalid_transition(status, "PAYMENT"));
    }
    let due = edit.row.total_e4 - edit.row.paid_e4;
    if amount_e4 > due {
        return Err(AppError::validation(
            "amount",
            format!(
                "more than the balance due ({})",
                from_e4(due.max(0)).normalize()
            ),
        ));
    }
    let payment = Payment {
        id: Uuid::now_v7(),
        order_id,
        amount: from_e4(amount_e4),
        method,
        paid_on: input.paid_on,
        reference,
        recorded_by: Some(edit.actor.id),
        at: edit.now,
    };
    store::insert_payment(&*edit.tx, &payment).await?;
    edit.row.paid_e4 += amount_e4;
    let details = json!({
        "amount": payment.amount.normalize().to_string(),
        "method": payment.method,
        "paidOn": payment.paid_on.to_string(),
        "reference": payment.reference,
        "balanceDue": from_e4(edit.row.total_e4 - edit.row.paid_e4).normalize().to_string(),
    });
    internal_event(edit, "PAYMENT_RECORDED", details).await
}

/// Staff: plans a call about the order (for `manager_id`, by default the caller); it shows in
/// that manager's agenda.
pub async fn schedule_call(
    state: &AppState,
    principal: &Principal,
    order_id: Uuid,
    at: DateTime<Utc>,
    with_whom: &str,
    note: &str,
    manager_id: Option<Uuid>,
) -> Result<ScheduledCall, AppError> {
    let me = principal.require_staff()?;
    let with_whom = parse_text(with_whom, "withWhom", 200, true)?;
    let note = parse_text(note, "note", 5_000, false)?;
    if at < state.clock.now() {
        return Err(AppError::validation("at", "must not be in the past"));
    }
    let manager_id = match manager_id {
        Some(id) if id != me.id => {
            let staff = crate::auth::service::user_by_id(state, id)
                .await?
                .filter(|u| matches!(u.role, Role::Manager | Role::Admin));
            staff
                .ok_or_else(|| AppError::not_found("manager", "managerId"))?
                .id
        }
        _ => me.id,
    };
    let edit = Edit::open(state, principal, order_id, None).await?;
    let call = ScheduledCall {
        id: Uuid::now_v7(),
        order_id,
        manager_id,
        at,
        with_whom,
        note,
    };
    store::insert_call(&*edit.tx, &call, edit.now).await?;
    let details = json!({ "at": call.at, "withWhom": call.with_whom, "note": call.note });
    internal_event(edit, "CALL_SCHEDULED", details).await?;
    Ok(call)
}

/// Staff: the caller's calls between `from` and `to`, soonest first.
pub async fn agenda(
    state: &AppState,
    principal: &Principal,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ScheduledCall>, AppError> {
    let me = principal.require_staff()?;
    if to <= from || to - from > chrono::Duration::days(366) {
        return Err(AppError::validation(
            "to",
            "after `from`, at most a year later",
        ));
    }
    Ok(store::agenda(state.db.read(), me.id, from, to).await?)
}

/// Which message to send about an order: a shipped template, or free text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderTemplate {
    Free,
    Received,
    Proposed,
    Confirmed,
    Shipped,
    PaymentReminder,
}

impl OrderTemplate {
    fn name(self) -> &'static str {
        match self {
            Self::Free => "customer_message",
            Self::Received => "order_received",
            Self::Proposed => "order_proposed",
            Self::Confirmed => "order_confirmed",
            Self::Shipped => "order_shipped",
            Self::PaymentReminder => "payment_reminder",
        }
    }
}

/// Staff: emails or texts the order's contact, from a template or free text, through the
/// outbox; the order's timeline (the customer's too) records it. Returns the outbox message ID.
pub async fn send_message(
    state: &AppState,
    principal: &Principal,
    order_id: Uuid,
    channel: Channel,
    template: OrderTemplate,
    subject: &str,
    body: &str,
) -> Result<Uuid, AppError> {
    principal.require_staff()?;
    let free = template == OrderTemplate::Free;
    let body = parse_text(body, "body", 10_000, free)?;
    let subject = match channel {
        Channel::Email if free => parse_text(subject, "subject", 200, true)?,
        _ => parse_text(subject, "subject", 200, false)?,
    };
    let mut edit = Edit::open(state, principal, order_id, None).await?;
    let recipient = match channel {
        Channel::Email => Recipient::email(
            edit.row.contact_email.as_deref().ok_or_else(|| {
                AppError::validation("channel", "the order's contact has no email")
            })?,
            "contact.email",
        )?,
        Channel::Sms => Recipient::phone(
            edit.row.contact_phone.as_deref().ok_or_else(|| {
                AppError::validation("channel", "the order's contact has no phone")
            })?,
            "contact.phone",
        )?,
    };
    let mut data = template_data(&edit.tx, &edit.row).await?;
    if let serde_json::Value::Object(map) = &mut data {
        map.insert("subject".to_owned(), json!(subject));
        map.insert("body".to_owned(), json!(body));
        map.insert("message".to_owned(), json!(body));
        map.insert(
            "balance_due".to_owned(),
            json!(from_e4(edit.row.total_e4 - edit.row.paid_e4).to_string()),
        );
    }
    let language = crate::customers::service::language_of(&edit.tx, edit.row.customer_id).await?;
    let id = outbox::enqueue(
        &mut edit.tx,
        NewMessage {
            recipient: recipient.clone(),
            template: template.name(),
            language,
            data,
            attachments: Vec::new(),
            customer_id: Some(edit.row.customer_id),
        },
        edit.now,
    )
    .await?;
    let row = store::update_order(&*edit.tx, edit.row).await?;
    let details = json!({
        "channel": channel.as_str(),
        "to": recipient.address,
        "template": template.name(),
        "subject": subject,
        "outboxMessage": id,
    });
    edit.tx.record(order_event(
        &row,
        "MESSAGE_SENT",
        Some(edit.actor.id),
        details,
        edit.now,
    ));
    edit.tx.commit().await?;
    Ok(id)
}
