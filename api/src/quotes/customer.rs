//! What customers do with a quote they were sent: decline, convert into an order, ask for a
//! negotiation, delete.

use serde_json::json;
use uuid::Uuid;

use super::{
    model::{LineKind, Negotiation, Quote, QuoteStatus},
    service::{self, Edit},
    store,
};
use crate::{
    auth::Principal,
    customers::{self, model::parse_text},
    error::AppError,
    notifications::{
        model::Recipient,
        outbox::{self, NewMessage},
    },
    orders::{
        self,
        checkout::{OrderFromQuote, QuotedLine},
        model::{Contact, PostalAddress},
        service::PostalAddressInput,
    },
    state::AppState,
};

async fn open(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
) -> Result<Edit, AppError> {
    service::require_customer_side(principal)?;
    Edit::open(state, principal, id, Some(version)).await
}

pub async fn decline(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
    reason: &str,
) -> Result<Quote, AppError> {
    let reason = parse_text(reason, "reason", 1_000, false)?;
    let mut edit = open(state, principal, id, version).await?;
    edit.set_status(QuoteStatus::Declined)?;
    edit.changes.insert("reason".to_owned(), json!(reason));
    edit.finish("QUOTE_DECLINED").await
}

/// The customer hides the quote; managers still see it (`DELETED`).
pub async fn delete(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
) -> Result<Quote, AppError> {
    let mut edit = open(state, principal, id, version).await?;
    edit.set_status(QuoteStatus::Deleted)?;
    edit.finish("QUOTE_DELETED").await
}

/// The customer asks to negotiate a sent quote: the negotiation turns `UNTREATED` and the
/// seller is emailed.
pub async fn request_negotiation(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
    message: &str,
) -> Result<Quote, AppError> {
    let message = parse_text(message, "message", 5_000, true)?;
    let settings = service::settings(state.db.read()).await?;
    let mut edit = open(state, principal, id, version).await?;
    let status = edit.status();
    if status != QuoteStatus::Sent || edit.row.superseded_by.is_some() {
        return Err(AppError::InvalidTransition {
            from: status.as_str(),
            to: "NEGOTIATION".to_owned(),
        });
    }
    edit.set_negotiation(Negotiation::Untreated);
    edit.changes.insert("message".to_owned(), json!(message));
    if let Some(address) = settings.sales_manager_email {
        let data = json!({
            "number": edit.row.number,
            "contact_name": edit.row.contact_name,
            "message": message,
        });
        outbox::enqueue(
            &mut edit.tx,
            NewMessage {
                recipient: Recipient::email(&address, "salesManagerEmail")?,
                template: "quote_negotiation",
                language: "en".to_owned(),
                data,
                attachments: Vec::new(),
                customer_id: edit.row.customer_id,
            },
            edit.now,
        )
        .await?;
    }
    edit.finish("QUOTE_NEGOTIATION_REQUESTED").await
}

/// What the customer may choose when converting (unless the settings fix it).
#[derive(Default)]
pub struct ConvertInput {
    pub delivery_address_id: Option<Uuid>,
    pub delivery_address: Option<PostalAddressInput>,
    pub delivery_method: Option<String>,
    pub payment_method: Option<String>,
}

/// The customer accepts the latest revision of a sent, valid quote: an order is created (through
/// the orders module, in this transaction) and the quote turns `ACCEPTED`. Stock is re-checked
/// unless the settings allow out-of-stock quotes; `minimalCheckout` keeps the quote's delivery;
/// `lockPaymentMethod` keeps its payment method.
pub async fn convert(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
    input: ConvertInput,
) -> Result<(Quote, orders::Order), AppError> {
    let settings = service::settings(state.db.read()).await?;
    let typed_address = input
        .delivery_address
        .map(|a| a.parse("deliveryAddress"))
        .transpose()?;
    let delivery_method = input
        .delivery_method
        .as_deref()
        .map(|m| parse_text(m, "deliveryMethod", 100, false))
        .transpose()?;
    let payment_method = input
        .payment_method
        .as_deref()
        .map(|m| parse_text(m, "paymentMethod", 100, false))
        .transpose()?;
    if settings.minimal_checkout
        && (typed_address.is_some()
            || input.delivery_address_id.is_some()
            || delivery_method.is_some())
    {
        return Err(AppError::validation(
            "deliveryAddress",
            "the quote's delivery is kept: it cannot be chosen here",
        ));
    }
    let mut edit = open(state, principal, id, version).await?;
    check_acceptable(&edit).await?;
    edit.set_status(QuoteStatus::Accepted)?;
    let quote = store::to_quote(edit.row.clone())?;
    if settings.lock_payment_method
        && let Some(method) = &payment_method
        && *method != quote.payment_method
    {
        return Err(AppError::validation(
            "paymentMethod",
            "the quote's payment method cannot be changed",
        ));
    }
    let customer_id = quote
        .customer_id
        .ok_or_else(|| AppError::validation("id", "claim this quote with an account first"))?;
    let delivery = delivery_for(
        &edit,
        &quote,
        customer_id,
        input.delivery_address_id,
        typed_address,
    )
    .await?;
    if edit.lines.iter().any(|l| l.rental_start.is_some()) {
        return Err(AppError::validation(
            "id",
            "a quote with rental lines is booked as a rental project, not converted into an order",
        ));
    }
    let lines = quoted_lines(&edit.lines);
    let order = orders::checkout::create_from_quote(
        &mut edit.tx,
        principal,
        OrderFromQuote {
            customer_id,
            contact: Contact {
                name: quote.contact.name.clone(),
                email: quote.contact.email.clone(),
                phone: quote.contact.phone.clone(),
            },
            delivery_address: delivery,
            delivery_method: delivery_method.unwrap_or_else(|| quote.shipping_method.clone()),
            payment_method: if settings.lock_payment_method {
                quote.payment_method.clone()
            } else {
                payment_method.unwrap_or_else(|| quote.payment_method.clone())
            },
            title: format!("Quote {}", quote.number),
            customer_reference: quote.number.clone(),
            note: String::new(),
            adjustments: quote.adjustments,
            lines,
            allow_out_of_stock: settings.allow_out_of_stock,
            actor: edit.actor.id,
        },
        edit.now,
    )
    .await?;
    edit.row.order_id = Some(order.id);
    edit.changes.insert(
        "order".to_owned(),
        json!({ "number": order.number, "total": order.total.to_string() }),
    );
    let quote = edit.finish("QUOTE_ACCEPTED").await?;
    Ok((quote, order))
}

/// Only the latest revision of a quote still valid may be accepted.
async fn check_acceptable(edit: &Edit) -> Result<(), AppError> {
    let status = edit.status();
    if let Some(newer) = edit.row.superseded_by {
        let newer = store::find(&*edit.tx, newer)
            .await?
            .map(|r| r.number)
            .unwrap_or_default();
        return Err(AppError::conflict(
            "id",
            format!("this revision was replaced by {newer}: accept that one"),
        ));
    }
    if status == QuoteStatus::Sent && edit.row.valid_until.is_some_and(|v| v <= edit.now) {
        return Err(AppError::InvalidTransition {
            from: QuoteStatus::Expired.as_str(),
            to: QuoteStatus::Accepted.as_str().to_owned(),
        });
    }
    Ok(())
}

/// The quote's product lines as the order takes them.
fn quoted_lines(lines: &[comptoir_entity::quote_line::Model]) -> Vec<QuotedLine> {
    lines
        .iter()
        .filter(|l| l.kind == LineKind::Product.as_str())
        .filter_map(|l| {
            let line = store::to_line(l.clone());
            Some(QuotedLine {
                product_id: line.product_id?,
                variant_id: line.variant_id,
                configuration: serde_json::to_value(&line.configuration).unwrap_or_default(),
                reference: line.reference,
                name: line.name,
                kind: "STANDARD".to_owned(),
                quantity: line.quantity,
                unit_price: line.unit_price,
                discount_percent: line.discount_percent,
                discount_amount: line.discount_amount,
                vat_rate: line.vat_rate,
            })
        })
        .collect()
}

/// Where the order goes: a saved address, a typed one, the quote's, or the customer's default.
async fn delivery_for(
    edit: &Edit,
    quote: &Quote,
    customer_id: Uuid,
    address_id: Option<Uuid>,
    typed_address: Option<PostalAddress>,
) -> Result<PostalAddress, AppError> {
    Ok(match (address_id, typed_address) {
        (Some(address), _) => {
            let found = customers::service::addresses_of(&*edit.tx, &[customer_id])
                .await?
                .into_iter()
                .find(|a| a.id == address)
                .ok_or_else(|| {
                    AppError::not_found("address of this customer", "deliveryAddressId")
                })?;
            orders::service::copy_address(&found, &quote.contact.name)
        }
        (None, Some(address)) => address,
        (None, None) => match quote.delivery_address.clone() {
            Some(address) => address,
            None => default_delivery(edit, customer_id, &quote.contact.name).await?,
        },
    })
}

async fn default_delivery(
    edit: &Edit,
    customer_id: Uuid,
    name: &str,
) -> Result<PostalAddress, AppError> {
    let addresses = customers::service::addresses_of(&*edit.tx, &[customer_id]).await?;
    customers::Address::default_of(&addresses, customers::model::AddressKind::Delivery)
        .map(|a| orders::service::copy_address(a, name))
        .ok_or_else(|| AppError::validation("deliveryAddress", "required"))
}
