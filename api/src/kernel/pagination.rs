//! Relay pagination arguments: forward only (`first`/`after`), with a hard maximum page size.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sea_orm::{ColumnTrait, Condition, Value};
use uuid::Uuid;

use crate::error::AppError;

pub const DEFAULT_PAGE_SIZE: u64 = 20;
pub const MAX_PAGE_SIZE: u64 = 100;

/// Validated page request: `limit` rows after the row whose sort key is `after`.
#[derive(Clone, Debug)]
pub struct PageRequest {
    pub limit: u64,
    pub after: Option<String>,
}

impl PageRequest {
    /// `after` as the ID of the last row seen (lists ordered by ID).
    pub fn after_id(&self) -> Result<Option<Uuid>, AppError> {
        self.after
            .as_deref()
            .map(|raw| {
                Uuid::try_parse(raw)
                    .map_err(|_| AppError::validation("after", "not a valid cursor"))
            })
            .transpose()
    }

    pub fn parse(first: Option<i32>, after: Option<String>) -> Result<Self, AppError> {
        let limit = match first {
            None => DEFAULT_PAGE_SIZE,
            Some(n) if n >= 0 && u64::from(n.unsigned_abs()) <= MAX_PAGE_SIZE => {
                u64::from(n.unsigned_abs())
            }
            Some(_) => {
                return Err(AppError::validation(
                    "first",
                    format!("must be between 0 and {MAX_PAGE_SIZE}"),
                ));
            }
        };
        let after = after.map(|cursor| decode_cursor(&cursor)).transpose()?;
        Ok(Self { limit, after })
    }
}

/// A page of rows: the rows, whether more follow, and the total matching the filter.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub total_count: u64,
}

impl<T> Page<T> {
    /// No items at all (a caller with nothing to list).
    pub fn empty() -> Self {
        Self {
            items: Vec::new(),
            has_next_page: false,
            has_previous_page: false,
            total_count: 0,
        }
    }

    /// A page from rows fetched with `LIMIT limit + 1` (one more than shown tells whether more
    /// follow), converted with `convert`.
    pub fn from_rows<R, E>(
        mut rows: Vec<R>,
        limit: u64,
        has_previous_page: bool,
        total_count: u64,
        convert: impl FnMut(R) -> Result<T, E>,
    ) -> Result<Self, E> {
        let has_next_page = rows.len() as u64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(Self {
            items: rows.into_iter().map(convert).collect::<Result<_, _>>()?,
            has_next_page,
            has_previous_page,
            total_count,
        })
    }
}

impl<T> Page<(usize, T)> {
    /// A page of a list already loaded whole (a loader's), by position: the cursor is the
    /// position of the last item seen.
    pub fn from_loaded(all: Vec<T>, request: &PageRequest) -> Result<Self, AppError> {
        let start = match request.after.as_deref() {
            Some(after) => {
                after
                    .parse::<usize>()
                    .map_err(|_| AppError::validation("after", "not a valid cursor"))?
                    + 1
            }
            None => 0,
        };
        let total_count = all.len() as u64;
        let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
        let items: Vec<(usize, T)> = all.into_iter().enumerate().skip(start).collect();
        let has_next_page = items.len() > limit;
        Ok(Self {
            items: items.into_iter().take(limit).collect(),
            has_next_page,
            has_previous_page: start > 0,
            total_count,
        })
    }
}

/// The keyset cursor of a sorted list, decoded from a page request's `after`: `VALIDATION` when
/// it is not one, or was made for another sort (`made_for` says whether it was made for this one).
pub fn keyset_cursor<C: serde::de::DeserializeOwned>(
    after: Option<&str>,
    made_for: impl Fn(&C) -> bool,
) -> Result<Option<C>, AppError> {
    after
        .map(|raw| {
            serde_json::from_str::<C>(raw)
                .ok()
                .filter(|c| made_for(c))
                .ok_or_else(|| AppError::validation("after", "not a cursor of this list and sort"))
        })
        .transpose()
}

pub fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key)
}

pub fn decode_cursor(cursor: &str) -> Result<String, AppError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| AppError::validation("after", "not a valid cursor"))
}

/// The opaque cursor of an event-log position (the same as its edge's cursor).
pub fn event_cursor(id: i64) -> String {
    encode_cursor(&id.to_string())
}

/// An event-log position from its cursor.
pub fn parse_event_cursor(cursor: &str, field: &str) -> Result<i64, AppError> {
    decode_cursor(cursor)
        .ok()
        .and_then(|raw| raw.parse().ok())
        .ok_or_else(|| AppError::validation(field, "not a valid cursor"))
}

/// Keyset pagination: rows after `(value, id)` in `column` order, the ID breaking ties (so a
/// page never repeats or skips rows that share a sort value).
pub fn keyset_after<C: ColumnTrait>(
    column: C,
    id_column: C,
    ascending: bool,
    value: Value,
    id: Uuid,
) -> Condition {
    if ascending {
        Condition::any()
            .add(column.gt(value.clone()))
            .add(Condition::all().add(column.eq(value)).add(id_column.gt(id)))
    } else {
        Condition::any()
            .add(column.lt(value.clone()))
            .add(Condition::all().add(column.eq(value)).add(id_column.lt(id)))
    }
}
