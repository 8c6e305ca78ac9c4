mod mutation;
mod query;
pub mod types;

pub use mutation::NotificationsMutation;
pub use query::NotificationsQuery;
