//! Gapless document numbers (`ORD-000042`): one counter row per series, incremented by the
//! transaction that uses the number. Concurrent transactions queue on that row, and a rolled-back
//! one gives its number back, so numbers never skip or repeat.

use comptoir_entity::number_series;
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, QueryResult, Statement,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};

/// The next number of `series`, formatted `PREFIX-000001`.
pub async fn next(db: &impl ConnectionTrait, series: &str) -> Result<String, DbErr> {
    let row = db
        .query_one_raw(next_statement(db.get_database_backend(), series))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("number series {series}")))?;
    from_row(series, &row)
}

/// The statement [`next`] runs, for a caller that runs it with others: its one row gives the
/// number to [`from_row`].
pub fn next_statement(backend: DbBackend, series: &str) -> Statement {
    let statement = Query::insert()
        .into_table(number_series::Entity)
        .columns([
            number_series::Column::Name,
            number_series::Column::LastValue,
        ])
        .values_panic([series.into(), 1_i64.into()])
        .on_conflict(
            OnConflict::column(number_series::Column::Name)
                .value(
                    number_series::Column::LastValue,
                    Expr::col((number_series::Entity, number_series::Column::LastValue)).add(1),
                )
                .to_owned(),
        )
        .returning_col(number_series::Column::LastValue)
        .to_owned();
    backend.build(&statement)
}

/// The number of `series` the row of [`next_statement`] gives.
pub fn from_row(series: &str, row: &QueryResult) -> Result<String, DbErr> {
    let value: i64 = row.try_get("", "last_value")?;
    Ok(format!("{series}-{value:06}"))
}
