mod mutation;
mod query;
mod subscription;
pub mod types;

pub use mutation::QuotesMutation;
pub use query::QuotesQuery;
pub use subscription::QuotesSubscription;
