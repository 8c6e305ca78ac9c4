use async_graphql::{Context, ID, Object, Result};

use super::types::{
    ConfigurationPrice, ProductFilterInput, ProductObject, ProductSortGql, SelectionInput,
    StoreSettingsObject, prefetch, raw_selections,
};
use crate::{
    catalog::{model, service},
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
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// Products: the public sees active, visible ones; staff see all (filter `active`).
    #[graphql(complexity = "crate::graphql::relay::page_complexity(first, child_complexity)")]
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ProductFilterInput>,
        sort: Option<ProductSortGql>,
    ) -> Result<RelayConnection<ProductObject>> {
        let page = PageRequest::parse(first, after)?;
        let filter = filter.unwrap_or_default();
        let query = service::ProductQuery {
            kind: filter.kind.map(Into::into),
            search: filter.search,
            in_stock: filter.in_stock,
            min_price: filter.min_price,
            max_price: filter.max_price,
            active: filter.active,
        };
        let sort = sort.unwrap_or(ProductSortGql::NameAsc).into();
        let page = service::products(state(ctx), principal(ctx), query, sort, page).await?;
        prefetch(ctx, &page.items).await?;
        Ok(connection(
            page,
            |p| service::cursor(sort, p),
            ProductObject,
        ))
    }

    /// One product by `id` or by `reference`; null when missing or not visible to the caller.
    async fn product(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        reference: Option<String>,
    ) -> Result<Option<ProductObject>> {
        let id = id
            .map(|id| ids::decode(Kind::Product, &id, "id"))
            .transpose()?;
        let product =
            service::product(state(ctx), principal(ctx), id, reference.as_deref()).await?;
        Ok(product.map(ProductObject))
    }

    /// Validates a configuration of a product and prices it (`VALIDATION` names the option).
    async fn price_configuration(
        &self,
        ctx: &Context<'_>,
        product_id: ID,
        configuration: Vec<SelectionInput>,
    ) -> Result<ConfigurationPrice> {
        let product_id = ids::decode(Kind::Product, &product_id, "productId")?;
        let raw = raw_selections(Some(configuration));
        let state = state(ctx);
        let (configuration, unit_price) =
            service::price_configuration(state, principal(ctx), product_id, &raw).await?;
        let options = service::options_of(state.db.read(), &[product_id]).await?;
        Ok(ConfigurationPrice {
            unit_price,
            selections: model::describe(&configuration, &options),
        })
    }

    /// The store's name and currency.
    async fn store_settings(&self, ctx: &Context<'_>) -> Result<StoreSettingsObject> {
        let state = state(ctx);
        Ok(StoreSettingsObject(
            state.settings.get(state.db.read()).await?,
        ))
    }
}
