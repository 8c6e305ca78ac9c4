use async_graphql::{Context, ID, InputObject, Object, Result, Upload};

use super::types::{InvoiceObject, SellerProfileObject};
use crate::{
    documents::{invoices, model::Logo, seller},
    error::AppError,
    graphql::context::{principal, state},
    kernel::ids::{self, Kind},
};

#[derive(InputObject, Default)]
pub struct SellerProfileInput {
    /// Postal address, one line per line.
    pub address: Option<String>,
    pub vat_id: Option<String>,
    /// Printed under the address; empty removes it.
    pub email: Option<String>,
    pub payment_terms: Option<String>,
    /// A PNG or JPEG (by its content) of at most 512 KiB and 4096 × 4096 pixels (multipart
    /// upload).
    pub logo: Option<Upload>,
    /// Removes the logo.
    #[graphql(default)]
    pub remove_logo: bool,
}

#[derive(Default)]
pub struct DocumentsMutation;

#[Object]
impl DocumentsMutation {
    /// ADMIN: the seller's identity printed on documents; `version` is `SellerProfile.version`.
    async fn update_seller_profile(
        &self,
        ctx: &Context<'_>,
        version: i32,
        input: SellerProfileInput,
    ) -> Result<SellerProfileObject> {
        let logo = match (input.logo, input.remove_logo) {
            (Some(upload), false) => {
                let file = crate::production::graphql::read_upload(ctx, upload, "logo").await?;
                Some(Some(Logo {
                    content_type: file.content_type.to_ascii_lowercase(),
                    bytes: file.content,
                }))
            }
            (None, true) => Some(None),
            (None, false) => None,
            (Some(_), true) => {
                return Err(AppError::validation("removeLogo", "a logo or its removal").into());
            }
        };
        let changes = seller::SellerChanges {
            address: input.address,
            vat_id: input.vat_id,
            email: input.email,
            payment_terms: input.payment_terms,
            logo,
        };
        let seller = seller::update(state(ctx), principal(ctx), version, changes).await?;
        Ok(SellerProfileObject(seller))
    }

    /// Staff: issues the invoice of a confirmed (or later) order, numbered without gaps
    /// (`INV-2026-000001`). One standing invoice per order (`CONFLICT`). While it stands, the
    /// order's lines and terms are not edited, proposed or cancelled (`INVALID_TRANSITION`).
    async fn issue_invoice(&self, ctx: &Context<'_>, order_id: ID) -> Result<InvoiceObject> {
        let order_id = ids::decode(Kind::Order, &order_id, "orderId")?;
        Ok(InvoiceObject(
            invoices::issue(state(ctx), principal(ctx), order_id).await?,
        ))
    }

    /// Staff: cancels an invoice with a credit note (`CN-2026-000001`); the order may then be
    /// edited, cancelled or invoiced again.
    async fn issue_credit_note(
        &self,
        ctx: &Context<'_>,
        invoice_id: ID,
        reason: String,
    ) -> Result<InvoiceObject> {
        let invoice_id = ids::decode(Kind::Invoice, &invoice_id, "invoiceId")?;
        Ok(InvoiceObject(
            invoices::credit(state(ctx), principal(ctx), invoice_id, &reason).await?,
        ))
    }
}
