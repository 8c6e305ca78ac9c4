mod mutation;
mod query;
pub mod types;

pub use mutation::DocumentsMutation;
pub use query::DocumentsQuery;
