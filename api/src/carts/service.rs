//! Cart use cases. A cart is reached with its token (anonymous carts) or as the caller's own
//! (logged-in users); lines are validated against the catalog when added and priced on every read.

use chrono::{DateTime, Utc};
use comptoir_entity::cart;
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, ModelTrait};
use uuid::Uuid;

use super::{
    model::{CartView, LineView, RentalPeriod, parse_quantity},
    store::{self, NewLine},
};
use crate::{
    auth::Principal,
    catalog::{
        self, Configuration, ProductKind,
        model::{RawSelection, describe, price_configuration},
        service::Referenced,
        snapshot::{self, EarlyEpoch, Snapshot},
    },
    db::WriteTx,
    error::AppError,
    kernel::secret_token,
    pricing,
    state::AppState,
};

/// Most lines a cart may hold.
pub(super) const MAX_LINES: usize = 200;

/// What to put in a cart.
pub struct LineInput {
    pub product_id: Uuid,
    pub variant_id: Option<Uuid>,
    pub configuration: Vec<RawSelection>,
    pub quantity: i32,
    pub rental_period: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// Creates a cart: a logged-in user gets their one active cart (no token); anyone else a new
/// anonymous cart and the token that reaches it, shown only now.
pub async fn create(
    state: &AppState,
    principal: &Principal,
    client: Option<std::net::IpAddr>,
) -> Result<(CartView, Option<String>), AppError> {
    let now = state.clock.now();
    if principal.user_id().is_none() {
        // Anonymous carts cost a row each: one address may not create them without end.
        let bucket = client.map_or_else(
            || "unknown".to_owned(),
            crate::auth::rate_limit::address_bucket,
        );
        let limits = [(
            format!("cart:addr:{bucket}"),
            state.config.carts_max_per_address,
        )];
        crate::auth::rate_limit::enforce(state, &limits, state.config.login_rate_window, now)
            .await?;
    }
    let tx = state.db.begin(&state.events).await?;
    let (cart, token) = if let Some(user_id) = principal.user_id() {
        (user_cart(&tx, user_id, now).await?, None)
    } else {
        let token = secret_token::generate();
        let cart = store::insert_cart(&*tx, Some(secret_token::hash(&token)), None, now).await?;
        (cart, Some(token))
    };
    let catalog = state.catalog.at(&*tx).await?;
    let view = view(&*tx, Some(&catalog), cart).await?;
    tx.commit().await?;
    Ok((view, token))
}

/// An anonymous cart by its token.
pub async fn by_token(
    state: &AppState,
    token: &str,
    early: Option<EarlyEpoch>,
) -> Result<Option<CartView>, AppError> {
    let db = state.db.read();
    match store::find_by_token_hash(db, &secret_token::hash(token)).await? {
        Some(cart) => Ok(Some(priced_now(state, cart, early).await?)),
        None => Ok(None),
    }
}

/// The caller's own cart, if they have one.
pub async fn mine(
    state: &AppState,
    principal: &Principal,
    early: Option<EarlyEpoch>,
) -> Result<Option<CartView>, AppError> {
    let user = principal.require_user()?;
    let db = state.db.read();
    match store::find_user_cart(db, user.id).await? {
        Some(cart) => Ok(Some(priced_now(state, cart, early).await?)),
        None => Ok(None),
    }
}

/// Adds a line to the caller's cart (`token`'s, or their own); `early` is the catalog's epoch
/// read with the caller's account, if the request may use it.
pub async fn add_line(
    state: &AppState,
    principal: &Principal,
    token: Option<&str>,
    input: LineInput,
    early: Option<EarlyEpoch>,
) -> Result<CartView, AppError> {
    let now = state.clock.now();
    // The line is checked against the catalog on the read pool, before the write: the single
    // SQLite writer is held only for the change. A catalog change committed in between
    // leaves the cart as if the line had been added just before it.
    let db = state.db.read();
    let catalog = state.catalog.at_early(db, early).await?;
    let line = prepare_line(db, &catalog, principal, input, now).await?;
    // Into the caller's cart found by the insert itself: one statement, no transaction.
    if let Some(owner) = owned_by(principal, token)
        && let Some(cart_id) =
            store::add_line_to_owned(&state.db, &owner, &line, MAX_LINES, now).await?
    {
        // The cart as the statement left it, without reading it back: a token's cart is
        // anonymous, a user's own is theirs, and the trigger set its time to `now`.
        let cart = CartHead {
            id: cart_id,
            user_id: if token.is_some() {
                None
            } else {
                principal.user_id()
            },
            updated_at: now,
        };
        return view(db, Some(&catalog), cart).await;
    }
    // No such cart (a user's first line, a token that names none, a cart merged at login
    // while the statement waited for it), or it is full: the transaction creates the user's
    // cart, or says which.
    let tx = state.db.begin(&state.events).await?;
    let cart = cart_to_change(&tx, principal, token, now).await?;
    add_prepared(&tx, &cart, line, now).await?;
    finish(state, tx, cart, Some(&catalog)).await
}

/// Quick add by reference: a product's or a variant's.
pub async fn quick_add(
    state: &AppState,
    principal: &Principal,
    token: Option<&str>,
    reference: &str,
    quantity: i32,
    early: Option<EarlyEpoch>,
) -> Result<CartView, AppError> {
    let (product_id, variant_id) =
        match catalog::service::find_by_reference(state.db.read(), principal, reference).await? {
            Referenced::Product(product) => (product.id, None),
            Referenced::Variant(product, variant) => (product.id, Some(variant.id)),
        };
    let input = LineInput {
        product_id,
        variant_id,
        configuration: Vec::new(),
        quantity,
        rental_period: None,
    };
    add_line(state, principal, token, input, early).await
}

/// Sets a line's quantity (0 removes it) and, for rentals, its period.
pub async fn update_line(
    state: &AppState,
    principal: &Principal,
    token: Option<&str>,
    line_id: Uuid,
    quantity: Option<i32>,
    rental_period: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Result<CartView, AppError> {
    let quantity = quantity
        .map(|q| parse_quantity(q, "quantity", true))
        .transpose()?;
    let now = state.clock.now();
    let tx = state.db.begin(&state.events).await?;
    let cart = cart_to_change(&tx, principal, token, now).await?;
    let line = store::find_line(&*tx, cart.id, line_id)
        .await?
        .ok_or_else(|| AppError::not_found("cart line", "lineId"))?;
    if quantity == Some(0) {
        line.delete(&*tx).await?;
        return finish(state, tx, cart, None).await;
    }
    let Some((start, end)) = rental_period else {
        // Quantity only: the line keeps its identity.
        if let Some(quantity) = quantity {
            store::set_quantity(&*tx, line, quantity, now).await?;
        }
        return finish(state, tx, cart, None).await;
    };
    if line.rental_start.is_none() {
        return Err(AppError::validation(
            "rentalPeriod",
            "only rental lines have a period",
        ));
    }
    let period = RentalPeriod::parse(start, end, now, "rentalPeriod")?;
    let configuration: Configuration =
        serde_json::from_value(line.configuration.clone()).unwrap_or_default();
    let new = NewLine {
        product_id: line.product_id,
        variant_id: line.variant_id,
        configuration: line.configuration.clone(),
        line_key: line_key(
            line.product_id,
            line.variant_id,
            &configuration,
            Some(period),
        ),
        quantity: quantity.unwrap_or(line.quantity),
        rental_start: Some(period.start),
        rental_end: Some(period.end),
    };
    // A new period is a new line; if another line already holds that period, they merge.
    line.delete(&*tx).await?;
    // In place of the line just deleted: the cart holds no more lines than before.
    store::add_line(&*tx, cart.id, new, None, now).await?;
    finish(state, tx, cart, None).await
}

pub async fn remove_line(
    state: &AppState,
    principal: &Principal,
    token: Option<&str>,
    line_id: Uuid,
) -> Result<CartView, AppError> {
    let now = state.clock.now();
    let tx = state.db.begin(&state.events).await?;
    let cart = cart_to_change(&tx, principal, token, now).await?;
    let line = store::find_line(&*tx, cart.id, line_id)
        .await?
        .ok_or_else(|| AppError::not_found("cart line", "lineId"))?;
    line.delete(&*tx).await?;
    finish(state, tx, cart, None).await
}

pub async fn clear(
    state: &AppState,
    principal: &Principal,
    token: Option<&str>,
) -> Result<CartView, AppError> {
    let now = state.clock.now();
    let tx = state.db.begin(&state.events).await?;
    let cart = cart_to_change(&tx, principal, token, now).await?;
    store::delete_lines(&*tx, cart.id).await?;
    finish(state, tx, cart, None).await
}

/// At login: moves the lines of the anonymous cart `token` into the user's cart (same things add
/// up) and retires the anonymous cart. An unknown token is ignored: the login still succeeds.
pub async fn merge_into_user(
    tx: &WriteTx,
    token: &str,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let Some(anonymous) = store::find_by_token_hash(&**tx, &secret_token::hash(token)).await?
    else {
        return Ok(());
    };
    // Retire the anonymous cart first, conditionally: of two logins racing with one token, only
    // one moves the lines.
    if !store::retire(&**tx, anonymous.id, now).await? {
        return Ok(());
    }
    // The user's cart locked before its lines, in the order a checkout of it takes them.
    let target = store::touch(&**tx, user_cart(tx, user_id, now).await?, now).await?;
    let lines = store::lines_of(&**tx, anonymous.id)
        .await?
        .into_iter()
        .map(|line| NewLine {
            product_id: line.product_id,
            variant_id: line.variant_id,
            configuration: line.configuration,
            line_key: line.line_key,
            quantity: line.quantity,
            rental_start: line.rental_start,
            rental_end: line.rental_end,
        })
        .collect();
    // Nothing the customer chose is dropped at login, whatever the count.
    store::add_lines(&**tx, target.id, lines, None, now).await?;
    store::delete_lines(&**tx, anonymous.id).await?;
    Ok(())
}

/// Validates a line against the catalog: the product is for sale and visible to the caller, a
/// variant is chosen when the product has some, the configuration is valid, rentals have a
/// period and nothing else does.
pub(super) async fn prepare_line(
    db: &impl ConnectionTrait,
    catalog: &Snapshot<'_>,
    principal: &Principal,
    input: LineInput,
    now: DateTime<Utc>,
) -> Result<NewLine, AppError> {
    let quantity = parse_quantity(input.quantity, "quantity", false)?;
    let rows = catalog
        .product(db, input.product_id)
        .await?
        .filter(|rows| principal.is_staff() || rows.product.is_public())
        .ok_or_else(|| AppError::not_found("product", "productId"))?;
    let product = &rows.product;
    if !product.active || product.archived {
        return Err(AppError::validation(
            "productId",
            "this product is not for sale",
        ));
    }
    let mut variants = rows.variants.iter().filter(|v| v.active).peekable();
    let variant_id = match input.variant_id {
        Some(id) => Some(
            variants
                .find(|v| v.id == id)
                .map(|v| v.id)
                .ok_or_else(|| AppError::not_found("variant of this product", "variantId"))?,
        ),
        None if variants.peek().is_some() => {
            return Err(AppError::validation(
                "variantId",
                "this product has variants: choose one",
            ));
        }
        None => None,
    };
    let (configuration, _) =
        price_configuration(product.unit_price, &rows.options, &input.configuration)?;
    let period = match (product.kind, input.rental_period) {
        (ProductKind::Rental, Some((start, end))) => {
            Some(RentalPeriod::parse(start, end, now, "rentalPeriod")?)
        }
        (ProductKind::Rental, None) => {
            return Err(AppError::validation(
                "rentalPeriod",
                "required for rental products",
            ));
        }
        (_, Some(_)) => {
            return Err(AppError::validation(
                "rentalPeriod",
                "only rental products have a period",
            ));
        }
        (_, None) => None,
    };
    Ok(NewLine {
        product_id: product.id,
        variant_id,
        line_key: line_key(product.id, variant_id, &configuration, period),
        configuration: serde_json::to_value(&configuration).unwrap_or_default(),
        quantity,
        rental_start: period.map(|p| p.start),
        rental_end: period.map(|p| p.end),
    })
}

pub(super) async fn add_prepared(
    tx: &WriteTx,
    cart: &cart::Model,
    line: NewLine,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    if !store::add_line(&**tx, cart.id, line, Some(MAX_LINES), now).await? {
        return Err(full());
    }
    Ok(())
}

/// [`add_prepared`] for several lines, in one statement: all of them or, when they would not
/// all fit, none.
pub(super) async fn add_all_prepared(
    tx: &WriteTx,
    cart: &cart::Model,
    lines: Vec<NewLine>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    if !store::add_lines(&**tx, cart.id, lines, Some(MAX_LINES), now).await? {
        return Err(full());
    }
    Ok(())
}

/// A cart has no room for another line.
fn full() -> AppError {
    AppError::validation("cart", format!("a cart holds at most {MAX_LINES} lines"))
}

fn line_key(
    product_id: Uuid,
    variant_id: Option<Uuid>,
    configuration: &Configuration,
    period: Option<RentalPeriod>,
) -> String {
    let variant = variant_id
        .map(|v| v.simple().to_string())
        .unwrap_or_default();
    let period = period
        .map(|p| format!("{}/{}", p.start.timestamp(), p.end.timestamp()))
        .unwrap_or_default();
    // A digest: whatever the configuration's length, two different lines never share a key.
    secret_token::hash(&format!(
        "{}|{variant}|{period}|{}",
        product_id.simple(),
        configuration.key()
    ))
}

/// The carts the caller may change: those `token` reaches, or else the caller's own; `None` for
/// an anonymous caller without a token.
fn owned_by(principal: &Principal, token: Option<&str>) -> Option<store::Owner> {
    match (token, principal.user_id()) {
        (Some(token), _) => Some(store::Owner::TokenHash(secret_token::hash(token))),
        (None, Some(user_id)) => Some(store::Owner::User(user_id)),
        (None, None) => None,
    }
}

/// The cart a mutation works on: the anonymous cart of `token`, or the caller's own (created on
/// first use).
pub(super) async fn cart_for_write(
    tx: &WriteTx,
    principal: &Principal,
    token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<cart::Model, AppError> {
    match token {
        Some(token) => store::find_by_token_hash(&**tx, &secret_token::hash(token))
            .await?
            .ok_or_else(|| AppError::not_found("cart", "cartToken")),
        None => match principal.user_id() {
            Some(user_id) => user_cart(tx, user_id, now).await,
            None => Err(match principal.rejection() {
                Some(reason) => AppError::Unauthenticated(reason),
                None => AppError::validation("cartToken", "required without a logged-in user"),
            }),
        },
    }
}

/// [`cart_for_write`] for a change: the cart is marked changed (its time set to `now`) as it is
/// found, in one statement; a user's first cart is created.
pub(super) async fn cart_to_change(
    tx: &WriteTx,
    principal: &Principal,
    token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<cart::Model, AppError> {
    let Some(owner) = owned_by(principal, token) else {
        return cart_for_write(tx, principal, token, now).await;
    };
    match store::touch_where(&**tx, owner.condition(), now).await? {
        Some(cart) => Ok(cart),
        // A user's cart created meanwhile by a parallel first request is found unlocked:
        // locked here, as whatever writes a cart's lines must.
        None => {
            Ok(store::touch(&**tx, cart_for_write(tx, principal, token, now).await?, now).await?)
        }
    }
}

async fn user_cart(
    tx: &WriteTx,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<cart::Model, AppError> {
    if let Some(cart) = store::find_user_cart(&**tx, user_id).await? {
        return Ok(cart);
    }
    // Two first requests of one user may race: the unique index keeps one cart, and both use it.
    store::insert_user_cart_if_missing(&**tx, user_id, now).await?;
    store::find_user_cart(&**tx, user_id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("user cart vanished")))
}

/// Commits a change to `cart` (found by [`cart_to_change`]) and prices the cart as it now stands,
/// at the epoch the change read the catalog at, if it did. The pricing reads run after the
/// commit, on the read pool: the single SQLite writer is held only for the change itself.
async fn finish(
    state: &AppState,
    tx: WriteTx,
    cart: cart::Model,
    catalog: Option<&Snapshot<'_>>,
) -> Result<CartView, AppError> {
    tx.commit().await?;
    match catalog {
        Some(catalog) => view(state.db.read(), Some(catalog), cart).await,
        None => priced_now(state, cart, None).await,
    }
}

/// A cart priced on the read pool, from the catalog rows kept at the current epoch (`early`,
/// when it was read with the caller's account).
async fn priced_now(
    state: &AppState,
    cart: cart::Model,
    early: Option<EarlyEpoch>,
) -> Result<CartView, AppError> {
    let db = state.db.read();
    view(db, Some(&state.catalog.at_early(db, early).await?), cart).await
}

/// Prices a cart: its lines (one statement), and its products as `catalog` keeps them, or, with
/// no snapshot, as `db` shows them now (three statements whatever their number).
pub async fn view(
    db: &impl ConnectionTrait,
    catalog: Option<&Snapshot<'_>>,
    cart: impl Into<CartHead>,
) -> Result<CartView, AppError> {
    let cart = cart.into();
    let lines = store::lines_with_stock(db, cart.id).await?;
    view_of(db, catalog, cart, lines).await
}

/// The view of `cart` with `lines` as read.
async fn view_of(
    db: &impl ConnectionTrait,
    catalog: Option<&Snapshot<'_>>,
    cart: CartHead,
    lines: Vec<store::LineWithStock>,
) -> Result<CartView, AppError> {
    let lines = price_lines(db, catalog, lines).await?;
    let totals = pricing::totals(lines.iter().map(|l| &l.amount));
    Ok(CartView {
        id: cart.id,
        user_id: cart.user_id,
        lines,
        totals,
        updated_at: cart.updated_at,
    })
}

/// What a cart's view shows of the cart row itself.
pub struct CartHead {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
}

impl From<cart::Model> for CartHead {
    fn from(cart: cart::Model) -> Self {
        Self {
            id: cart.id,
            user_id: cart.user_id,
            updated_at: cart.updated_at,
        }
    }
}

async fn price_lines(
    db: &impl ConnectionTrait,
    catalog: Option<&Snapshot<'_>>,
    lines: Vec<store::LineWithStock>,
) -> Result<Vec<LineView>, AppError> {
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    let product_ids: Vec<Uuid> = lines.iter().map(|l| l.line.product_id).collect();
    let products = match catalog {
        Some(catalog) => catalog.products(db, &product_ids).await?,
        None => snapshot::read(db, &product_ids).await?,
    };
    let mut views = Vec::with_capacity(lines.len());
    for store::LineWithStock {
        line,
        product_stock,
        variant_stock,
    } in lines
    {
        let Some(rows) = products.get(&line.product_id) else {
            continue;
        };
        // Stock as it is now, not as the kept rows were read.
        let mut product = rows.product.clone();
        product.stock = product_stock.unwrap_or(product.stock);
        let variant = line
            .variant_id
            .and_then(|id| rows.variants.iter().find(|v| v.id == id).cloned())
            .map(|mut variant| {
                variant.stock = variant_stock.unwrap_or(variant.stock);
                variant
            });
        let product_options = &rows.options;
        let stored: Configuration =
            serde_json::from_value(line.configuration.clone()).unwrap_or_default();
        let mut warnings = Vec::new();
        if !product.is_public() {
            warnings.push("this product is no longer for sale".to_owned());
        }
        if variant.as_ref().is_some_and(|v| !v.active) {
            warnings.push("this variant is no longer for sale".to_owned());
        }
        let base = variant
            .as_ref()
            .map_or(product.unit_price, |v| v.unit_price);
        let mut unit_price = match price_configuration(base, product_options, &stored.to_raw()) {
            Ok((_, price)) => price,
            Err(error) => {
                warnings.push(format!(
                    "the configuration is no longer valid: {}",
                    error.message()
                ));
                base
            }
        };
        let period = match (line.rental_start, line.rental_end) {
            (Some(start), Some(end)) => Some(RentalPeriod { start, end }),
            _ => None,
        };
        if let Some(period) = period {
            let daily = product.rental_daily_price.unwrap_or(Decimal::ZERO);
            unit_price = daily * Decimal::from(period.days());
        }
        let available_quantity = if product.kind == ProductKind::Rental {
            product.rental_owned_quantity
        } else {
            // A variant counts its own stock; a product without variant its own.
            match &variant {
                Some(v) => v.track_stock.then_some(v.stock),
                None => product.track_stock.then_some(product.stock),
            }
        };
        if let Some(available) = available_quantity
            && line.quantity > available
        {
            warnings.push(format!("only {available} available"));
        }
        views.push(LineView {
            id: line.id,
            configuration: describe(&stored, product_options),
            amount: pricing::line(unit_price, line.quantity, product.vat_rate),
            quantity: line.quantity,
            rental_period: period,
            available_quantity,
            warnings,
            product,
            variant,
        });
    }
    Ok(views)
}

/// For an order or a quote placed from a cart: the caller's cart `cart_id` priced as it stands,
/// inside the caller's transaction. `NOT_FOUND` unless it is the caller's own active cart, or
/// the anonymous cart `token` reaches.
pub async fn for_order(
    tx: &WriteTx,
    catalog: &Snapshot<'_>,
    principal: &Principal,
    cart_id: Uuid,
    token: Option<&str>,
) -> Result<CartView, AppError> {
    let owner = owned_by(principal, token).ok_or_else(|| AppError::not_found("cart", "cartId"))?;
    // Found, locked and read in one statement: a second checkout of this cart waits here and
    // finds no lines.
    let lines = store::lock_with_lines(&**tx, cart_id, &owner).await?;
    let Some(head) = lines.first().map(|l| CartHead {
        id: cart_id,
        user_id: l.cart_user_id,
        updated_at: l.cart_updated_at,
    }) else {
        // No lines: the cart is not the caller's, or it is empty.
        return Err(
            match store::lock(&**tx, cart_id, owner.condition()).await? {
                Some(_) => AppError::validation("cartId", "the cart is empty"),
                None => AppError::not_found("cart", "cartId"),
            },
        );
    };
    // Through the kept rows: taking stock leaves them current (stock comes with the lines).
    let lines = lines.into_iter().map(|l| l.line).collect();
    view_of(&**tx, Some(catalog), head, lines).await
}

/// Removes the lines of a cart that became a quote or a rental project: those read by
/// [`for_order`], by their IDs. A line another transaction added meanwhile stays in the cart
/// (on PostgreSQL [`for_order`] does not see a line inserted while it waited for the cart).
pub async fn remove_lines(tx: &WriteTx, cart_id: Uuid, line_ids: &[Uuid]) -> Result<(), AppError> {
    tx.execute(&store::delete_lines_by_id_query(cart_id, line_ids))
        .await?;
    Ok(())
}

/// [`remove_lines`] when `tx` commits (see [`WriteTx::defer`]): for a transaction that reads
/// the cart's lines no more.
pub fn remove_lines_at_commit(tx: &mut WriteTx, cart_id: Uuid, line_ids: &[Uuid]) {
    tx.defer(store::delete_lines_by_id_query(cart_id, line_ids));
}
