mod mutation;
mod query;
mod types;

pub use mutation::CartsMutation;
pub use query::CartsQuery;
