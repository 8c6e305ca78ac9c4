//! Catalog use cases.

use std::collections::BTreeMap;

use comptoir_entity::{product, product_option, product_option_value, product_variant};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, ModelTrait, QueryFilter, Set,
};
use uuid::Uuid;

use super::{
    model::{
        self, Configuration, OptionKind, Product, ProductKind, ProductOption, RawSelection,
        Variant, parse_code, parse_name, parse_reference, parse_stock,
    },
    store::{self, ProductCursor, ProductFilter, ProductSort},
};
use crate::{
    auth::Principal,
    db::WriteTx,
    error::AppError,
    kernel::{
        money,
        pagination::{Page, PageRequest},
    },
    state::AppState,
};

/// Filters of the product list, as the API takes them.
#[derive(Clone, Debug, Default)]
pub struct ProductQuery {
    pub kind: Option<ProductKind>,
    pub search: Option<String>,
    pub in_stock: bool,
    pub min_price: Option<Decimal>,
    pub max_price: Option<Decimal>,
    /// Staff only: `Some(false)` lists inactive products; the public always sees active ones.
    pub active: Option<bool>,
}

pub async fn products(
    state: &AppState,
    principal: &Principal,
    query: ProductQuery,
    sort: ProductSort,
    page: PageRequest,
) -> Result<Page<Product>, AppError> {
    let filter = ProductFilter {
        public_only: !principal.is_staff(),
        kind: query.kind,
        search: crate::customers::service::parse_search(query.search)?,
        in_stock: query.in_stock,
        min_price_e4: query
            .min_price
            .map(|p| money::to_e4(p, "minPrice"))
            .transpose()?,
        max_price_e4: query
            .max_price
            .map(|p| money::to_e4(p, "maxPrice"))
            .transpose()?,
        active: query.active,
    };
    let after = page
        .after
        .as_deref()
        .map(|c| decode_cursor(c, sort))
        .transpose()?;
    let (rows, total_count) =
        store::list_products(state.db.read(), &filter, sort, after.clone(), page.limit).await?;
    Page::from_rows(
        rows,
        page.limit,
        after.is_some(),
        total_count,
        store::to_product,
    )
}

/// The cursor of `product` in a list sorted by `sort`.
pub fn cursor(sort: ProductSort, product: &Product) -> String {
    serde_json::to_string(&sort.cursor(product)).unwrap_or_default()
}

fn decode_cursor(cursor: &str, sort: ProductSort) -> Result<ProductCursor, AppError> {
    let invalid = || AppError::validation("after", "not a valid cursor for this sort");
    let cursor: ProductCursor = serde_json::from_str(cursor).map_err(|_| invalid())?;
    let key_fits = matches!(
        (sort, &cursor.key),
        (
            ProductSort::NameAsc | ProductSort::NameDesc,
            store::SortKey::Text(_)
        ) | (
            ProductSort::PriceAsc | ProductSort::PriceDesc,
            store::SortKey::Int(_)
        ) | (
            ProductSort::Newest | ProductSort::Oldest,
            store::SortKey::Time(_)
        )
    );
    if cursor.sort != format!("{sort:?}") || !key_fits {
        return Err(invalid());
    }
    Ok(cursor)
}

/// A product by ID or reference, if the caller may see it.
pub async fn product(
    state: &AppState,
    principal: &Principal,
    id: Option<Uuid>,
    reference: Option<&str>,
) -> Result<Option<Product>, AppError> {
    let row = match (id, reference) {
        (Some(id), None) => store::find_product(state.db.read(), id).await?,
        (None, Some(reference)) => {
            store::find_product_by_reference(state.db.read(), reference.trim()).await?
        }
        _ => {
            return Err(AppError::validation(
                "id",
                "give exactly one of `id` and `reference`",
            ));
        }
    };
    let product = row.map(store::to_product).transpose()?;
    Ok(product.filter(|p| principal.is_staff() || p.is_public()))
}

/// Variants of these products (active ones only for the public), for loaders.
pub async fn variants_of(
    db: &impl ConnectionTrait,
    product_ids: &[Uuid],
    public: bool,
) -> Result<Vec<Variant>, AppError> {
    Ok(store::variants_of(db, product_ids, public)
        .await?
        .into_iter()
        .map(store::to_variant)
        .collect())
}

pub async fn options_of(
    db: &impl ConnectionTrait,
    product_ids: &[Uuid],
) -> Result<Vec<ProductOption>, AppError> {
    Ok(store::options_of(db, product_ids).await?)
}

/// Products by ID, whatever their state (cart lines keep showing what they hold).
pub async fn products_by_ids(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<Product>, AppError> {
    store::products_by_ids(db, ids)
        .await?
        .into_iter()
        .map(store::to_product)
        .collect()
}

/// Products locked until the caller's transaction ends, in one global order: what reserving
/// rental units holds (`exclusive`) so that parallel reservations of the same products run one
/// after the other and never overbook; judging against reservations takes a shared lock, so
/// that it waits for a reservation in progress and reads it once committed.
pub async fn lock_products(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
    exclusive: bool,
) -> Result<Vec<Product>, AppError> {
    store::lock_products(db, ids, exclusive)
        .await?
        .into_iter()
        .map(store::to_product)
        .collect()
}

pub async fn variants_by_ids(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<Vec<Variant>, AppError> {
    Ok(store::variants_by_ids(db, ids)
        .await?
        .into_iter()
        .map(store::to_variant)
        .collect())
}

/// What a reference names: a product, or a variant of one.
pub enum Referenced {
    Product(Product),
    Variant(Product, Variant),
}

/// Finds the product or variant with `reference` among those the caller may see; `NOT_FOUND`
/// naming the reference otherwise.
pub async fn find_by_reference(
    db: &impl ConnectionTrait,
    principal: &Principal,
    reference: &str,
) -> Result<Referenced, AppError> {
    let reference = reference.trim();
    let not_found = || AppError::NotFound {
        what: format!("product reference `{reference}`"),
        field: Some("reference".to_owned()),
    };
    if let Some(row) = store::find_product_by_reference(db, reference).await? {
        let product = store::to_product(row)?;
        return if principal.is_staff() || product.is_public() {
            Ok(Referenced::Product(product))
        } else {
            Err(not_found())
        };
    }
    let variant = store::find_variant_by_reference(db, reference)
        .await?
        .ok_or_else(not_found)?;
    let product = store::find_product(db, variant.product_id)
        .await?
        .ok_or_else(not_found)?;
    let product = store::to_product(product)?;
    let variant = store::to_variant(variant);
    if principal.is_staff() || (product.is_public() && variant.active) {
        Ok(Referenced::Variant(product, variant))
    } else {
        Err(not_found())
    }
}

/// Validates and prices a configuration of a product the caller may see.
pub async fn price_configuration(
    state: &AppState,
    principal: &Principal,
    product_id: Uuid,
    raw: &[RawSelection],
) -> Result<(Configuration, Decimal), AppError> {
    let product = product(state, principal, Some(product_id), None)
        .await?
        .ok_or_else(|| AppError::not_found("product", "productId"))?;
    let options = store::options_of(state.db.read(), &[product_id]).await?;
    let (configuration, price) = model::price_configuration(product.unit_price, &options, raw)?;
    Ok((configuration, money::display(price)))
}

pub struct NewProduct {
    pub reference: String,
    pub name: String,
    pub description: String,
    pub kind: ProductKind,
    pub unit_price: Decimal,
    pub vat_rate: Decimal,
    pub active: bool,
    pub visible: bool,
    pub track_stock: bool,
    pub stock: i32,
    pub rental_owned_quantity: Option<i32>,
    pub rental_daily_price: Option<Decimal>,
    /// RENTAL: hours of preparation before and after each rental (default 0).
    pub rental_buffer_before_hours: Option<i32>,
    pub rental_buffer_after_hours: Option<i32>,
}

/// Preparation hours around a rental: RENTAL products only, 0 to 720 (30 days).
fn parse_buffer(
    kind: ProductKind,
    hours: Option<i32>,
    field: &str,
) -> Result<Option<i32>, AppError> {
    match hours {
        Some(h) if kind != ProductKind::Rental && h != 0 => {
            Err(AppError::validation(field, "only for RENTAL products"))
        }
        Some(h) if !(0..=720).contains(&h) => {
            Err(AppError::validation(field, "between 0 and 720 hours"))
        }
        other => Ok(other),
    }
}

/// Rental products have an owned quantity and a daily price; the others have neither.
fn check_rental(kind: ProductKind, owned: Option<i32>, daily: Option<i64>) -> Result<(), AppError> {
    match (kind == ProductKind::Rental, owned, daily) {
        (true, Some(owned), Some(_)) if owned >= 0 => Ok(()),
        (true, Some(_), Some(_)) => Err(AppError::validation(
            "rentalOwnedQuantity",
            "must not be negative",
        )),
        (true, None, _) => Err(AppError::validation(
            "rentalOwnedQuantity",
            "required for RENTAL products",
        )),
        (true, _, None) => Err(AppError::validation(
            "rentalDailyPrice",
            "required for RENTAL products",
        )),
        (false, Some(_), _) => Err(AppError::validation(
            "rentalOwnedQuantity",
            "only for RENTAL products",
        )),
        (false, _, Some(_)) => Err(AppError::validation(
            "rentalDailyPrice",
            "only for RENTAL products",
        )),
        (false, None, None) => Ok(()),
    }
}

pub async fn create_product(
    state: &AppState,
    principal: &Principal,
    new: NewProduct,
) -> Result<Product, AppError> {
    principal.require_staff()?;
    let reference = parse_reference(&new.reference, "reference")?;
    let name = parse_name(&new.name, "name")?;
    let unit_price = money::price_to_e4(new.unit_price, "unitPrice")?;
    let vat = money::rate_to_bp(new.vat_rate, "vatRate")?;
    let stock = parse_stock(new.stock, "stock")?;
    let daily = new
        .rental_daily_price
        .map(|p| money::price_to_e4(p, "rentalDailyPrice"))
        .transpose()?;
    check_rental(new.kind, new.rental_owned_quantity, daily)?;
    let buffer_before = parse_buffer(
        new.kind,
        new.rental_buffer_before_hours,
        "rentalBufferBeforeHours",
    )?;
    let buffer_after = parse_buffer(
        new.kind,
        new.rental_buffer_after_hours,
        "rentalBufferAfterHours",
    )?;
    let now = state.clock.now();
    let tx = state.db.begin(&state.events).await?;
    let id = Uuid::now_v7();
    claim_reference(&tx, &reference, id, None).await?;
    let row = product::ActiveModel {
        id: Set(id),
        search_text: Set(store::search_text(&reference, &name, &new.description)),
        reference: Set(reference),
        name: Set(name),
        description: Set(new.description),
        kind: Set(new.kind.as_str().to_owned()),
        unit_price_e4: Set(unit_price),
        vat_rate_bp: Set(vat),
        active: Set(new.active),
        visible: Set(new.visible),
        track_stock: Set(new.track_stock),
        stock: Set(stock),
        rental_owned_quantity: Set(new.rental_owned_quantity),
        rental_daily_price_e4: Set(daily),
        rental_buffer_before_hours: Set(buffer_before.unwrap_or(0)),
        rental_buffer_after_hours: Set(buffer_after.unwrap_or(0)),
        archived_at: Set(None),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*tx)
    .await
    .map_err(reference_conflict)?;
    tx.commit().await?;
    store::to_product(row)
}

#[derive(Default)]
pub struct ProductChanges {
    pub reference: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub unit_price: Option<Decimal>,
    pub vat_rate: Option<Decimal>,
    pub active: Option<bool>,
    pub visible: Option<bool>,
    pub track_stock: Option<bool>,
    pub rental_owned_quantity: Option<i32>,
    pub rental_daily_price: Option<Decimal>,
    pub rental_buffer_before_hours: Option<i32>,
    pub rental_buffer_after_hours: Option<i32>,
}

/// Staff: changes a product; `version` must be the one read (`CONFLICT` otherwise).
pub async fn update_product(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    version: i32,
    changes: ProductChanges,
) -> Result<Product, AppError> {
    principal.require_staff()?;
    let reference = changes
        .reference
        .as_deref()
        .map(|r| parse_reference(r, "reference"))
        .transpose()?;
    let name = changes
        .name
        .as_deref()
        .map(|n| parse_name(n, "name"))
        .transpose()?;
    let unit_price = changes
        .unit_price
        .map(|p| money::price_to_e4(p, "unitPrice"))
        .transpose()?;
    let vat = changes
        .vat_rate
        .map(|r| money::rate_to_bp(r, "vatRate"))
        .transpose()?;
    let daily = changes
        .rental_daily_price
        .map(|p| money::price_to_e4(p, "rentalDailyPrice"))
        .transpose()?;
    let now = state.clock.now();
    let tx = state.db.begin(&state.events).await?;
    let row = product_row(&tx, id).await?;
    if row.version != version {
        return Err(AppError::stale(row.version));
    }
    if let Some(reference) = &reference {
        claim_reference(&tx, reference, id, Some(&row.reference)).await?;
    }
    let kind = ProductKind::parse(&row.kind).unwrap_or(ProductKind::Standard);
    check_rental(
        kind,
        changes.rental_owned_quantity.or(row.rental_owned_quantity),
        daily.or(row.rental_daily_price_e4),
    )?;
    let buffer_before = parse_buffer(
        kind,
        changes.rental_buffer_before_hours,
        "rentalBufferBeforeHours",
    )?;
    let buffer_after = parse_buffer(
        kind,
        changes.rental_buffer_after_hours,
        "rentalBufferAfterHours",
    )?;
    let search = store::search_text(
        reference.as_deref().unwrap_or(&row.reference),
        name.as_deref().unwrap_or(&row.name),
        changes.description.as_deref().unwrap_or(&row.description),
    );
    let mut active: product::ActiveModel = row.clone().into();
    if let Some(v) = reference {
        active.reference = Set(v);
    }
    if let Some(v) = name {
        active.name = Set(v);
    }
    if let Some(v) = changes.description {
        active.description = Set(v);
    }
    if let Some(v) = unit_price {
        active.unit_price_e4 = Set(v);
    }
    if let Some(v) = vat {
        active.vat_rate_bp = Set(v);
    }
    if let Some(v) = changes.active {
        active.active = Set(v);
    }
    if let Some(v) = changes.visible {
        active.visible = Set(v);
    }
    if let Some(v) = changes.track_stock {
        active.track_stock = Set(v);
    }
    if let Some(v) = changes.rental_owned_quantity {
        active.rental_owned_quantity = Set(Some(v));
    }
    if let Some(v) = daily {
        active.rental_daily_price_e4 = Set(Some(v));
    }
    if let Some(v) = buffer_before {
        active.rental_buffer_before_hours = Set(v);
    }
    if let Some(v) = buffer_after {
        active.rental_buffer_after_hours = Set(v);
    }
    active.search_text = Set(search);
    active.version = Set(row.version + 1);
    active.updated_at = Set(now);
    let row = active.update(&*tx).await.map_err(reference_conflict)?;
    tx.commit().await?;
    store::to_product(row)
}

/// Staff: archives a product: inactive and hidden from the storefront for good.
pub async fn archive_product(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<Product, AppError> {
    principal.require_staff()?;
    let now = state.clock.now();
    let tx = state.db.begin(&state.events).await?;
    let row = product_row(&tx, id).await?;
    let version = row.version;
    let mut active: product::ActiveModel = row.into();
    active.active = Set(false);
    active.archived_at = Set(Some(now));
    active.version = Set(version + 1);
    active.updated_at = Set(now);
    let row = active.update(&*tx).await?;
    tx.commit().await?;
    store::to_product(row)
}

/// Staff: sets the stock of a product (and whether it is tracked). Stock is not versioned: it
/// moves with every order, and a manager sets what they counted.
pub async fn set_product_stock(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    stock: i32,
    track: Option<bool>,
) -> Result<Product, AppError> {
    principal.require_staff()?;
    let stock = parse_stock(stock, "stock")?;
    let tx = state.db.begin(&state.events).await?;
    let row = product_row(&tx, id).await?;
    let mut active: product::ActiveModel = row.into();
    active.stock = Set(stock);
    if let Some(track) = track {
        active.track_stock = Set(track);
    }
    active.updated_at = Set(state.clock.now());
    let row = active.update(&*tx).await?;
    tx.commit().await?;
    store::to_product(row)
}

pub struct VariantInput {
    pub reference: Option<String>,
    pub name: Option<String>,
    pub characteristics: Option<BTreeMap<String, String>>,
    pub unit_price: Option<Decimal>,
    pub track_stock: Option<bool>,
    pub stock: Option<i32>,
    pub active: Option<bool>,
    pub position: Option<i32>,
}

/// Staff: adds a variant to a standard product. Its price defaults to the product's.
pub async fn add_variant(
    state: &AppState,
    principal: &Principal,
    product_id: Uuid,
    input: VariantInput,
) -> Result<Variant, AppError> {
    principal.require_staff()?;
    let reference = parse_reference(input.reference.as_deref().unwrap_or_default(), "reference")?;
    let name = parse_name(input.name.as_deref().unwrap_or_default(), "name")?;
    let price = input
        .unit_price
        .map(|p| money::price_to_e4(p, "unitPrice"))
        .transpose()?;
    let stock = parse_stock(input.stock.unwrap_or(0), "stock")?;
    let characteristics = parse_characteristics(input.characteristics.unwrap_or_default())?;
    let tx = state.db.begin(&state.events).await?;
    let product = product_row(&tx, product_id).await?;
    if product.kind != ProductKind::Standard.as_str() {
        return Err(AppError::validation(
            "productId",
            "only STANDARD products have variants",
        ));
    }
    let id = Uuid::now_v7();
    claim_reference(&tx, &reference, id, None).await?;
    let row = product_variant::ActiveModel {
        id: Set(id),
        product_id: Set(product_id),
        reference: Set(reference),
        name: Set(name),
        characteristics: Set(characteristics),
        unit_price_e4: Set(price.unwrap_or(product.unit_price_e4)),
        track_stock: Set(input.track_stock.unwrap_or(product.track_stock)),
        stock: Set(stock),
        active: Set(input.active.unwrap_or(true)),
        position: Set(input.position.unwrap_or(0)),
    }
    .insert(&*tx)
    .await
    .map_err(reference_conflict)?;
    tx.commit().await?;
    Ok(store::to_variant(row))
}

/// Staff: changes a variant (`active: false` archives it).
pub async fn update_variant(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    input: VariantInput,
) -> Result<Variant, AppError> {
    principal.require_staff()?;
    let reference = input
        .reference
        .as_deref()
        .map(|r| parse_reference(r, "reference"))
        .transpose()?;
    let name = input
        .name
        .as_deref()
        .map(|n| parse_name(n, "name"))
        .transpose()?;
    let price = input
        .unit_price
        .map(|p| money::price_to_e4(p, "unitPrice"))
        .transpose()?;
    let stock = input.stock.map(|s| parse_stock(s, "stock")).transpose()?;
    let characteristics = input
        .characteristics
        .map(parse_characteristics)
        .transpose()?;
    let tx = state.db.begin(&state.events).await?;
    let row = store::find_variant(&*tx, id)
        .await?
        .ok_or_else(|| AppError::not_found("variant", "id"))?;
    if let Some(reference) = &reference {
        claim_reference(&tx, reference, id, Some(&row.reference)).await?;
    }
    let mut active: product_variant::ActiveModel = row.into();
    if let Some(v) = reference {
        active.reference = Set(v);
    }
    if let Some(v) = name {
        active.name = Set(v);
    }
    if let Some(v) = characteristics {
        active.characteristics = Set(v);
    }
    if let Some(v) = price {
        active.unit_price_e4 = Set(v);
    }
    if let Some(v) = input.track_stock {
        active.track_stock = Set(v);
    }
    if let Some(v) = stock {
        active.stock = Set(v);
    }
    if let Some(v) = input.active {
        active.active = Set(v);
    }
    if let Some(v) = input.position {
        active.position = Set(v);
    }
    let row = active.update(&*tx).await.map_err(reference_conflict)?;
    tx.commit().await?;
    Ok(store::to_variant(row))
}

fn parse_characteristics(map: BTreeMap<String, String>) -> Result<serde_json::Value, AppError> {
    if map.len() > 20
        || map
            .iter()
            .any(|(k, v)| k.trim().is_empty() || k.len() > 64 || v.len() > 200)
    {
        return Err(AppError::validation(
            "characteristics",
            "at most 20 characteristics, names of 1 to 64 and values of at most 200 characters",
        ));
    }
    Ok(serde_json::to_value(map).unwrap_or_default())
}

pub struct OptionValueInput {
    pub code: String,
    pub label: String,
    pub price_modifier: Decimal,
}

pub struct OptionInput {
    pub code: String,
    pub name: String,
    pub kind: OptionKind,
    pub required: bool,
    pub min: Option<Decimal>,
    pub max: Option<Decimal>,
    pub price_per_unit: Decimal,
    pub unit: Option<String>,
    pub position: i32,
    pub values: Vec<OptionValueInput>,
}

struct ParsedOption {
    code: String,
    name: String,
    kind: OptionKind,
    required: bool,
    min: Option<i64>,
    max: Option<i64>,
    price_per_unit: i64,
    unit: Option<String>,
    position: i32,
    values: Vec<(String, String, i64)>,
}

fn parse_option(input: OptionInput) -> Result<ParsedOption, AppError> {
    let code = parse_code(&input.code, "code")?;
    let name = parse_name(&input.name, "name")?;
    let min = input.min.map(|v| money::to_e4(v, "min")).transpose()?;
    let max = input.max.map(|v| money::to_e4(v, "max")).transpose()?;
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        return Err(AppError::validation("max", "must not be below min"));
    }
    let price_per_unit = money::to_e4(input.price_per_unit, "pricePerUnit")?;
    let mut values = Vec::new();
    for (i, value) in input.values.into_iter().enumerate() {
        let field = format!("values.{i}");
        let code = parse_code(&value.code, &format!("{field}.code"))?;
        if values.iter().any(|(c, _, _)| *c == code) {
            return Err(AppError::validation(format!("{field}.code"), "used twice"));
        }
        let label = parse_name(&value.label, &format!("{field}.label"))?;
        let modifier = money::to_e4(value.price_modifier, &format!("{field}.priceModifier"))?;
        values.push((code, label, modifier));
    }
    if input.kind == OptionKind::Number {
        match (min, max) {
            (Some(min), Some(_)) if min >= 0 => {}
            (Some(_), Some(_)) => return Err(AppError::validation("min", "must not be negative")),
            (None, _) => {
                return Err(AppError::validation(
                    "min",
                    "a NUMBER option is bounded: set min",
                ));
            }
            (_, None) => {
                return Err(AppError::validation(
                    "max",
                    "a NUMBER option is bounded: set max",
                ));
            }
        }
    }
    match input.kind {
        OptionKind::Choice if values.is_empty() => {
            return Err(AppError::validation(
                "values",
                "a CHOICE option needs at least one value",
            ));
        }
        OptionKind::Number if !values.is_empty() => {
            return Err(AppError::validation(
                "values",
                "a NUMBER option has bounds, not values",
            ));
        }
        _ => {}
    }
    Ok(ParsedOption {
        code,
        name,
        kind: input.kind,
        required: input.required,
        min,
        max,
        price_per_unit,
        unit: input
            .unit
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty()),
        position: input.position,
        values,
    })
}

/// Staff: adds an option (with its values) to a configurable or custom product.
pub async fn add_option(
    state: &AppState,
    principal: &Principal,
    product_id: Uuid,
    input: OptionInput,
) -> Result<ProductOption, AppError> {
    principal.require_staff()?;
    let parsed = parse_option(input)?;
    let tx = state.db.begin(&state.events).await?;
    let product = product_row(&tx, product_id).await?;
    let kind = ProductKind::parse(&product.kind).unwrap_or(ProductKind::Standard);
    if !kind.has_options() {
        return Err(AppError::validation(
            "productId",
            "only CONFIGURABLE and CUSTOM products have options",
        ));
    }
    let option_id = Uuid::now_v7();
    product_option::ActiveModel {
        id: Set(option_id),
        product_id: Set(product_id),
        code: Set(parsed.code.clone()),
        name: Set(parsed.name),
        kind: Set(parsed.kind.as_str().to_owned()),
        required: Set(parsed.required),
        min_e4: Set(parsed.min),
        max_e4: Set(parsed.max),
        price_per_unit_e4: Set(parsed.price_per_unit),
        unit: Set(parsed.unit),
        position: Set(parsed.position),
    }
    .insert(&*tx)
    .await
    .map_err(|error| match AppError::from(error) {
        AppError::Conflict { .. } => {
            AppError::conflict("code", "this product already has an option with this code")
        }
        other => other,
    })?;
    insert_values(&tx, option_id, parsed.values).await?;
    let option = option_with_values(&tx, product_id, option_id).await?;
    tx.commit().await?;
    Ok(option)
}

/// Staff: replaces an option's definition and values (its code and product stay).
pub async fn update_option(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    input: OptionInput,
) -> Result<ProductOption, AppError> {
    principal.require_staff()?;
    let parsed = parse_option(input)?;
    let tx = state.db.begin(&state.events).await?;
    let row = store::find_option(&*tx, id)
        .await?
        .ok_or_else(|| AppError::not_found("option", "id"))?;
    if row.code != parsed.code {
        return Err(AppError::validation(
            "code",
            "an option's code cannot change",
        ));
    }
    let product_id = row.product_id;
    let mut active: product_option::ActiveModel = row.into();
    active.name = Set(parsed.name);
    active.kind = Set(parsed.kind.as_str().to_owned());
    active.required = Set(parsed.required);
    active.min_e4 = Set(parsed.min);
    active.max_e4 = Set(parsed.max);
    active.price_per_unit_e4 = Set(parsed.price_per_unit);
    active.unit = Set(parsed.unit);
    active.position = Set(parsed.position);
    active.update(&*tx).await?;
    product_option_value::Entity::delete_many()
        .filter(product_option_value::Column::OptionId.eq(id))
        .exec(&*tx)
        .await?;
    insert_values(&tx, id, parsed.values).await?;
    let option = option_with_values(&tx, product_id, id).await?;
    tx.commit().await?;
    Ok(option)
}

/// Staff: removes an option. Lines already configured keep their stored configuration.
pub async fn remove_option(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
) -> Result<(), AppError> {
    principal.require_staff()?;
    let tx = state.db.begin(&state.events).await?;
    let row = store::find_option(&*tx, id)
        .await?
        .ok_or_else(|| AppError::not_found("option", "id"))?;
    row.delete(&*tx).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_values(
    tx: &WriteTx,
    option_id: Uuid,
    values: Vec<(String, String, i64)>,
) -> Result<(), AppError> {
    for (position, (code, label, modifier)) in values.into_iter().enumerate() {
        product_option_value::ActiveModel {
            id: Set(Uuid::now_v7()),
            option_id: Set(option_id),
            code: Set(code),
            label: Set(label),
            price_modifier_e4: Set(modifier),
            position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
        }
        .insert(&**tx)
        .await?;
    }
    Ok(())
}

async fn option_with_values(
    tx: &WriteTx,
    product_id: Uuid,
    option_id: Uuid,
) -> Result<ProductOption, AppError> {
    store::options_of(&**tx, &[product_id])
        .await?
        .into_iter()
        .find(|o| o.id == option_id)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("option vanished")))
}

async fn product_row(tx: &WriteTx, id: Uuid) -> Result<product::Model, AppError> {
    store::find_product_for_update(&**tx, id)
        .await?
        .ok_or_else(|| AppError::not_found("product", "id"))
}

/// Takes `reference` for `owner` (a product or variant), releasing `previous`. The registry's
/// primary key makes the check and the claim one atomic step: two claims of one reference, even
/// by a product and a variant at once, cannot both succeed.
async fn claim_reference(
    tx: &WriteTx,
    reference: &str,
    owner: Uuid,
    previous: Option<&str>,
) -> Result<(), AppError> {
    use comptoir_entity::catalog_reference;
    if previous == Some(reference) {
        return Ok(());
    }
    let taken = || {
        AppError::conflict(
            "reference",
            format!("reference `{reference}` is already used"),
        )
    };
    if catalog_reference::Entity::find_by_id(reference.to_owned())
        .one(&**tx)
        .await?
        .is_some()
    {
        return Err(taken());
    }
    catalog_reference::ActiveModel {
        reference: Set(reference.to_owned()),
        owner_id: Set(owner),
    }
    .insert(&**tx)
    .await
    .map_err(|error| match AppError::from(error) {
        AppError::Conflict { .. } => taken(),
        other => other,
    })?;
    if let Some(previous) = previous {
        catalog_reference::Entity::delete_by_id(previous.to_owned())
            .exec(&**tx)
            .await?;
    }
    Ok(())
}

fn reference_conflict(error: sea_orm::DbErr) -> AppError {
    match AppError::from(error) {
        AppError::Conflict { .. } => {
            AppError::conflict("reference", "this reference is already used")
        }
        other => other,
    }
}

/// What taking stock for a line did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StockTake {
    /// The product (or variant) does not count stock.
    Untracked,
    Taken,
    /// Not enough: this many are left.
    Short {
        available: i32,
    },
}

impl StockTake {
    /// A take whose decrement matched no row, from the row's `(track_stock, stock)` read after
    /// it (`None`: the row is gone, which counts nothing).
    fn refused(left: Option<(bool, i32)>) -> Self {
        match left {
            Some((true, available)) => Self::Short { available },
            _ => Self::Untracked,
        }
    }
}

/// Takes `quantity` units of the product's (or the variant's) stock, inside the caller's
/// transaction. The check and the decrement are one statement: parallel orders never oversell.
pub async fn take_stock(
    db: &impl ConnectionTrait,
    product_id: Uuid,
    variant_id: Option<Uuid>,
    quantity: i32,
) -> Result<StockTake, AppError> {
    if quantity <= 0 {
        return Ok(StockTake::Taken);
    }
    if store::take_stock(db, product_id, variant_id, quantity).await? {
        return Ok(StockTake::Taken);
    }
    Ok(StockTake::refused(left(db, product_id, variant_id).await?))
}

/// Whether the product (or variant) counts stock, and how much it has: `None` when it is gone.
async fn left(
    db: &impl ConnectionTrait,
    product_id: Uuid,
    variant_id: Option<Uuid>,
) -> Result<Option<(bool, i32)>, AppError> {
    Ok(match variant_id {
        Some(id) => store::find_variant(db, id)
            .await?
            .map(|v| (v.track_stock, v.stock)),
        None => store::find_product(db, product_id)
            .await?
            .map(|p| (p.track_stock, p.stock)),
    })
}

/// Stock a line takes: `quantity` units of the product, or of its variant.
#[derive(Clone, Copy, Debug)]
pub struct StockItem {
    pub product_id: Uuid,
    pub variant_id: Option<Uuid>,
    pub quantity: i32,
}

/// Runs `first` (a statement of the caller's that gives one row), then takes stock for each of
/// `items` in turn as [`take_stock`] does: the row of `first` and what each take did. On SQLite
/// in one round trip, a text of statements (each take an `UPDATE` and a `SELECT` of `changes()`
/// with the stock left); on PostgreSQL one statement ([`store::take_stock_postgres`]), then
/// [`take_stock`] for each line that statement did not take although its snapshot says the row
/// counts stock (one more round trip each, two for a short one); there what the takes did stops
/// at the first short one. A row whose tracking is switched on while the statement waits counts
/// as untracked for this checkout, as if it had come just before.
/// Locks are taken in the order given: `first`'s row, then each item's.
///
/// On PostgreSQL the same statement then locks each of `held` (a table and a row's ID) `FOR KEY
/// SHARE`: the rows that writes deferred to the commit reference by foreign keys, whose checks
/// must not wait once the event log's lock is taken (see `db::WriteTx::defer`). SQLite has one
/// writer: nothing to hold.
pub async fn take_stock_after(
    db: &impl ConnectionTrait,
    first: sea_orm::Statement,
    items: &[StockItem],
    held: &[(&'static str, Uuid)],
) -> Result<(sea_orm::QueryResult, Vec<StockTake>), AppError> {
    let missing = || AppError::internal(anyhow::anyhow!("a statement gave no row"));
    let counted: Vec<usize> = (0..items.len())
        .filter(|&i| items[i].quantity > 0)
        .collect();
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        let asked: Vec<_> = counted
            .iter()
            .map(|&i| (items[i].product_id, items[i].variant_id, items[i].quantity))
            .collect();
        let row = db
            .query_one_raw(store::take_stock_postgres(first, &asked, held))
            .await?
            .ok_or_else(missing)?;
        let mut taken = vec![StockTake::Taken; items.len()];
        for (n, &index) in counted.iter().enumerate() {
            let changed: i64 = row.try_get("", &format!("taken_{n}"))?;
            let tracked: Option<bool> = row.try_get("", &format!("tracked_{n}"))?;
            if changed == 1 {
                continue;
            }
            if tracked != Some(true) {
                taken[index] = StockTake::Untracked;
                continue;
            }
            // Not taken by the statement: never run (an earlier take stopped it), or run on the
            // row as it was before any wait (stock added meanwhile, tracking switched off), or
            // on a row it had already taken from for an earlier line (a statement does not see
            // its own updates). A statement of its own takes it, or tells what is left. The
            // caller refuses the order at the first short line: the rest need not wait for
            // their locks.
            let item = &items[index];
            taken[index] = take_stock(db, item.product_id, item.variant_id, item.quantity).await?;
            if matches!(taken[index], StockTake::Short { .. }) {
                taken.truncate(index + 1);
                break;
            }
        }
        return Ok((row, taken));
    }
    // The products' takes before the variants' (SQLite has one writer: the order of the takes
    // matters only between lines of one product or variant, which keep theirs). So the texts the
    // driver compiles and keeps depend on how many of each, not on how they mix.
    let mut counted = counted;
    counted.sort_by_key(|&i| items[i].variant_id.is_some());
    let mut statements = Vec::with_capacity(1 + 2 * counted.len());
    statements.push(first);
    for &index in &counted {
        let item = &items[index];
        statements.extend(store::take_stock_sqlite(
            item.product_id,
            item.variant_id,
            item.quantity,
        ));
    }
    let batch = crate::db::batch(statements).ok_or_else(missing)?;
    let mut rows = db.query_all_raw(batch).await?.into_iter();
    let first = rows.next().ok_or_else(missing)?;
    // Lines that take nothing have taken what they asked.
    let mut takes = vec![StockTake::Taken; items.len()];
    for index in counted {
        let row = rows.next().ok_or_else(missing)?;
        let changed: i64 = row.try_get("", "taken")?;
        let tracked: Option<bool> = row.try_get("", "track_stock")?;
        let stock: Option<i32> = row.try_get("", "stock")?;
        takes[index] = if changed == 1 {
            StockTake::Taken
        } else {
            StockTake::refused(tracked.zip(stock))
        };
    }
    Ok((first, takes))
}

/// Returns units taken by [`take_stock`].
pub async fn return_stock(
    db: &impl ConnectionTrait,
    product_id: Uuid,
    variant_id: Option<Uuid>,
    quantity: i32,
) -> Result<(), AppError> {
    if quantity > 0 {
        store::return_stock(db, product_id, variant_id, quantity).await?;
    }
    Ok(())
}

/// A product as a line of an order or a quote takes it: checked (for sale, a variant chosen when
/// it has some, a valid configuration) and priced from the catalog.
pub struct ResolvedItem {
    pub product: Product,
    pub variant: Option<Variant>,
    pub configuration: Vec<crate::catalog::model::SelectionView>,
    pub unit_price: Decimal,
}

/// Resolves `product_id` with `variant_id` and `configuration`; `public_only` for customers.
pub async fn resolve_item(
    db: &impl ConnectionTrait,
    product_id: Uuid,
    variant_id: Option<Uuid>,
    configuration: &[crate::catalog::model::RawSelection],
    public_only: bool,
) -> Result<ResolvedItem, AppError> {
    let product = products_by_ids(db, &[product_id])
        .await?
        .into_iter()
        .next()
        .filter(|p| !p.archived && (!public_only || p.is_public()))
        .ok_or_else(|| AppError::not_found("product", "productId"))?;
    let variants = variants_of(db, &[product.id], public_only).await?;
    let variant = match variant_id {
        Some(id) => Some(
            variants
                .into_iter()
                .find(|v| v.id == id)
                .ok_or_else(|| AppError::not_found("variant of this product", "variantId"))?,
        ),
        None if !variants.is_empty() => {
            return Err(AppError::validation(
                "variantId",
                "this product has variants: choose one",
            ));
        }
        None => None,
    };
    let options = options_of(db, &[product.id]).await?;
    let base = variant
        .as_ref()
        .map_or(product.unit_price, |v| v.unit_price);
    let (chosen, unit_price) =
        crate::catalog::model::price_configuration(base, &options, configuration)?;
    Ok(ResolvedItem {
        configuration: crate::catalog::model::describe(&chosen, &options),
        product,
        variant,
        unit_price,
    })
}
