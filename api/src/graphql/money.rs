//! The `Money` output type, shared by every context.

use async_graphql::{Context, Object, Result};
use rust_decimal::Decimal;

use super::loaders::settings;

/// An amount in the store currency.
pub struct Money(pub Decimal);

#[Object]
impl Money {
    /// Decimal amount, as a string (`"12.50"`).
    async fn amount(&self) -> Decimal {
        self.0
    }

    /// ISO 4217 currency code, from the store settings.
    async fn currency_code(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(settings(ctx).await?.currency.clone())
    }
}
