use async_graphql::{Context, Enum, ID, Object, Result};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    documents::{model::DocumentKind, service, store::Invoice},
    graphql::{
        context::{principal, state},
        loaders::{InvoicesOfOrder, OrderLoader, load_error, loader},
        money::Money,
    },
    kernel::ids::{self, Kind},
    orders::graphql::types::OrderObject,
};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "InvoiceKind")]
pub enum InvoiceKindGql {
    Invoice,
    /// Cancels an invoice: the same amounts, negated.
    CreditNote,
}

/// The documents an order prints.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "OrderDocumentKind")]
pub enum OrderDocumentKindGql {
    OrderConfirmation,
    PurchaseOrder,
    ProFormaInvoice,
    /// Staff only: production instructions per line, no prices.
    WorkSheet,
}

impl From<OrderDocumentKindGql> for DocumentKind {
    fn from(kind: OrderDocumentKindGql) -> Self {
        match kind {
            OrderDocumentKindGql::OrderConfirmation => Self::OrderConfirmation,
            OrderDocumentKindGql::PurchaseOrder => Self::PurchaseOrder,
            OrderDocumentKindGql::ProFormaInvoice => Self::ProForma,
            OrderDocumentKindGql::WorkSheet => Self::WorkSheet,
        }
    }
}

/// An issued invoice or credit note: immutable; its PDF prints what was issued.
pub struct InvoiceObject(pub Invoice);

#[Object(name = "Invoice")]
impl InvoiceObject {
    async fn id(&self) -> ID {
        ID(ids::encode(Kind::Invoice, self.0.id))
    }
    /// `INV-2026-000001` (credit notes: `CN-2026-000001`), gapless per year.
    async fn number(&self) -> &str {
        &self.0.number
    }
    async fn kind(&self) -> InvoiceKindGql {
        if self.0.kind == DocumentKind::CreditNote {
            InvoiceKindGql::CreditNote
        } else {
            InvoiceKindGql::Invoice
        }
    }
    async fn order_id(&self) -> ID {
        ID(ids::encode(Kind::Order, self.0.order_id))
    }
    /// The order invoiced (null if the caller may no longer see it).
    async fn order(&self, ctx: &Context<'_>) -> Result<Option<OrderObject>> {
        Ok(loader::<OrderLoader>(ctx)?
            .load_one(self.0.order_id)
            .await
            .map_err(|e| load_error(&e))?
            .map(OrderObject))
    }
    /// Total including VAT (negative for a credit note).
    async fn total(&self) -> Money {
        Money(self.0.total)
    }
    /// An invoice no credit note has cancelled.
    async fn standing(&self) -> bool {
        self.0.standing
    }
    /// Credit notes: the invoice it cancels.
    async fn credited_invoice_id(&self) -> Option<ID> {
        self.0
            .credited_invoice_id
            .map(|id| ID(ids::encode(Kind::Invoice, id)))
    }
    /// Credit notes: why.
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    async fn issued_at(&self) -> DateTime<Utc> {
        self.0.issued_at
    }
    /// A short-lived signed URL of the PDF (`COMPTOIR_SIGNED_URL_TTL`), opened without headers.
    #[allow(clippy::unused_async)] // async-graphql resolvers are async
    async fn pdf_url(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(service::signed_url(
            state(ctx),
            principal(ctx),
            self.0.kind,
            self.0.id,
        )?)
    }
}

/// `Order.invoices`: its invoices and credit notes, oldest first.
pub async fn invoices_of(ctx: &Context<'_>, order_id: Uuid) -> Result<Vec<InvoiceObject>> {
    Ok(loader::<InvoicesOfOrder>(ctx)?
        .load_one(order_id)
        .await
        .map_err(|e| load_error(&e))?
        .unwrap_or_default()
        .into_iter()
        .map(InvoiceObject)
        .collect())
}

/// `Order.transferredToInvoice`: the order has a standing invoice.
pub async fn invoiced(ctx: &Context<'_>, order_id: Uuid) -> Result<bool> {
    Ok(loader::<InvoicesOfOrder>(ctx)?
        .load_one(order_id)
        .await
        .map_err(|e| load_error(&e))?
        .is_some_and(|invoices| invoices.iter().any(|i| i.standing)))
}

/// `Order.documentUrl` and `Quote.pdfUrl`.
pub fn url(ctx: &Context<'_>, kind: DocumentKind, id: Uuid) -> Result<String> {
    Ok(service::signed_url(state(ctx), principal(ctx), kind, id)?)
}

/// The seller's identity printed on documents.
pub struct SellerProfileObject(pub crate::documents::seller::Seller);

#[Object(name = "SellerProfile")]
impl SellerProfileObject {
    /// The store's name (from the store settings).
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Postal address, one line per line.
    async fn address(&self) -> &str {
        &self.0.address
    }
    async fn vat_id(&self) -> &str {
        &self.0.vat_id
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    /// Printed on quotes and invoices (`30 days net`).
    async fn payment_terms(&self) -> &str {
        &self.0.payment_terms
    }
    async fn has_logo(&self) -> bool {
        self.0.logo.is_some()
    }
    /// The store settings' version: `updateSellerProfile` takes it.
    async fn version(&self) -> i32 {
        self.0.version
    }
}
