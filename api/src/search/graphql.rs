use async_graphql::{Context, Object, Result, Union};

use crate::{
    catalog::graphql::types::ProductObject,
    customers::graphql::types::CustomerObject,
    graphql::context::{principal, state},
    orders::graphql::types::OrderObject,
    quotes::graphql::types::QuoteObject,
};

/// One hit of the global search.
// Hits live for one response; boxing would not save anything worth the noise.
#[allow(clippy::large_enum_variant)]
#[derive(Union)]
pub enum SearchHit {
    Order(OrderObject),
    Quote(QuoteObject),
    Customer(CustomerObject),
    Product(ProductObject),
}

#[derive(Default)]
pub struct SearchQuery;

#[Object]
impl SearchQuery {
    /// Staff: searches orders (number, title, references, products), quotes (number, contact,
    /// company, products), customers (name, code, contact emails) and products (reference, name,
    /// description) in one call, in that order; at most `perKind` (1–20) of each.
    #[graphql(complexity = "4 * (per_kind.clamp(1, 20) as usize) * child_complexity")]
    async fn search(
        &self,
        ctx: &Context<'_>,
        text: String,
        #[graphql(default = 5)] per_kind: i32,
    ) -> Result<Vec<SearchHit>> {
        let per_kind = u64::from(per_kind.clamp(1, 20).unsigned_abs());
        let results = super::search(state(ctx), principal(ctx), &text, per_kind).await?;
        Ok(results
            .orders
            .into_iter()
            .map(|o| SearchHit::Order(OrderObject(o)))
            .chain(
                results
                    .quotes
                    .into_iter()
                    .map(|q| SearchHit::Quote(QuoteObject(q))),
            )
            .chain(
                results
                    .customers
                    .into_iter()
                    .map(|c| SearchHit::Customer(CustomerObject(c))),
            )
            .chain(
                results
                    .products
                    .into_iter()
                    .map(|p| SearchHit::Product(ProductObject(p))),
            )
            .collect())
    }
}
