//! Pure pricing shared by carts, quotes and orders: line amounts, VAT per rate, totals. Amounts
//! are excluding VAT until the totals; each line is rounded to the cent, and VAT is computed per
//! rate on the sum of the lines at that rate (as invoices show it).

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::kernel::money::round_cents;

/// What a line costs, excluding VAT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineAmount {
    pub unit_price: Decimal,
    pub quantity: i32,
    /// Percent.
    pub vat_rate: Decimal,
    /// `unit_price × quantity`, rounded to the cent.
    pub total: Decimal,
    /// VAT on this line alone, for display; totals compute VAT per rate.
    pub vat: Decimal,
}

pub fn line(unit_price: Decimal, quantity: i32, vat_rate: Decimal) -> LineAmount {
    discounted_line(unit_price, quantity, vat_rate, Decimal::ZERO)
}

/// A line with a discount in percent: `unit_price × quantity × (1 − discount/100)`.
pub fn discounted_line(
    unit_price: Decimal,
    quantity: i32,
    vat_rate: Decimal,
    discount_percent: Decimal,
) -> LineAmount {
    line_with_discounts(
        unit_price,
        quantity,
        vat_rate,
        discount_percent,
        Decimal::ZERO,
    )
}

/// A line with a discount in percent and then an amount off the line (never below zero).
pub fn line_with_discounts(
    unit_price: Decimal,
    quantity: i32,
    vat_rate: Decimal,
    discount_percent: Decimal,
    discount_amount: Decimal,
) -> LineAmount {
    let gross = unit_price * Decimal::from(quantity);
    let total = round_cents(
        (gross - gross * discount_percent / Decimal::ONE_HUNDRED - discount_amount)
            .max(Decimal::ZERO),
    );
    LineAmount {
        unit_price: crate::kernel::money::display(unit_price),
        quantity,
        vat_rate,
        total,
        vat: round_cents(total * vat_rate / Decimal::ONE_HUNDRED),
    }
}

/// What applies to a whole document beyond its lines: a footer discount in percent (on every
/// VAT rate alike) and shipping, taxed at its own rate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Adjustments {
    pub discount_percent: Decimal,
    pub shipping: Decimal,
    pub shipping_vat_rate: Decimal,
}

/// VAT at one rate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VatLine {
    pub rate: Decimal,
    pub base: Decimal,
    pub amount: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Totals {
    /// Sum of the lines, excluding VAT, before the footer discount.
    pub lines_total: Decimal,
    /// The footer discount, excluding VAT.
    pub discount: Decimal,
    /// Shipping, excluding VAT.
    pub shipping: Decimal,
    /// What VAT applies to: lines less the discount, plus shipping.
    pub subtotal: Decimal,
    pub vat: Vec<VatLine>,
    pub vat_total: Decimal,
    /// Subtotal plus VAT.
    pub total: Decimal,
}

pub fn totals<'a>(lines: impl IntoIterator<Item = &'a LineAmount>) -> Totals {
    totals_with(lines, Adjustments::default())
}

/// Totals with a footer discount and shipping: the discount reduces each rate's base (rounded
/// per rate, as the invoice shows it), shipping joins the base of its own rate.
pub fn totals_with<'a>(
    lines: impl IntoIterator<Item = &'a LineAmount>,
    adjustments: Adjustments,
) -> Totals {
    let mut bases: BTreeMap<Decimal, Decimal> = BTreeMap::new();
    for line in lines {
        *bases.entry(line.vat_rate.normalize()).or_default() += line.total;
    }
    let lines_total = round_cents(bases.values().copied().sum());
    let mut discount = Decimal::ZERO;
    for base in bases.values_mut() {
        let off = round_cents(*base * adjustments.discount_percent / Decimal::ONE_HUNDRED);
        discount += off;
        *base -= off;
    }
    let shipping = round_cents(adjustments.shipping);
    if !shipping.is_zero() {
        *bases
            .entry(adjustments.shipping_vat_rate.normalize())
            .or_default() += shipping;
    }
    let vat: Vec<VatLine> = bases
        .into_iter()
        .map(|(rate, base)| VatLine {
            rate,
            base: round_cents(base),
            amount: round_cents(base * rate / Decimal::ONE_HUNDRED),
        })
        .collect();
    let subtotal = round_cents(vat.iter().map(|v| v.base).sum());
    let vat_total = round_cents(vat.iter().map(|v| v.amount).sum());
    Totals {
        lines_total,
        discount,
        shipping,
        subtotal,
        total: round_cents(subtotal + vat_total),
        vat,
        vat_total,
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap_or_default()
    }

    #[test]
    fn totals_are_exact_to_the_cent_with_vat_per_rate() {
        let lines = [
            line(d("19.99"), 3, d("20")),
            line(d("0.333"), 10, d("20")),
            line(d("12.5"), 1, d("5.5")),
        ];
        assert_eq!(lines[0].total, d("59.97"));
        assert_eq!(lines[1].total, d("3.33"));
        let totals = totals(&lines);
        assert_eq!(totals.subtotal, d("75.80"));
        assert_eq!(
            totals.vat[0],
            VatLine {
                rate: d("5.5"),
                base: d("12.50"),
                amount: d("0.69")
            }
        );
        assert_eq!(
            totals.vat[1],
            VatLine {
                rate: d("20"),
                base: d("63.30"),
                amount: d("12.66")
            }
        );
        assert_eq!(totals.vat_total, d("13.35"));
        assert_eq!(totals.total, d("89.15"));
    }

    #[test]
    fn line_and_footer_discounts_and_shipping_are_taxed_per_rate() {
        let lines = [
            discounted_line(d("100"), 3, d("20"), d("10")),
            line(d("50"), 1, d("5.5")),
        ];
        assert_eq!(lines[0].total, d("270.00"));
        let totals = totals_with(
            &lines,
            Adjustments {
                discount_percent: d("5"),
                shipping: d("15"),
                shipping_vat_rate: d("20"),
            },
        );
        assert_eq!(totals.lines_total, d("320.00"));
        // 5 % of 270 at 20 %, and of 50 at 5.5 %.
        assert_eq!(totals.discount, d("16.00"));
        assert_eq!(totals.shipping, d("15.00"));
        assert_eq!(totals.vat[1].base, d("271.50"));
        assert_eq!(totals.vat[1].amount, d("54.30"));
        assert_eq!(totals.vat[0].base, d("47.50"));
        assert_eq!(totals.vat[0].amount, d("2.61"));
        assert_eq!(totals.subtotal, d("319.00"));
        assert_eq!(totals.total, d("375.91"));
    }
}
