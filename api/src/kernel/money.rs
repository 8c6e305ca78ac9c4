//! Money and rates. Amounts are `Decimal` in the API and the domain, and `i64` ten-thousandths
//! (`*_e4`) in the database: exact on SQLite, whose decimals are floats, and sortable on both
//! back ends. Totals are rounded to cents, half away from zero.

use rust_decimal::{Decimal, RoundingStrategy, prelude::ToPrimitive};

use crate::error::AppError;

const SCALE: u32 = 4;
/// Largest amount stored, in ten-thousandths: a billion currency units. Every product of amounts
/// below it (times quantities up to 100,000) stays far inside `Decimal`'s range.
pub const MAX_E4: u64 = 10_000_000_000_000;

/// A stored amount as a decimal, shown with at least two decimals.
pub fn from_e4(value: i64) -> Decimal {
    display(Decimal::new(value, SCALE))
}

/// An amount from the API, to store: at most four decimals, within range.
pub fn to_e4(value: Decimal, field: &str) -> Result<i64, AppError> {
    let value = value.normalize();
    if value.scale() > SCALE {
        return Err(AppError::validation(field, "at most 4 decimals"));
    }
    value
        .checked_mul(Decimal::from(10_000))
        .and_then(|v| v.to_i64())
        .filter(|v| v.unsigned_abs() <= MAX_E4)
        .ok_or_else(|| AppError::validation(field, "amount out of range"))
}

/// Like [`to_e4`], and not negative.
pub fn price_to_e4(value: Decimal, field: &str) -> Result<i64, AppError> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(AppError::validation(field, "must not be negative"));
    }
    to_e4(value, field)
}

/// A decimal number from the API (option numbers, bounds): at most 4 decimals, within range.
pub fn parse_number(value: Decimal, field: &str) -> Result<Decimal, AppError> {
    to_e4(value, field).map(|_| value.normalize())
}

/// Rounds to cents, half away from zero.
pub fn round_cents(value: Decimal) -> Decimal {
    display(value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
}

/// Normalised, with at least two decimals (`12.50`, `0.1234`).
pub fn display(value: Decimal) -> Decimal {
    let mut value = value.normalize();
    if value.scale() < 2 {
        value.rescale(2);
    }
    value
}

/// A VAT rate in percent (`20`, `5.5`) from basis points.
pub fn rate_from_bp(bp: i32) -> Decimal {
    Decimal::new(i64::from(bp), 2).normalize()
}

/// A VAT rate in percent, 0 to 100 with at most two decimals, to basis points.
pub fn rate_to_bp(rate: Decimal, field: &str) -> Result<i32, AppError> {
    let rate = rate.normalize();
    if rate.scale() > 2 || rate < Decimal::ZERO || rate > Decimal::from(100) {
        return Err(AppError::validation(
            field,
            "a percentage from 0 to 100, at most 2 decimals",
        ));
    }
    (rate * Decimal::from(100))
        .to_i32()
        .ok_or_else(|| AppError::validation(field, "rate out of range"))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap_or_default()
    }

    #[test]
    fn amounts_round_trip_exactly() {
        for s in ["0", "0.1", "12.3456", "999999.99", "-5.25"] {
            assert_eq!(from_e4(to_e4(d(s), "x").unwrap_or_default()), display(d(s)));
        }
        assert!(to_e4(d("0.00001"), "x").is_err());
        assert!(price_to_e4(d("-1"), "x").is_err());
        assert_eq!(from_e4(125_000).to_string(), "12.50");
    }

    #[test]
    fn cents_round_half_away_from_zero() {
        assert_eq!(round_cents(d("0.125")), d("0.13"));
        assert_eq!(round_cents(d("0.124")), d("0.12"));
        assert_eq!(round_cents(d("-0.125")), d("-0.13"));
    }

    #[test]
    fn rates_are_bounded_percentages() {
        assert_eq!(rate_to_bp(d("5.5"), "vat").ok(), Some(550));
        assert_eq!(rate_from_bp(2000), d("20"));
        assert!(rate_to_bp(d("100.01"), "vat").is_err());
        assert!(rate_to_bp(d("5.555"), "vat").is_err());
    }
}
