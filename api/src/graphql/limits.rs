//! The alias limit, checked right after parsing on every transport (by the schema's one
//! extension, `error_codes::Rules`). Aliases multiply the work
//! of one request without raising its depth; fragments are expanded where they are spread, so
//! nesting fragments does not hide aliases.

use std::collections::{HashMap, HashSet};

use async_graphql::{
    ServerError, ServerResult,
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use crate::error::ErrorCode;

/// `VALIDATION` when a document has more aliased fields than `max`.
pub fn check_aliases(document: &ExecutableDocument, max: usize) -> ServerResult<()> {
    let count = count_aliases(document);
    if count > max {
        let mut error =
            ServerError::new(format!("too many aliases ({count}, at most {max})"), None);
        let mut extensions = async_graphql::ErrorExtensionValues::default();
        extensions.set("code", ErrorCode::Validation.as_str());
        error.extensions = Some(extensions);
        return Err(error);
    }
    Ok(())
}

/// Aliased fields as executed: each spread counts its fragment's aliases again. Cycles (refused
/// later by validation) count nothing.
pub fn count_aliases(document: &ExecutableDocument) -> usize {
    let mut memo: HashMap<&str, usize> = HashMap::new();
    document
        .operations
        .iter()
        .map(|(_, operation)| {
            in_set(
                document,
                &operation.node.selection_set.node,
                &mut memo,
                &mut HashSet::new(),
            )
        })
        .fold(0, usize::saturating_add)
}

fn in_set<'a>(
    document: &'a ExecutableDocument,
    set: &'a SelectionSet,
    memo: &mut HashMap<&'a str, usize>,
    visiting: &mut HashSet<&'a str>,
) -> usize {
    set.items.iter().fold(0, |total, selection| {
        let here = match &selection.node {
            Selection::Field(field) => usize::from(field.node.alias.is_some()).saturating_add(
                in_set(document, &field.node.selection_set.node, memo, visiting),
            ),
            Selection::InlineFragment(fragment) => {
                in_set(document, &fragment.node.selection_set.node, memo, visiting)
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                if let Some(count) = memo.get(name) {
                    *count
                } else if let Some(fragment) =
                    document.fragments.get(&spread.node.fragment_name.node)
                {
                    if !visiting.insert(name) {
                        return total;
                    }
                    let count = in_set(document, &fragment.node.selection_set.node, memo, visiting);
                    visiting.remove(name);
                    memo.insert(name, count);
                    count
                } else {
                    0
                }
            }
        };
        total.saturating_add(here)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(query: &str) -> usize {
        async_graphql::parser::parse_query(query).map_or(0, |doc| count_aliases(&doc))
    }

    #[test]
    fn nested_fragments_multiply_their_aliases() {
        assert_eq!(count("{ a: x b: x }"), 2);
        let nested = "query { ...F2 ...F2 } fragment F2 on Q { ...F1 ...F1 } fragment F1 on Q { a: x b: x c: x }";
        assert_eq!(count(nested), 12);
        assert_eq!(count("query { ...A } fragment A on Q { a: x ...A }"), 1);
    }
}
