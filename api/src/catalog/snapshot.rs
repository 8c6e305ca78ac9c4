//! Catalog rows kept per catalog epoch, for the writes that check and price lines (carts).
//!
//! Adding a line to a cart read the product, its variants and its options inside the
//! transaction, then all the cart's products again to price it. Those rows change only with the
//! catalog's *rows epoch* (`catalog_rows`, the counter that database triggers bump in every
//! transaction writing a product, a variant, an option or an option value, except a change of
//! stock alone: see the migration `m20261206_000025_catalog_rows_epoch`), so they are kept here,
//! per product, with the epoch they were read under. A caller reads the epoch (one statement, or
//! none: [`EarlyEpoch`]) and takes the rows kept under it, reading only the products it lacks
//! (three statements whatever their number).
//!
//! Invariants:
//! - rows are read *after* the epoch they are kept under, so they are never older than it; a
//!   caller that read a newer epoch never takes them. Nothing is invalidated by messages, so this
//!   holds across instances;
//! - a transaction reads rows through a [`Snapshot`] only if it has not written the catalog
//!   itself: its own uncommitted rows would be kept under an epoch that does not include them;
//! - the stock in kept rows is whatever it was when they were read: a reader takes stock from
//!   the database (carts read it with their lines), never from kept rows.

use std::{collections::HashMap, sync::Arc};

use sea_orm::{ConnectionTrait, DbErr, Statement};
use uuid::Uuid;

use super::{
    model::{Product, ProductOption, Variant},
    service,
};
use crate::error::AppError;

/// Memory the kept rows may take, by [`ProductRows::weight`]: a product with a few variants and
/// options weighs a kibibyte or two, one with hundreds of variants a few hundred, so the bound
/// is on bytes, not on products.
const KEPT_BYTES: u64 = 32 * 1024 * 1024;

/// A product's rows as one epoch of the catalog shows them.
#[derive(Debug)]
pub struct ProductRows {
    pub product: Product,
    /// All its variants, inactive ones included, in display order.
    pub variants: Vec<Variant>,
    /// Its options with their values, in display order.
    pub options: Vec<ProductOption>,
}

impl ProductRows {
    /// About the memory these rows hold: their structs and the text they own.
    fn weight(&self) -> u32 {
        use std::mem::size_of;

        let product = &self.product;
        let variants: usize = self
            .variants
            .iter()
            .map(|v| {
                size_of::<Variant>()
                    + v.reference.len()
                    + v.name.len()
                    + v.characteristics
                        .iter()
                        // A B-tree entry's keeping besides its two strings.
                        .map(|(k, value)| 3 * size_of::<String>() + k.len() + value.len())
                        .sum::<usize>()
            })
            .sum();
        let options: usize = self
            .options
            .iter()
            .map(|o| {
                size_of::<ProductOption>()
                    + o.code.len()
                    + o.name.len()
                    + o.unit.as_ref().map_or(0, String::len)
                    + o.values
                        .iter()
                        .map(|v| {
                            size_of::<super::model::OptionValue>() + v.code.len() + v.label.len()
                        })
                        .sum::<usize>()
            })
            .sum();
        let bytes = size_of::<Self>()
            + product.reference.len()
            + product.name.len()
            + product.description.len()
            + variants
            + options;
        u32::try_from(bytes).unwrap_or(u32::MAX)
    }
}

/// The rows kept, each with the epoch it was read under.
pub struct CatalogRows {
    kept: moka::sync::Cache<Uuid, (i64, Arc<ProductRows>)>,
}

impl Default for CatalogRows {
    fn default() -> Self {
        Self {
            kept: moka::sync::Cache::builder()
                .weigher(|_, (_, rows): &(i64, Arc<ProductRows>)| rows.weight())
                .max_capacity(KEPT_BYTES)
                .build(),
        }
    }
}

impl CatalogRows {
    /// The catalog as `db` sees it now: its rows epoch, read once.
    pub async fn at(&self, db: &impl ConnectionTrait) -> Result<Snapshot<'_>, AppError> {
        Ok(Snapshot {
            rows: self,
            epoch: read_epoch(db, ROWS).await?,
        })
    }

    /// The catalog at the epoch read at the start of this request, if it was (see
    /// [`EarlyEpoch`]), else as `db` sees it now. Only before the request's first write.
    pub async fn at_early(
        &self,
        db: &impl ConnectionTrait,
        early: Option<EarlyEpoch>,
    ) -> Result<Snapshot<'_>, AppError> {
        match early {
            Some(early) => Ok(Snapshot {
                rows: self,
                epoch: early.rows,
            }),
            None => self.at(db).await,
        }
    }
}

/// The catalog's epochs as they were read with the caller's account, in the statement that
/// authenticated the request (one statement fewer for a request that needs them).
///
/// Invariant: a request carries them (as request data) only while nothing it does can have
/// changed the catalog since: a single operation that is a query, or a mutation with one root
/// field, which takes them before its first write. Reading under them is then the same as
/// reading a moment earlier; rows read after them are never older than them, as [`CatalogRows`]
/// requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EarlyEpoch {
    /// The `catalog` epoch, of every change (kept responses).
    pub catalog: i64,
    /// The `catalog_rows` epoch, of every change but stock alone (kept rows).
    pub rows: i64,
}

/// The epoch of every catalog change, stock included.
pub const CATALOG: &str = "catalog";
/// The epoch of every catalog change but a change of stock alone.
pub const ROWS: &str = "catalog_rows";

/// The expression that reads epoch `name` inside another statement (see [`EarlyEpoch`]).
pub fn epoch_expr(name: &str) -> String {
    format!("(SELECT version FROM cache_epoch WHERE name = '{name}')")
}

/// The catalog at one epoch.
pub struct Snapshot<'a> {
    rows: &'a CatalogRows,
    epoch: i64,
}

impl Snapshot<'_> {
    /// The rows of these products (those that exist), read from `db` only for those not kept
    /// under this epoch.
    pub async fn products(
        &self,
        db: &impl ConnectionTrait,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Arc<ProductRows>>, AppError> {
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        for &id in ids {
            if found.contains_key(&id) || missing.contains(&id) {
                continue;
            }
            match self.rows.kept.get(&id) {
                Some((epoch, rows)) if epoch == self.epoch => {
                    found.insert(id, rows);
                }
                _ => missing.push(id),
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        for (id, rows) in read(db, &missing).await? {
            self.rows.kept.insert(id, (self.epoch, Arc::clone(&rows)));
            found.insert(id, rows);
        }
        Ok(found)
    }

    /// One product's rows; `None` when it does not exist.
    pub async fn product(
        &self,
        db: &impl ConnectionTrait,
        id: Uuid,
    ) -> Result<Option<Arc<ProductRows>>, AppError> {
        Ok(self.products(db, &[id]).await?.remove(&id))
    }
}

/// The rows of these products (those that exist) as `db` shows them now, not kept: three
/// statements whatever their number.
pub async fn read(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Arc<ProductRows>>, AppError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let products = service::products_by_ids(db, ids).await?;
    let mut variants = service::variants_of(db, ids, false).await?;
    let mut options = service::options_of(db, ids).await?;
    Ok(products
        .into_iter()
        .map(|product| {
            let id = product.id;
            let rows = ProductRows {
                variants: take_where(&mut variants, |v| v.product_id == id),
                options: take_where(&mut options, |o| o.product_id == id),
                product,
            };
            (id, Arc::new(rows))
        })
        .collect())
}

/// The items of `items` that match, in their order; the others stay.
fn take_where<T>(items: &mut Vec<T>, matches: impl Fn(&T) -> bool) -> Vec<T> {
    let (taken, kept) = std::mem::take(items).into_iter().partition(matches);
    *items = kept;
    taken
}

/// The catalog's epoch: bumped by every committed change to the catalog, stock included.
pub async fn epoch(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    read_epoch(db, CATALOG).await
}

/// Epoch `name` as `db` sees it now.
async fn read_epoch(db: &impl ConnectionTrait, name: &str) -> Result<i64, DbErr> {
    let statement = Statement::from_string(
        db.get_database_backend(),
        format!("SELECT {} AS version", epoch_expr(name)),
    );
    let version: Option<i64> = match db.query_one_raw(statement).await? {
        Some(row) => row.try_get("", "version")?,
        None => None,
    };
    version.ok_or_else(|| DbErr::RecordNotFound(format!("cache epoch `{name}`")))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::Utc;
    use rust_decimal::Decimal;

    use super::*;
    use crate::catalog::model::ProductKind;

    #[test]
    fn catalog_rows_epoch_follows_every_column_but_stock() {
        use comptoir_entity::{product, product_variant};
        use comptoir_migration::m20261206_000025_catalog_rows_epoch::{
            PRODUCT_COLUMNS, VARIANT_COLUMNS,
        };
        use sea_orm::{IdenStatic, Iterable};

        // A column missing from the triggers' lists would change kept rows without a new epoch.
        let product: Vec<_> = product::Column::iter()
            .map(|c| c.as_str())
            .filter(|c| *c != "stock")
            .collect();
        assert_eq!(product, PRODUCT_COLUMNS);
        let variant: Vec<_> = product_variant::Column::iter()
            .map(|c| c.as_str())
            .filter(|c| *c != "stock")
            .collect();
        assert_eq!(variant, VARIANT_COLUMNS);
    }

    fn rows(variants: usize) -> Arc<ProductRows> {
        let id = Uuid::now_v7();
        Arc::new(ProductRows {
            product: Product {
                id,
                reference: "BANNER".to_owned(),
                name: "Banner".to_owned(),
                description: String::new(),
                kind: ProductKind::Standard,
                unit_price: Decimal::ONE,
                vat_rate: Decimal::ZERO,
                active: true,
                visible: true,
                track_stock: false,
                stock: 0,
                rental_owned_quantity: None,
                rental_daily_price: None,
                rental_buffer: None,
                archived: false,
                version: 0,
                created_at: Utc::now(),
                updated_at: Utc::now(),
            },
            variants: (0..variants)
                .map(|i| Variant {
                    id: Uuid::now_v7(),
                    product_id: id,
                    reference: format!("BANNER-{i:04}"),
                    name: format!("Banner, size {i}"),
                    characteristics: BTreeMap::from([("size".to_owned(), i.to_string())]),
                    unit_price: Decimal::ONE,
                    track_stock: false,
                    stock: 0,
                    active: true,
                    position: i32::try_from(i).unwrap_or(0),
                })
                .collect(),
            options: Vec::new(),
        })
    }

    #[test]
    fn kept_rows_are_bounded_by_their_weight_not_their_number() {
        let small = rows(1).weight();
        let large = rows(500).weight();
        assert!(large > 400 * small / 2, "{small} vs {large}");

        // 400 products of 500 variants each (one set of rows under 400 ids): about 130 KiB
        // each, so about 250 fit in the bound, where a bound of 10,000 products kept them all.
        let cache = CatalogRows::default();
        let heavy = rows(500);
        for _ in 0..400 {
            cache.kept.insert(Uuid::now_v7(), (1, Arc::clone(&heavy)));
        }
        cache.kept.run_pending_tasks();
        assert!(cache.kept.weighted_size() <= KEPT_BYTES);
        let kept = cache.kept.entry_count();
        assert!((100..400).contains(&kept), "{kept} kept");
    }
}
