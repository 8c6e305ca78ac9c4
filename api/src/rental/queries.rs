//! Availability as the storefront asks for it: over a period, day by day, and per item of a
//! project (for its display).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    create::require_rental,
    ledger::{Ledger, Lock},
    store,
};
use crate::{auth::Principal, catalog, error::AppError, state::AppState};

/// What a product can still take over a period.
#[derive(Clone, Debug)]
pub struct ProductAvailability {
    pub product: catalog::Product,
    pub available: i32,
}

/// Most products one availability query may ask about.
const MAX_PRODUCTS: usize = 100;

/// Years a period asked about may fall in: beyond, date arithmetic would overflow for nothing.
const YEARS: std::ops::RangeInclusive<i32> = 2000..=2200;

fn check_year(year: i32, field: &str) -> Result<(), AppError> {
    if YEARS.contains(&year) {
        Ok(())
    } else {
        Err(AppError::validation(
            field,
            format!("a date from {} to {}", YEARS.start(), YEARS.end()),
        ))
    }
}

/// A period asked about (not booked): ends after it starts, at most a year; it may be past.
fn parse_window(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), AppError> {
    use chrono::Datelike;
    check_year(from.year(), "from")?;
    check_year(to.year(), "to")?;
    if to <= from {
        return Err(AppError::validation(
            "to",
            "the end must be after the start",
        ));
    }
    if to - from > chrono::Duration::days(crate::carts::model::RentalPeriod::MAX_DAYS) {
        return Err(AppError::validation(
            "to",
            format!(
                "at most {} days",
                crate::carts::model::RentalPeriod::MAX_DAYS
            ),
        ));
    }
    Ok((from, to))
}

/// Units each rental product can still take over `[from, to)`: owned minus the peak in use by
/// projects in work or handed out (drafts never count), buffers included. Everyone may ask
/// about what the storefront shows; staff about any rental product.
pub async fn availability(
    state: &AppState,
    principal: &Principal,
    product_ids: &[Uuid],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ProductAvailability>, AppError> {
    let (from, to) = parse_window(from, to)?;
    if product_ids.is_empty() || product_ids.len() > MAX_PRODUCTS {
        return Err(AppError::validation(
            "productIds",
            format!("1 to {MAX_PRODUCTS} products"),
        ));
    }
    let db = state.db.read();
    let ledger = Ledger::load(
        db,
        product_ids,
        from,
        to,
        None,
        state.clock.now(),
        Lock::None,
    )
    .await?;
    product_ids
        .iter()
        .enumerate()
        .map(|(index, id)| {
            let product = require_rental(
                ledger.product(*id),
                !principal.is_staff(),
                &format!("productIds.{index}"),
            )?;
            Ok(ProductAvailability {
                available: ledger.available(product.id, None, from, to),
                product,
            })
        })
        .collect()
}

/// Units a rental product can still take each day (UTC) from `first` to `last`: a storefront
/// calendar, at most a year.
pub async fn calendar(
    state: &AppState,
    principal: &Principal,
    product_id: Uuid,
    first: chrono::NaiveDate,
    last: chrono::NaiveDate,
) -> Result<(catalog::Product, Vec<(chrono::NaiveDate, i32)>), AppError> {
    use chrono::Datelike;
    check_year(first.year(), "from")?;
    check_year(last.year(), "to")?;
    let start = first.and_time(chrono::NaiveTime::MIN).and_utc();
    let end = last.and_time(chrono::NaiveTime::MIN).and_utc() + chrono::Duration::days(1);
    parse_window(start, end)?;
    let ledger = Ledger::load(
        state.db.read(),
        &[product_id],
        start,
        end,
        None,
        state.clock.now(),
        Lock::None,
    )
    .await?;
    let product = require_rental(
        ledger.product(product_id),
        !principal.is_staff(),
        "productId",
    )?;
    let days = ledger.calendar(product_id, first, last);
    Ok((product, days))
}

/// Units free for items over their periods, not counting their own project (loaders).
pub async fn availability_of_items(
    db: &impl sea_orm::ConnectionTrait,
    item_ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<std::collections::HashMap<Uuid, i32>, AppError> {
    let items = store::items_by_ids(db, item_ids).await?;
    let ledger = Ledger::for_items(db, &items, None, now, Lock::None).await?;
    Ok(items
        .iter()
        .map(|i| {
            (
                i.id,
                ledger.available(i.product_id, Some(i.project_id), i.start_at, i.end_at),
            )
        })
        .collect())
}
