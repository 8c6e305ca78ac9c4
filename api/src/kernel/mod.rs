//! Building blocks shared by every context: opaque IDs, time, pagination, secrets.

pub mod ids;
pub mod money;
pub mod pagination;
pub mod secret_token;
pub mod time;
