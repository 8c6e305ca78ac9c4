use async_graphql::{Context, ID, Object, Result};

use super::types::{CustomerFilterInput, CustomerObject};
use crate::{
    customers::service,
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
pub struct CustomersQuery;

#[Object]
impl CustomersQuery {
    /// The customer the caller buys for; null when they belong to none.
    async fn my_customer(&self, ctx: &Context<'_>) -> Result<Option<CustomerObject>> {
        Ok(service::my_customer(state(ctx), principal(ctx))
            .await?
            .map(CustomerObject))
    }

    /// Staff: customers by name.
    #[graphql(complexity = "crate::graphql::relay::page_complexity(first, child_complexity)")]
    async fn customers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<CustomerFilterInput>,
    ) -> Result<RelayConnection<CustomerObject>> {
        let page = PageRequest::parse(first, after)?;
        let filter = filter.unwrap_or_default();
        let filter = service::CustomerListFilter {
            search: filter.search,
            blocked: filter.blocked,
            source: filter.source.map(Into::into),
            kind: filter.kind.map(Into::into),
            sales_rep_id: filter
                .sales_rep_id
                .map(|id| ids::decode(Kind::User, &id, "salesRepId"))
                .transpose()?,
        };
        let page = service::customers(state(ctx), principal(ctx), filter, page).await?;
        Ok(connection(page, service::cursor, CustomerObject))
    }

    /// A customer by ID: staff see any, users only their own (`NOT_FOUND` otherwise).
    async fn customer(&self, ctx: &Context<'_>, id: ID) -> Result<CustomerObject> {
        let id = ids::decode(Kind::Customer, &id, "id")?;
        let state = state(ctx);
        Ok(CustomerObject(
            service::find_for(state.db.read(), principal(ctx), id).await?,
        ))
    }
}
