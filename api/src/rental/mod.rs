//! Rental: equipment booked over periods. This first part is the availability arithmetic every
//! later piece relies on (the storefront's availability queries, taking a project into work
//! without overbooking); projects, checkout and the desk come with the rest of the rental issue.

pub mod model;
