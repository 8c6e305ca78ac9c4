//! Fills the document model from quotes and orders, with the amounts their own models compute
//! (`orders::model::totals`, `quotes::model::totals`): a PDF never prints a total the API would
//! not show.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::{
    model::{DocumentKind, DocumentLine, DocumentModel, DocumentTotals, Party, date, day},
    seller::Seller,
};
use crate::{
    catalog::model::SelectionView,
    customers::Customer,
    orders::model::{Order, OrderLine, PostalAddress},
    quotes::{
        Quote, QuoteLine,
        model::{LineKind, totals as quote_totals},
    },
};

fn options(configuration: &[SelectionView]) -> Vec<String> {
    configuration
        .iter()
        .map(|s| {
            let value = s
                .value_label
                .clone()
                .or_else(|| s.value.clone())
                .or_else(|| {
                    s.number.map(|n| {
                        format!("{} {}", n.normalize(), s.unit.clone().unwrap_or_default())
                            .trim_end()
                            .to_owned()
                    })
                })
                .unwrap_or_default();
            format!("{}: {value}", s.option_name)
        })
        .collect()
}

fn address_lines(address: &PostalAddress) -> Vec<String> {
    let mut lines = Vec::new();
    for line in [&address.line1, &address.line2] {
        if !line.is_empty() {
            lines.push(line.clone());
        }
    }
    let city = format!("{} {}", address.postal_code, address.city)
        .trim()
        .to_owned();
    if !city.is_empty() {
        lines.push(city);
    }
    if !address.country.is_empty() {
        lines.push(address.country.clone());
    }
    lines
}

fn discount_text(percent: Decimal, amount: Decimal) -> String {
    let mut parts = Vec::new();
    if !percent.is_zero() {
        parts.push(format!("{} %", percent.normalize()));
    }
    if !amount.is_zero() {
        parts.push(format!("−{}", crate::kernel::money::display(amount)));
    }
    parts.join(" ")
}

fn period(line: Option<crate::carts::model::RentalPeriod>) -> Option<String> {
    line.map(|p| format!("Rental: {} → {}", date(p.start), date(p.end)))
}

/// The customer as a document prints them: the customer's name and VAT ID, the order's billing
/// address, its contact.
fn order_customer(order: &Order, customer: Option<&Customer>) -> Party {
    let name = customer.map_or_else(
        || {
            if order.billing_address.name.is_empty() {
                order.contact.name.clone()
            } else {
                order.billing_address.name.clone()
            }
        },
        |c| c.name.clone(),
    );
    let mut contact = vec![format!("{} ({})", order.contact.name, order.customer_code)];
    contact.extend(order.contact.email.clone());
    contact.extend(order.contact.phone.clone());
    Party {
        name,
        address: address_lines(&order.billing_address),
        vat_id: customer.and_then(|c| c.vat_id.clone()).unwrap_or_default(),
        contact,
    }
}

/// An order as one of its documents: confirmation, purchase order, pro-forma, invoice (the
/// snapshot issued), or work sheet (no prices; production instructions per line).
pub fn order_document(
    kind: DocumentKind,
    number: &str,
    issued_at: DateTime<Utc>,
    order: &Order,
    lines: &[OrderLine],
    customer: Option<&Customer>,
    seller: &Seller,
) -> DocumentModel {
    let priced = kind != DocumentKind::WorkSheet;
    let mut facts = Vec::new();
    if number != order.number {
        facts.push(("Order".to_owned(), order.number.clone()));
    }
    facts.push(("Order date".to_owned(), date(order.created_at)));
    if !order.customer_reference.is_empty() {
        facts.push((
            "Your reference".to_owned(),
            order.customer_reference.clone(),
        ));
    }
    if let Some(delivery) = order.delivery_date {
        facts.push(("Delivery".to_owned(), day(delivery)));
    }
    if kind == DocumentKind::WorkSheet {
        facts.push(("Status".to_owned(), order.status.as_str().to_owned()));
    }
    let document_lines = lines.iter().map(|l| order_line(l, priced)).collect();
    let totals = priced.then(|| {
        let computed = crate::orders::model::totals(lines, order.adjustments);
        let mut totals = DocumentTotals::from_totals(&computed, order.adjustments.discount_percent);
        if matches!(kind, DocumentKind::Invoice | DocumentKind::ProForma) {
            totals.paid = Some(order.paid);
            totals.balance_due = Some(computed.total - order.paid);
        }
        totals
    });
    let mut terms = Vec::new();
    if priced {
        if !seller.payment_terms.is_empty() {
            terms.push(format!("Payment terms: {}", seller.payment_terms));
        }
        if !order.payment_method.is_empty() {
            terms.push(format!("Payment method: {}", order.payment_method));
        }
    }
    if !order.delivery_method.is_empty() {
        terms.push(format!("Delivery method: {}", order.delivery_method));
    }
    match kind {
        DocumentKind::PurchaseOrder => {
            terms.push("Good for agreement — date, name and signature of the customer:".to_owned());
        }
        DocumentKind::ProForma => {
            terms.push("Pro-forma: not an invoice; no VAT may be deducted from it.".to_owned());
        }
        _ => {}
    }
    let mut notes = Vec::new();
    if !order.title.is_empty() {
        notes.push(format!("Job: {}", order.title));
    }
    if !order.note.is_empty() {
        notes.push(format!("Note: {}", order.note));
    }
    let delivery = (order.delivery_address != order.billing_address
        && !order.delivery_address.line1.is_empty())
    .then(|| Party {
        name: order.delivery_address.name.clone(),
        address: address_lines(&order.delivery_address),
        vat_id: String::new(),
        contact: Vec::new(),
    });
    DocumentModel {
        kind,
        number: number.to_owned(),
        issued_at,
        facts,
        seller: seller.party(),
        logo: seller.logo.clone(),
        issued_logo: None,
        customer_label: if matches!(kind, DocumentKind::Invoice | DocumentKind::ProForma) {
            "Bill to".to_owned()
        } else {
            "Customer".to_owned()
        },
        customer: order_customer(order, customer),
        delivery,
        lines: document_lines,
        totals,
        currency: seller.currency.clone(),
        terms,
        notes,
    }
}

/// One order line as printed: with prices, or (work sheets) with production details.
fn order_line(line: &OrderLine, priced: bool) -> DocumentLine {
    let mut details = options(&line.configuration);
    details.extend(period(line.rental_period));
    if let (false, Some(delivery)) = (priced, line.delivery_date) {
        details.push(format!("Delivery: {}", day(delivery)));
    }
    if !priced {
        if !line.instructions.is_empty() {
            details.push(format!("Instructions: {}", line.instructions));
        }
        if line.on_hold {
            details.push("ON HOLD".to_owned());
        }
    }
    DocumentLine {
        reference: line.reference.clone(),
        description: line.name.clone(),
        details,
        quantity: Some(line.quantity),
        unit_price: priced.then_some(line.amount.unit_price),
        discount: if priced {
            discount_text(line.discount_percent, line.discount_amount)
        } else {
            String::new()
        },
        vat_rate: priced.then_some(line.vat_rate),
        total: priced.then_some(line.amount.total),
    }
}

/// A quote as sent: its lines (comment lines as text), totals, validity.
pub fn quote_document(
    quote: &Quote,
    lines: &[QuoteLine],
    customer: Option<&Customer>,
    seller: &Seller,
    issued_at: DateTime<Utc>,
) -> DocumentModel {
    let mut facts = Vec::new();
    if let Some(valid_until) = quote.valid_until {
        facts.push(("Valid until".to_owned(), date(valid_until)));
    }
    if quote.revision > 1 {
        facts.push(("Revision".to_owned(), quote.revision.to_string()));
    }
    let document_lines = lines
        .iter()
        .map(|line| {
            if line.kind == LineKind::Comment {
                return DocumentLine {
                    description: line.comment.clone(),
                    ..DocumentLine::default()
                };
            }
            let mut details = options(&line.configuration);
            details.extend(period(line.rental_period));
            if !line.comment.is_empty() {
                details.push(line.comment.clone());
            }
            DocumentLine {
                reference: line.reference.clone(),
                description: line.name.clone(),
                details,
                quantity: Some(line.quantity),
                unit_price: Some(line.amount.unit_price),
                discount: discount_text(line.discount_percent, line.discount_amount),
                vat_rate: Some(line.vat_rate),
                total: Some(line.amount.total),
            }
        })
        .collect();
    let computed = quote_totals(lines, quote.adjustments);
    let mut contact = Vec::new();
    if !quote.contact.name.is_empty() {
        contact.push(quote.contact.name.clone());
    }
    contact.extend(quote.contact.email.clone());
    contact.extend(quote.contact.phone.clone());
    let name = customer.map_or_else(
        || {
            if quote.contact.company.is_empty() {
                quote.contact.name.clone()
            } else {
                quote.contact.company.clone()
            }
        },
        |c| c.name.clone(),
    );
    let mut terms = Vec::new();
    if !seller.payment_terms.is_empty() {
        terms.push(format!("Payment terms: {}", seller.payment_terms));
    }
    if !quote.payment_method.is_empty() {
        terms.push(format!("Payment method: {}", quote.payment_method));
    }
    if !quote.shipping_method.is_empty() {
        terms.push(format!("Delivery method: {}", quote.shipping_method));
    }
    let mut notes = Vec::new();
    if !quote.customer_comment.is_empty() {
        notes.push(quote.customer_comment.clone());
    }
    DocumentModel {
        kind: DocumentKind::Quote,
        number: quote.number.clone(),
        issued_at: quote.sent_at.unwrap_or(issued_at),
        facts,
        seller: seller.party(),
        logo: seller.logo.clone(),
        issued_logo: None,
        customer_label: "Customer".to_owned(),
        customer: Party {
            name,
            address: quote
                .delivery_address
                .as_ref()
                .map(address_lines)
                .unwrap_or_default(),
            vat_id: customer.and_then(|c| c.vat_id.clone()).unwrap_or_default(),
            contact,
        },
        delivery: None,
        lines: document_lines,
        totals: Some(DocumentTotals::from_totals(
            &computed,
            quote.adjustments.discount_percent,
        )),
        currency: seller.currency.clone(),
        terms,
        notes,
    }
}

/// A rental project as its confirmation: every item with its period, the totals the project
/// computes, its status (a `NEW` project is a request the rental desk has not confirmed yet).
pub fn rental_document(
    project: &crate::rental::model::Project,
    items: &[crate::rental::model::Item],
    customer: Option<&Customer>,
    seller: &Seller,
    issued_at: DateTime<Utc>,
) -> DocumentModel {
    use crate::rental::model::ProjectStatus;
    let facts = vec![
        ("Status".to_owned(), project.status.as_str().to_owned()),
        (
            "Period".to_owned(),
            format!(
                "{} → {}",
                date(project.period_start),
                date(project.period_end)
            ),
        ),
        ("Placed on".to_owned(), date(project.created_at)),
    ];
    let lines = items
        .iter()
        .map(|item| DocumentLine {
            reference: item.reference.clone(),
            description: item.name.clone(),
            details: vec![format!(
                "Rental: {} → {} ({} days at {} a day)",
                item.period.start.format("%Y-%m-%d %H:%M"),
                item.period.end.format("%Y-%m-%d %H:%M"),
                item.period.days(),
                crate::kernel::money::display(item.daily_price)
            )],
            quantity: Some(item.quantity),
            unit_price: Some(item.amount.unit_price),
            discount: String::new(),
            vat_rate: Some(item.amount.vat_rate),
            total: Some(item.amount.total),
        })
        .collect();
    let computed = crate::rental::model::totals(items);
    let mut contact = vec![project.contact.name.clone()];
    contact.extend(project.contact.email.clone());
    contact.extend(project.contact.phone.clone());
    let mut terms = Vec::new();
    if project.status == ProjectStatus::New {
        terms.push(
            "This rental is a request: the equipment is reserved once the rental desk confirms it."
                .to_owned(),
        );
    }
    if !seller.payment_terms.is_empty() {
        terms.push(format!("Payment terms: {}", seller.payment_terms));
    }
    let notes = [&project.customer_note, &project.manager_note]
        .into_iter()
        .filter(|n| !n.is_empty())
        .cloned()
        .collect();
    DocumentModel {
        kind: DocumentKind::RentalConfirmation,
        number: project.number.clone(),
        issued_at: project.started_at.unwrap_or(issued_at),
        facts,
        seller: seller.party(),
        logo: seller.logo.clone(),
        issued_logo: None,
        customer_label: "Customer".to_owned(),
        customer: Party {
            name: customer.map_or_else(
                || {
                    if project.contact.company.is_empty() {
                        project.contact.name.clone()
                    } else {
                        project.contact.company.clone()
                    }
                },
                |c| c.name.clone(),
            ),
            address: Vec::new(),
            vat_id: customer.and_then(|c| c.vat_id.clone()).unwrap_or_default(),
            contact,
        },
        delivery: None,
        lines,
        totals: Some(DocumentTotals::from_totals(&computed, Decimal::ZERO)),
        currency: seller.currency.clone(),
        terms,
        notes,
    }
}

/// The credit note of an invoice: the same lines and amounts, negated, and why.
pub fn credit_note(
    invoice: &DocumentModel,
    number: &str,
    issued_at: DateTime<Utc>,
    reason: &str,
) -> DocumentModel {
    let mut facts = vec![("Credits invoice".to_owned(), invoice.number.clone())];
    facts.extend(
        invoice
            .facts
            .iter()
            .filter(|(label, _)| label == "Order")
            .cloned(),
    );
    DocumentModel {
        kind: DocumentKind::CreditNote,
        number: number.to_owned(),
        issued_at,
        facts,
        lines: invoice
            .lines
            .iter()
            .map(|line| DocumentLine {
                total: line.total.map(|t| -t),
                ..line.clone()
            })
            .collect(),
        totals: invoice.totals.as_ref().map(DocumentTotals::negated),
        terms: Vec::new(),
        notes: if reason.is_empty() {
            Vec::new()
        } else {
            vec![format!("Reason: {reason}")]
        },
        ..invoice.clone()
    }
}
