use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, NaiveDate, Utc};

use super::types::{
    AvailabilityCalendar, AvailabilityDay, RentalAvailabilityObject, RentalProjectFilterInput,
    RentalProjectObject, RentalProjectSortInput,
};
use crate::{
    catalog::graphql::types::ProductObject,
    graphql::{
        context::{principal, state},
        relay::{RelayConnection, connection},
    },
    kernel::{
        ids::{self, Kind},
        pagination::PageRequest,
    },
    rental::{
        queries,
        service::{self, ListQuery},
        store::ProjectFilter,
    },
};

#[derive(Default)]
pub struct RentalQuery;

#[Object]
impl RentalQuery {
    /// Units each rental product can still take over `[from, to)`: what it owns minus the peak
    /// in use by projects in work or handed out (drafts never count), preparation buffers
    /// included. Everyone may ask about the storefront's products.
    async fn rental_availability(
        &self,
        ctx: &Context<'_>,
        product_ids: Vec<ID>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<RentalAvailabilityObject>> {
        let ids = product_ids
            .iter()
            .enumerate()
            .map(|(i, id)| ids::decode(Kind::Product, id, &format!("productIds.{i}")))
            .collect::<Result<Vec<_>, _>>()?;
        let rows = queries::availability(state(ctx), principal(ctx), &ids, from, to).await?;
        Ok(rows.into_iter().map(RentalAvailabilityObject).collect())
    }

    /// Units a rental product can still take each day (UTC) from `from` to `to`, both
    /// included: a storefront calendar (at most a year).
    async fn availability_calendar(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<AvailabilityCalendar> {
        let id = ids::decode(Kind::Product, &product_id, "productId")?;
        let (product, days) = queries::calendar(state(ctx), principal(ctx), id, from, to).await?;
        Ok(AvailabilityCalendar {
            product: ProductObject(product),
            days: days
                .into_iter()
                .map(|(date, available_quantity)| AvailabilityDay {
                    date,
                    available_quantity,
                })
                .collect(),
        })
    }

    /// A project the caller may see: staff any, a customer's users their own. `NOT_FOUND`
    /// otherwise.
    async fn rental_project(&self, ctx: &Context<'_>, id: ID) -> Result<RentalProjectObject> {
        let id = ids::decode(Kind::RentalProject, &id, "id")?;
        Ok(RentalProjectObject(
            service::project(state(ctx), principal(ctx), id).await?,
        ))
    }

    /// Staff: rental projects, newest first by default.
    #[graphql(complexity = "crate::graphql::relay::page_complexity(first, child_complexity)")]
    async fn rental_projects(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<RentalProjectFilterInput>,
        sort: Option<RentalProjectSortInput>,
    ) -> Result<RelayConnection<RentalProjectObject>> {
        let page = PageRequest::parse(first, after)?;
        let filter = filter.unwrap_or_default();
        let query = ListQuery {
            filter: ProjectFilter {
                statuses: filter
                    .statuses
                    .unwrap_or_default()
                    .into_iter()
                    .map(Into::into)
                    .collect(),
                source: filter.source.map(Into::into),
                customer_id: filter
                    .customer_id
                    .map(|id| ids::decode(Kind::Customer, &id, "filter.customerId"))
                    .transpose()?,
                period_from: filter.period_from,
                period_to: filter.period_to,
                short: filter.short,
                late_at: None,
                search: filter.search.filter(|s| !s.trim().is_empty()),
            },
            late: filter.late,
            sort: sort.as_ref().map(|s| s.field.into()),
            ascending: sort.and_then(|s| s.descending).map(|d| !d),
        };
        let page = service::projects(state(ctx), principal(ctx), query, page).await?;
        Ok(connection(
            page,
            |(key, _)| key.clone(),
            |(_, p)| RentalProjectObject(p),
        ))
    }

    /// The caller's customer's rental projects, newest first.
    #[graphql(complexity = "crate::graphql::relay::page_complexity(first, child_complexity)")]
    async fn my_rental_projects(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        statuses: Option<Vec<super::types::ProjectStatusGql>>,
    ) -> Result<RelayConnection<RentalProjectObject>> {
        let page = PageRequest::parse(first, after)?;
        let statuses = statuses
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect();
        let page = service::my_projects(state(ctx), principal(ctx), statuses, page).await?;
        Ok(connection(
            page,
            |(key, _)| key.clone(),
            |(_, p)| RentalProjectObject(p),
        ))
    }
}
