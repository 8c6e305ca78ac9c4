//! Order domain types and the order's state machine. Pure: no database, no GraphQL.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    carts::model::RentalPeriod,
    catalog::model::SelectionView,
    error::AppError,
    kernel::string_enum,
    pricing::{self, Adjustments, LineAmount, Totals},
};

string_enum!(OrderStatus {
    Draft => "DRAFT",
    Submitted => "SUBMITTED",
    Proposed => "PROPOSED",
    Confirmed => "CONFIRMED",
    InProgress => "IN_PROGRESS",
    Shipped => "SHIPPED",
    Completed => "COMPLETED",
    Cancelled => "CANCELLED",
    OnHold => "ON_HOLD",
});

string_enum!(OrderSource { Checkout => "CHECKOUT", Backoffice => "BACKOFFICE", Quote => "QUOTE" });

// Who made a change: the seller's staff or the customer.
string_enum!(Side { Seller => "SELLER", Customer => "CUSTOMER" });

string_enum!(NoteKind {
    Internal => "INTERNAL",
    Payment => "PAYMENT",
    Invoice => "INVOICE",
    PurchaseOrder => "PURCHASE_ORDER",
});

impl OrderStatus {
    /// Whether the order may go from `self` to `next`. Putting on hold and releasing are
    /// transitions too (release goes back to the status the order was held in).
    pub fn can_become(self, next: Self) -> bool {
        use OrderStatus::{
            Cancelled, Completed, Confirmed, Draft, InProgress, OnHold, Proposed, Shipped,
            Submitted,
        };
        match (self, next) {
            (Draft | Submitted, Proposed | Confirmed)
            | (Proposed, Confirmed | Submitted)
            | (Confirmed, InProgress | Proposed)
            | (InProgress, Shipped)
            | (Shipped, Completed)
            | (Draft | Submitted | Proposed | Confirmed | InProgress, OnHold)
            | (Draft | Submitted | Proposed | Confirmed | InProgress | OnHold, Cancelled)
            // Release: checked against the status the order was held in.
            | (OnHold, Draft | Submitted | Proposed | Confirmed | InProgress) => true,
            _ => false,
        }
    }

    /// `INVALID_TRANSITION` unless `self → next` is allowed.
    pub fn check(self, next: Self) -> Result<(), AppError> {
        if self.can_become(next) {
            Ok(())
        } else {
            Err(invalid_transition(self, next.as_str()))
        }
    }

    /// The seller may change lines and terms: before production starts. Changing a confirmed
    /// order sends it back to the customer (`PROPOSED`).
    pub fn seller_may_edit(self) -> bool {
        matches!(
            self,
            Self::Draft | Self::Submitted | Self::Proposed | Self::Confirmed
        )
    }

    /// The customer may cancel their order while it waits for them or for the seller.
    pub fn customer_may_cancel(self) -> bool {
        matches!(self, Self::Submitted | Self::Proposed)
    }

    /// Completed and cancelled orders leave the desk's default list.
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled)
    }
}

pub fn invalid_transition(from: OrderStatus, to: &str) -> AppError {
    AppError::InvalidTransition {
        from: from.as_str(),
        to: to.to_owned(),
    }
}

/// An address as printed on the order: a copy, so later edits of the customer's addresses
/// never rewrite past orders.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostalAddress {
    pub name: String,
    pub line1: String,
    pub line2: String,
    pub postal_code: String,
    pub city: String,
    pub country: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Order {
    pub id: Uuid,
    pub number: String,
    pub customer_id: Uuid,
    pub customer_code: String,
    pub status: OrderStatus,
    /// While `ON_HOLD`: the status release returns to.
    pub status_before_hold: Option<OrderStatus>,
    pub hold_reason: Option<String>,
    pub source: OrderSource,
    pub title: String,
    pub customer_reference: String,
    pub note: String,
    pub contact: Contact,
    pub billing_address: PostalAddress,
    pub delivery_address: PostalAddress,
    pub delivery_method: String,
    pub payment_method: String,
    pub adjustments: Adjustments,
    pub total: Decimal,
    pub paid: Decimal,
    pub delivery_date: Option<NaiveDate>,
    pub sales_rep_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub customer_seen_change: i64,
    pub seller_seen_change: i64,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
}

impl Order {
    pub fn balance_due(&self) -> Decimal {
        self.total - self.paid
    }

    /// The last change the other side has seen, for a viewer on `side`.
    pub fn seen_by(&self, side: Side) -> i64 {
        match side {
            Side::Seller => self.seller_seen_change,
            Side::Customer => self.customer_seen_change,
        }
    }
}

#[derive(Clone, Debug)]
pub struct OrderLine {
    pub id: Uuid,
    pub order_id: Uuid,
    pub position: i32,
    pub product_id: Uuid,
    pub variant_id: Option<Uuid>,
    pub configuration: Vec<SelectionView>,
    pub reference: String,
    pub name: String,
    pub quantity: i32,
    pub unit_price: Decimal,
    pub discount_percent: Decimal,
    /// An amount off the line (from a quote).
    pub discount_amount: Decimal,
    pub vat_rate: Decimal,
    pub delivery_date: Option<NaiveDate>,
    pub instructions: String,
    pub on_hold: bool,
    pub rental_period: Option<RentalPeriod>,
    pub amount: LineAmount,
}

/// An order's money: lines, footer discount, shipping, VAT per rate.
pub fn totals(lines: &[OrderLine], adjustments: Adjustments) -> Totals {
    pricing::totals_with(lines.iter().map(|l| &l.amount), adjustments)
}

/// One recorded change: which field of the order or of a line, old and new value, by whom.
#[derive(Clone, Debug)]
pub struct Change {
    pub id: i64,
    pub order_id: Uuid,
    pub line_id: Option<Uuid>,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub side: Side,
    pub actor_id: Option<Uuid>,
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
}

/// A field of a line changed since the viewer last looked: the value they saw and the current one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangedField {
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

/// Collapses the changes of one line into one entry per field (first old value, last new one),
/// dropping fields that came back to where they were.
pub fn changed_fields<'a>(changes: impl IntoIterator<Item = &'a Change>) -> Vec<ChangedField> {
    let mut fields: Vec<ChangedField> = Vec::new();
    for change in changes {
        match fields.iter_mut().find(|f| f.field == change.field) {
            Some(field) => field.new_value.clone_from(&change.new_value),
            None => fields.push(ChangedField {
                field: change.field.clone(),
                old_value: change.old_value.clone(),
                new_value: change.new_value.clone(),
            }),
        }
    }
    fields.retain(|f| f.old_value != f.new_value);
    fields
}

#[derive(Clone, Debug)]
pub struct Note {
    pub id: Uuid,
    pub order_id: Uuid,
    pub line_id: Option<Uuid>,
    pub kind: NoteKind,
    pub body: String,
    pub author_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct Payment {
    pub id: Uuid,
    pub order_id: Uuid,
    pub amount: Decimal,
    pub method: String,
    pub paid_on: NaiveDate,
    pub reference: String,
    pub recorded_by: Option<Uuid>,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct ScheduledCall {
    pub id: Uuid,
    pub order_id: Uuid,
    pub manager_id: Uuid,
    pub at: DateTime<Utc>,
    pub with_whom: String,
    pub note: String,
}

/// A discount in percent: 0 to 100.
pub fn parse_discount(value: Decimal, field: &str) -> Result<Decimal, AppError> {
    if value < Decimal::ZERO || value > Decimal::ONE_HUNDRED {
        return Err(AppError::validation(field, "must be between 0 and 100"));
    }
    Ok(value)
}

/// A delivery date: not before today.
pub fn parse_delivery_date(
    value: NaiveDate,
    now: DateTime<Utc>,
    field: &str,
) -> Result<NaiveDate, AppError> {
    if value < now.date_naive() {
        return Err(AppError::validation(field, "must not be in the past"));
    }
    Ok(value)
}

/// The positions of `items` in the one global order stock rows are taken in, (product,
/// variant): transactions that take stock for several lines never wait on each other in a
/// circle, whatever the order of their lines.
pub fn stock_order<T>(items: &[T], key: impl Fn(&T) -> (Uuid, Option<Uuid>)) -> Vec<usize> {
    let mut positions: Vec<usize> = (0..items.len()).collect();
    positions.sort_by_key(|&i| key(&items[i]));
    positions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_order_moves_only_along_its_arrows() {
        use OrderStatus::*;
        let all = [
            Draft, Submitted, Proposed, Confirmed, InProgress, Shipped, Completed, Cancelled,
            OnHold,
        ];
        let allowed = [
            (Draft, Proposed),
            (Draft, Confirmed),
            (Submitted, Proposed),
            (Submitted, Confirmed),
            (Proposed, Confirmed),
            (Proposed, Submitted),
            (Confirmed, InProgress),
            (Confirmed, Proposed),
            (InProgress, Shipped),
            (Shipped, Completed),
        ];
        for from in all {
            for to in all {
                let expected = allowed.contains(&(from, to))
                    || (to == OnHold
                        && matches!(from, Draft | Submitted | Proposed | Confirmed | InProgress))
                    || (to == Cancelled && !matches!(from, Shipped | Completed | Cancelled))
                    || (from == OnHold
                        && matches!(to, Draft | Submitted | Proposed | Confirmed | InProgress));
                assert_eq!(from.can_become(to), expected, "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn changed_fields_keep_the_first_old_and_the_last_new_value() {
        let change = |field: &str, old: &str, new: &str| Change {
            id: 0,
            order_id: Uuid::nil(),
            line_id: None,
            field: field.to_owned(),
            old_value: Some(old.to_owned()),
            new_value: Some(new.to_owned()),
            side: Side::Seller,
            actor_id: None,
            comment: None,
            at: DateTime::<Utc>::MIN_UTC,
        };
        let changes = [
            change("quantity", "10", "8"),
            change("unitPrice", "5", "4.5"),
            change("quantity", "8", "6"),
            change("unitPrice", "4.5", "5"),
        ];
        assert_eq!(
            changed_fields(&changes),
            vec![ChangedField {
                field: "quantity".to_owned(),
                old_value: Some("10".to_owned()),
                new_value: Some("6".to_owned()),
            }]
        );
    }
}
