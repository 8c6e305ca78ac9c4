mod mutation;
mod query;
pub mod types;

pub use mutation::CustomersMutation;
pub use query::CustomersQuery;
