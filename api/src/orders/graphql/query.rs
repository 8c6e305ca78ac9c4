use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::types::{OrderFilterInput, OrderObject, OrderSortInput, ScheduledCallObject};
use crate::{
    graphql::{
        context::{principal, state},
        relay::{RelayConnection, connection},
    },
    kernel::{
        ids::{self, Kind},
        pagination::PageRequest,
    },
    orders::{
        desk,
        service::{self, ListQuery},
        store::OrderFilter,
    },
};

#[derive(Default)]
pub struct OrdersQuery;

#[Object]
impl OrdersQuery {
    /// An order the caller may see: staff any (it joins their recently viewed orders), a
    /// customer's users their own. `NOT_FOUND` otherwise.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> Result<OrderObject> {
        let id = ids::decode(Kind::Order, &id, "id")?;
        Ok(OrderObject(
            service::order(state(ctx), principal(ctx), id).await?,
        ))
    }

    /// Orders whose number or customer reference is `reference`: staff across customers,
    /// customers among their own.
    async fn orders_by_reference(
        &self,
        ctx: &Context<'_>,
        reference: String,
    ) -> Result<Vec<OrderObject>> {
        let orders = service::by_reference(state(ctx), principal(ctx), &reference).await?;
        Ok(orders.into_iter().map(OrderObject).collect())
    }

    /// Staff: the order desk. Newest first by default; completed and cancelled orders only
    /// with `includeCompleted` / `includeCancelled`.
    #[graphql(complexity = "crate::graphql::relay::page_complexity(first, child_complexity)")]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<OrderFilterInput>,
        sort: Option<OrderSortInput>,
    ) -> Result<RelayConnection<OrderObject>> {
        let page = PageRequest::parse(first, after)?;
        let filter = filter.unwrap_or_default();
        let query = ListQuery {
            filter: OrderFilter {
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
                sales_rep_id: filter
                    .sales_rep_id
                    .map(|id| ids::decode(Kind::User, &id, "filter.salesRepId"))
                    .transpose()?,
                created_from: filter.created_from,
                created_to: filter.created_to,
                include_completed: filter.include_completed,
                include_cancelled: filter.include_cancelled,
                exclude_drafts: false,
                search: filter.search.filter(|s| !s.trim().is_empty()),
            },
            sort: sort.as_ref().map(|s| s.field.into()),
            ascending: sort.and_then(|s| s.descending).map(|d| !d),
        };
        let page = service::orders(state(ctx), principal(ctx), query, page).await?;
        Ok(connection(
            page,
            |(key, _)| key.clone(),
            |(_, o)| OrderObject(o),
        ))
    }

    /// The caller's customer's orders, newest first (drafts a manager is composing are not
    /// shown until proposed).
    #[graphql(complexity = "crate::graphql::relay::page_complexity(first, child_complexity)")]
    async fn my_orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default)] include_completed: bool,
        #[graphql(default)] include_cancelled: bool,
    ) -> Result<RelayConnection<OrderObject>> {
        let page = PageRequest::parse(first, after)?;
        let page = service::my_orders(
            state(ctx),
            principal(ctx),
            include_completed,
            include_cancelled,
            page,
        )
        .await?;
        Ok(connection(
            page,
            |(key, _)| key.clone(),
            |(_, o)| OrderObject(o),
        ))
    }

    /// Staff: the orders the caller opened last, most recent first.
    async fn recently_viewed_orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] limit: u32,
    ) -> Result<Vec<OrderObject>> {
        let orders = service::recently_viewed(state(ctx), principal(ctx), u64::from(limit)).await?;
        Ok(orders.into_iter().map(OrderObject).collect())
    }

    /// Staff: the caller's planned calls between `from` and `to`, soonest first.
    async fn my_agenda(
        &self,
        ctx: &Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ScheduledCallObject>> {
        let calls = desk::agenda(state(ctx), principal(ctx), from, to).await?;
        Ok(calls.into_iter().map(ScheduledCallObject).collect())
    }
}
