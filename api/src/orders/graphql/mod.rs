mod mutation;
mod query;
mod subscription;
pub mod types;

pub use mutation::OrdersMutation;
pub use query::OrdersQuery;
pub use subscription::OrdersSubscription;
