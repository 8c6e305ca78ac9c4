//! Fixed-window rate limits kept in the database, so every instance counts the same attempts.

use std::{net::IpAddr, time::Duration};

use chrono::{DateTime, Utc};
use comptoir_entity::rate_limit::{Column, Entity};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    sea_query::{Alias, CaseStatement, Expr, ExprTrait, OnConflict, Query},
};

use crate::{error::AppError, kernel::time::chrono_duration, state::AppState};

/// Counts one attempt against each `(key, max)` in a transaction of its own, committed whatever
/// the outcome, then answers `RATE_LIMITED` (with the longest wait) if any limit is exceeded.
pub async fn enforce(
    state: &AppState,
    limits: &[(String, u32)],
    window: Duration,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let tx = state.db.begin(&state.events).await?;
    let mut retry_after: Option<u64> = None;
    for (key, max) in limits {
        if let Some(wait) = hit(&*tx, key, *max, window, now).await? {
            retry_after = Some(retry_after.map_or(wait, |w| Ord::max(w, wait)));
        }
    }
    tx.commit().await?;
    match retry_after {
        Some(retry_after_secs) => Err(AppError::RateLimited { retry_after_secs }),
        None => Ok(()),
    }
}

/// The bucket an address counts in: the address itself for IPv4, its /64 for IPv6 (one
/// client usually holds a whole /64).
pub fn address_bucket(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                v4.to_string()
            } else {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        }
    }
}

/// Counts one attempt for `key`; the seconds until the window ends once more than `max`
/// attempts fall in the current window.
async fn hit(
    db: &impl ConnectionTrait,
    key: &str,
    max: u32,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<Option<u64>, AppError> {
    let window_start_floor = now - chrono_duration(window);
    let expired = Expr::col((Entity, Column::WindowStart)).lte(window_start_floor);
    let excluded = |column: Column| Expr::col((Alias::new("excluded"), column));
    // One statement, atomic on both back ends: a new window resets the count to 1.
    let statement = Query::insert()
        .into_table(Entity)
        .columns([Column::Key, Column::WindowStart, Column::Count])
        .values_panic([key.into(), now.into(), 1.into()])
        .on_conflict(
            OnConflict::column(Column::Key)
                .value(
                    Column::Count,
                    CaseStatement::new()
                        .case(expired.clone(), Expr::val(1))
                        .finally(Expr::col((Entity, Column::Count)).add(1)),
                )
                .value(
                    Column::WindowStart,
                    CaseStatement::new()
                        .case(expired, excluded(Column::WindowStart))
                        .finally(Expr::col((Entity, Column::WindowStart))),
                )
                .to_owned(),
        )
        .to_owned();
    db.execute(&statement).await?;
    let row = Entity::find()
        .filter(Column::Key.eq(key))
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("rate limit row vanished")))?;
    if u32::try_from(row.count).unwrap_or(u32::MAX) > max {
        let ends = row.window_start + chrono_duration(window);
        return Ok(Some(
            u64::try_from(Ord::max((ends - now).num_seconds(), 1)).unwrap_or(1),
        ));
    }
    Ok(None)
}

/// Forgets the attempts counted for `key` (after a successful login).
pub async fn reset(db: &impl ConnectionTrait, key: &str) -> Result<(), DbErr> {
    Entity::delete_many()
        .filter(Column::Key.eq(key))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_count_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        let b: IpAddr = "2001:db8:1:2:bbbb::9"
            .parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        assert_eq!(address_bucket(a), address_bucket(b));
        assert_eq!(address_bucket("10.0.0.1".parse().unwrap_or(a)), "10.0.0.1");
    }
}
