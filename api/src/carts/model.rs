//! Cart domain types, parsed at the edge.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::{
    catalog::{Product, Variant, model::SelectionView},
    error::AppError,
    pricing::{LineAmount, Totals},
};

/// A quantity on a line: 1 to 100,000 (0 removes the line when updating).
pub fn parse_quantity(value: i32, field: &str, allow_zero: bool) -> Result<i32, AppError> {
    let min = i32::from(!allow_zero);
    if (min..=100_000).contains(&value) {
        Ok(value)
    } else {
        Err(AppError::validation(
            field,
            format!("must be between {min} and 100000"),
        ))
    }
}

/// A rental period: ends after it starts, does not start before today (UTC), lasts at most a
/// year. Billed per started day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RentalPeriod {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl RentalPeriod {
    pub const MAX_DAYS: i64 = 366;

    pub fn parse(
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        now: DateTime<Utc>,
        field: &str,
    ) -> Result<Self, AppError> {
        if end <= start {
            return Err(AppError::validation(
                field,
                "the end must be after the start",
            ));
        }
        let today = now
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map_or(now, |t| t.and_utc());
        if start < today {
            return Err(AppError::validation(
                field,
                "the period must not start in the past",
            ));
        }
        if end - start > Duration::days(Self::MAX_DAYS) {
            return Err(AppError::validation(
                field,
                format!("at most {} days", Self::MAX_DAYS),
            ));
        }
        Ok(Self { start, end })
    }

    /// Days billed: every started 24 hours.
    pub fn days(&self) -> i64 {
        let seconds = (self.end - self.start).num_seconds();
        ((seconds + 86_399) / 86_400).max(1)
    }
}

/// A cart as read: lines priced from the current catalog.
#[derive(Clone, Debug)]
pub struct CartView {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub lines: Vec<LineView>,
    pub totals: Totals,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct LineView {
    pub id: Uuid,
    pub product: Product,
    pub variant: Option<Variant>,
    pub configuration: Vec<SelectionView>,
    pub quantity: i32,
    pub rental_period: Option<RentalPeriod>,
    pub amount: LineAmount,
    /// Units available for this line (stock, or units owned for rentals); `None` when not
    /// counted.
    pub available_quantity: Option<i32>,
    /// Why this line may not be orderable as is (out of stock, inactive product, invalid
    /// configuration).
    pub warnings: Vec<String>,
}

impl LineView {
    pub fn unit_price(&self) -> Decimal {
        self.amount.unit_price
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn periods_are_checked_and_billed_per_started_day() {
        let now = Utc
            .with_ymd_and_hms(2026, 11, 22, 15, 0, 0)
            .single()
            .unwrap_or_default();
        let at = |d: u32, h: u32| {
            Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0)
                .single()
                .unwrap_or_default()
        };
        let period = RentalPeriod::parse(at(23, 8), at(25, 9), now, "p");
        assert_eq!(period.map(|p| p.days()).ok(), Some(3));
        assert!(RentalPeriod::parse(at(25, 8), at(23, 8), now, "p").is_err());
        assert!(RentalPeriod::parse(at(21, 8), at(23, 8), now, "p").is_err());
        assert!(
            RentalPeriod::parse(at(22, 8), at(23, 8), now, "p").is_ok(),
            "today counts"
        );
        assert!(parse_quantity(0, "q", false).is_err());
        assert!(parse_quantity(0, "q", true).is_ok());
    }
}
