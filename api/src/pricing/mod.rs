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
    let total = round_cents(unit_price * Decimal::from(quantity));
    LineAmount {
        unit_price: crate::kernel::money::display(unit_price),
        quantity,
        vat_rate,
        total,
        vat: round_cents(total * vat_rate / Decimal::ONE_HUNDRED),
    }
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
    /// Sum of the lines, excluding VAT.
    pub subtotal: Decimal,
    pub vat: Vec<VatLine>,
    pub vat_total: Decimal,
    /// Subtotal plus VAT.
    pub total: Decimal,
}

pub fn totals<'a>(lines: impl IntoIterator<Item = &'a LineAmount>) -> Totals {
    let mut bases: BTreeMap<Decimal, Decimal> = BTreeMap::new();
    for line in lines {
        *bases.entry(line.vat_rate.normalize()).or_default() += line.total;
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
}
