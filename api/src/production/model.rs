//! Production domain types: files on order lines (versions, certification), comments, quality
//! claims and their state machine. Pure.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{error::AppError, kernel::string_enum};

/// One version of a production file.
#[derive(Clone, Debug)]
pub struct ProductionFile {
    pub id: Uuid,
    pub order_id: Uuid,
    pub line_id: Uuid,
    /// The first version's ID: shared by every version of the file.
    pub first_id: Uuid,
    pub version: i32,
    /// The version in use; earlier versions are kept, not current.
    pub current: bool,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub storage_key: String,
    pub certified_at: Option<DateTime<Utc>>,
    pub certified_by: Option<Uuid>,
    pub uploaded_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl ProductionFile {
    pub fn certified(&self) -> bool {
        self.certified_at.is_some()
    }

    /// A file changes (replaced, certified) only in its current version; a certified file is
    /// not replaced until uncertified.
    pub fn check_replaceable(&self) -> Result<(), AppError> {
        self.check_current("REPLACE")?;
        if self.certified() {
            return Err(AppError::InvalidTransition {
                from: "CERTIFIED",
                to: "REPLACE".to_owned(),
            });
        }
        Ok(())
    }

    pub fn check_current(&self, to: &str) -> Result<(), AppError> {
        if self.current {
            Ok(())
        } else {
            Err(AppError::InvalidTransition {
                from: "SUPERSEDED",
                to: to.to_owned(),
            })
        }
    }
}

/// A line is ready for production when it has files and every current one is certified.
pub fn line_ready<'a>(files: impl IntoIterator<Item = &'a ProductionFile>) -> bool {
    let mut any = false;
    for file in files.into_iter().filter(|f| f.current) {
        if !file.certified() {
            return false;
        }
        any = true;
    }
    any
}

#[derive(Clone, Debug)]
pub struct FileComment {
    pub id: Uuid,
    pub file_id: Uuid,
    pub author_id: Option<Uuid>,
    pub body: String,
    pub at: DateTime<Utc>,
}

string_enum!(ClaimStatus { Open => "OPEN", Accepted => "ACCEPTED", Rejected => "REJECTED" });

string_enum!(ClaimReason {
    PrintDefect => "PRINT_DEFECT",
    WrongColours => "WRONG_COLOURS",
    WrongSize => "WRONG_SIZE",
    Damaged => "DAMAGED",
    WrongQuantity => "WRONG_QUANTITY",
    Other => "OTHER",
});

impl ClaimStatus {
    /// `OPEN` → `ACCEPTED` | `REJECTED`, once.
    pub fn check(self, next: Self) -> Result<(), AppError> {
        if self == Self::Open && next != Self::Open {
            Ok(())
        } else {
            Err(AppError::InvalidTransition {
                from: self.as_str(),
                to: next.as_str().to_owned(),
            })
        }
    }
}

#[derive(Clone, Debug)]
pub struct Claim {
    pub id: Uuid,
    pub order_id: Uuid,
    pub line_id: Uuid,
    pub customer_id: Uuid,
    pub reason: ClaimReason,
    pub description: String,
    pub status: ClaimStatus,
    pub decision_note: String,
    pub reprint_order_id: Option<Uuid>,
    pub opened_by: Option<Uuid>,
    pub decided_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
pub struct ClaimPhoto {
    pub id: Uuid,
    pub claim_id: Uuid,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub storage_key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(current: bool, certified: bool) -> ProductionFile {
        ProductionFile {
            id: Uuid::nil(),
            order_id: Uuid::nil(),
            line_id: Uuid::nil(),
            first_id: Uuid::nil(),
            version: 1,
            current,
            filename: String::new(),
            content_type: String::new(),
            size: 0,
            sha256: String::new(),
            storage_key: String::new(),
            certified_at: certified.then(Utc::now),
            certified_by: None,
            uploaded_by: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_line_is_ready_when_every_current_file_is_certified() {
        assert!(!line_ready(&[]));
        assert!(line_ready(&[file(true, true), file(false, false)]));
        assert!(!line_ready(&[file(true, true), file(true, false)]));
        assert!(!line_ready(&[file(false, true)]));
    }

    #[test]
    fn a_claim_is_decided_once() {
        assert!(ClaimStatus::Open.check(ClaimStatus::Accepted).is_ok());
        assert!(ClaimStatus::Open.check(ClaimStatus::Rejected).is_ok());
        assert!(ClaimStatus::Accepted.check(ClaimStatus::Rejected).is_err());
        assert!(ClaimStatus::Rejected.check(ClaimStatus::Accepted).is_err());
    }

    #[test]
    fn a_certified_or_old_version_is_not_replaced() {
        assert!(file(true, false).check_replaceable().is_ok());
        assert!(file(true, true).check_replaceable().is_err());
        assert!(file(false, false).check_replaceable().is_err());
    }
}
