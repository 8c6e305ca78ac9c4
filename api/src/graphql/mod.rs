//! The GraphQL schema: per-context roots merged here, limits, request context accessors and
//! Relay connection helpers.

pub mod context;
pub mod documents;
mod error_codes;
pub mod limits;
pub mod loaders;
pub mod money;
pub mod relay;
pub mod response_cache;

use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};

use crate::{
    auth::graphql::{AuthMutation, AuthQuery, AuthSubscription},
    carts::graphql::{CartsMutation, CartsQuery},
    catalog::graphql::{CatalogMutation, CatalogQuery},
    config::Config,
    customers::graphql::{CustomersMutation, CustomersQuery},
    documents::graphql::{DocumentsMutation, DocumentsQuery},
    events::graphql::EventsQuery,
    notifications::graphql::{NotificationsMutation, NotificationsQuery},
    orders::graphql::{OrdersMutation, OrdersQuery, OrdersSubscription},
    production::graphql::{ProductionMutation, ProductionQuery},
    quotes::graphql::{QuotesMutation, QuotesQuery, QuotesSubscription},
    rental::graphql::{RentalMutation, RentalQuery, RentalSubscription},
    search::graphql::SearchQuery,
    state::AppState,
};

#[derive(MergedObject, Default)]
pub struct QueryRoot(
    AuthQuery,
    CatalogQuery,
    CustomersQuery,
    CartsQuery,
    OrdersQuery,
    QuotesQuery,
    RentalQuery,
    SearchQuery,
    NotificationsQuery,
    EventsQuery,
    DocumentsQuery,
    ProductionQuery,
);

#[derive(MergedObject, Default)]
pub struct MutationRoot(
    AuthMutation,
    CatalogMutation,
    CustomersMutation,
    CartsMutation,
    OrdersMutation,
    QuotesMutation,
    RentalMutation,
    NotificationsMutation,
    DocumentsMutation,
    ProductionMutation,
);

#[derive(MergedSubscription, Default)]
pub struct SubscriptionRoot(
    AuthSubscription,
    OrdersSubscription,
    QuotesSubscription,
    RentalSubscription,
);

pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

pub(crate) fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
}

/// The schema the server executes, with the configured limits and the shared state.
pub fn schema(state: AppState) -> AppSchema {
    let config: &Config = &state.config;
    builder()
        .limit_depth(config.max_query_depth)
        .limit_complexity(config.max_query_complexity)
        .limit_recursive_depth(64)
        .limit_directives(16)
        .extension(error_codes::Rules {
            max_aliases: config.max_aliases,
        })
        .data(state)
        .finish()
}

/// The SDL, built without state or database.
pub fn sdl() -> String {
    builder().finish().sdl()
}
