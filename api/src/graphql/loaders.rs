//! Per-request `DataLoader`s. They are built for each request (and each WebSocket operation) with
//! the caller's principal, so a loader never serves one user's rows to another.
//!
//! A request carries one [`Loaders`]: the scope the loaders are built from and an empty slot per
//! loader kind, filled on first use. A catalog page touches two of the thirty kinds, and an idle
//! subscription none, so building them all up front cost every request and every WebSocket
//! operation for nothing. The slots themselves are allocated with the first loader: a
//! subscription holds its request for as long as it lives, thousands of them at once.

use std::{
    any::Any,
    collections::HashMap,
    sync::{Arc, OnceLock},
};

use async_graphql::{
    Context,
    dataloader::{DataLoader, HashMapCache, Loader},
};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::{
    auth::{Principal, User},
    catalog::{self, ProductOption, Variant, settings::StoreSettings},
    customers::{self, Address, Contact, Customer},
    error::AppError,
    kernel::time::SharedClock,
    state::AppState,
};

pub type LoadError = Arc<AppError>;

/// What the loaders of one request are built from.
pub struct Scope {
    db: DatabaseConnection,
    principal: Principal,
    clock: SharedClock,
}

/// A loader kind: its slot in [`Loaders`] and how it is built.
pub trait RequestScoped: Loader<Uuid> + Sized {
    const SLOT: usize;
    fn build(scope: &Scope) -> Self;
}

/// Declares the loader kinds: each gets a slot of its own.
macro_rules! loader_kinds {
    ($($kind:ident => |$scope:ident| $build:expr),* $(,)?) => {
        #[allow(clippy::enum_variant_names)]
        enum Slot { $($kind,)* }
        const SLOTS: usize = [$(Slot::$kind),*].len();
        $(impl RequestScoped for $kind {
            const SLOT: usize = Slot::$kind as usize;
            fn build($scope: &Scope) -> Self {
                $build
            }
        })*
    };
}

loader_kinds! {
    VariantsOfProduct => |s| Self { db: s.db.clone(), public: !s.principal.is_staff() },
    OptionsOfProduct => |s| Self { db: s.db.clone() },
    CustomerLoader => |s| Self { db: s.db.clone(), principal: s.principal },
    ContactsOfCustomer => |s| Self { db: s.db.clone() },
    AddressesOfCustomer => |s| Self { db: s.db.clone() },
    TimelineOfCustomer => |s| Self { db: s.db.clone() },
    TimelineOfOrder => |s| Self { db: s.db.clone() },
    LinesOfOrder => |s| Self { db: s.db.clone() },
    ChangesOfOrder => |s| Self { db: s.db.clone() },
    NotesOfOrder => |s| Self { db: s.db.clone() },
    PaymentsOfOrder => |s| Self { db: s.db.clone() },
    CallsOfOrder => |s| Self { db: s.db.clone() },
    LinesOfQuote => |s| Self { db: s.db.clone() },
    AttachmentsOfQuote => |s| Self { db: s.db.clone() },
    RevisionsOfQuote => |s| Self { db: s.db.clone() },
    ItemsOfProject => |s| Self { db: s.db.clone() },
    ChangesOfProject => |s| Self { db: s.db.clone() },
    ProjectsOfCustomer => |s| Self { db: s.db.clone() },
    TimelineOfProject => |s| Self { db: s.db.clone() },
    ItemAvailability => |s| Self { db: s.db.clone(), clock: s.clock.clone() },
    InvoicesOfOrder => |s| Self { db: s.db.clone() },
    FilesOfOrder => |s| Self { db: s.db.clone() },
    CommentsOfFile => |s| Self { db: s.db.clone() },
    ClaimsOfOrder => |s| Self { db: s.db.clone() },
    PhotosOfClaim => |s| Self { db: s.db.clone() },
    CopySourceOfOrder => |s| Self { db: s.db.clone() },
    CopiesOfOrder => |s| Self { db: s.db.clone() },
    OrderLoader => |s| Self { db: s.db.clone(), principal: s.principal },
    UserLoader => |s| Self { db: s.db.clone() },
}

/// The loaders of one request (one caller), each built on first use.
pub struct Loaders {
    scope: Scope,
    slots: OnceLock<Box<[LoaderSlot; SLOTS]>>,
}

type LoaderSlot = OnceLock<Box<dyn Any + Send + Sync>>;

impl Loaders {
    fn new(state: &AppState, principal: Principal) -> Self {
        Self {
            scope: Scope {
                db: state.db.read().clone(),
                principal,
                clock: state.clock.clone(),
            },
            slots: OnceLock::new(),
        }
    }

    fn get<L: RequestScoped>(&self) -> Option<&RequestLoader<L>> {
        self.slots
            .get_or_init(|| Box::new(std::array::from_fn(|_| OnceLock::new())))[L::SLOT]
            .get_or_init(|| {
                Box::new(DataLoader::with_cache(
                    L::build(&self.scope),
                    tokio::spawn,
                    HashMapCache::default(),
                ))
            })
            .downcast_ref()
    }
}

/// Attaches this request's (empty) loaders for `principal`.
pub fn attach(
    request: async_graphql::Request,
    state: &AppState,
    principal: Principal,
) -> async_graphql::Request {
    request
        .data(RequestSettings::default())
        .data(Loaders::new(state, principal))
}

/// A request's loader: every loader caches for the length of one request (one caller).
pub type RequestLoader<L> = DataLoader<L, HashMapCache>;

/// The loader `L` of this request.
pub fn loader<'a, L: RequestScoped>(
    ctx: &Context<'a>,
) -> Result<&'a RequestLoader<L>, async_graphql::Error> {
    ctx.data::<Loaders>()
        .ok()
        .and_then(Loaders::get::<L>)
        .ok_or_else(|| {
            AppError::internal(anyhow::anyhow!("loader missing from the request")).to_graphql()
        })
}

pub fn load_error(error: &LoadError) -> async_graphql::Error {
    error.to_graphql()
}

fn group<T>(items: Vec<T>, key: impl Fn(&T) -> Uuid) -> HashMap<Uuid, Vec<T>> {
    let mut map: HashMap<Uuid, Vec<T>> = HashMap::new();
    for item in items {
        map.entry(key(&item)).or_default().push(item);
    }
    map
}

/// The store settings, read at most once per request (every `Money.currencyCode` needs them).
#[derive(Clone, Default)]
pub struct RequestSettings(Arc<tokio::sync::OnceCell<StoreSettings>>);

/// This request's store settings.
pub async fn settings<'a>(ctx: &Context<'a>) -> Result<&'a StoreSettings, async_graphql::Error> {
    let cell = ctx.data::<RequestSettings>().map_err(|_| {
        AppError::internal(anyhow::anyhow!("settings missing from the request")).to_graphql()
    })?;
    let state = crate::graphql::context::state(ctx);
    cell.0
        .get_or_try_init(|| state.settings.get(state.db.read()))
        .await
        .map_err(|e| e.to_graphql())
}

pub struct VariantsOfProduct {
    db: DatabaseConnection,
    public: bool,
}

impl Loader<Uuid> for VariantsOfProduct {
    type Value = Vec<Variant>;
    type Error = LoadError;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<Variant>>, LoadError> {
        let variants = catalog::service::variants_of(&self.db, ids, self.public).await?;
        Ok(group(variants, |v| v.product_id))
    }
}

pub struct OptionsOfProduct {
    db: DatabaseConnection,
}

impl Loader<Uuid> for OptionsOfProduct {
    type Value = Vec<ProductOption>;
    type Error = LoadError;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<ProductOption>>, LoadError> {
        let options = catalog::service::options_of(&self.db, ids).await?;
        Ok(group(options, |o| o.product_id))
    }
}

pub struct CustomerLoader {
    db: DatabaseConnection,
    principal: Principal,
}

impl Loader<Uuid> for CustomerLoader {
    type Value = Customer;
    type Error = LoadError;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Customer>, LoadError> {
        let customers = customers::service::by_ids(&self.db, &self.principal, ids).await?;
        Ok(customers.into_iter().map(|c| (c.id, c)).collect())
    }
}

pub struct ContactsOfCustomer {
    db: DatabaseConnection,
}

impl Loader<Uuid> for ContactsOfCustomer {
    type Value = Vec<Contact>;
    type Error = LoadError;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<Contact>>, LoadError> {
        let contacts = customers::service::contacts_of(&self.db, ids).await?;
        Ok(group(contacts, |c| c.customer_id))
    }
}

pub struct AddressesOfCustomer {
    db: DatabaseConnection,
}

impl Loader<Uuid> for AddressesOfCustomer {
    type Value = Vec<Address>;
    type Error = LoadError;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<Address>>, LoadError> {
        let addresses = customers::service::addresses_of(&self.db, ids).await?;
        Ok(group(addresses, |a| a.customer_id))
    }
}

pub struct UserLoader {
    db: DatabaseConnection,
}

impl Loader<Uuid> for UserLoader {
    type Value = User;
    type Error = LoadError;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, User>, LoadError> {
        let users = crate::auth::service::users_by_ids(&self.db, ids).await?;
        Ok(users.into_iter().map(|u| (u.id, u)).collect())
    }
}

/// Loaders of an object's timeline: the events recorded on it, newest first (callers filter
/// what the viewer may see).
macro_rules! timeline {
    ($(#[$doc:meta])* $loader:ident, $object_type:expr) => {
        $(#[$doc])*
        pub struct $loader {
            db: DatabaseConnection,
        }

        impl Loader<Uuid> for $loader {
            type Value = Vec<crate::events::StoredEvent>;
            type Error = LoadError;

            async fn load(
                &self,
                ids: &[Uuid],
            ) -> Result<HashMap<Uuid, Vec<crate::events::StoredEvent>>, LoadError> {
                let events = crate::events::store::of_objects(&self.db, $object_type, ids)
                    .await
                    .map_err(AppError::from)?;
                Ok(group(events, |e| e.object_id))
            }
        }
    };
}

timeline!(
    /// A customer's timeline (messages sent…).
    TimelineOfCustomer,
    "Customer"
);
timeline!(
    /// An order's timeline.
    TimelineOfOrder,
    crate::orders::ORDER_OBJECT
);
timeline!(
    /// A rental project's timeline.
    TimelineOfProject,
    crate::rental::PROJECT_OBJECT
);

/// Units free for rental items over their periods (not counting what their own project
/// holds): three statements for every item of the request.
pub struct ItemAvailability {
    db: DatabaseConnection,
    clock: crate::kernel::time::SharedClock,
}

impl Loader<Uuid> for ItemAvailability {
    type Value = i32;
    type Error = LoadError;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, i32>, LoadError> {
        Ok(crate::rental::queries::availability_of_items(&self.db, ids, self.clock.now()).await?)
    }
}

/// Loaders of what hangs off orders and quotes the caller was already allowed to read: keyed by
/// their ID, one statement for every object of the request.
macro_rules! order_children {
    ($loader:ident, $value:ty, $load:path, $key:ident) => {
        pub struct $loader {
            db: DatabaseConnection,
        }

        impl Loader<Uuid> for $loader {
            type Value = Vec<$value>;
            type Error = LoadError;

            async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<$value>>, LoadError> {
                let rows = $load(&self.db, ids).await.map_err(AppError::from)?;
                Ok(group(rows, |row| row.$key))
            }
        }
    };
}

order_children!(
    LinesOfOrder,
    crate::orders::OrderLine,
    crate::orders::service::lines_of,
    order_id
);
order_children!(
    ChangesOfOrder,
    crate::orders::model::Change,
    crate::orders::service::changes_of,
    order_id
);
order_children!(
    NotesOfOrder,
    crate::orders::model::Note,
    crate::orders::store::notes_of,
    order_id
);
order_children!(
    PaymentsOfOrder,
    crate::orders::model::Payment,
    crate::orders::store::payments_of,
    order_id
);
order_children!(
    CallsOfOrder,
    crate::orders::model::ScheduledCall,
    crate::orders::store::calls_of,
    order_id
);
order_children!(
    LinesOfQuote,
    crate::quotes::QuoteLine,
    crate::quotes::service::lines_of,
    quote_id
);
order_children!(
    AttachmentsOfQuote,
    crate::quotes::model::Attachment,
    crate::quotes::store::attachments_of,
    quote_id
);
order_children!(
    ItemsOfProject,
    crate::rental::model::Item,
    crate::rental::service::items_of,
    project_id
);
order_children!(
    ChangesOfProject,
    crate::rental::model::Change,
    crate::rental::service::changes_of,
    project_id
);
/// A page of customers' rental projects: the newest of each, one statement.
pub struct ProjectsOfCustomer {
    db: DatabaseConnection,
}

impl Loader<Uuid> for ProjectsOfCustomer {
    type Value = crate::rental::service::CustomerProjects;
    type Error = LoadError;

    async fn load(
        &self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, crate::rental::service::CustomerProjects>, LoadError> {
        Ok(crate::rental::service::of_customers(&self.db, ids).await?)
    }
}
// Keyed by the first revision's ID: every revision of one quote.
order_children!(
    RevisionsOfQuote,
    crate::quotes::Quote,
    crate::quotes::service::revisions_of,
    root_id
);

// Documents and production: what hangs off orders, files and claims the caller could read.
order_children!(
    InvoicesOfOrder,
    crate::documents::store::Invoice,
    crate::documents::invoices::of_orders,
    order_id
);
order_children!(
    FilesOfOrder,
    crate::production::model::ProductionFile,
    crate::production::files::of_orders,
    order_id
);
order_children!(
    CommentsOfFile,
    crate::production::model::FileComment,
    crate::production::files::comments_of,
    file_id
);
order_children!(
    ClaimsOfOrder,
    crate::production::model::Claim,
    crate::production::claims::of_orders,
    order_id
);
order_children!(
    PhotosOfClaim,
    crate::production::model::ClaimPhoto,
    crate::production::claims::photos_of,
    claim_id
);
// Keyed by the copy: where it came from (at most one).
order_children!(
    CopySourceOfOrder,
    crate::orders::copies::CopyLink,
    crate::orders::copies::sources_of,
    order_id
);
// Keyed by the source: the copies made of it.
order_children!(
    CopiesOfOrder,
    crate::orders::copies::CopyLink,
    crate::orders::copies::copies_of,
    source_order_id
);

/// Orders by ID, only those the request's caller may see (copy links, claims).
pub struct OrderLoader {
    db: DatabaseConnection,
    principal: Principal,
}

impl Loader<Uuid> for OrderLoader {
    type Value = crate::orders::Order;
    type Error = LoadError;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, crate::orders::Order>, LoadError> {
        let orders = crate::orders::copies::visible(&self.db, &self.principal, ids).await?;
        Ok(orders.into_iter().map(|o| (o.id, o)).collect())
    }
}
