//! Parsed GraphQL documents, kept by their text.
//!
//! Clients send the same few documents again and again (a storefront's catalog page, an app's
//! order subscription), and async-graphql parses each request's text afresh. A document that
//! parsed is kept here and each request gets a copy of it, which costs less than the parse and
//! is smaller than the parser's output: the parser sizes its lists by an estimate, a copy by
//! what they hold. That matters for subscriptions, whose document lives as long as they do.
//!
//! Only the parse is skipped: the depth, directive and alias limits and validation still run on
//! every request, on the copy. A document that does not parse is not kept; async-graphql parses
//! it again and reports the error as before.

use std::sync::Arc;

use async_graphql::{
    Positioned, Request,
    parser::types::{DocumentOperations, ExecutableDocument, OperationDefinition},
};

/// Longest document kept, in bytes; longer ones are parsed each time.
const MAX_KEPT_BYTES: usize = 16 * 1024;
/// Text of all kept documents together, in bytes (their trees take a few times more).
const KEPT_TEXT_BYTES: u64 = 1024 * 1024;

/// The operation a request runs: the one named `name`, or, unnamed, the document's only one
/// (a named operation alone in its document runs without being named). `None` when the
/// executor would refuse the request for want of one.
pub fn selected_operation<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a Positioned<OperationDefinition>> {
    match (&document.operations, name) {
        (DocumentOperations::Single(operation), _) => Some(operation),
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, operation)| operation),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next()
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

pub struct Documents {
    kept: moka::sync::Cache<Arc<str>, Arc<ExecutableDocument>>,
}

impl Default for Documents {
    fn default() -> Self {
        Self::with_capacity(KEPT_TEXT_BYTES)
    }
}

impl Documents {
    /// Keeps the most used documents, up to `text_bytes` of their text.
    fn with_capacity(text_bytes: u64) -> Self {
        Self {
            kept: moka::sync::Cache::builder()
                .weigher(|query: &Arc<str>, _| u32::try_from(query.len()).unwrap_or(u32::MAX))
                .max_capacity(text_bytes)
                .build(),
        }
    }

    /// Gives the request its document: a copy of the kept one, or its own parse, kept when it
    /// parsed and is short enough.
    pub fn prepare(&self, request: &mut Request) {
        if let Some(document) = self.kept.get(request.query.as_str()) {
            request.set_parsed_query(ExecutableDocument::clone(&document));
            return;
        }
        if request.query.len() > MAX_KEPT_BYTES {
            return;
        }
        if let Ok(document) = request.parsed_query() {
            let document = Arc::new(document.clone());
            self.kept
                .insert(Arc::from(request.query.as_str()), document);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_document_is_the_one_the_text_parses_to() {
        let documents = Documents::with_capacity(4096);
        let query = "query($id: ID!) { product(id: $id) { name variants { sku } } }";
        let mut first = Request::new(query);
        documents.prepare(&mut first);
        assert!(documents.kept.contains_key(query));
        let mut second = Request::new(query);
        documents.prepare(&mut second);
        let parsed = async_graphql::parser::parse_query(query).unwrap();
        assert_eq!(
            format!("{:?}", second.parsed_query().unwrap()),
            format!("{parsed:?}")
        );
    }

    #[test]
    fn a_document_that_does_not_parse_is_not_kept() {
        let documents = Documents::with_capacity(4096);
        let mut request = Request::new("{ product(");
        documents.prepare(&mut request);
        documents.kept.run_pending_tasks();
        assert_eq!(documents.kept.entry_count(), 0);
        assert!(request.parsed_query().is_err());
    }
}
