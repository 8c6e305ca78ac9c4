mod mutation;
mod query;
pub mod types;

pub use mutation::CartsMutation;
pub use query::CartsQuery;
