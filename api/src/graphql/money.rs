//! The `Money` output type, shared by every context.

use async_graphql::{Context, Object, Result};
use rust_decimal::Decimal;

use super::loaders::{SettingsLoader, load_error, loader};

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
        let settings = loader::<SettingsLoader>(ctx)
            .load_one(())
            .await
            .map_err(|e| load_error(&e))?;
        Ok(settings.map(|s| s.currency).unwrap_or_default())
    }
}
