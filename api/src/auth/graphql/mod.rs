mod mutation;
mod query;
mod subscription;
mod types;

pub use mutation::AuthMutation;
pub use query::AuthQuery;
pub use subscription::AuthSubscription;
