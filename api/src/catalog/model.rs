//! Catalog domain types, and configuration validation and pricing.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::AppError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProductKind {
    Standard,
    Configurable,
    Custom,
    Rental,
}

impl ProductKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "STANDARD",
            Self::Configurable => "CONFIGURABLE",
            Self::Custom => "CUSTOM",
            Self::Rental => "RENTAL",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::Standard,
            Self::Configurable,
            Self::Custom,
            Self::Rental,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == value)
    }

    /// Kinds whose products carry options.
    pub const fn has_options(self) -> bool {
        matches!(self, Self::Configurable | Self::Custom)
    }
}

#[derive(Clone, Debug)]
#[allow(clippy::struct_excessive_bools)] // flags of a catalog row, each its own setting
pub struct Product {
    pub id: Uuid,
    pub reference: String,
    pub name: String,
    pub description: String,
    pub kind: ProductKind,
    pub unit_price: Decimal,
    pub vat_rate: Decimal,
    pub active: bool,
    pub visible: bool,
    pub track_stock: bool,
    pub stock: i32,
    pub rental_owned_quantity: Option<i32>,
    pub rental_daily_price: Option<Decimal>,
    /// RENTAL: preparation hours around each rental.
    pub rental_buffer: Option<RentalBuffer>,
    pub archived: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Hours of preparation before and after each rental of a product.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RentalBuffer {
    pub before_hours: i32,
    pub after_hours: i32,
}

impl Product {
    /// Seen by everyone, not only staff.
    pub fn is_public(&self) -> bool {
        self.active && self.visible && !self.archived
    }
}

#[derive(Clone, Debug)]
pub struct Variant {
    pub id: Uuid,
    pub product_id: Uuid,
    pub reference: String,
    pub name: String,
    pub characteristics: BTreeMap<String, String>,
    pub unit_price: Decimal,
    pub track_stock: bool,
    pub stock: i32,
    pub active: bool,
    pub position: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionKind {
    /// One value among the allowed ones.
    Choice,
    /// A number between bounds (dimensions, quantities of finishing), priced per unit.
    Number,
}

impl OptionKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Choice => "CHOICE",
            Self::Number => "NUMBER",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "CHOICE" => Some(Self::Choice),
            "NUMBER" => Some(Self::Number),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ProductOption {
    pub id: Uuid,
    pub product_id: Uuid,
    pub code: String,
    pub name: String,
    pub kind: OptionKind,
    pub required: bool,
    pub min: Option<Decimal>,
    pub max: Option<Decimal>,
    pub price_per_unit: Decimal,
    pub unit: Option<String>,
    pub position: i32,
    pub values: Vec<OptionValue>,
}

#[derive(Clone, Debug)]
pub struct OptionValue {
    pub id: Uuid,
    pub code: String,
    pub label: String,
    pub price_modifier: Decimal,
    pub position: i32,
}

/// One option as a client sets it: a value code for a choice, a number for a number option.
#[derive(Clone, Debug)]
pub struct RawSelection {
    pub option: String,
    pub value: Option<String>,
    pub number: Option<Decimal>,
}

/// A validated selection, as stored on cart, quote and order lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    pub option: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub value: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        with = "rust_decimal::serde::str_option"
    )]
    pub number: Option<Decimal>,
}

/// A validated configuration, in the product's option order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Configuration(pub Vec<Selection>);

impl Configuration {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A stable text form, part of the identity of a cart line.
    pub fn key(&self) -> String {
        self.0
            .iter()
            .map(|s| match (&s.value, s.number) {
                (Some(value), _) => format!("{}={value}", s.option),
                (None, Some(number)) => format!("{}={}", s.option, number.normalize()),
                (None, None) => s.option.clone(),
            })
            .collect::<Vec<_>>()
            .join(";")
    }
}

/// Validates `raw` against the product's options and prices it: the base unit price, plus each
/// chosen value's modifier, plus each number times its price per unit. Errors are `VALIDATION`
/// naming the option (`configuration.<code>`).
#[allow(clippy::too_many_lines)] // one pass over the options; each arm is one rule
pub fn price_configuration(
    base: Decimal,
    options: &[ProductOption],
    raw: &[RawSelection],
) -> Result<(Configuration, Decimal), AppError> {
    let field = |code: &str| format!("configuration.{code}");
    let mut seen = HashSet::new();
    for selection in raw {
        if !options.iter().any(|o| o.code == selection.option) {
            return Err(AppError::validation(
                field(&selection.option),
                "unknown option",
            ));
        }
        if !seen.insert(selection.option.as_str()) {
            return Err(AppError::validation(
                field(&selection.option),
                "set more than once",
            ));
        }
    }
    let mut price = base;
    let mut selections = Vec::new();
    let mut ordered: Vec<&ProductOption> = options.iter().collect();
    ordered.sort_by_key(|o| (o.position, o.code.clone()));
    for option in ordered {
        let Some(selection) = raw.iter().find(|s| s.option == option.code) else {
            if option.required {
                return Err(AppError::validation(field(&option.code), "required"));
            }
            continue;
        };
        match option.kind {
            OptionKind::Choice => {
                if selection.number.is_some() {
                    return Err(AppError::validation(
                        field(&option.code),
                        "takes a value, not a number",
                    ));
                }
                let code = selection.value.as_deref().ok_or_else(|| {
                    AppError::validation(field(&option.code), "a value is required")
                })?;
                let value = option
                    .values
                    .iter()
                    .find(|v| v.code == code)
                    .ok_or_else(|| {
                        AppError::validation(
                            field(&option.code),
                            format!("`{code}` is not an allowed value"),
                        )
                    })?;
                price = price.checked_add(value.price_modifier).ok_or_else(|| {
                    AppError::validation(field(&option.code), "price out of range")
                })?;
                selections.push(Selection {
                    option: option.code.clone(),
                    value: Some(value.code.clone()),
                    number: None,
                });
            }
            OptionKind::Number => {
                if selection.value.is_some() {
                    return Err(AppError::validation(
                        field(&option.code),
                        "takes a number, not a value",
                    ));
                }
                let number = selection.number.ok_or_else(|| {
                    AppError::validation(field(&option.code), "a number is required")
                })?;
                let number = crate::kernel::money::parse_number(number, &field(&option.code))?;
                if option.min.is_some_and(|min| number < min)
                    || option.max.is_some_and(|max| number > max)
                {
                    let bound = |b: Option<Decimal>| {
                        b.map_or_else(|| "…".to_owned(), |b| b.normalize().to_string())
                    };
                    return Err(AppError::validation(
                        field(&option.code),
                        format!(
                            "must be between {} and {}",
                            bound(option.min),
                            bound(option.max)
                        ),
                    ));
                }
                price = number
                    .checked_mul(option.price_per_unit)
                    .and_then(|added| price.checked_add(added))
                    .ok_or_else(|| {
                        AppError::validation(field(&option.code), "price out of range")
                    })?;
                selections.push(Selection {
                    option: option.code.clone(),
                    value: None,
                    number: Some(number.normalize()),
                });
            }
        }
    }
    if price.is_sign_negative() && !price.is_zero() {
        return Err(AppError::validation(
            "configuration",
            "the configured price is below zero",
        ));
    }
    Ok((Configuration(selections), price.round_dp(4)))
}

/// A product or variant reference: 1 to 64 characters among letters, digits and `-_./`.
pub fn parse_reference(value: &str, field: &str) -> Result<String, AppError> {
    let value = value.trim();
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(AppError::validation(
            field,
            "1 to 64 letters, digits or - _ . /",
        ))
    }
}

/// A name: 1 to 200 characters once trimmed.
pub fn parse_name(value: &str, field: &str) -> Result<String, AppError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > 200 {
        return Err(AppError::validation(field, "1 to 200 characters"));
    }
    Ok(value.to_owned())
}

/// An option or value code: 1 to 64 lower-case letters, digits, `-` or `_`.
pub fn parse_code(value: &str, field: &str) -> Result<String, AppError> {
    let value = value.trim();
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(AppError::validation(
            field,
            "1 to 64 lower-case letters, digits, - or _",
        ))
    }
}

/// A stock level: 0 to 1,000,000,000.
pub fn parse_stock(value: i32, field: &str) -> Result<i32, AppError> {
    if (0..=1_000_000_000).contains(&value) {
        Ok(value)
    } else {
        Err(AppError::validation(
            field,
            "must be between 0 and 1000000000",
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap_or_default()
    }

    fn options() -> Vec<ProductOption> {
        let value = |code: &str, modifier: &str| OptionValue {
            id: Uuid::nil(),
            code: code.into(),
            label: code.into(),
            price_modifier: d(modifier),
            position: 0,
        };
        vec![
            ProductOption {
                id: Uuid::nil(),
                product_id: Uuid::nil(),
                code: "material".into(),
                name: "Material".into(),
                kind: OptionKind::Choice,
                required: true,
                min: None,
                max: None,
                price_per_unit: Decimal::ZERO,
                unit: None,
                position: 0,
                values: vec![value("paper", "0"), value("vinyl", "12.50")],
            },
            ProductOption {
                id: Uuid::nil(),
                product_id: Uuid::nil(),
                code: "width".into(),
                name: "Width".into(),
                kind: OptionKind::Number,
                required: false,
                min: Some(d("0.5")),
                max: Some(d("3")),
                price_per_unit: d("10"),
                unit: Some("m".into()),
                position: 1,
                values: vec![],
            },
        ]
    }

    fn sel(option: &str, value: Option<&str>, number: Option<&str>) -> RawSelection {
        RawSelection {
            option: option.into(),
            value: value.map(Into::into),
            number: number.map(d),
        }
    }

    #[test]
    fn a_valid_configuration_is_priced() {
        let raw = [
            sel("width", None, Some("1.5")),
            sel("material", Some("vinyl"), None),
        ];
        let (config, price) = price_configuration(d("100"), &options(), &raw).unwrap_or_default();
        assert_eq!(price, d("127.50"));
        assert_eq!(config.key(), "material=vinyl;width=1.5");
    }

    #[test]
    fn invalid_configurations_name_the_option() {
        let field = |raw: &[RawSelection]| match price_configuration(d("1"), &options(), raw) {
            Err(AppError::Validation { field, .. }) => field,
            _ => String::new(),
        };
        assert_eq!(field(&[]), "configuration.material");
        assert_eq!(
            field(&[sel("material", Some("gold"), None)]),
            "configuration.material"
        );
        assert_eq!(
            field(&[
                sel("material", Some("paper"), None),
                sel("width", None, Some("9"))
            ]),
            "configuration.width"
        );
        assert_eq!(
            field(&[sel("colour", Some("red"), None)]),
            "configuration.colour"
        );
        assert_eq!(
            field(&[
                sel("material", Some("paper"), None),
                sel("material", Some("paper"), None)
            ]),
            "configuration.material"
        );
    }
}

/// A stored selection with the names a customer reads (order lines keep it as it was).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SelectionView {
    pub option: String,
    pub option_name: String,
    pub value: Option<String>,
    pub value_label: Option<String>,
    pub number: Option<Decimal>,
    pub unit: Option<String>,
}

/// Names the options and values of a configuration (codes stay when an option is gone).
pub fn describe(configuration: &Configuration, options: &[ProductOption]) -> Vec<SelectionView> {
    configuration
        .0
        .iter()
        .map(|selection| {
            let option = options.iter().find(|o| o.code == selection.option);
            let value_label = selection.value.as_ref().map(|code| {
                option
                    .and_then(|o| o.values.iter().find(|v| &v.code == code))
                    .map_or_else(|| code.clone(), |v| v.label.clone())
            });
            SelectionView {
                option: selection.option.clone(),
                option_name: option.map_or_else(|| selection.option.clone(), |o| o.name.clone()),
                value: selection.value.clone(),
                value_label,
                number: selection.number,
                unit: option.and_then(|o| o.unit.clone()),
            }
        })
        .collect()
}

impl Configuration {
    /// The raw form of a stored configuration, to validate and price it again.
    pub fn to_raw(&self) -> Vec<RawSelection> {
        self.0
            .iter()
            .map(|s| RawSelection {
                option: s.option.clone(),
                value: s.value.clone(),
                number: s.number,
            })
            .collect()
    }
}
