//! Managers' work on quotes: creating, pricing (lines, comment lines, discounts, shipping),
//! negotiation, sending, withdrawing, duplicating. A sent quote is never changed in place:
//! editing it opens a new revision that supersedes it once sent.

use chrono::Duration;
use comptoir_entity::{quote, quote_line};
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

use super::{
    model::{LineKind, Negotiation, Quote, QuoteStatus, parse_validity_days},
    requests::{NewQuote, new_quote},
    service::{self, Edit, quote_event},
    store,
};
use crate::{
    auth::Principal,
    carts::model::parse_quantity,
    catalog::{self, model::RawSelection},
    customers::{self, model::parse_text},
    error::AppError,
    kernel::money::{from_e4, rate_from_bp, rate_to_bp, to_e4},
    notifications::{
        model::Recipient,
        outbox::{self, NewMessage},
    },
    orders::{model::parse_discount, service::PostalAddressInput},
    state::AppState,
};

/// Opens a quote for a manager's change. A sent quote gets a new revision, which the change
/// applies to; a request being priced moves to `IN_PREPARATION`.
async fn open_for_change(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
) -> Result<Edit, AppError> {
    principal.require_staff()?;
    let mut edit = Edit::open(state, principal, id, Some(version)).await?;
    match edit.status() {
        QuoteStatus::Requested => edit.set_status(QuoteStatus::InPreparation)?,
        QuoteStatus::InPreparation => {}
        QuoteStatus::Sent if edit.row.superseded_by.is_none() => revise(&mut edit).await?,
        other => {
            return Err(AppError::InvalidTransition {
                from: other.as_str(),
                to: "EDIT".to_owned(),
            });
        }
    }
    Ok(edit)
}

/// Turns `edit` into an edit of a new revision of its (sent) quote.
async fn revise(edit: &mut Edit) -> Result<(), AppError> {
    let family = store::revisions_for_update(&*edit.tx, edit.row.root_id).await?;
    if let Some(latest) = family.last()
        && latest.id != edit.row.id
    {
        return Err(AppError::conflict(
            "id",
            format!(
                "revision {} is being prepared: change that one",
                latest.number
            ),
        ));
    }
    let revision = edit.row.revision + 1;
    let base = edit
        .row
        .number
        .split("-R")
        .next()
        .unwrap_or_default()
        .to_owned();
    let id = Uuid::now_v7();
    let row = quote::Model {
        id,
        number: format!("{base}-R{revision}"),
        revision,
        superseded_by: None,
        status: QuoteStatus::InPreparation.as_str().to_owned(),
        valid_until: None,
        sent_at: None,
        idempotency_key: None,
        version: 1,
        created_at: edit.now,
        updated_at: edit.now,
        ..edit.row.clone()
    };
    let row = store::insert(&*edit.tx, row).await?;
    let rows = edit
        .lines
        .iter()
        .map(|line| quote_line::Model {
            id: Uuid::now_v7(),
            quote_id: id,
            ..line.clone()
        })
        .collect();
    let lines = store::insert_lines(&*edit.tx, rows).await?;
    edit.changes
        .insert("revisionOf".to_owned(), json!(edit.row.number));
    edit.row = row;
    edit.lines = lines;
    Ok(())
}

/// Staff: a quote for a customer, from scratch (`IN_PREPARATION`).
pub async fn create(
    state: &AppState,
    principal: &Principal,
    customer_id: Uuid,
) -> Result<Quote, AppError> {
    let staff = principal.require_staff()?;
    let now = state.clock.now();
    let mut tx = state.db.begin(&state.events).await?;
    let customer = customers::service::find_for(&*tx, principal, customer_id)
        .await
        .map_err(|_| AppError::not_found("customer", "customerId"))?;
    let contact = customers::service::contacts_of(&*tx, &[customer.id])
        .await?
        .into_iter()
        .find(|c| c.is_primary);
    let mut row = new_quote(
        &tx,
        NewQuote {
            customer_id: Some(customer.id),
            requested_by: None,
            sales_rep_id: customer.sales_rep_id,
            contact_name: contact
                .as_ref()
                .map_or_else(|| customer.name.clone(), |c| c.name.clone()),
            contact_email: contact.as_ref().and_then(|c| c.email.clone()),
            contact_phone: contact.as_ref().and_then(|c| c.phone.clone()),
            contact_company: customer.name.clone(),
            message: String::new(),
            modifications: String::new(),
            idempotency_key: None,
        },
        now,
    )
    .await?;
    QuoteStatus::InPreparation
        .as_str()
        .clone_into(&mut row.status);
    service::keep_derived(&mut row, &[])?;
    let row = store::update(&*tx, row).await?;
    tx.record(quote_event(
        &row,
        "QUOTE_CREATED",
        Some(staff.id),
        json!({ "number": row.number }),
        now,
    ));
    tx.commit().await?;
    store::to_quote(row)
}

/// A product line a manager adds.
pub struct LineInput {
    pub product_id: Uuid,
    pub variant_id: Option<Uuid>,
    pub configuration: Vec<RawSelection>,
    pub quantity: i32,
    pub unit_price: Option<Decimal>,
    pub discount_percent: Option<Decimal>,
    pub discount_amount: Option<Decimal>,
}

fn parse_amount(value: Decimal, field: &str) -> Result<i64, AppError> {
    if value < Decimal::ZERO {
        return Err(AppError::validation(field, "must not be negative"));
    }
    to_e4(value, field)
}

pub async fn add_line(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
    input: LineInput,
) -> Result<Quote, AppError> {
    let quantity = parse_quantity(input.quantity, "quantity", false)?;
    let discount = input
        .discount_percent
        .map(|d| parse_discount(d, "discountPercent"))
        .transpose()?
        .unwrap_or_default();
    let discount_amount = input
        .discount_amount
        .map(|d| parse_amount(d, "discountAmount"))
        .transpose()?
        .unwrap_or_default();
    let price = input
        .unit_price
        .map(|p| parse_amount(p, "unitPrice"))
        .transpose()?;
    let mut edit = open_for_change(state, principal, id, version).await?;
    let catalog::service::ResolvedItem {
        product,
        variant,
        configuration,
        unit_price: catalog_price,
    } = catalog::service::resolve_item(
        &*edit.tx,
        input.product_id,
        input.variant_id,
        &input.configuration,
        false,
    )
    .await?;
    let position = edit.lines.iter().map(|l| l.position + 1).max().unwrap_or(0);
    let line = store::insert_line(
        &*edit.tx,
        quote_line::Model {
            id: Uuid::now_v7(),
            quote_id: edit.row.id,
            position,
            kind: LineKind::Product.as_str().to_owned(),
            product_id: Some(product.id),
            variant_id: variant.as_ref().map(|v| v.id),
            configuration: serde_json::to_value(&configuration).unwrap_or_default(),
            reference: variant
                .as_ref()
                .map_or_else(|| product.reference.clone(), |v| v.reference.clone()),
            name: match &variant {
                Some(v) if !v.name.is_empty() => format!("{} – {}", product.name, v.name),
                _ => product.name.clone(),
            },
            comment: String::new(),
            quantity,
            unit_price_e4: match price {
                Some(p) => p,
                None => to_e4(catalog_price, "unitPrice")?,
            },
            discount_bp: rate_to_bp(discount, "discountPercent")?,
            discount_amount_e4: discount_amount,
            vat_bp: rate_to_bp(product.vat_rate, "vatRate")?,
            rental_start: None,
            rental_end: None,
        },
    )
    .await?;
    edit.change(
        "lines",
        json!(null),
        json!(format!("{quantity} × {}", line.name)),
    );
    edit.lines.push(line);
    edit.finish("QUOTE_UPDATED").await
}

/// Staff: a comment line (text only, no amount) at the end of the quote.
pub async fn add_comment_line(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
    text: &str,
) -> Result<Quote, AppError> {
    let text = parse_text(text, "text", 2_000, true)?;
    let mut edit = open_for_change(state, principal, id, version).await?;
    let position = edit.lines.iter().map(|l| l.position + 1).max().unwrap_or(0);
    let line = store::insert_line(
        &*edit.tx,
        quote_line::Model {
            id: Uuid::now_v7(),
            quote_id: edit.row.id,
            position,
            kind: LineKind::Comment.as_str().to_owned(),
            product_id: None,
            variant_id: None,
            configuration: json!([]),
            reference: String::new(),
            name: String::new(),
            comment: text.clone(),
            quantity: 0,
            unit_price_e4: 0,
            discount_bp: 0,
            discount_amount_e4: 0,
            vat_bp: 0,
            rental_start: None,
            rental_end: None,
        },
    )
    .await?;
    edit.change("comment", json!(null), json!(text));
    edit.lines.push(line);
    edit.finish("QUOTE_UPDATED").await
}

/// Changes of one line.
#[derive(Default)]
pub struct LineChanges {
    pub quantity: Option<i32>,
    pub unit_price: Option<Decimal>,
    pub discount_percent: Option<Decimal>,
    pub discount_amount: Option<Decimal>,
    pub comment: Option<String>,
}

/// Staff: changes a line. On a sent quote this makes a new revision: the line is found there by
/// its position.
pub async fn update_line(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
    line_id: Uuid,
    changes: LineChanges,
) -> Result<Quote, AppError> {
    let quantity = changes
        .quantity
        .map(|q| parse_quantity(q, "quantity", false))
        .transpose()?;
    let discount = changes
        .discount_percent
        .map(|d| {
            parse_discount(d, "discountPercent").and_then(|d| rate_to_bp(d, "discountPercent"))
        })
        .transpose()?;
    let discount_amount = changes
        .discount_amount
        .map(|d| parse_amount(d, "discountAmount"))
        .transpose()?;
    let price = changes
        .unit_price
        .map(|p| parse_amount(p, "unitPrice"))
        .transpose()?;
    let comment = changes
        .comment
        .as_deref()
        .map(|c| parse_text(c, "comment", 2_000, true))
        .transpose()?;
    let position = {
        let row = store::lines_of(state.db.read(), &[id]).await?;
        row.into_iter()
            .find(|l| l.id == line_id)
            .map(|l| l.position)
            .ok_or_else(|| AppError::not_found("quote line", "lineId"))?
    };
    let mut edit = open_for_change(state, principal, id, version).await?;
    let index = edit
        .lines
        .iter()
        .position(|l| l.position == position)
        .ok_or_else(|| AppError::not_found("quote line", "lineId"))?;
    let mut line = edit.lines[index].clone();
    let key = |field: &str| format!("{field}@{position}");
    if line.kind == LineKind::Comment.as_str() {
        if let Some(comment) = comment {
            edit.change(&key("comment"), json!(line.comment), json!(comment));
            line.comment = comment;
        }
    } else {
        if let Some(quantity) = quantity {
            edit.change(&key("quantity"), json!(line.quantity), json!(quantity));
            line.quantity = quantity;
        }
        if let Some(price) = price {
            edit.change(
                &key("unitPrice"),
                json!(from_e4(line.unit_price_e4).normalize().to_string()),
                json!(from_e4(price).normalize().to_string()),
            );
            line.unit_price_e4 = price;
        }
        if let Some(discount) = discount {
            edit.change(
                &key("discountPercent"),
                json!(rate_from_bp(line.discount_bp).normalize().to_string()),
                json!(rate_from_bp(discount).normalize().to_string()),
            );
            line.discount_bp = discount;
        }
        if let Some(amount) = discount_amount {
            edit.change(
                &key("discountAmount"),
                json!(from_e4(line.discount_amount_e4).normalize().to_string()),
                json!(from_e4(amount).normalize().to_string()),
            );
            line.discount_amount_e4 = amount;
        }
    }
    edit.lines[index] = store::update_line(&*edit.tx, line).await?;
    edit.finish("QUOTE_UPDATED").await
}

pub async fn remove_line(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
    line_id: Uuid,
) -> Result<Quote, AppError> {
    let position = store::lines_of(state.db.read(), &[id])
        .await?
        .into_iter()
        .find(|l| l.id == line_id)
        .map(|l| l.position)
        .ok_or_else(|| AppError::not_found("quote line", "lineId"))?;
    let mut edit = open_for_change(state, principal, id, version).await?;
    let index = edit
        .lines
        .iter()
        .position(|l| l.position == position)
        .ok_or_else(|| AppError::not_found("quote line", "lineId"))?;
    let line = edit.lines.remove(index);
    store::delete_line(&*edit.tx, line.id).await?;
    edit.change(
        "lines",
        json!(format!("{} × {}", line.quantity, line.name)),
        json!(null),
    );
    edit.finish("QUOTE_UPDATED").await
}

/// A quote's terms.
#[derive(Default)]
pub struct Terms {
    pub shipping_method: Option<String>,
    pub shipping: Option<Decimal>,
    pub shipping_vat_rate: Option<Decimal>,
    pub payment_method: Option<String>,
    pub discount_percent: Option<Decimal>,
    pub delivery_address: Option<PostalAddressInput>,
}

pub async fn update_terms(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
    terms: Terms,
) -> Result<Quote, AppError> {
    let text = |v: &Option<String>, f: &str| {
        v.as_deref()
            .map(|t| parse_text(t, f, 100, false))
            .transpose()
    };
    let shipping_method = text(&terms.shipping_method, "shippingMethod")?;
    let payment_method = text(&terms.payment_method, "paymentMethod")?;
    let shipping = terms
        .shipping
        .map(|s| parse_amount(s, "shipping"))
        .transpose()?;
    let shipping_vat = terms
        .shipping_vat_rate
        .map(|r| rate_to_bp(r, "shippingVatRate"))
        .transpose()?;
    let discount = terms
        .discount_percent
        .map(|d| {
            parse_discount(d, "discountPercent").and_then(|d| rate_to_bp(d, "discountPercent"))
        })
        .transpose()?;
    let address = terms
        .delivery_address
        .map(|a| a.parse("deliveryAddress"))
        .transpose()?;
    let mut edit = open_for_change(state, principal, id, version).await?;
    if let Some(method) = shipping_method {
        edit.change(
            "shippingMethod",
            json!(edit.row.shipping_method),
            json!(method),
        );
        edit.row.shipping_method = method;
    }
    if let Some(method) = payment_method {
        edit.change(
            "paymentMethod",
            json!(edit.row.payment_method),
            json!(method),
        );
        edit.row.payment_method = method;
    }
    if let Some(shipping) = shipping {
        edit.change(
            "shipping",
            json!(from_e4(edit.row.shipping_e4).normalize().to_string()),
            json!(from_e4(shipping).normalize().to_string()),
        );
        edit.row.shipping_e4 = shipping;
    }
    if let Some(rate) = shipping_vat {
        edit.row.shipping_vat_bp = rate;
    }
    if let Some(discount) = discount {
        edit.change(
            "discountPercent",
            json!(rate_from_bp(edit.row.discount_bp).normalize().to_string()),
            json!(rate_from_bp(discount).normalize().to_string()),
        );
        edit.row.discount_bp = discount;
    }
    if let Some(address) = address {
        let new = serde_json::to_value(&address).unwrap_or_default();
        edit.change(
            "deliveryAddress",
            edit.row.delivery_address.clone(),
            new.clone(),
        );
        edit.row.delivery_address = new;
    }
    edit.finish("QUOTE_UPDATED").await
}

/// Staff: the negotiation's state and its comments. The internal comment is never shown to
/// customers (its event is internal).
pub async fn set_negotiation(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
    negotiation: Option<Negotiation>,
    customer_comment: Option<String>,
    internal_comment: Option<String>,
) -> Result<Quote, AppError> {
    principal.require_staff()?;
    let customer_comment = customer_comment
        .as_deref()
        .map(|c| parse_text(c, "customerComment", 5_000, false))
        .transpose()?;
    let internal_comment = internal_comment
        .as_deref()
        .map(|c| parse_text(c, "internalComment", 5_000, false))
        .transpose()?;
    let mut edit = Edit::open(state, principal, id, Some(version)).await?;
    if let Some(negotiation) = negotiation {
        edit.set_negotiation(negotiation);
    }
    if let Some(comment) = customer_comment {
        edit.change(
            "customerComment",
            json!(edit.row.customer_comment),
            json!(comment),
        );
        edit.row.customer_comment = comment;
    }
    if let Some(comment) = internal_comment
        && comment != edit.row.internal_comment
    {
        // Staff-only: its own internal event, without the text; the rest stays public.
        edit.row.internal_comment = comment;
        let mut event = quote_event(
            &edit.row,
            "QUOTE_INTERNAL_COMMENT_CHANGED",
            Some(edit.actor.id),
            json!({}),
            edit.now,
        );
        event.internal = true;
        edit.tx.record(event);
    }
    edit.finish("QUOTE_NEGOTIATION_CHANGED").await
}

/// Staff: sends the quote (valid for `validity_days`, by default the settings'), emails the
/// customer, and supersedes the revision it replaces.
pub async fn send(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
    validity_days: Option<i32>,
) -> Result<Quote, AppError> {
    principal.require_staff()?;
    let days = match validity_days {
        Some(d) => parse_validity_days(d, "validityDays")?,
        None => service::settings(state.db.read()).await?.validity_days,
    };
    let mut edit = Edit::open(state, principal, id, Some(version)).await?;
    if !edit
        .lines
        .iter()
        .any(|l| l.kind == LineKind::Product.as_str())
    {
        return Err(AppError::validation("id", "the quote has no product line"));
    }
    edit.set_status(QuoteStatus::Sent)?;
    let valid_until = edit.now + Duration::days(i64::from(days));
    edit.row.valid_until = Some(valid_until);
    edit.row.sent_at = Some(edit.now);
    edit.change("validUntil", json!(null), json!(valid_until));
    if edit.row.revision > 1 {
        // Locked: a conversion of an earlier revision finishes first, and then this one stops.
        let family = store::revisions_for_update(&*edit.tx, edit.row.root_id).await?;
        if let Some(accepted) = family
            .iter()
            .find(|r| r.status == QuoteStatus::Accepted.as_str())
        {
            return Err(AppError::conflict(
                "id",
                format!(
                    "{} was accepted already: this revision cannot be sent",
                    accepted.number
                ),
            ));
        }
        for mut previous in family
            .into_iter()
            .filter(|r| r.id != edit.row.id && r.superseded_by.is_none())
        {
            previous.superseded_by = Some(edit.row.id);
            previous.version += 1;
            store::update(&*edit.tx, previous).await?;
        }
    }
    if let Some(email) = edit.row.contact_email.clone() {
        let language = match edit.row.customer_id {
            Some(customer) => customers::service::language_of(&edit.tx, customer).await?,
            None => "en".to_owned(),
        };
        let settings = catalog::settings::get(&*edit.tx).await?;
        let quote = store::to_quote(edit.row.clone())?;
        let lines: Vec<_> = edit.lines.iter().cloned().map(store::to_line).collect();
        let totals = super::model::totals(&lines, quote.adjustments);
        let data = json!({
            "store_name": settings.name,
            "currency": settings.currency,
            "number": edit.row.number,
            "contact_name": edit.row.contact_name,
            "valid_until": valid_until.format("%Y-%m-%d").to_string(),
            "total": totals.total.to_string(),
            "lines": lines.iter().map(|l| json!({
                "kind": l.kind.as_str(), "name": l.name, "reference": l.reference,
                "comment": l.comment, "quantity": l.quantity,
                "total": l.amount.total.to_string(),
            })).collect::<Vec<_>>(),
        });
        let pdf = crate::documents::service::quote_attachment(&*edit.tx, &quote, &lines, edit.now)
            .await?;
        outbox::enqueue(
            &mut edit.tx,
            NewMessage {
                recipient: Recipient::email(&email, "contact.email")?,
                template: "quote_sent",
                language,
                data,
                attachments: vec![pdf],
                customer_id: edit.row.customer_id,
            },
            edit.now,
        )
        .await?;
    }
    edit.finish("QUOTE_SENT").await
}

/// Staff: takes a sent quote back.
pub async fn withdraw(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
    reason: &str,
) -> Result<Quote, AppError> {
    principal.require_staff()?;
    let reason = parse_text(reason, "reason", 500, false)?;
    let mut edit = Edit::open(state, principal, id, Some(version)).await?;
    edit.set_status(QuoteStatus::Withdrawn)?;
    edit.changes.insert("reason".to_owned(), json!(reason));
    edit.finish("QUOTE_WITHDRAWN").await
}

/// Staff: a new quote (new number, `IN_PREPARATION`) with the same lines and terms.
pub async fn duplicate(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<Quote, AppError> {
    let staff = principal.require_staff()?;
    let now = state.clock.now();
    let mut tx = state.db.begin(&state.events).await?;
    let source = store::find(&*tx, id)
        .await?
        .ok_or_else(service::quote_not_found)?;
    let lines = store::lines_of(&*tx, &[id]).await?;
    let fresh = new_quote(
        &tx,
        NewQuote {
            customer_id: source.customer_id,
            requested_by: None,
            sales_rep_id: source.sales_rep_id,
            contact_name: source.contact_name.clone(),
            contact_email: source.contact_email.clone(),
            contact_phone: source.contact_phone.clone(),
            contact_company: source.contact_company.clone(),
            message: String::new(),
            modifications: source.modifications.clone(),
            idempotency_key: None,
        },
        now,
    )
    .await?;
    let mut row = quote::Model {
        status: QuoteStatus::InPreparation.as_str().to_owned(),
        delivery_address: source.delivery_address.clone(),
        shipping_method: source.shipping_method.clone(),
        shipping_e4: source.shipping_e4,
        shipping_vat_bp: source.shipping_vat_bp,
        payment_method: source.payment_method.clone(),
        discount_bp: source.discount_bp,
        ..fresh
    };
    let rows = lines
        .into_iter()
        .map(|line| quote_line::Model {
            id: Uuid::now_v7(),
            quote_id: row.id,
            ..line
        })
        .collect();
    let copied = store::insert_lines(&*tx, rows).await?;
    service::keep_derived(&mut row, &copied)?;
    let row = store::update(&*tx, row).await?;
    tx.record(quote_event(
        &row,
        "QUOTE_CREATED",
        Some(staff.id),
        json!({ "number": row.number, "duplicateOf": source.number }),
        now,
    ));
    tx.commit().await?;
    store::to_quote(row)
}
