//! The document model: what any printed document shows (header, parties, lines, totals, terms),
//! as plain data. Builders fill it from quotes, orders and invoices; the renderer draws it. A new
//! kind of document (the rental project confirmation) is one function that fills this model.
//! Pure: no database, no GraphQL, no PDF.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{kernel::string_enum, pricing::Totals};

string_enum!(DocumentKind {
    Quote => "quote",
    OrderConfirmation => "order-confirmation",
    PurchaseOrder => "purchase-order",
    ProForma => "pro-forma",
    Invoice => "invoice",
    CreditNote => "credit-note",
    WorkSheet => "work-sheet",
    RentalConfirmation => "rental-confirmation",
});

impl DocumentKind {
    /// The title printed at the top.
    pub fn title(self) -> &'static str {
        match self {
            Self::Quote => "Quote",
            Self::OrderConfirmation => "Order confirmation",
            Self::PurchaseOrder => "Purchase order",
            Self::ProForma => "Pro-forma invoice",
            Self::Invoice => "Invoice",
            Self::CreditNote => "Credit note",
            Self::WorkSheet => "Work sheet",
            Self::RentalConfirmation => "Rental confirmation",
        }
    }
}

impl Serialize for DocumentKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DocumentKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("unknown document kind"))
    }
}

/// Who a document is from or for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub name: String,
    /// Postal address, one line per entry.
    pub address: Vec<String>,
    pub vat_id: String,
    /// Contact person, email, phone: one line each.
    pub contact: Vec<String>,
}

/// One line of a document. `None` money fields print nothing (comment lines, work sheets).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentLine {
    pub reference: String,
    pub description: String,
    /// Options, rental period, production instructions: printed small under the description.
    pub details: Vec<String>,
    pub quantity: Option<i32>,
    pub unit_price: Option<Decimal>,
    /// "10 %", "−5.00": as the discount was given.
    pub discount: String,
    pub vat_rate: Option<Decimal>,
    pub total: Option<Decimal>,
}

/// VAT at one rate, as printed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VatAmount {
    pub rate: Decimal,
    pub base: Decimal,
    pub amount: Decimal,
}

/// The money of a document, exactly as the API computed it (`pricing::Totals`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentTotals {
    pub lines_total: Decimal,
    pub discount_percent: Decimal,
    pub discount: Decimal,
    pub shipping: Decimal,
    pub subtotal: Decimal,
    pub vat: Vec<VatAmount>,
    pub vat_total: Decimal,
    pub total: Decimal,
    /// Already paid, and what is left (orders and invoices).
    pub paid: Option<Decimal>,
    pub balance_due: Option<Decimal>,
}

impl DocumentTotals {
    pub fn from_totals(totals: &Totals, discount_percent: Decimal) -> Self {
        Self {
            lines_total: totals.lines_total,
            discount_percent: discount_percent.normalize(),
            discount: totals.discount,
            shipping: totals.shipping,
            subtotal: totals.subtotal,
            vat: totals
                .vat
                .iter()
                .map(|v| VatAmount {
                    rate: v.rate.normalize(),
                    base: v.base,
                    amount: v.amount,
                })
                .collect(),
            vat_total: totals.vat_total,
            total: totals.total,
            paid: None,
            balance_due: None,
        }
    }

    /// The same amounts with the opposite sign (a credit note cancels its invoice).
    #[must_use]
    pub fn negated(&self) -> Self {
        let neg = |d: Decimal| -d;
        Self {
            lines_total: neg(self.lines_total),
            discount_percent: self.discount_percent,
            discount: neg(self.discount),
            shipping: neg(self.shipping),
            subtotal: neg(self.subtotal),
            vat: self
                .vat
                .iter()
                .map(|v| VatAmount {
                    rate: v.rate,
                    base: neg(v.base),
                    amount: neg(v.amount),
                })
                .collect(),
            vat_total: neg(self.vat_total),
            total: neg(self.total),
            paid: None,
            balance_due: None,
        }
    }
}

/// A document, ready to print.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentModel {
    pub kind: DocumentKind,
    pub number: String,
    pub issued_at: DateTime<Utc>,
    /// Other dates and references: ("Valid until", "2026-12-30"), ("Order", "ORD-000042").
    pub facts: Vec<(String, String)>,
    pub seller: Party,
    /// The seller's logo (PNG or JPEG), when set.
    #[serde(skip)]
    pub logo: Option<Logo>,
    /// Issued documents (invoices, credit notes): the logo they were issued with, kept by
    /// [`crate::documents::invoices`]. `None` in documents built on demand, and in those issued
    /// before logos were kept (they print the seller's current logo).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_logo: Option<IssuedLogo>,
    /// "Customer", "Bill to"…
    pub customer_label: String,
    pub customer: Party,
    /// A second address block (delivery), when it differs.
    pub delivery: Option<Party>,
    pub lines: Vec<DocumentLine>,
    /// `None`: no prices at all (work sheets).
    pub totals: Option<DocumentTotals>,
    pub currency: String,
    /// Payment terms, payment and delivery methods, validity: one paragraph each.
    pub terms: Vec<String>,
    /// Free text printed last (the customer's note, a credit note's reason).
    pub notes: Vec<String>,
}

/// The logo a document was issued with: the SHA-256 of its content, or `None` when the seller
/// had none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedLogo {
    pub sha256: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logo {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A date as documents print it.
pub fn date(value: DateTime<Utc>) -> String {
    value.format("%Y-%m-%d").to_string()
}

pub fn day(value: NaiveDate) -> String {
    value.format("%Y-%m-%d").to_string()
}

/// Address lines of a multi-line text (the seller's address as typed).
pub fn lines_of(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

impl DocumentKind {
    /// The file name a download suggests (`INV-2026-000001.pdf`).
    pub fn filename(self, number: &str) -> String {
        let safe: String = number
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        match self {
            Self::WorkSheet => format!("{safe}-work-sheet.pdf"),
            Self::PurchaseOrder => format!("{safe}-purchase-order.pdf"),
            Self::ProForma => format!("{safe}-pro-forma.pdf"),
            Self::OrderConfirmation | Self::RentalConfirmation => {
                format!("{safe}-confirmation.pdf")
            }
            _ => format!("{safe}.pdf"),
        }
    }
}
