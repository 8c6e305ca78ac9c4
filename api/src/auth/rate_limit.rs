//! Fixed-window rate limits kept in the database, so every instance counts the same attempts.

use std::time::Duration;

use chrono::{DateTime, Utc};
use comptoir_entity::rate_limit::{Column, Entity};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    sea_query::{Alias, CaseStatement, Expr, ExprTrait, OnConflict, Query},
};

use crate::{error::AppError, kernel::time::chrono_duration};

/// Counts one attempt for `key`; `RATE_LIMITED` with the seconds until the window ends once more
/// than `max` attempts fall in the current window.
pub async fn hit(
    db: &impl ConnectionTrait,
    key: &str,
    max: u32,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
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
        let retry_after_secs = u64::try_from(Ord::max((ends - now).num_seconds(), 1)).unwrap_or(1);
        return Err(AppError::RateLimited { retry_after_secs });
    }
    Ok(())
}

/// Forgets the attempts counted for `key` (after a successful login).
pub async fn reset(db: &impl ConnectionTrait, key: &str) -> Result<(), DbErr> {
    Entity::delete_many()
        .filter(Column::Key.eq(key))
        .exec(db)
        .await?;
    Ok(())
}
