//! Customer domain types, parsed at the edge.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::AppError;

use crate::kernel::string_enum;

string_enum!(CustomerKind { Individual => "INDIVIDUAL", Professional => "PROFESSIONAL" });
string_enum!(CustomerSource { Backoffice => "BACKOFFICE", Storefront => "STOREFRONT" });
string_enum!(AddressKind { Billing => "BILLING", Delivery => "DELIVERY" });

#[derive(Clone, Debug)]
pub struct Customer {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub kind: CustomerKind,
    pub vat_id: Option<String>,
    pub source: CustomerSource,
    pub language: String,
    pub sales_rep_id: Option<Uuid>,
    pub blocked: bool,
    pub blocked_reason: Option<String>,
    /// Internal notes: staff only.
    pub notes: String,
    pub version: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct Contact {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub is_primary: bool,
}

#[derive(Clone, Debug)]
pub struct Address {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub kind: AddressKind,
    pub label: String,
    pub line1: String,
    pub line2: String,
    pub postal_code: String,
    pub city: String,
    pub country: String,
    pub is_default: bool,
}

impl Address {
    /// Among `addresses`, the default one of `kind`, else the first of that kind.
    pub fn default_of(addresses: &[Address], kind: AddressKind) -> Option<&Address> {
        let of_kind = || addresses.iter().filter(move |a| a.kind == kind);
        of_kind()
            .find(|a| a.is_default)
            .or_else(|| of_kind().next())
    }
}

/// A phone number in E.164 form: `+`, then 2 to 15 digits, the first not zero.
pub fn parse_phone(value: &str, field: &str) -> Result<String, AppError> {
    let compact: String = value
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = compact.strip_prefix('+').unwrap_or_default();
    let valid = (2..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0');
    if valid {
        Ok(compact)
    } else {
        Err(AppError::validation(
            field,
            "an international number in E.164 form, like +33612345678",
        ))
    }
}

/// An ISO 3166-1 alpha-2 country code, upper-cased.
pub fn parse_country(value: &str, field: &str) -> Result<String, AppError> {
    let value = value.trim().to_ascii_uppercase();
    if value.len() == 2 && value.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(value)
    } else {
        Err(AppError::validation(
            field,
            "a two-letter ISO 3166 country code",
        ))
    }
}

/// A language code (`en`, `fr`, `ru`…), lower-cased.
pub fn parse_language(value: &str, field: &str) -> Result<String, AppError> {
    let value = value.trim().to_ascii_lowercase();
    if value.len() == 2 && value.chars().all(|c| c.is_ascii_lowercase()) {
        Ok(value)
    } else {
        Err(AppError::validation(
            field,
            "a two-letter ISO 639-1 language code",
        ))
    }
}

/// A customer code: 1 to 32 upper-case letters, digits or `-`.
pub fn parse_customer_code(value: &str, field: &str) -> Result<String, AppError> {
    let value = value.trim().to_ascii_uppercase();
    if !value.is_empty()
        && value.len() <= 32
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        Ok(value)
    } else {
        Err(AppError::validation(field, "1 to 32 letters, digits or -"))
    }
}

/// A VAT identifier: 2 to 32 letters and digits once spaces are removed.
pub fn parse_vat_id(value: &str, field: &str) -> Result<String, AppError> {
    let value: String = value
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    if (2..=32).contains(&value.len()) && value.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(value)
    } else {
        Err(AppError::validation(field, "2 to 32 letters and digits"))
    }
}

/// Free text of bounded length (address lines, labels); may be empty when `required` is false.
pub fn parse_text(
    value: &str,
    field: &str,
    max: usize,
    required: bool,
) -> Result<String, AppError> {
    let value = value.trim();
    if (required && value.is_empty()) || value.chars().count() > max {
        let need = if required { "1" } else { "0" };
        return Err(AppError::validation(
            field,
            format!("{need} to {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_must_be_e164() {
        assert_eq!(
            parse_phone("+33 6 12 34 56 78", "phone").ok().as_deref(),
            Some("+33612345678")
        );
        for bad in [
            "0612345678",
            "+0612345678",
            "+3",
            "+33abc",
            "+1234567890123456",
            "",
        ] {
            assert!(parse_phone(bad, "phone").is_err(), "{bad}");
        }
    }

    #[test]
    fn codes_and_countries_are_normalised() {
        assert_eq!(parse_country(" fr ", "c").ok().as_deref(), Some("FR"));
        assert!(parse_country("FRA", "c").is_err());
        assert_eq!(
            parse_customer_code("acme-01", "code").ok().as_deref(),
            Some("ACME-01")
        );
        assert_eq!(
            parse_vat_id("fr 12 345678901", "vat").ok().as_deref(),
            Some("FR12345678901")
        );
    }
}
