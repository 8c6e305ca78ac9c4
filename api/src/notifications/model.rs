//! Notification domain types.

use base64::{Engine, engine::general_purpose::STANDARD};
use serde::{Deserialize, Serialize};

use crate::{auth::model::Email, customers::model::parse_phone, error::AppError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Email => "EMAIL",
            Self::Sms => "SMS",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "EMAIL" => Some(Self::Email),
            "SMS" => Some(Self::Sms),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pending,
    Sent,
    Failed,
}

impl Status {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Sent => "SENT",
            Self::Failed => "FAILED",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "PENDING" => Some(Self::Pending),
            "SENT" => Some(Self::Sent),
            "FAILED" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// Where a message goes: an email address, or a phone number in E.164 form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    pub channel: Channel,
    pub address: String,
}

impl Recipient {
    pub fn email(value: &str, field: &str) -> Result<Self, AppError> {
        Ok(Self {
            channel: Channel::Email,
            address: Email::parse(value, field)?.as_str().to_owned(),
        })
    }

    /// A phone number: refused with `VALIDATION` unless E.164 (`+33612345678`).
    pub fn phone(value: &str, field: &str) -> Result<Self, AppError> {
        Ok(Self {
            channel: Channel::Sms,
            address: parse_phone(value, field)?,
        })
    }
}

/// A file attached to an email (a PDF, a JSON export), stored with the message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    #[serde(with = "base64_bytes")]
    pub content: Vec<u8>,
}

mod base64_bytes {
    use super::{Engine, STANDARD};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}
