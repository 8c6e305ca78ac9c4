mod mutation;
mod query;
pub mod types;

pub use mutation::CatalogMutation;
pub use query::CatalogQuery;
