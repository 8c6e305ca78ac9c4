//! Relay connections: every list is `first/after`, `edges`, `pageInfo` and `totalCount`.

use async_graphql::{
    OutputType, SimpleObject,
    connection::{Connection, Edge},
};

use crate::kernel::pagination::{Page, encode_cursor};

/// Fields every connection carries besides edges and page info.
#[derive(SimpleObject)]
pub struct ConnectionFields {
    /// How many items match the filter, over all pages.
    pub total_count: u64,
}

pub type RelayConnection<N> = Connection<String, N, ConnectionFields>;

/// Wraps a page of domain values: `key` gives the sort key a cursor encodes, `wrap` the node.
pub fn connection<T, N: OutputType>(
    page: Page<T>,
    key: impl Fn(&T) -> String,
    wrap: impl Fn(T) -> N,
) -> RelayConnection<N> {
    let mut connection = Connection::with_additional_fields(
        page.has_previous_page,
        page.has_next_page,
        ConnectionFields {
            total_count: page.total_count,
        },
    );
    connection.edges.extend(
        page.items
            .into_iter()
            .map(|item| Edge::new(encode_cursor(&key(&item)), wrap(item))),
    );
    connection
}

/// Complexity of a connection field: its page size times the cost of one node, so that a large
/// page of expensive nodes spends the query's complexity budget.
pub fn page_complexity(first: Option<i32>, child_complexity: usize) -> usize {
    let first = first.map_or(crate::kernel::pagination::DEFAULT_PAGE_SIZE, |n| {
        u64::from(n.max(0).unsigned_abs())
    });
    usize::try_from(first)
        .unwrap_or(usize::MAX)
        .saturating_mul(child_complexity)
        .max(1)
}
