//! What availability is computed from: rental products (owned units, buffers) and the items
//! holding their units near a period, read in two or three statements whatever the number of
//! products or items, then judged with the pure arithmetic of [`super::availability`].

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use comptoir_entity::rental_item;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::{
    availability::{self, Booking, Buffer},
    model::{ItemStatus, Shortage},
    store,
};
use crate::{
    catalog::{self, Product},
    error::AppError,
};

/// How the ledger reads the products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Lock {
    /// A plain read (queries, displays).
    None,
    /// Judging a draft: wait for reservations in progress, then read them.
    Share,
    /// Reserving: one reservation of these products at a time.
    Reserve,
}

pub(super) struct Ledger {
    products: HashMap<Uuid, Product>,
    holding: Vec<rental_item::Model>,
    numbers: HashMap<Uuid, String>,
    now: DateTime<Utc>,
}

impl Ledger {
    /// For `items`: their products (locked until the transaction ends when `lock`), and the
    /// items of projects other than `except` that hold units of them around their periods.
    pub async fn for_items(
        db: &impl ConnectionTrait,
        items: &[rental_item::Model],
        except: Option<Uuid>,
        now: DateTime<Utc>,
        lock: Lock,
    ) -> Result<Self, AppError> {
        let mut product_ids: Vec<Uuid> = items.iter().map(|i| i.product_id).collect();
        product_ids.sort_unstable();
        product_ids.dedup();
        let from = items.iter().map(|i| i.start_at).min().unwrap_or(now);
        let to = items.iter().map(|i| i.end_at).max().unwrap_or(now);
        Self::load(db, &product_ids, from, to, except, now, lock).await
    }

    /// For `product_ids` over `[from, to)`.
    pub async fn load(
        db: &impl ConnectionTrait,
        product_ids: &[Uuid],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        except: Option<Uuid>,
        now: DateTime<Utc>,
        lock: Lock,
    ) -> Result<Self, AppError> {
        if product_ids.is_empty() {
            return Ok(Self {
                products: HashMap::new(),
                holding: Vec::new(),
                numbers: HashMap::new(),
                now,
            });
        }
        let products = match lock {
            Lock::Reserve => catalog::service::lock_products(db, product_ids, true).await?,
            Lock::Share => catalog::service::lock_products(db, product_ids, false).await?,
            Lock::None => catalog::service::products_by_ids(db, product_ids).await?,
        };
        let products: HashMap<Uuid, Product> = products.into_iter().map(|p| (p.id, p)).collect();
        // A booking [s, e) holds units from s − before to e + after, and so does a rental over
        // [from, to): they meet when s < to + before + after and e > from − before − after.
        let margin = products.values().fold(0, |m, p| {
            let buffer = p.rental_buffer.unwrap_or_default();
            m.max(buffer.before_hours + buffer.after_hours)
        });
        let margin = Duration::hours(i64::from(margin));
        let holding = store::holding(
            db,
            product_ids,
            from.checked_sub_signed(margin)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
            to.checked_add_signed(margin)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            except,
        )
        .await?;
        let mut project_ids: Vec<Uuid> = holding.iter().map(|i| i.project_id).collect();
        project_ids.sort_unstable();
        project_ids.dedup();
        let numbers = if project_ids.is_empty() {
            HashMap::new()
        } else {
            store::by_ids(db, &project_ids)
                .await?
                .into_iter()
                .map(|p| (p.id, p.number))
                .collect()
        };
        Ok(Self {
            products,
            holding,
            numbers,
            now,
        })
    }

    pub fn product(&self, id: Uuid) -> Option<&Product> {
        self.products.get(&id)
    }

    fn buffer(&self, product_id: Uuid) -> Buffer {
        let buffer = self
            .products
            .get(&product_id)
            .and_then(|p| p.rental_buffer)
            .unwrap_or_default();
        Buffer::hours(buffer.before_hours, buffer.after_hours)
    }

    fn owned(&self, product_id: Uuid) -> i32 {
        self.products
            .get(&product_id)
            .and_then(|p| p.rental_owned_quantity)
            .unwrap_or(0)
    }

    /// An item as a booking. Equipment handed out and not back by its end counts until it
    /// returns: its booking runs on without end.
    fn booking(&self, item: &rental_item::Model) -> Booking {
        let late = item.status == ItemStatus::Issued.as_str() && item.end_at < self.now;
        Booking {
            start: item.start_at,
            end: if late {
                DateTime::<Utc>::MAX_UTC
            } else {
                item.end_at
            },
            quantity: item.quantity,
        }
    }

    /// What holds units of `product_id`, but for the items of project `except`.
    fn others(
        &self,
        product_id: Uuid,
        except: Option<Uuid>,
    ) -> impl Iterator<Item = &rental_item::Model> {
        self.holding
            .iter()
            .filter(move |i| i.product_id == product_id && Some(i.project_id) != except)
    }

    fn bookings(&self, product_id: Uuid, except: Option<Uuid>) -> Vec<Booking> {
        self.others(product_id, except)
            .map(|i| self.booking(i))
            .collect()
    }

    /// Units of `product_id` free over `[from, to)`, not counting what project `except` holds.
    pub fn available(
        &self,
        product_id: Uuid,
        except: Option<Uuid>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> i32 {
        availability::available(
            self.owned(product_id),
            &self.bookings(product_id, except),
            self.buffer(product_id),
            from,
            to,
        )
    }

    /// Units of `product_id` free each day from `first` to `last`.
    pub fn calendar(
        &self,
        product_id: Uuid,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Vec<(NaiveDate, i32)> {
        availability::calendar(
            self.owned(product_id),
            &self.bookings(product_id, None),
            self.buffer(product_id),
            first,
            last,
        )
    }

    /// The items of one project (`items`) that need more units than the other projects leave
    /// free over their periods, with what each is short of and the projects it clashes with.
    pub fn shortages(&self, items: &[rental_item::Model]) -> Vec<Shortage> {
        let Some(project) = items.first().map(|i| i.project_id) else {
            return Vec::new();
        };
        let mut shortages = Vec::new();
        let mut product_ids: Vec<Uuid> = items.iter().map(|i| i.product_id).collect();
        product_ids.sort_unstable();
        product_ids.dedup();
        for product_id in product_ids {
            let mine: Vec<&rental_item::Model> = items
                .iter()
                .filter(|i| i.product_id == product_id)
                .collect();
            let buffer = self.buffer(product_id);
            let others = self.bookings(product_id, Some(project));
            let own: Vec<Booking> = mine.iter().map(|i| self.booking(i)).collect();
            let missing = availability::shortfalls(self.owned(product_id), &others, &own, buffer);
            for (item, short) in mine.into_iter().zip(missing) {
                if short == 0 {
                    continue;
                }
                let mut clashes: Vec<String> = self
                    .others(product_id, Some(project))
                    .filter(|other| {
                        self.booking(other)
                            .overlaps(buffer, item.start_at, item.end_at)
                    })
                    .filter_map(|other| self.numbers.get(&other.project_id).cloned())
                    .collect();
                clashes.sort();
                clashes.dedup();
                shortages.push(Shortage {
                    item_id: item.id,
                    position: item.position,
                    product_id,
                    reference: item.reference.clone(),
                    name: item.name.clone(),
                    requested: item.quantity,
                    available: item.quantity - short,
                    short,
                    clashes,
                });
            }
        }
        shortages.sort_by_key(|s| s.position);
        shortages
    }
}
