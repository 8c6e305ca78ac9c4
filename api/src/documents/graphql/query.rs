use async_graphql::{Context, ID, Object, Result};

use super::types::{InvoiceObject, SellerProfileObject};
use crate::{
    documents::{invoices, seller},
    graphql::{
        context::{principal, state},
        relay::{RelayConnection, connection},
    },
    kernel::{
        ids::{self, Kind},
        pagination::PageRequest,
    },
};

#[derive(Default)]
pub struct DocumentsQuery;

#[Object]
impl DocumentsQuery {
    /// Staff: the seller's identity printed on documents.
    async fn seller_profile(&self, ctx: &Context<'_>) -> Result<SellerProfileObject> {
        principal(ctx).require_staff()?;
        Ok(SellerProfileObject(
            seller::get(state(ctx).db.read()).await?,
        ))
    }

    /// An invoice or credit note: staff any, customers those of their orders.
    async fn invoice(&self, ctx: &Context<'_>, id: ID) -> Result<InvoiceObject> {
        let id = ids::decode(Kind::Invoice, &id, "id")?;
        Ok(InvoiceObject(
            invoices::find_for(state(ctx).db.read(), principal(ctx), id, "id").await?,
        ))
    }

    /// Invoices and credit notes, newest first: staff every one (or a customer's, or an
    /// order's); customers their own.
    #[graphql(complexity = "crate::graphql::relay::page_complexity(first, child_complexity)")]
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        customer_id: Option<ID>,
        order_id: Option<ID>,
    ) -> Result<RelayConnection<InvoiceObject>> {
        let page = PageRequest::parse(first, after)?;
        let customer_id = customer_id
            .map(|id| ids::decode(Kind::Customer, &id, "customerId"))
            .transpose()?;
        let order_id = order_id
            .map(|id| ids::decode(Kind::Order, &id, "orderId"))
            .transpose()?;
        let page = invoices::list(state(ctx), principal(ctx), customer_id, order_id, page).await?;
        Ok(connection(page, |i| i.id.to_string(), InvoiceObject))
    }
}
