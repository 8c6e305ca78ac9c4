//! SeaORM entities: one module per table. Nothing here is API; the `api` crate wraps these rows in
//! domain types before they reach GraphQL.

pub mod cart;
pub mod cart_line;
pub mod cart_template;
pub mod cart_template_line;
pub mod catalog_reference;
pub mod customer;
pub mod customer_address;
pub mod customer_contact;
pub mod event;
pub mod message_template;
pub mod number_series;
pub mod order_change;
pub mod order_line;
pub mod order_note;
pub mod order_payment;
pub mod order_view;
pub mod outbox_attempt;
pub mod outbox_message;
pub mod product;
pub mod product_option;
pub mod product_option_value;
pub mod product_variant;
pub mod quote;
pub mod quote_attachment;
pub mod quote_line;
pub mod quote_settings;
pub mod rate_limit;
pub mod refresh_token;
pub mod sales_order;
pub mod scheduled_call;
pub mod store_settings;
pub mod user_account;
pub mod user_token;
