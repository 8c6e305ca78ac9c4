mod mutation;
mod query;
mod types;

pub use mutation::NotificationsMutation;
pub use query::NotificationsQuery;
