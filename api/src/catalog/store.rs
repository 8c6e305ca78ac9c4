//! Catalog queries. Only the catalog service (and its loaders) call these.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use comptoir_entity::{product, product_option, product_option_value, product_variant};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Select,
    sea_query::{Expr, ExprTrait, LikeExpr, Query},
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{OptionKind, OptionValue, Product, ProductKind, ProductOption, Variant};
use crate::{error::AppError, kernel::money};

pub fn to_product(row: product::Model) -> Result<Product, AppError> {
    let kind = ProductKind::parse(&row.kind).ok_or_else(|| {
        AppError::internal(anyhow::anyhow!("unknown product kind {:?}", row.kind))
    })?;
    Ok(Product {
        id: row.id,
        reference: row.reference,
        name: row.name,
        description: row.description,
        kind,
        unit_price: money::from_e4(row.unit_price_e4),
        vat_rate: money::rate_from_bp(row.vat_rate_bp),
        active: row.active,
        visible: row.visible,
        track_stock: row.track_stock,
        stock: row.stock,
        rental_owned_quantity: row.rental_owned_quantity,
        rental_daily_price: row.rental_daily_price_e4.map(money::from_e4),
        rental_buffer: row
            .rental_owned_quantity
            .is_some()
            .then_some(super::model::RentalBuffer {
                before_hours: row.rental_buffer_before_hours,
                after_hours: row.rental_buffer_after_hours,
            }),
        archived: row.archived_at.is_some(),
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

pub fn to_variant(row: product_variant::Model) -> Variant {
    let characteristics: BTreeMap<String, String> =
        serde_json::from_value(row.characteristics).unwrap_or_default();
    Variant {
        id: row.id,
        product_id: row.product_id,
        reference: row.reference,
        name: row.name,
        characteristics,
        unit_price: money::from_e4(row.unit_price_e4),
        track_stock: row.track_stock,
        stock: row.stock,
        active: row.active,
        position: row.position,
    }
}

fn to_option(
    row: product_option::Model,
    values: Vec<product_option_value::Model>,
) -> ProductOption {
    let mut values: Vec<OptionValue> = values
        .into_iter()
        .map(|v| OptionValue {
            id: v.id,
            code: v.code,
            label: v.label,
            price_modifier: money::from_e4(v.price_modifier_e4),
            position: v.position,
        })
        .collect();
    values.sort_by_key(|v| (v.position, v.code.clone()));
    ProductOption {
        id: row.id,
        product_id: row.product_id,
        code: row.code,
        name: row.name,
        kind: OptionKind::parse(&row.kind).unwrap_or(OptionKind::Choice),
        required: row.required,
        min: row.min_e4.map(money::from_e4),
        max: row.max_e4.map(money::from_e4),
        price_per_unit: money::from_e4(row.price_per_unit_e4),
        unit: row.unit,
        position: row.position,
        values,
    }
}

/// The lower-cased text that catalog search looks into.
pub fn search_text(reference: &str, name: &str, description: &str) -> String {
    let mut text = format!("{reference} {name} {description}").to_lowercase();
    let mut end = text.len().min(1200);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

/// A `LIKE` pattern matching `term` anywhere, with `%`, `_` and `\` taken literally.
pub fn contains_pattern(term: &str) -> LikeExpr {
    let escaped = term
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    LikeExpr::new(format!("%{escaped}%")).escape('\\')
}

pub async fn find_product(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<product::Model>, DbErr> {
    product::Entity::find_by_id(id).one(db).await
}

/// The product row, locked until the transaction ends (PostgreSQL), so that version checks
/// and the writes after them are atomic.
pub async fn find_product_for_update(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<product::Model>, DbErr> {
    product::Entity::find_by_id(id)
        .lock_exclusive()
        .one(db)
        .await
}

pub async fn find_product_by_reference(
    db: &impl ConnectionTrait,
    reference: &str,
) -> Result<Option<product::Model>, DbErr> {
    product::Entity::find()
        .filter(product::Column::Reference.eq(reference))
        .one(db)
        .await
}

pub async fn find_variant(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<product_variant::Model>, DbErr> {
    product_variant::Entity::find_by_id(id).one(db).await
}

pub async fn find_variant_by_reference(
    db: &impl ConnectionTrait,
    reference: &str,
) -> Result<Option<product_variant::Model>, DbErr> {
    product_variant::Entity::find()
        .filter(product_variant::Column::Reference.eq(reference))
        .one(db)
        .await
}

pub async fn find_option(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<product_option::Model>, DbErr> {
    product_option::Entity::find_by_id(id).one(db).await
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProductSort {
    NameAsc,
    NameDesc,
    PriceAsc,
    PriceDesc,
    Newest,
    Oldest,
}

/// Where a page ends: the sort key and ID of its last row.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum SortKey {
    Text(String),
    Int(i64),
    Time(DateTime<Utc>),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProductCursor {
    /// The sort the cursor was made for: a cursor only continues the same list.
    pub sort: String,
    pub key: SortKey,
    pub id: Uuid,
}

impl ProductSort {
    fn column(self) -> product::Column {
        match self {
            Self::NameAsc | Self::NameDesc => product::Column::Name,
            Self::PriceAsc | Self::PriceDesc => product::Column::UnitPriceE4,
            Self::Newest | Self::Oldest => product::Column::CreatedAt,
        }
    }

    fn ascending(self) -> bool {
        matches!(self, Self::NameAsc | Self::PriceAsc | Self::Oldest)
    }

    pub fn cursor(self, row: &Product) -> ProductCursor {
        let key = match self {
            Self::NameAsc | Self::NameDesc => SortKey::Text(row.name.clone()),
            Self::PriceAsc | Self::PriceDesc => {
                SortKey::Int(money::to_e4(row.unit_price, "").unwrap_or_default())
            }
            Self::Newest | Self::Oldest => SortKey::Time(row.created_at),
        };
        ProductCursor {
            sort: format!("{self:?}"),
            key,
            id: row.id,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ProductFilter {
    pub public_only: bool,
    pub kind: Option<ProductKind>,
    pub search: Option<String>,
    pub in_stock: bool,
    pub min_price_e4: Option<i64>,
    pub max_price_e4: Option<i64>,
    pub active: Option<bool>,
}

fn filtered(filter: &ProductFilter) -> Select<product::Entity> {
    let mut query = product::Entity::find();
    if filter.public_only {
        query = query
            .filter(product::Column::Active.eq(true))
            .filter(product::Column::Visible.eq(true))
            .filter(product::Column::ArchivedAt.is_null());
    } else if let Some(active) = filter.active {
        query = query.filter(product::Column::Active.eq(active));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(product::Column::Kind.eq(kind.as_str()));
    }
    if let Some(search) = filter.search.as_deref().filter(|s| !s.trim().is_empty()) {
        query = query.filter(product::Column::SearchText.like(contains_pattern(search.trim())));
    }
    if let Some(min) = filter.min_price_e4 {
        query = query.filter(product::Column::UnitPriceE4.gte(min));
    }
    if let Some(max) = filter.max_price_e4 {
        query = query.filter(product::Column::UnitPriceE4.lte(max));
    }
    if filter.in_stock {
        let variant_in_stock = Query::select()
            .expr(Expr::val(1))
            .from(product_variant::Entity)
            .and_where(
                Expr::col((product_variant::Entity, product_variant::Column::ProductId))
                    .equals((product::Entity, product::Column::Id)),
            )
            .and_where(
                Expr::col((product_variant::Entity, product_variant::Column::Active)).eq(true),
            )
            .cond_where(
                Condition::any()
                    .add(
                        Expr::col((product_variant::Entity, product_variant::Column::TrackStock))
                            .eq(false),
                    )
                    .add(
                        Expr::col((product_variant::Entity, product_variant::Column::Stock)).gt(0),
                    ),
            )
            .to_owned();
        let any_variant = Query::select()
            .expr(Expr::val(1))
            .from(product_variant::Entity)
            .and_where(
                Expr::col((product_variant::Entity, product_variant::Column::ProductId))
                    .equals((product::Entity, product::Column::Id)),
            )
            .and_where(
                Expr::col((product_variant::Entity, product_variant::Column::Active)).eq(true),
            )
            .to_owned();
        // A product with variants is in stock when one of them is; one without, by itself.
        query = query.filter(
            Condition::any().add(Expr::exists(variant_in_stock)).add(
                Condition::all().add(Expr::exists(any_variant).not()).add(
                    Condition::any()
                        .add(product::Column::TrackStock.eq(false))
                        .add(product::Column::Stock.gt(0)),
                ),
            ),
        );
    }
    query
}

/// A page of products in `sort` order after `after`, and the total matching `filter`.
pub async fn list_products(
    db: &impl ConnectionTrait,
    filter: &ProductFilter,
    sort: ProductSort,
    after: Option<ProductCursor>,
    limit: u64,
) -> Result<(Vec<product::Model>, u64), DbErr> {
    use sea_orm::QueryTrait;
    // The total over all pages rides along in the page's own statement (a scalar subquery with
    // the same filter; its columns bind to its own `product`): one round trip, not two.
    let count = filtered(filter)
        .select_only()
        .expr(Expr::cust("COUNT(*)"))
        .into_query();
    let column = sort.column();
    let mut query =
        filtered(filter).column_as(Expr::SubQuery(None, Box::new(count.into())), "total_count");
    if let Some(cursor) = after {
        let value: sea_orm::Value = match cursor.key {
            SortKey::Text(text) => text.into(),
            SortKey::Int(int) => int.into(),
            SortKey::Time(time) => time.into(),
        };
        let condition = crate::kernel::pagination::keyset_after(
            column,
            product::Column::Id,
            sort.ascending(),
            value,
            cursor.id,
        );
        query = query.filter(condition);
    }
    let query = if sort.ascending() {
        query.order_by_asc(column).order_by_asc(product::Column::Id)
    } else {
        query
            .order_by_desc(column)
            .order_by_desc(product::Column::Id)
    };
    let rows: Vec<Counted> = query.limit(limit + 1).into_model().all(db).await?;
    let total = match rows.first() {
        Some(row) => u64::try_from(row.total_count).unwrap_or(0),
        // An empty page still owes its total (a cursor past the end).
        None => filtered(filter).count(db).await?,
    };
    Ok((rows.into_iter().map(|r| r.product).collect(), total))
}

/// A product row with the total of its list.
#[derive(sea_orm::FromQueryResult)]
struct Counted {
    #[sea_orm(nested)]
    product: product::Model,
    total_count: i64,
}

pub async fn products_by_ids(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<product::Model>, DbErr> {
    product::Entity::find()
        .filter(product::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await
}

/// Products locked in ID order until the transaction ends (PostgreSQL; SQLite has one writer):
/// transactions that lock several always take them in the same order. `exclusive`:
/// `FOR NO KEY UPDATE` (reservations queue behind each other, while inserts that reference the
/// products, which take `FOR KEY SHARE`, do not wait: no deadlock with them); otherwise
/// `FOR SHARE` (readers wait for a reservation in progress, not for each other).
pub async fn lock_products(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
    exclusive: bool,
) -> Result<Vec<product::Model>, DbErr> {
    use sea_orm::sea_query::LockType;
    product::Entity::find()
        .filter(product::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(product::Column::Id)
        .lock(if exclusive {
            LockType::NoKeyUpdate
        } else {
            LockType::Share
        })
        .all(db)
        .await
}

pub async fn variants_by_ids(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<product_variant::Model>, DbErr> {
    product_variant::Entity::find()
        .filter(product_variant::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await
}

/// Variants of `product_ids` in display order; active ones only when `active_only`.
pub async fn variants_of(
    db: &impl ConnectionTrait,
    product_ids: &[Uuid],
    active_only: bool,
) -> Result<Vec<product_variant::Model>, DbErr> {
    let mut query = product_variant::Entity::find()
        .filter(product_variant::Column::ProductId.is_in(product_ids.iter().copied()));
    if active_only {
        query = query.filter(product_variant::Column::Active.eq(true));
    }
    query
        .order_by_asc(product_variant::Column::Position)
        .order_by_asc(product_variant::Column::Reference)
        .all(db)
        .await
}

/// Options of `product_ids` with their values: two statements whatever the number of products.
pub async fn options_of(
    db: &impl ConnectionTrait,
    product_ids: &[Uuid],
) -> Result<Vec<ProductOption>, DbErr> {
    use sea_orm::{IdenStatic, Iterable, JoinType, RelationDef};
    // Options with their values in one statement: a left join, values' columns prefixed.
    let values: RelationDef = product_option_value::Entity::belongs_to(product_option::Entity)
        .from(product_option_value::Column::OptionId)
        .to(product_option::Column::Id)
        .into();
    let mut query = product_option::Entity::find()
        .join(JoinType::LeftJoin, values.rev())
        .filter(product_option::Column::ProductId.is_in(product_ids.iter().copied()))
        .order_by_asc(product_option::Column::Position)
        .order_by_asc(product_option::Column::Code)
        .order_by_asc(product_option::Column::Id)
        .order_by_asc(product_option_value::Column::Position);
    for column in product_option_value::Column::iter() {
        query = query.column_as(
            Expr::col((product_option_value::Entity, column)),
            format!("value_{}", column.as_str()),
        );
    }
    let rows: Vec<OptionWithValue> = query.into_model().all(db).await?;
    let mut options: Vec<(product_option::Model, Vec<product_option_value::Model>)> = Vec::new();
    for row in rows {
        match options.last_mut() {
            Some((option, values)) if option.id == row.option.id => values.extend(row.value),
            _ => options.push((row.option, row.value.into_iter().collect())),
        }
    }
    Ok(options
        .into_iter()
        .map(|(option, values)| to_option(option, values))
        .collect())
}

/// An option joined with one of its values (none for an option without values).
#[derive(sea_orm::FromQueryResult)]
struct OptionWithValue {
    #[sea_orm(nested)]
    option: product_option::Model,
    #[sea_orm(nested(prefix = "value_"))]
    value: Option<product_option_value::Model>,
}

/// Takes `quantity` units of tracked stock if that many are there, in one conditional statement
/// (parallel orders cannot both take the last unit). Returns whether it did.
pub async fn take_stock(
    db: &impl ConnectionTrait,
    product_id: Uuid,
    variant_id: Option<Uuid>,
    quantity: i32,
) -> Result<bool, DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    let affected = match variant_id {
        Some(id) => {
            product_variant::Entity::update_many()
                .col_expr(
                    product_variant::Column::Stock,
                    Expr::col(product_variant::Column::Stock).sub(quantity),
                )
                .filter(product_variant::Column::Id.eq(id))
                .filter(product_variant::Column::TrackStock.eq(true))
                .filter(product_variant::Column::Stock.gte(quantity))
                .exec(db)
                .await?
        }
        None => {
            product::Entity::update_many()
                .col_expr(
                    product::Column::Stock,
                    Expr::col(product::Column::Stock).sub(quantity),
                )
                .filter(product::Column::Id.eq(product_id))
                .filter(product::Column::TrackStock.eq(true))
                .filter(product::Column::Stock.gte(quantity))
                .exec(db)
                .await?
        }
    };
    Ok(affected.rows_affected == 1)
}

/// SQLite: [`take_stock`] as two statements to run in turn with others, the second giving one
/// row: `taken` (1 when the units were taken), `track_stock` and the `stock` left (both `NULL`
/// when the product or variant is gone).
pub fn take_stock_sqlite(
    product_id: Uuid,
    variant_id: Option<Uuid>,
    quantity: i32,
) -> [sea_orm::Statement; 2] {
    use sea_orm::{DbBackend, Statement};
    const PRODUCT: [&str; 2] = [
        "UPDATE product SET stock = stock - ? WHERE id = ? AND track_stock AND stock >= ?",
        "SELECT changes() AS taken, (SELECT track_stock FROM product WHERE id = ?) AS track_stock, \
         (SELECT stock FROM product WHERE id = ?) AS stock",
    ];
    const VARIANT: [&str; 2] = [
        "UPDATE product_variant SET stock = stock - ? WHERE id = ? AND track_stock AND stock >= ?",
        "SELECT changes() AS taken, \
         (SELECT track_stock FROM product_variant WHERE id = ?) AS track_stock, \
         (SELECT stock FROM product_variant WHERE id = ?) AS stock",
    ];
    let (sql, id) = match variant_id {
        Some(id) => (VARIANT, id),
        None => (PRODUCT, product_id),
    };
    [
        Statement::from_sql_and_values(
            DbBackend::Sqlite,
            sql[0],
            [quantity.into(), id.into(), quantity.into()],
        ),
        Statement::from_sql_and_values(DbBackend::Sqlite, sql[1], [id.into(), id.into()]),
    ]
}

/// PostgreSQL: `first` (a statement giving one row) and [`take_stock`] for each of `items`, in
/// one statement that runs them in the order given and stops at the first take that took
/// nothing from a row that counts stock (see below: not always a take short of stock). Each
/// take's `WHERE` reads `ok_N` of the one before (it and every take before it took its units or
/// count no stock), which PostgreSQL can answer only once that take has run. The row is
/// `first`'s, then for each item `taken_N` (1 when the units were taken) and `tracked_N`
/// (`track_stock` as the statement's snapshot saw it; `NULL` when the row is gone).
///
/// The statement sees the rows as they were when it began, and not its own updates: a take
/// that waited for another transaction's lock rechecks the row as the other left it only if the
/// row as it was already qualified (stock added meanwhile is not seen), and a second take of one
/// row takes nothing. A take that took nothing from a row that counts stock is to be run again
/// by a statement of its own ([`take_stock`]).
///
/// Last, each of `held` (a table and a row's ID) is locked `FOR KEY SHARE`, as a foreign key's
/// check would lock it (`held_N`, not read: PostgreSQL runs an unread common table expression
/// only if referenced; a row a take of the statement updated is skipped, already locked).
pub fn take_stock_postgres(
    first: sea_orm::Statement,
    items: &[(Uuid, Option<Uuid>, i32)],
    held: &[(&'static str, Uuid)],
) -> sea_orm::Statement {
    use std::fmt::Write;

    let mut values = first.values.map(|v| v.0).unwrap_or_default();
    let mut sql = format!("WITH first AS ({})", first.sql);
    let mut select = String::from("SELECT first.*");
    let mut before = String::from("(SELECT count(*) FROM first) = 1");
    for (index, &(product_id, variant_id, quantity)) in items.iter().enumerate() {
        let (table, id) = match variant_id {
            Some(id) => ("product_variant", id),
            None => ("product", product_id),
        };
        values.push(quantity.into());
        let quantity = values.len();
        values.push(id.into());
        let id = values.len();
        let untracked =
            format!("NOT EXISTS (SELECT FROM {table} WHERE id = ${id} AND track_stock)");
        let _ = write!(
            sql,
            ", take_{index} AS (UPDATE {table} SET stock = stock - ${quantity} \
             WHERE id = ${id} AND track_stock AND stock >= ${quantity} AND {before} RETURNING 1), \
             ok_{index} AS (SELECT {before} AND (EXISTS (SELECT FROM take_{index}) OR {untracked}) AS ok)"
        );
        let _ = write!(
            select,
            ", (SELECT count(*) FROM take_{index}) AS taken_{index}, \
             (SELECT track_stock FROM {table} WHERE id = ${id}) AS tracked_{index}"
        );
        before = format!("(SELECT ok FROM ok_{index})");
    }
    for (index, &(table, id)) in held.iter().enumerate() {
        values.push(id.into());
        let id = values.len();
        let _ = write!(
            sql,
            ", held_{index} AS (SELECT FROM {table} WHERE id = ${id} FOR KEY SHARE)"
        );
        let _ = write!(
            select,
            ", (SELECT count(*) FROM held_{index}) AS held_{index}"
        );
    }
    sql.push(' ');
    sql.push_str(&select);
    sql.push_str(" FROM first");
    sea_orm::Statement::from_sql_and_values(sea_orm::DbBackend::Postgres, sql, values)
}

/// Puts `quantity` units back (an order line shrank or its order was cancelled).
pub async fn return_stock(
    db: &impl ConnectionTrait,
    product_id: Uuid,
    variant_id: Option<Uuid>,
    quantity: i32,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    match variant_id {
        Some(id) => {
            product_variant::Entity::update_many()
                .col_expr(
                    product_variant::Column::Stock,
                    Expr::col(product_variant::Column::Stock).add(quantity),
                )
                .filter(product_variant::Column::Id.eq(id))
                .exec(db)
                .await?;
        }
        None => {
            product::Entity::update_many()
                .col_expr(
                    product::Column::Stock,
                    Expr::col(product::Column::Stock).add(quantity),
                )
                .filter(product::Column::Id.eq(product_id))
                .exec(db)
                .await?;
        }
    }
    Ok(())
}
