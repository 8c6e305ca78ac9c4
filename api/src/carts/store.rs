//! Cart queries. Only the carts service calls these.

use chrono::{DateTime, Utc};
use comptoir_entity::{cart, cart_line};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, Select, Set, sea_query::Expr,
};
use uuid::Uuid;

use crate::db::{Db, Rendered};

pub const ACTIVE: &str = "ACTIVE";
pub const MERGED: &str = "MERGED";

pub async fn find_by_token_hash(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<cart::Model>, DbErr> {
    cart::Entity::find()
        .filter(cart::Column::TokenHash.eq(token_hash))
        .filter(cart::Column::Status.eq(ACTIVE))
        .one(db)
        .await
}

/// The active cart that `condition` names, its time set to `now`: found and marked changed in
/// one statement, where a change to a cart starts.
pub async fn touch_where(
    db: &impl ConnectionTrait,
    condition: Condition,
    now: DateTime<Utc>,
) -> Result<Option<cart::Model>, DbErr> {
    Ok(cart::Entity::update_many()
        .col_expr(cart::Column::UpdatedAt, Expr::value(now))
        .filter(condition)
        .filter(cart::Column::Status.eq(ACTIVE))
        .exec_with_returning(db)
        .await?
        .into_iter()
        .next())
}

pub async fn find_user_cart(
    db: &impl ConnectionTrait,
    user_id: Uuid,
) -> Result<Option<cart::Model>, DbErr> {
    cart::Entity::find()
        .filter(cart::Column::UserId.eq(user_id))
        .filter(cart::Column::Status.eq(ACTIVE))
        .one(db)
        .await
}

pub async fn insert_cart(
    db: &impl ConnectionTrait,
    token_hash: Option<String>,
    user_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<cart::Model, DbErr> {
    cart::ActiveModel {
        id: Set(Uuid::now_v7()),
        token_hash: Set(token_hash),
        user_id: Set(user_id),
        status: Set(ACTIVE.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
}

pub async fn touch(
    db: &impl ConnectionTrait,
    cart: cart::Model,
    now: DateTime<Utc>,
) -> Result<cart::Model, DbErr> {
    let mut active: cart::ActiveModel = cart.into();
    active.updated_at = Set(now);
    active.update(db).await
}

pub async fn lines_of(
    db: &impl ConnectionTrait,
    cart_id: Uuid,
) -> Result<Vec<cart_line::Model>, DbErr> {
    lines(cart_id).all(db).await
}

/// The lines of a cart, in the order they were added.
fn lines(cart_id: Uuid) -> Select<cart_line::Entity> {
    cart_line::Entity::find()
        .filter(cart_line::Column::CartId.eq(cart_id))
        .order_by_asc(cart_line::Column::CreatedAt)
        .order_by_asc(cart_line::Column::Id)
}

/// A cart line with the stock of its product and variant as the database holds it now (the
/// catalog rows carts keep per epoch do not follow stock).
#[derive(FromQueryResult)]
pub struct LineWithStock {
    #[sea_orm(nested)]
    pub line: cart_line::Model,
    pub product_stock: Option<i32>,
    pub variant_stock: Option<i32>,
}

/// The lines of a cart, with their stock (one statement). Every cart mutation's answer reads
/// them: the text is rendered once.
pub async fn lines_with_stock(
    db: &impl ConnectionTrait,
    cart_id: Uuid,
) -> Result<Vec<LineWithStock>, DbErr> {
    let statement = lines_with_stock_statement(db.get_database_backend(), cart_id)?;
    LineWithStock::find_by_statement(statement).all(db).await
}

static LINES_WITH_STOCK: Rendered = Rendered::new();

fn lines_with_stock_statement(
    backend: sea_orm::DbBackend,
    cart_id: Uuid,
) -> Result<sea_orm::Statement, DbErr> {
    LINES_WITH_STOCK.bind(
        backend,
        || Ok(build_lines_with_stock(backend, cart_id)),
        [cart_id.into()],
    )
}

fn build_lines_with_stock(backend: sea_orm::DbBackend, cart_id: Uuid) -> sea_orm::Statement {
    use sea_orm::QueryTrait;
    with_stock(lines(cart_id)).build(backend)
}

/// `lines` with the stock of each line's product and variant.
fn with_stock(lines: Select<cart_line::Entity>) -> Select<cart_line::Entity> {
    lines
        .expr_as(
            Expr::cust("(SELECT stock FROM product WHERE product.id = cart_line.product_id)"),
            "product_stock",
        )
        .expr_as(
            Expr::cust(
                "(SELECT stock FROM product_variant WHERE product_variant.id = cart_line.variant_id)",
            ),
            "variant_stock",
        )
}

/// The lines of the active cart `owner` holds, with their stock and the cart's head, the cart
/// and the lines locked (PostgreSQL): one statement where a cart becomes an order, a quote or a
/// rental project.
/// Empty when there is no such cart or it has no lines ([`lock`] tells which).
///
/// The lines are locked with the cart: a second checkout of the cart that waited here for the
/// first one's commit finds its lines deleted and gets none (PostgreSQL rechecks the rows it
/// locks, not the others).
pub async fn lock_with_lines(
    db: &impl ConnectionTrait,
    cart_id: Uuid,
    owner: &Owner,
) -> Result<Vec<LockedLine>, DbErr> {
    let statement = lock_with_lines_statement(db.get_database_backend(), cart_id, owner)?;
    LockedLine::find_by_statement(statement).all(db).await
}

/// A line of [`lock_with_lines`], with its cart's head.
#[derive(FromQueryResult)]
pub struct LockedLine {
    #[sea_orm(nested)]
    pub line: LineWithStock,
    pub cart_user_id: Option<Uuid>,
    pub cart_updated_at: DateTime<Utc>,
}

static LOCK_TOKEN_CART_WITH_LINES: Rendered = Rendered::new();
static LOCK_USER_CART_WITH_LINES: Rendered = Rendered::new();

fn lock_with_lines_statement(
    backend: sea_orm::DbBackend,
    cart_id: Uuid,
    owner: &Owner,
) -> Result<sea_orm::Statement, DbErr> {
    let (kept, owner_value) = match owner {
        Owner::TokenHash(hash) => (&LOCK_TOKEN_CART_WITH_LINES, hash.as_str().into()),
        Owner::User(id) => (&LOCK_USER_CART_WITH_LINES, (*id).into()),
    };
    kept.bind(
        backend,
        || Ok(build_lock_with_lines(backend, cart_id, owner)),
        [owner_value, ACTIVE.into(), cart_id.into()],
    )
}

fn build_lock_with_lines(
    backend: sea_orm::DbBackend,
    cart_id: Uuid,
    owner: &Owner,
) -> sea_orm::Statement {
    use sea_orm::{
        QueryTrait,
        sea_query::{ExprTrait, IntoIden, LockType},
    };
    let mut select = with_stock(lines(cart_id))
        .expr_as(
            Expr::col((cart::Entity, cart::Column::UserId)),
            "cart_user_id",
        )
        .expr_as(
            Expr::col((cart::Entity, cart::Column::UpdatedAt)),
            "cart_updated_at",
        )
        .into_query();
    select
        .inner_join(
            cart::Entity,
            Condition::all()
                .add(
                    Expr::col((cart::Entity, cart::Column::Id))
                        .eq(Expr::col((cart_line::Entity, cart_line::Column::CartId))),
                )
                .add(owner.condition())
                .add(cart::Column::Status.eq(ACTIVE)),
        )
        .lock_with_tables(
            LockType::Update,
            [cart::Entity.into_iden(), cart_line::Entity.into_iden()],
        );
    backend.build(&select)
}

pub async fn find_line(
    db: &impl ConnectionTrait,
    cart_id: Uuid,
    line_id: Uuid,
) -> Result<Option<cart_line::Model>, DbErr> {
    cart_line::Entity::find_by_id(line_id)
        .filter(cart_line::Column::CartId.eq(cart_id))
        .one(db)
        .await
}

pub async fn delete_lines(db: &impl ConnectionTrait, cart_id: Uuid) -> Result<(), DbErr> {
    cart_line::Entity::delete_many()
        .filter(cart_line::Column::CartId.eq(cart_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The delete of the lines `line_ids` of a cart, to run now or at commit.
pub fn delete_lines_by_id_query(
    cart_id: Uuid,
    line_ids: &[Uuid],
) -> sea_orm::sea_query::DeleteStatement {
    use sea_orm::QueryTrait;
    cart_line::Entity::delete_many()
        .filter(cart_line::Column::CartId.eq(cart_id))
        .filter(cart_line::Column::Id.is_in(line_ids.iter().copied()))
        .into_query()
}

/// A line to add: what it holds, and how many.
#[derive(Clone, Debug)]
pub struct NewLine {
    pub product_id: Uuid,
    pub variant_id: Option<Uuid>,
    pub configuration: serde_json::Value,
    pub line_key: String,
    pub quantity: i32,
    pub rental_start: Option<DateTime<Utc>>,
    pub rental_end: Option<DateTime<Utc>>,
}

/// Adds `line` to the cart, or its quantity to the line that already holds the same thing, in
/// one statement (`ON CONFLICT … DO UPDATE`), so concurrent adds never lose a unit. With
/// `max_lines`, a new line is added only while the cart holds fewer (the same statement counts
/// them, on PostgreSQL after locking the cart: [`room`]): `false` when it was refused for that.
pub async fn add_line(
    db: &impl ConnectionTrait,
    cart_id: Uuid,
    line: NewLine,
    max_lines: Option<usize>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let cart = Condition::all().add(cart::Column::Id.eq(cart_id));
    let statement = insert_line(
        db.get_database_backend(),
        cart,
        Uuid::now_v7(),
        line,
        max_lines,
        now,
    )?;
    Ok(db.execute(&statement).await?.rows_affected() > 0)
}

/// Whose cart: an anonymous cart's token (its hash), or a user's own.
#[derive(Clone, Debug)]
pub enum Owner {
    TokenHash(String),
    User(Uuid),
}

impl Owner {
    pub fn condition(&self) -> Condition {
        Condition::all().add(match self {
            Owner::TokenHash(hash) => cart::Column::TokenHash.eq(hash.as_str()),
            Owner::User(id) => cart::Column::UserId.eq(*id),
        })
    }
}

/// [`add_line`] to the active cart `owner` names, found by the insert itself: one statement
/// that needs no transaction around it. The cart is marked changed by the line's trigger. The
/// cart's ID, or `None` when there is no such cart or it is full.
///
/// On SQLite the statement runs alone on the one writer (sent with other adds waiting there, in
/// one round trip: [`Db::write_one`]); on PostgreSQL two of them may run at once, and the
/// cart's room is counted after its row's lock ([`room`]).
pub async fn add_line_to_owned(
    db: &Db,
    owner: &Owner,
    line: &NewLine,
    max_lines: usize,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, DbErr> {
    let add = AddToOwned {
        owner,
        id: Uuid::now_v7(),
        line,
        max_lines,
        now,
    };
    match db.write_one(add.statement(db.backend())?).await?.first() {
        Some(row) => Ok(Some(row.try_get("", "cart_id")?)),
        None => Ok(None),
    }
}

/// Every add to a cart runs this statement: its text is rendered once per owner's kind.
static ADD_TO_TOKEN_CART: Rendered = Rendered::new();
static ADD_TO_USER_CART: Rendered = Rendered::new();

/// One add of a line to the cart `owner` names, as its statement binds it.
struct AddToOwned<'a> {
    owner: &'a Owner,
    id: Uuid,
    line: &'a NewLine,
    max_lines: usize,
    now: DateTime<Utc>,
}

impl AddToOwned<'_> {
    fn statement(&self, backend: sea_orm::DbBackend) -> Result<sea_orm::Statement, DbErr> {
        let (rendered, owner_value) = match self.owner {
            Owner::TokenHash(hash) => (&ADD_TO_TOKEN_CART, hash.as_str().into()),
            Owner::User(user_id) => (&ADD_TO_USER_CART, (*user_id).into()),
        };
        let line = self.line;
        let values = [
            self.id.into(),
            line.product_id.into(),
            line.variant_id.into(),
            line.configuration.clone().into(),
            line.line_key.as_str().into(),
            line.quantity.into(),
            line.rental_start.into(),
            line.rental_end.into(),
            self.now.into(),
            self.now.into(),
            owner_value,
            ACTIVE.into(),
        ];
        let room = room_values(backend, self.max_lines, &line.line_key);
        let values = values.into_iter().chain(room).chain([MAX_QUANTITY.into()]);
        rendered.bind(backend, || self.build(backend), values)
    }

    /// The statement as sea-query builds it.
    fn build(&self, backend: sea_orm::DbBackend) -> Result<sea_orm::Statement, DbErr> {
        let cart = self.owner.condition().add(cart::Column::Status.eq(ACTIVE));
        let line = self.line.clone();
        let mut statement =
            insert_line(backend, cart, self.id, line, Some(self.max_lines), self.now)?;
        statement.returning_col(cart_line::Column::CartId);
        Ok(sea_orm::StatementBuilder::build(&statement, &backend))
    }
}

/// The most units one line holds: adds beyond it stop there.
const MAX_QUANTITY: i32 = 100_000;

fn max_lines_value(max: usize) -> sea_orm::Value {
    i64::try_from(max).unwrap_or(i64::MAX).into()
}

/// Whether the cart `cart_id` names has room for a line under `line_key`: fewer than `max`
/// lines, or one under that key already (the add merges into it). On PostgreSQL, the migration's
/// `cart_has_room`, which locks the cart's row, checks it is still active and counts after the
/// lock: a statement outside a
/// transaction that waited for another add then counts that other's line too (a count in the
/// statement itself would read its snapshot, taken before the wait). SQLite runs one statement
/// at a time.
fn room(backend: sea_orm::DbBackend, cart_id: Expr, max: usize, line_key: &str) -> Expr {
    use sea_orm::sea_query::{Alias, ExprTrait, Func, Query, SubQueryStatement};
    if backend == sea_orm::DbBackend::Postgres {
        return Func::cust(Alias::new("cart_has_room"))
            .args([
                cart_id,
                Expr::val(ACTIVE),
                Expr::val(max_lines_value(max)),
                Expr::val(line_key),
            ])
            .into();
    }
    let held = Query::select()
        .expr(Expr::col(cart_line::Column::Id).count())
        .from(cart_line::Entity)
        .and_where(Expr::col((cart_line::Entity, cart_line::Column::CartId)).eq(cart_id.clone()))
        .to_owned();
    let same = Query::select()
        .expr(Expr::val(1))
        .from(cart_line::Entity)
        .and_where(Expr::col((cart_line::Entity, cart_line::Column::CartId)).eq(cart_id))
        .and_where(cart_line::Column::LineKey.eq(line_key))
        .to_owned();
    Expr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(held)))
        .lt(max_lines_value(max))
        .or(Expr::exists(same))
}

/// The values [`room`] binds, in their order.
fn room_values(backend: sea_orm::DbBackend, max: usize, line_key: &str) -> [sea_orm::Value; 3] {
    if backend == sea_orm::DbBackend::Postgres {
        [ACTIVE.into(), max_lines_value(max), line_key.into()]
    } else {
        [max_lines_value(max), 1.into(), line_key.into()]
    }
}

/// The columns a new line's insert sets, in the order of its values.
const LINE_COLUMNS: [cart_line::Column; 11] = [
    cart_line::Column::Id,
    cart_line::Column::CartId,
    cart_line::Column::ProductId,
    cart_line::Column::VariantId,
    cart_line::Column::Configuration,
    cart_line::Column::LineKey,
    cart_line::Column::Quantity,
    cart_line::Column::RentalStart,
    cart_line::Column::RentalEnd,
    cart_line::Column::CreatedAt,
    cart_line::Column::UpdatedAt,
];

/// `INSERT INTO cart_line … SELECT … FROM cart WHERE <cart> … ON CONFLICT … DO UPDATE`: the line
/// goes to the cart `cart` selects, if any (and if it has room, with `max_lines`).
fn insert_line(
    backend: sea_orm::DbBackend,
    cart: Condition,
    id: Uuid,
    line: NewLine,
    max_lines: Option<usize>,
    now: DateTime<Utc>,
) -> Result<sea_orm::sea_query::InsertStatement, DbErr> {
    use sea_orm::sea_query::{ExprTrait, Query};
    let cart_id = || Expr::col((cart::Entity, cart::Column::Id));
    let room = match max_lines {
        Some(max) => room(backend, cart_id(), max, &line.line_key),
        None => Expr::val(1).eq(1),
    };
    // SQLite reads `INSERT … SELECT … ON CONFLICT` only when the SELECT has a WHERE clause, as
    // this one always has.
    let row = Query::select()
        .exprs([
            Expr::val(id),
            cart_id(),
            Expr::val(line.product_id),
            Expr::val(line.variant_id),
            Expr::val(line.configuration),
            Expr::val(line.line_key),
            Expr::val(line.quantity),
            Expr::val(line.rental_start),
            Expr::val(line.rental_end),
            Expr::val(now),
            Expr::val(now),
        ])
        .from(cart::Entity)
        .cond_where(cart)
        .and_where(room)
        .to_owned();
    Ok(Query::insert()
        .into_table(cart_line::Entity)
        .columns(LINE_COLUMNS)
        .select_from(row)
        .map_err(|error| DbErr::Custom(error.to_string()))?
        .on_conflict(merge_into_held(backend))
        .to_owned())
}

/// `ON CONFLICT (cart_id, line_key) DO UPDATE`: a line under a key the cart already holds adds
/// its quantity to that line's (up to [`MAX_QUANTITY`]).
fn merge_into_held(backend: sea_orm::DbBackend) -> sea_orm::sea_query::OnConflict {
    use sea_orm::sea_query::{Alias, ExprTrait, Func, OnConflict};
    let merged = Func::cust(Alias::new(if backend == sea_orm::DbBackend::Postgres {
        "LEAST"
    } else {
        "MIN"
    }))
    .arg(
        Expr::col((cart_line::Entity, cart_line::Column::Quantity)).add(Expr::col((
            Alias::new("excluded"),
            cart_line::Column::Quantity,
        ))),
    )
    .arg(MAX_QUANTITY);
    OnConflict::columns([cart_line::Column::CartId, cart_line::Column::LineKey])
        .value(cart_line::Column::Quantity, merged)
        .update_column(cart_line::Column::UpdatedAt)
        .to_owned()
}

/// Adds `lines` to the cart `cart_id` as [`add_line`] adds one, all in one statement (after one
/// that reads the keys the cart holds, with `max_lines`); lines under one key become one. The
/// caller's transaction must hold the cart's row (see the README's invariants). With
/// `max_lines`, `false` and nothing added when the new lines would not all fit.
pub async fn add_lines(
    db: &impl ConnectionTrait,
    cart_id: Uuid,
    lines: Vec<NewLine>,
    max_lines: Option<usize>,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use std::collections::{HashMap, HashSet, hash_map::Entry};

    use sea_orm::sea_query::Query;
    let mut merged: Vec<NewLine> = Vec::with_capacity(lines.len());
    let mut by_key: HashMap<String, usize> = HashMap::with_capacity(lines.len());
    for line in lines {
        match by_key.entry(line.line_key.clone()) {
            Entry::Occupied(at) => {
                let held = &mut merged[*at.get()].quantity;
                *held = held.saturating_add(line.quantity).min(MAX_QUANTITY);
            }
            Entry::Vacant(at) => {
                at.insert(merged.len());
                merged.push(line);
            }
        }
    }
    if merged.is_empty() {
        return Ok(true);
    }
    if let Some(max) = max_lines {
        let held: HashSet<String> = cart_line::Entity::find()
            .select_only()
            .column(cart_line::Column::LineKey)
            .filter(cart_line::Column::CartId.eq(cart_id))
            .into_tuple()
            .all(db)
            .await?
            .into_iter()
            .collect();
        let new = merged
            .iter()
            .filter(|l| !held.contains(&l.line_key))
            .count();
        // Lines that all merge into held ones always go in, even into a cart over `max`
        // (a merge at login has no limit), as one such line does in [`add_line`].
        if new > 0 && held.len() + new > max {
            return Ok(false);
        }
    }
    let mut insert = Query::insert();
    insert.into_table(cart_line::Entity).columns(LINE_COLUMNS);
    for line in merged {
        insert.values_panic([
            Uuid::now_v7().into(),
            cart_id.into(),
            line.product_id.into(),
            line.variant_id.into(),
            line.configuration.into(),
            line.line_key.into(),
            line.quantity.into(),
            line.rental_start.into(),
            line.rental_end.into(),
            now.into(),
            now.into(),
        ]);
    }
    insert.on_conflict(merge_into_held(db.get_database_backend()));
    db.execute(&insert).await?;
    Ok(true)
}

/// Creates the user's cart unless one exists (the unique index settles races).
pub async fn insert_user_cart_if_missing(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::OnConflict;
    let statement = sea_orm::sea_query::Query::insert()
        .into_table(cart::Entity)
        .columns([
            cart::Column::Id,
            cart::Column::TokenHash,
            cart::Column::UserId,
            cart::Column::Status,
            cart::Column::CreatedAt,
            cart::Column::UpdatedAt,
        ])
        .values_panic([
            Uuid::now_v7().into(),
            Option::<String>::None.into(),
            Some(user_id).into(),
            ACTIVE.into(),
            now.into(),
            now.into(),
        ])
        .on_conflict(
            OnConflict::columns([cart::Column::UserId, cart::Column::Status])
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    db.execute(&statement).await?;
    Ok(())
}

/// Marks an active anonymous cart merged; `false` when someone else already did.
pub async fn retire(
    db: &impl ConnectionTrait,
    cart_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use sea_orm::sea_query::Expr;
    let result = cart::Entity::update_many()
        .col_expr(cart::Column::Status, Expr::value(MERGED))
        .col_expr(cart::Column::UpdatedAt, Expr::value(now))
        .filter(cart::Column::Id.eq(cart_id))
        .filter(cart::Column::Status.eq(ACTIVE))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn set_quantity(
    db: &impl ConnectionTrait,
    line: cart_line::Model,
    quantity: i32,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut active: cart_line::ActiveModel = line.into();
    active.quantity = Set(quantity);
    active.updated_at = Set(now);
    active.update(db).await?;
    Ok(())
}

/// Cart `id` if it is active and `owner` holds, locked until the transaction ends (PostgreSQL):
/// two orders or quotes from one cart at once take its lines once.
pub async fn lock(
    db: &impl ConnectionTrait,
    id: Uuid,
    owner: impl sea_orm::sea_query::IntoCondition,
) -> Result<Option<cart::Model>, DbErr> {
    use sea_orm::QuerySelect;
    cart::Entity::find_by_id(id)
        .filter(owner)
        .filter(cart::Column::Status.eq(ACTIVE))
        .lock_exclusive()
        .one(db)
        .await
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn line(variant: bool, rental: bool) -> NewLine {
        let start = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).single();
        NewLine {
            product_id: Uuid::now_v7(),
            variant_id: variant.then(Uuid::now_v7),
            configuration: serde_json::json!([{ "option": "colour", "value": "blue" }]),
            line_key: format!("key-{}", Uuid::now_v7()),
            quantity: 3,
            rental_start: start.filter(|_| rental),
            rental_end: start
                .filter(|_| rental)
                .map(|s| s + chrono::Duration::days(2)),
        }
    }

    fn add<'a>(
        owner: &'a Owner,
        (id, line, max_lines): &'a (Uuid, NewLine, usize),
        now: DateTime<Utc>,
    ) -> AddToOwned<'a> {
        AddToOwned {
            owner,
            id: *id,
            line,
            max_lines: *max_lines,
            now,
        }
    }

    #[test]
    fn an_add_to_a_cart_binds_as_built() {
        let now = Utc::now();
        for owner in [
            Owner::TokenHash("a-token's-hash".into()),
            Owner::User(Uuid::now_v7()),
        ] {
            let cases = [
                (Uuid::now_v7(), line(false, false), 50),
                (Uuid::now_v7(), line(true, true), 7),
            ];
            crate::db::tests::assert_binds_as_built(
                &cases,
                |backend, case| add(&owner, case, now).statement(backend),
                |backend, case| add(&owner, case, now).build(backend),
            );
        }
    }

    #[test]
    fn a_locked_carts_lines_bind_as_built() {
        for owner in [
            Owner::User(Uuid::now_v7()),
            Owner::TokenHash("hash".to_owned()),
        ] {
            crate::db::tests::assert_binds_as_built(
                &[Uuid::now_v7(), Uuid::now_v7()],
                |backend, id| lock_with_lines_statement(backend, *id, &owner),
                |backend, id| Ok(build_lock_with_lines(backend, *id, &owner)),
            );
        }
    }

    #[test]
    fn a_carts_lines_bind_as_built() {
        crate::db::tests::assert_binds_as_built(
            &[Uuid::now_v7(), Uuid::now_v7()],
            |backend, id| lines_with_stock_statement(backend, *id),
            |backend, id| Ok(build_lines_with_stock(backend, *id)),
        );
    }
}
