//! Quote domain types, the quote's state machine and the settings' visibility rule. Pure.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::{
    auth::Role,
    carts::model::RentalPeriod,
    catalog::model::SelectionView,
    error::AppError,
    kernel::string_enum,
    orders::model::PostalAddress,
    pricing::{Adjustments, LineAmount, Totals, totals_with},
};

string_enum!(QuoteStatus {
    Requested => "REQUESTED",
    InPreparation => "IN_PREPARATION",
    Sent => "SENT",
    Accepted => "ACCEPTED",
    Declined => "DECLINED",
    Expired => "EXPIRED",
    Withdrawn => "WITHDRAWN",
    Deleted => "DELETED",
});

string_enum!(Negotiation {
    None => "NONE",
    Untreated => "UNTREATED",
    InProgress => "IN_PROGRESS",
    Finalized => "FINALIZED",
    Cancelled => "CANCELLED",
});

string_enum!(LineKind { Product => "PRODUCT", Comment => "COMMENT" });

impl QuoteStatus {
    pub fn can_become(self, next: Self) -> bool {
        use QuoteStatus::{
            Accepted, Declined, Deleted, Expired, InPreparation, Requested, Sent, Withdrawn,
        };
        matches!(
            (self, next),
            (Requested, InPreparation | Sent | Declined | Deleted)
                | (InPreparation, Sent | Declined | Deleted)
                | (Sent, Accepted | Declined | Expired | Withdrawn | Deleted)
                | (Declined | Expired | Withdrawn, Deleted)
        )
    }

    /// `INVALID_TRANSITION` naming both states unless `self → next` is allowed.
    pub fn check(self, next: Self) -> Result<(), AppError> {
        if self.can_become(next) {
            Ok(())
        } else {
            Err(AppError::InvalidTransition {
                from: self.as_str(),
                to: next.as_str().to_owned(),
            })
        }
    }

    /// A manager may still change it in place (not yet sent).
    pub fn editable(self) -> bool {
        matches!(self, Self::Requested | Self::InPreparation)
    }
}

/// The customer types quotes may be shown to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Public,
    Identified,
    AccountClient,
}

/// The quote function's settings (admins change them): a row of switches.
#[allow(clippy::struct_excessive_bools)]
#[derive(Clone, Debug)]
pub struct QuoteSettings {
    pub enabled: bool,
    pub visible_to: Vec<Audience>,
    pub cart_button: bool,
    pub button_label: String,
    pub customer_notice: String,
    pub minimal_checkout: bool,
    pub lock_payment_method: bool,
    pub validity_days: i32,
    pub sales_manager_email: Option<String>,
    pub notify_sales_rep: bool,
    pub notify_on_request: bool,
    pub allow_out_of_stock: bool,
    pub retention_days: i32,
    pub version: i32,
}

impl QuoteSettings {
    /// Whether a caller of `role` may see and request quotes. Staff always may.
    pub fn available_to(&self, role: Role) -> bool {
        let audience = match role {
            Role::Manager | Role::Admin => return true,
            Role::Public => Audience::Public,
            Role::Identified => Audience::Identified,
            Role::AccountClient => Audience::AccountClient,
        };
        self.enabled && self.visible_to.contains(&audience)
    }

    pub fn require(&self, role: Role) -> Result<(), AppError> {
        if self.available_to(role) {
            Ok(())
        } else {
            Err(AppError::QuotesUnavailable)
        }
    }
}

#[derive(Clone, Debug)]
pub struct Contact {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: String,
}

#[derive(Clone, Debug)]
pub struct Quote {
    pub id: Uuid,
    pub number: String,
    pub root_id: Uuid,
    pub revision: i32,
    pub superseded_by: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub requested_by: Option<Uuid>,
    pub contact: Contact,
    pub status: QuoteStatus,
    pub negotiation: Negotiation,
    pub message: String,
    pub modifications: String,
    pub customer_comment: String,
    pub internal_comment: String,
    pub delivery_address: Option<PostalAddress>,
    pub shipping_method: String,
    pub payment_method: String,
    pub adjustments: Adjustments,
    pub total: Decimal,
    pub sales_rep_id: Option<Uuid>,
    pub valid_until: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub order_id: Option<Uuid>,
    pub transferred_to_invoice: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct QuoteLine {
    pub id: Uuid,
    pub quote_id: Uuid,
    pub position: i32,
    pub kind: LineKind,
    pub product_id: Option<Uuid>,
    pub variant_id: Option<Uuid>,
    pub configuration: Vec<SelectionView>,
    pub reference: String,
    pub name: String,
    pub comment: String,
    pub quantity: i32,
    pub unit_price: Decimal,
    pub discount_percent: Decimal,
    pub discount_amount: Decimal,
    pub vat_rate: Decimal,
    pub rental_period: Option<RentalPeriod>,
    pub amount: LineAmount,
}

/// A quote's money: product lines (comment lines count for nothing), footer discount, shipping.
pub fn totals(lines: &[QuoteLine], adjustments: Adjustments) -> Totals {
    totals_with(
        lines
            .iter()
            .filter(|l| l.kind == LineKind::Product)
            .map(|l| &l.amount),
        adjustments,
    )
}

#[derive(Clone, Debug)]
pub struct Attachment {
    pub id: Uuid,
    pub quote_id: Uuid,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
}

/// Validity of a sent quote: 1 to 365 days.
pub fn parse_validity_days(value: i32, field: &str) -> Result<i32, AppError> {
    if (1..=365).contains(&value) {
        Ok(value)
    } else {
        Err(AppError::validation(field, "between 1 and 365 days"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_moves_only_along_its_arrows() {
        use QuoteStatus::*;
        assert!(Requested.can_become(InPreparation));
        assert!(Sent.can_become(Accepted));
        assert!(Sent.can_become(Expired));
        assert!(
            !Requested.can_become(Accepted),
            "only a sent quote is accepted"
        );
        assert!(!Accepted.can_become(Deleted), "an accepted quote stays");
        assert!(!Expired.can_become(Sent));
        assert!(!Deleted.can_become(Requested));
        let error = Accepted.check(Declined).err().map(|e| e.message());
        assert_eq!(
            error.as_deref(),
            Some("not allowed while ACCEPTED (requested: DECLINED)")
        );
    }

    #[test]
    fn quotes_are_shown_to_the_customer_types_the_admin_chose() {
        let settings = QuoteSettings {
            enabled: true,
            visible_to: vec![Audience::AccountClient],
            cart_button: true,
            button_label: String::new(),
            customer_notice: String::new(),
            minimal_checkout: false,
            lock_payment_method: false,
            validity_days: 30,
            sales_manager_email: None,
            notify_sales_rep: false,
            notify_on_request: true,
            allow_out_of_stock: false,
            retention_days: 30,
            version: 0,
        };
        assert!(settings.available_to(Role::AccountClient));
        assert!(!settings.available_to(Role::Identified));
        assert!(!settings.available_to(Role::Public));
        assert!(settings.available_to(Role::Manager));
        let off = QuoteSettings {
            enabled: false,
            ..settings
        };
        assert!(!off.available_to(Role::AccountClient));
    }
}
