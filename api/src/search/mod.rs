//! The desk's global search: one call across orders, quotes, customers and products, typed
//! results, each kind capped.

pub mod graphql;

use crate::{
    auth::Principal,
    catalog::{self, Product},
    customers::{self, Customer},
    error::AppError,
    kernel::pagination::PageRequest,
    orders::{self, Order},
    quotes::{self, Quote},
    state::AppState,
};

/// What the search found, per kind, best first within each.
pub struct Results {
    pub orders: Vec<Order>,
    pub quotes: Vec<Quote>,
    pub customers: Vec<Customer>,
    pub products: Vec<Product>,
}

/// Staff: `text` in order numbers, titles, references and lines; quote numbers, contacts and
/// lines; customer names, codes and
/// contact emails; product references, names and descriptions. At most `per_kind` of each.
pub async fn search(
    state: &AppState,
    principal: &Principal,
    text: &str,
    per_kind: u64,
) -> Result<Results, AppError> {
    principal.require_staff()?;
    let text = text.trim();
    if text.chars().count() < 2 {
        return Err(AppError::validation("text", "at least 2 characters"));
    }
    let page = || PageRequest {
        limit: per_kind.clamp(1, 20),
        after: None,
    };
    let order_query = orders::service::ListQuery {
        filter: orders::store::OrderFilter {
            search: Some(text.to_owned()),
            include_completed: true,
            include_cancelled: true,
            ..Default::default()
        },
        sort: None,
        ascending: None,
    };
    let quote_query = quotes::service::ListQuery {
        filter: quotes::store::QuoteFilter {
            search: Some(text.to_owned()),
            ..Default::default()
        },
        sort: None,
        ascending: None,
    };
    let (orders, quotes, customers, products) = tokio::try_join!(
        orders::service::orders(state, principal, order_query, page()),
        quotes::service::quotes(state, principal, quote_query, page()),
        customers::service::customers(
            state,
            principal,
            customers::service::CustomerListFilter {
                search: Some(text.to_owned()),
                blocked: None,
                source: None,
                kind: None,
                sales_rep_id: None,
            },
            page(),
        ),
        catalog::service::products(
            state,
            principal,
            catalog::service::ProductQuery {
                search: Some(text.to_owned()),
                ..Default::default()
            },
            catalog::store::ProductSort::NameAsc,
            page(),
        ),
    )?;
    Ok(Results {
        orders: orders.items.into_iter().map(|(_, o)| o).collect(),
        quotes: quotes.items.into_iter().map(|(_, q)| q).collect(),
        customers: customers.items,
        products: products.items,
    })
}
