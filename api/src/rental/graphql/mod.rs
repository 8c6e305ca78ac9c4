mod mutation;
mod query;
mod subscription;
pub mod types;

pub use mutation::RentalMutation;
pub use query::RentalQuery;
pub use subscription::RentalSubscription;
