//! Rental domain types and the project's state machine. Pure: no database, no GraphQL.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    carts::model::RentalPeriod,
    error::AppError,
    kernel::string_enum,
    orders::model::Side,
    pricing::{self, LineAmount, Totals},
};

string_enum!(ProjectStatus {
    New => "NEW",
    InWork => "IN_WORK",
    Issued => "ISSUED",
    Returned => "RETURNED",
    Completed => "COMPLETED",
    Cancelled => "CANCELLED",
});

string_enum!(ItemStatus {
    Draft => "DRAFT",
    Reserved => "RESERVED",
    Issued => "ISSUED",
    Returned => "RETURNED",
    Cancelled => "CANCELLED",
});

string_enum!(ProjectSource { Storefront => "STOREFRONT", Backoffice => "BACKOFFICE" });

impl ProjectStatus {
    /// `NEW → IN_WORK → ISSUED → RETURNED → COMPLETED`; cancelled from `NEW` or `IN_WORK`.
    pub fn can_become(self, next: Self) -> bool {
        use ProjectStatus::{Cancelled, Completed, InWork, Issued, New, Returned};
        matches!(
            (self, next),
            (New, InWork | Cancelled)
                | (InWork, Issued | Cancelled)
                | (Issued, Returned)
                | (Returned, Completed)
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

    /// What the items of a project in this status are.
    pub fn item_status(self) -> ItemStatus {
        match self {
            Self::New => ItemStatus::Draft,
            Self::InWork => ItemStatus::Reserved,
            Self::Issued => ItemStatus::Issued,
            Self::Returned | Self::Completed => ItemStatus::Returned,
            Self::Cancelled => ItemStatus::Cancelled,
        }
    }

    /// Managers may still change items, periods and prices: before the equipment leaves.
    pub fn editable(self) -> bool {
        matches!(self, Self::New | Self::InWork)
    }

    /// Its items hold units: they count against availability.
    pub fn holds_units(self) -> bool {
        matches!(self, Self::InWork | Self::Issued)
    }
}

impl ItemStatus {
    /// The statuses whose units are in use (availability counts them).
    pub const HOLDING: [Self; 2] = [Self::Reserved, Self::Issued];
}

/// Who to reach about a project: typed at checkout, or the customer's primary contact.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contact {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: String,
}

#[derive(Clone, Debug)]
pub struct Project {
    pub id: Uuid,
    pub number: String,
    pub customer_id: Uuid,
    pub source: ProjectSource,
    pub status: ProjectStatus,
    pub contact: Contact,
    pub customer_note: String,
    pub manager_note: String,
    pub cancel_reason: Option<String>,
    pub short: bool,
    pub accepted_shortage: Vec<Shortage>,
    /// From the earliest start to the latest end of its items.
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub total: Decimal,
    pub created_by: Option<Uuid>,
    pub repeated_from: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub issued_at: Option<DateTime<Utc>>,
    pub returned_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

impl Project {
    /// Handed out and past its end: the equipment is late.
    pub fn is_late(&self, now: DateTime<Utc>) -> bool {
        self.status == ProjectStatus::Issued && now > self.period_end
    }
}

#[derive(Clone, Debug)]
pub struct Item {
    pub id: Uuid,
    pub project_id: Uuid,
    pub position: i32,
    pub product_id: Uuid,
    pub reference: String,
    pub name: String,
    pub quantity: i32,
    pub period: RentalPeriod,
    pub daily_price: Decimal,
    /// One unit for the whole period.
    pub unit_price: Decimal,
    pub amount: LineAmount,
    pub status: ItemStatus,
}

/// The price of one unit for a period: the daily price × the days billed (every started day).
pub fn period_price(daily: Decimal, period: &RentalPeriod) -> Decimal {
    daily * Decimal::from(period.days())
}

pub fn totals(items: &[Item]) -> Totals {
    pricing::totals(items.iter().map(|i| &i.amount))
}

/// One recorded change: field, old and new value, which side and who, when.
#[derive(Clone, Debug)]
pub struct Change {
    pub id: i64,
    pub project_id: Uuid,
    pub item_id: Option<Uuid>,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub side: Side,
    pub actor_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

/// An item that needs more units than are free for its period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortage {
    pub item_id: Uuid,
    /// Position among the project's items (`items.N`).
    pub position: i32,
    pub product_id: Uuid,
    pub reference: String,
    pub name: String,
    pub requested: i32,
    pub available: i32,
    /// Units missing: at most `requested`.
    pub short: i32,
    /// Numbers of the projects holding units over the same dates.
    pub clashes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_lifecycle_goes_forward_only() {
        use ProjectStatus::{Cancelled, Completed, InWork, Issued, New, Returned};
        assert!(New.can_become(InWork) && InWork.can_become(Issued));
        assert!(Issued.can_become(Returned) && Returned.can_become(Completed));
        assert!(New.can_become(Cancelled) && InWork.can_become(Cancelled));
        assert!(!Issued.can_become(Cancelled) && !New.can_become(Issued));
        assert!(!Completed.can_become(New) && !Cancelled.can_become(InWork));
        assert!(InWork.holds_units() && Issued.holds_units() && !New.holds_units());
    }
}
