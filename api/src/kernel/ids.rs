//! Opaque global IDs: `base64url("Kind:uuid")`. Clients must not build or read them; the kind
//! prefix stops an ID of one type from being accepted where another is expected.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use uuid::Uuid;

use crate::error::AppError;

/// The kinds of object that have global IDs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    User,
    Product,
    Variant,
    ProductOption,
    OptionValue,
    Customer,
    Contact,
    Address,
    Cart,
    CartLine,
    CartTemplate,
    OutboxMessage,
    Order,
    OrderLine,
    OrderChange,
    OrderNote,
    Payment,
    ScheduledCall,
    Quote,
    QuoteLine,
    QuoteAttachment,
    RentalProject,
    RentalItem,
    RentalChange,
    Invoice,
    ProductionFile,
    ProductionFileComment,
    QualityClaim,
    ClaimPhoto,
}

impl Kind {
    const fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Product => "Product",
            Kind::Variant => "ProductVariant",
            Kind::ProductOption => "ProductOption",
            Kind::OptionValue => "ProductOptionValue",
            Kind::Customer => "Customer",
            Kind::Contact => "CustomerContact",
            Kind::Address => "CustomerAddress",
            Kind::Cart => "Cart",
            Kind::CartLine => "CartLine",
            Kind::CartTemplate => "CartTemplate",
            Kind::OutboxMessage => "OutboxMessage",
            Kind::Order => "Order",
            Kind::OrderLine => "OrderLine",
            Kind::OrderChange => "OrderChange",
            Kind::OrderNote => "OrderNote",
            Kind::Payment => "Payment",
            Kind::ScheduledCall => "ScheduledCall",
            Kind::Quote => "Quote",
            Kind::QuoteLine => "QuoteLine",
            Kind::QuoteAttachment => "QuoteAttachment",
            Kind::RentalProject => "RentalProject",
            Kind::RentalItem => "RentalItem",
            Kind::RentalChange => "RentalChange",
            Kind::Invoice => "Invoice",
            Kind::ProductionFile => "ProductionFile",
            Kind::ProductionFileComment => "ProductionFileComment",
            Kind::QualityClaim => "QualityClaim",
            Kind::ClaimPhoto => "QualityClaimPhoto",
        }
    }
}

pub fn encode(kind: Kind, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", kind.name(), id.simple()))
}

/// Decodes an ID of the given kind; anything else is a `VALIDATION` error on `field`.
pub fn decode(kind: Kind, value: &str, field: &str) -> Result<Uuid, AppError> {
    let invalid = || AppError::validation(field, format!("not a valid {} ID", kind.name()));
    let bytes = URL_SAFE_NO_PAD.decode(value).map_err(|_| invalid())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
    let rest = text
        .strip_prefix(kind.name())
        .and_then(|rest| rest.strip_prefix(':'))
        .ok_or_else(invalid)?;
    Uuid::try_parse(rest).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_other_kinds_or_garbage() {
        let id = Uuid::now_v7();
        let encoded = encode(Kind::User, id);
        assert_eq!(decode(Kind::User, &encoded, "id").ok(), Some(id));
        assert!(decode(Kind::User, "not-an-id", "id").is_err());
        let other = URL_SAFE_NO_PAD.encode(format!("Order:{}", id.simple()));
        assert!(decode(Kind::User, &other, "id").is_err());
    }
}
