//! Whole responses to catalog reads, kept while the catalog is unchanged.
//!
//! A storefront asks the same few catalog questions over and over (a page of products, a product
//! by reference, a search), and the answer changes only when the catalog does. A query whose
//! every root field is a catalog read ([`CACHEABLE_ROOTS`]) is answered from here, as the bytes
//! sent last time, when the catalog's *epoch* is still the one the response was rendered under.
//!
//! The epoch is a counter row (`cache_epoch`, name `catalog`) that database triggers bump in every
//! transaction that writes a product, a variant, an option, an option value, a reference or the
//! store settings: no code path can forget it. On PostgreSQL the trigger is deferred to commit
//! (the counter row is the last lock a transaction takes, so it cannot deadlock) and bumps once per
//! transaction. Each request reads the epoch before anything else (one statement; for a logged-in
//! caller, the one that reads their account: `catalog::snapshot::EarlyEpoch`), so an instance
//! never answers with a response older than the latest catalog change it can see, whichever
//! instance made it: nothing is invalidated by messages.
//!
//! Invariants:
//! - Every field reachable from the cacheable roots depends only on those tables, on the store
//!   settings, and on whether the caller is staff (part of the key). A field that depends on the
//!   caller, the clock or another table must not be reachable from them;
//!   `cacheable_roots_reach_only_catalog_types` fails when a new type becomes reachable.
//! - A response with errors is never kept.
//! - Store settings come through their own cache (at most a minute behind another instance's
//!   change), so a kept response lives at most as long ([`TIME_TO_LIVE`]).

use std::{future::Future, sync::Arc, time::Duration};

use async_graphql::{
    Request,
    parser::types::{ExecutableDocument, OperationType, Selection},
};
use sea_orm::{ConnectionTrait, DbErr};

use crate::catalog::snapshot::EarlyEpoch;

/// Root fields whose answers may be kept: catalog reads.
pub const CACHEABLE_ROOTS: &[&str] = &["products", "product", "storeSettings", "__typename"];

/// How long a response is kept at most, whatever the epoch (see the module's invariants).
pub const TIME_TO_LIVE: Duration = Duration::from_mins(1);

/// Documents whose verdict is remembered.
const VERDICTS: u64 = 10_000;

/// The responses kept, and which documents may be kept at all.
pub struct ResponseCache {
    /// Document text (with its operation name) → whether its responses may be kept.
    verdicts: moka::sync::Cache<String, bool>,
    /// Key (see [`key`]) with the epoch it was rendered under → the response.
    responses: Option<moka::future::Cache<String, Arc<[u8]>>>,
}

/// A response that may be kept, and where.
pub struct Ticket {
    key: String,
}

/// A response rendered for a ticket but not kept (it had errors): what every request that
/// waited for it answers.
pub struct NotKept {
    pub body: Vec<u8>,
    /// The operation never ran (see `http::graphql`).
    pub request_error: bool,
}

impl ResponseCache {
    /// A cache of at most `max_bytes` of responses (0: keep nothing).
    pub fn new(max_bytes: u64) -> Self {
        let responses = (max_bytes > 0).then(|| {
            moka::future::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|key: &String, body: &Arc<[u8]>| {
                    u32::try_from(key.len() + body.len()).unwrap_or(u32::MAX)
                })
                .time_to_live(TIME_TO_LIVE)
                .build()
        });
        Self {
            verdicts: moka::sync::Cache::new(VERDICTS),
            responses,
        }
    }

    /// Where the response to `request`, by a caller who is `staff` or not, in the response
    /// format `format`, is kept at the catalog's current epoch (`early`, when it was read with
    /// the caller's account); `None` when it never is.
    pub async fn ticket(
        &self,
        db: &impl ConnectionTrait,
        request: &mut Request,
        staff: bool,
        format: &str,
        early: Option<EarlyEpoch>,
    ) -> Result<Option<Ticket>, DbErr> {
        if self.responses.is_none() || !self.may_keep(request) {
            return Ok(None);
        }
        let epoch = match early {
            Some(early) => early.catalog,
            None => crate::catalog::snapshot::epoch(db).await?,
        };
        Ok(Some(Ticket {
            key: key(request, staff, format, epoch),
        }))
    }

    /// The response kept for `ticket`, or the one `render` makes, kept unless it had errors.
    /// Requests that arrive with the same ticket while it renders wait for it instead of
    /// rendering it again (after a catalog change, thirty-two clients asking for the same page
    /// cost one rendering, not thirty-two).
    pub async fn get_or_render(
        &self,
        ticket: Ticket,
        render: impl Future<Output = Result<Arc<[u8]>, NotKept>>,
    ) -> Result<Arc<[u8]>, Arc<NotKept>> {
        match &self.responses {
            Some(responses) => responses.try_get_with(ticket.key, render).await,
            None => render.await.map_err(Arc::new),
        }
    }

    /// Whether responses to this document may be kept, decided once per document (the parse is
    /// the one execution uses).
    fn may_keep(&self, request: &mut Request) -> bool {
        let document_key = document_key(request);
        if let Some(verdict) = self.verdicts.get(&document_key) {
            return verdict;
        }
        let operation = request.operation_name.clone();
        let verdict = request
            .parsed_query()
            .is_ok_and(|document| only_catalog_reads(document, operation.as_deref()));
        self.verdicts.insert(document_key, verdict);
        verdict
    }
}

fn document_key(request: &Request) -> String {
    let operation = request.operation_name.as_deref().unwrap_or_default();
    let mut key = String::with_capacity(operation.len() + 1 + request.query.len());
    key.push_str(operation);
    key.push('\0');
    key.push_str(&request.query);
    key
}

/// Everything the response depends on (the document, the operation, the variables, whether the
/// caller is staff, the response format), and the epoch it is rendered under.
fn key(request: &Request, staff: bool, format: &str, epoch: i64) -> String {
    let variables = serde_json::to_string(&request.variables).unwrap_or_default();
    let mut key = document_key(request);
    for part in [
        variables.as_str(),
        if staff { "staff" } else { "public" },
        format,
        &epoch.to_string(),
    ] {
        key.push('\0');
        key.push_str(part);
    }
    key
}

/// A query whose root selections are all plain fields among [`CACHEABLE_ROOTS`].
fn only_catalog_reads(document: &ExecutableDocument, operation: Option<&str>) -> bool {
    let Some(operation) = super::documents::selected_operation(document, operation) else {
        return false;
    };
    let items = &operation.node.selection_set.node.items;
    operation.node.ty == OperationType::Query
        && !items.is_empty()
        && items.iter().all(|selection| match &selection.node {
            Selection::Field(field) => CACHEABLE_ROOTS.contains(&field.node.name.node.as_str()),
            Selection::FragmentSpread(_) | Selection::InlineFragment(_) => false,
        })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn verdict(query: &str, operation: Option<&str>) -> bool {
        let document = async_graphql::parser::parse_query(query).expect("parses");
        only_catalog_reads(&document, operation)
    }

    #[test]
    fn only_queries_of_catalog_roots_are_kept() {
        assert!(verdict("{ products(first: 2) { totalCount } }", None));
        assert!(verdict(
            "query Q($r: String) { p: product(reference: $r) { id } __typename }",
            None
        ));
        assert!(!verdict("{ products { totalCount } me { id } }", None));
        assert!(!verdict(
            "{ ...F } fragment F on Query { products { totalCount } }",
            None
        ));
        assert!(!verdict("mutation { products }", None));
        assert!(!verdict("{ __schema { types { name } } }", None));
        assert!(verdict(
            "query A { me { id } } query B { product(id: \"x\") { id } }",
            Some("B")
        ));
        assert!(!verdict(
            "query A { me { id } } query B { product(id: \"x\") { id } }",
            Some("A")
        ));
        assert!(!verdict(
            "query A { me { id } } query B { product(id: \"x\") { id } }",
            None
        ));
    }

    /// The named type under a field's wrappers (lists, non-null).
    fn named(mut ty: &serde_json::Value) -> String {
        while ty["name"].is_null() {
            ty = &ty["ofType"];
        }
        ty["name"].as_str().unwrap_or_default().to_owned()
    }

    /// Every type reachable from the cacheable roots, by introspection of the real schema. A new
    /// one means a new field: check it depends only on the catalog tables the epoch covers,
    /// the store settings and the staff flag, then add it here.
    #[tokio::test]
    async fn cacheable_roots_reach_only_catalog_types() {
        const KNOWN: &[&str] = &[
            "Boolean",
            "Characteristic",
            "DateTime",
            "Decimal",
            "ID",
            "Int",
            "Money",
            "OptionKind",
            "PageInfo",
            "Product",
            "ProductConnection",
            "ProductEdge",
            "ProductKind",
            "ProductOption",
            "ProductOptionValue",
            "ProductVariant",
            "StoreSettings",
            "String",
        ];
        let schema = crate::graphql::builder().finish();
        let response = schema
            .execute(
                "{ __schema { queryType { name } types { name fields { name type { ...T } } } } }
                 fragment T on __Type { name ofType { name ofType { name ofType { name } } } }",
            )
            .await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        let introspection = response.data.into_json().expect("introspection");
        let types = introspection["__schema"]["types"]
            .as_array()
            .expect("types")
            .clone();
        let fields_of = |name: &str| -> Vec<serde_json::Value> {
            types
                .iter()
                .find(|t| t["name"] == name)
                .and_then(|t| t["fields"].as_array().cloned())
                .unwrap_or_default()
        };
        let mut seen = BTreeSet::new();
        let mut queue: Vec<String> = fields_of("QueryRoot")
            .iter()
            .filter(|f| CACHEABLE_ROOTS.contains(&f["name"].as_str().unwrap_or_default()))
            .map(|f| named(&f["type"]))
            .collect();
        while let Some(name) = queue.pop() {
            if seen.insert(name.clone()) {
                queue.extend(fields_of(&name).iter().map(|f| named(&f["type"])));
            }
        }
        let known: BTreeSet<String> = KNOWN.iter().map(|&s| s.to_owned()).collect();
        assert_eq!(seen, known);
    }
}
