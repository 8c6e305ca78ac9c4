use async_graphql::{Context, ID, Object, Result};

use super::types::{QuoteFilterInput, QuoteObject, QuoteSettingsObject, QuoteSortInput};
use crate::{
    graphql::{
        context::{principal, state},
        relay::{RelayConnection, connection},
    },
    kernel::{
        ids::{self, Kind},
        pagination::PageRequest,
    },
    quotes::{
        service::{self, ListQuery},
        store::QuoteFilter,
    },
};

#[derive(Default)]
pub struct QuotesQuery;

#[Object]
impl QuotesQuery {
    /// The quote function's settings; `availableToMe` says whether the caller may use it.
    async fn quote_settings(&self, ctx: &Context<'_>) -> Result<QuoteSettingsObject> {
        Ok(QuoteSettingsObject(
            service::settings(state(ctx).db.read()).await?,
        ))
    }

    /// A quote the caller may see: staff any, customers their own (not deleted ones).
    async fn quote(&self, ctx: &Context<'_>, id: ID) -> Result<QuoteObject> {
        let id = ids::decode(Kind::Quote, &id, "id")?;
        Ok(QuoteObject(
            service::quote(state(ctx), principal(ctx), id).await?,
        ))
    }

    /// The caller's customer's quotes, the current revision of each, newest first.
    #[graphql(complexity = "crate::graphql::relay::page_complexity(first, child_complexity)")]
    async fn my_quotes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<RelayConnection<QuoteObject>> {
        let page = PageRequest::parse(first, after)?;
        let page = service::my_quotes(state(ctx), principal(ctx), page).await?;
        Ok(connection(
            page,
            |(key, _)| key.clone(),
            |(_, q)| QuoteObject(q),
        ))
    }

    /// Staff: every quote and revision, newest first by default.
    #[graphql(complexity = "crate::graphql::relay::page_complexity(first, child_complexity)")]
    async fn quotes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<QuoteFilterInput>,
        sort: Option<QuoteSortInput>,
    ) -> Result<RelayConnection<QuoteObject>> {
        let page = PageRequest::parse(first, after)?;
        let filter = filter.unwrap_or_default();
        let query = ListQuery {
            filter: QuoteFilter {
                customer_id: filter
                    .customer_id
                    .map(|id| ids::decode(Kind::Customer, &id, "filter.customerId"))
                    .transpose()?,
                statuses: filter
                    .statuses
                    .unwrap_or_default()
                    .into_iter()
                    .map(Into::into)
                    .collect(),
                negotiations: filter
                    .negotiations
                    .unwrap_or_default()
                    .into_iter()
                    .map(Into::into)
                    .collect(),
                transferred_to_order: filter.transferred_to_order,
                transferred_to_invoice: filter.transferred_to_invoice,
                sales_rep_id: filter
                    .sales_rep_id
                    .map(|id| ids::decode(Kind::User, &id, "filter.salesRepId"))
                    .transpose()?,
                created_from: filter.created_from,
                created_to: filter.created_to,
                search: filter.search,
                for_customer: false,
            },
            sort: sort.as_ref().map(|s| s.field.into()),
            ascending: sort.and_then(|s| s.descending).map(|d| !d),
        };
        let page = service::quotes(state(ctx), principal(ctx), query, page).await?;
        Ok(connection(
            page,
            |(key, _)| key.clone(),
            |(_, q)| QuoteObject(q),
        ))
    }
}
