mod mutation;
mod query;
mod subscription;
pub mod types;

pub use mutation::AuthMutation;
pub use query::AuthQuery;
pub use subscription::AuthSubscription;
pub use types::UserObject;
