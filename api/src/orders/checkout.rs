//! Where orders come from: a customer's checkout of their cart, or a manager composing an order
//! on a customer's behalf.

use chrono::{DateTime, Utc};
use comptoir_entity::{order_line, sales_order};
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

use super::{
    OrderLine,
    model::{Contact, OrderSource, OrderStatus, PostalAddress},
    service::{
        self, Edit, PostalAddressInput, copy_address, email_contact_picked, keep_derived,
        order_event, template_data_of,
    },
    store,
};
use crate::{
    auth::{AuthUser, Principal, Role},
    carts::{self, model::parse_quantity},
    catalog::{
        self, ProductKind,
        service::{StockItem, StockTake},
        snapshot::EarlyEpoch,
    },
    customers::{self, Customer, model::AddressKind, model::parse_text},
    db::WriteTx,
    error::AppError,
    kernel::{money::to_e4, numbering},
    notifications::{
        model::Recipient,
        outbox::{self, NewMessage},
        templates,
    },
    orders::model::Order,
    state::AppState,
};

pub(super) const ORDER_SERIES: &str = "ORD";

/// Contact details typed at checkout.
#[derive(Clone, Debug, Default)]
pub struct ContactInput {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl ContactInput {
    fn parse(self) -> Result<Contact, AppError> {
        Ok(Contact {
            name: parse_text(&self.name, "contact.name", 200, true)?,
            email: self
                .email
                .filter(|e| !e.trim().is_empty())
                .map(|e| Recipient::email(&e, "contact.email").map(|r| r.address))
                .transpose()?,
            phone: self
                .phone
                .filter(|p| !p.trim().is_empty())
                .map(|p| customers::model::parse_phone(&p, "contact.phone"))
                .transpose()?,
        })
    }
}

/// What a customer gives at checkout.
#[derive(Clone, Debug, Default)]
pub struct CheckoutInput {
    pub contact: Option<ContactInput>,
    /// One of the customer's saved addresses…
    pub delivery_address_id: Option<Uuid>,
    /// …or a new one.
    pub delivery_address: Option<PostalAddressInput>,
    pub delivery_method: String,
    pub payment_method: String,
    pub customer_reference: String,
    pub title: String,
    pub note: String,
    pub idempotency_key: Option<String>,
}

/// The header fields both ways of creating an order share, parsed.
struct Header {
    title: String,
    customer_reference: String,
    note: String,
    delivery_method: String,
    payment_method: String,
}

fn parse_header(
    title: &str,
    customer_reference: &str,
    note: &str,
    delivery_method: &str,
    payment_method: &str,
) -> Result<Header, AppError> {
    Ok(Header {
        title: parse_text(title, "title", 200, false)?,
        customer_reference: parse_text(customer_reference, "customerReference", 100, false)?,
        note: parse_text(note, "note", 5_000, false)?,
        delivery_method: parse_text(delivery_method, "deliveryMethod", 100, false)?,
        payment_method: parse_text(payment_method, "paymentMethod", 100, false)?,
    })
}

/// A client's idempotency key: 1 to 100 characters, trimmed.
pub(crate) fn parse_idempotency_key(key: Option<String>) -> Result<Option<String>, AppError> {
    key.map(|k| {
        let k = k.trim().to_owned();
        if k.is_empty() || k.len() > 100 {
            Err(AppError::validation(
                "idempotencyKey",
                "1 to 100 characters",
            ))
        } else {
            Ok(k)
        }
    })
    .transpose()
}

/// A customer orders the content of their cart. Stock is taken line by line in the same
/// transaction (`OUT_OF_STOCK` names the line: `lines.2`); the cart is emptied; the seller and
/// the customer are emailed. With `idempotency_key`, a retry returns the first order.
/// `early` is the catalog's epoch read with the caller's account, if the request may use it.
pub async fn checkout(
    state: &AppState,
    principal: &Principal,
    cart_id: Uuid,
    input: CheckoutInput,
    early: Option<EarlyEpoch>,
) -> Result<Order, AppError> {
    let user = principal.require_role(&[Role::Identified, Role::AccountClient])?;
    let key = parse_idempotency_key(input.idempotency_key.clone())?
        .map(|k| format!("order:{}:{k}", user.id.simple()));
    if let Some(key) = &key
        && let Some(row) = store::find_by_idempotency_key(state.db.read(), key).await?
    {
        return store::to_order(row);
    }
    require_verified_email(state, user.id).await?;
    let placed = place(state, principal, cart_id, input, key.clone(), early).await;
    // A parallel retry with the same key committed first (its unique key refused this insert,
    // or it emptied the cart this one waited for): answer with its order.
    let retried = matches!(&placed, Err(AppError::Conflict { field: None, .. }))
        || matches!(&placed, Err(AppError::Validation { field, .. }) if field == "cartId");
    if let (true, Some(key)) = (retried, &key)
        && let Some(row) = store::find_by_idempotency_key(state.db.read(), key).await?
        && row.customer_id == principal.customer_id().unwrap_or(row.customer_id)
    {
        return store::to_order(row);
    }
    placed
}

async fn require_verified_email(state: &AppState, user_id: Uuid) -> Result<(), AppError> {
    let settings = state.settings.get(state.db.read()).await?;
    if !settings.require_verified_email {
        return Ok(());
    }
    let verified = crate::auth::service::user_by_id(state, user_id)
        .await?
        .is_some_and(|u| u.email_verified_at.is_some());
    if verified {
        Ok(())
    } else {
        Err(AppError::EmailNotVerified)
    }
}

async fn place(
    state: &AppState,
    principal: &Principal,
    cart_id: Uuid,
    input: CheckoutInput,
    key: Option<String>,
    early: Option<EarlyEpoch>,
) -> Result<Order, AppError> {
    let user = principal.require_user()?;
    let header = parse_header(
        &input.title,
        &input.customer_reference,
        &input.note,
        &input.delivery_method,
        &input.payment_method,
    )?;
    let typed_contact = input.contact.map(ContactInput::parse).transpose()?;
    let typed_address = input
        .delivery_address
        .map(|a| a.parse("deliveryAddress"))
        .transpose()?;
    let ahead = Ahead::read(state, principal, user, typed_contact.is_none()).await?;
    let order = Placing {
        principal: *principal,
        cart_id,
        key,
        early,
        header,
        typed_contact,
        typed_address,
        delivery_address_id: input.delivery_address_id,
        ahead,
    };
    let writing = state.clone();
    state
        .db
        .on_writer(Box::pin(async move { order.write(&writing).await }))
        .await?
}

/// A checkout checked and read, to write in one transaction.
struct Placing {
    principal: Principal,
    cart_id: Uuid,
    key: Option<String>,
    early: Option<EarlyEpoch>,
    header: Header,
    typed_contact: Option<Contact>,
    typed_address: Option<PostalAddress>,
    delivery_address_id: Option<Uuid>,
    ahead: Ahead,
}

impl Placing {
    async fn write(self, state: &AppState) -> Result<Order, AppError> {
        let Ahead {
            user_email,
            settings,
            record,
            received,
            desk,
        } = self.ahead;
        let principal = &self.principal;
        let user = principal.require_user()?;
        let typed_contact = self.typed_contact;
        let now = state.clock.now();
        let mut tx = state.db.begin(&state.events).await?;
        // Again inside the transaction: on SQLite a parallel retry that waited for the writer finds
        // the first order here (on PostgreSQL the unique key stops it at insert).
        if let Some(key) = &self.key
            && let Some(row) = store::find_by_idempotency_key(&*tx, key).await?
        {
            return store::to_order(row);
        }
        let catalog = state.catalog.at_early(&*tx, self.early).await?;
        let cart = carts::service::for_order(&tx, &catalog, principal, self.cart_id, None).await?;
        let record = if let Some(record) = record {
            record
        } else {
            let name = typed_contact
                .as_ref()
                .map(|c| c.name.clone())
                .ok_or_else(|| AppError::validation("contact", "required for your first order"))?;
            Record::new(customers::service::create_for_user(&tx, user.id, &name, now).await?)
        };
        let contact = match typed_contact {
            Some(contact) => contact,
            None => record.contact(user_email),
        };
        let delivery = match (self.delivery_address_id, self.typed_address) {
            (Some(id), _) => record.saved_address(id, "deliveryAddressId")?,
            (None, Some(address)) => address,
            (None, None) => record
                .default_address(AddressKind::Delivery)
                .ok_or_else(|| AppError::validation("deliveryAddress", "required"))?,
        };
        let billing = record
            .default_address(AddressKind::Billing)
            .unwrap_or_else(|| delivery.clone());
        let customer = record.customer;
        let (number, reserved) = number_and_stock(&tx, customer.id, &cart.lines).await?;
        let mut row = new_row(
            number,
            &customer,
            OrderSource::Checkout,
            OrderStatus::Submitted,
            self.header,
            contact,
            billing,
            delivery,
            Some(user.id),
            now,
        );
        row.idempotency_key = self.key;
        let ordered: Vec<Uuid> = cart.lines.iter().map(|l| l.id).collect();
        let rows = cart_order_lines(row.id, cart.lines, &reserved, now)?;
        // Nothing below reads the cart's lines or the new order: they are written at commit, in
        // the round trip that writes the events (see `WriteTx::defer`).
        let (row, lines) = derive_new(row, &rows)?;
        carts::service::remove_lines_at_commit(&mut tx, cart.id, &ordered);
        tx.defer(store::insert_order_query(row.clone()));
        if let Some(insert) = store::insert_lines_query(rows) {
            tx.defer(insert);
        }
        record_new(&mut tx, &row, "ORDER_SUBMITTED", Some(user.id), now);
        // The lines and the customer are at hand: no need to read them back.
        let data = template_data_of(&settings, &row, &lines)?;
        if let Some(desk) = desk {
            desk.notify(&mut tx, data.clone(), now)?;
        }
        // A customer created with this order: their language is known only now, and the
        // version of their email comes from the kept ones (read in this transaction on a miss).
        let received = match received {
            Some(picked) => picked,
            None => {
                state
                    .templates
                    .pick(&*tx, RECEIVED, &customer.language)
                    .await?
            }
        };
        email_contact_picked(&mut tx, &row, RECEIVED, &received, data, Vec::new(), now)?;
        tx.commit().await?;
        store::to_order(row)
    }
}

/// The customer's email of a checkout.
const RECEIVED: &str = "order_received";

/// What a checkout reads before its transaction, on a reader: each read is a round trip the
/// writer does not wait for.
struct Ahead {
    /// The account's email, the contact's when none is typed.
    user_email: Option<String>,
    settings: catalog::settings::StoreSettings,
    /// The customer's record (the token names it; an address edited meanwhile is as if edited
    /// just after); `None` for a first order, which creates the customer.
    record: Option<Record>,
    /// The version of the customer's email in their language (likewise).
    received: Option<templates::Picked>,
    desk: Option<OrderDesk>,
}

impl Ahead {
    async fn read(
        state: &AppState,
        principal: &Principal,
        user: AuthUser,
        untyped_contact: bool,
    ) -> Result<Self, AppError> {
        let user_email = if untyped_contact {
            crate::auth::service::user_by_id(state, user.id)
                .await?
                .map(|u| u.email)
        } else {
            None
        };
        let settings = state.settings.get(state.db.read()).await?;
        let record = match user.customer_id {
            Some(id) => Some(Record::read(state.db.read(), principal, id, untyped_contact).await?),
            None => None,
        };
        let received = match &record {
            Some(record) => Some(
                state
                    .templates
                    .pick(state.db.read(), RECEIVED, &record.customer.language)
                    .await?,
            ),
            None => None,
        };
        let desk = match &settings.orders_email {
            Some(address) => Some(OrderDesk {
                recipient: Recipient::email(address, "ordersEmail")?,
                template: state
                    .templates
                    .pick(state.db.read(), "order_submitted", "en")
                    .await?,
            }),
            None => None,
        };
        Ok(Self {
            user_email,
            settings,
            record,
            received,
            desk,
        })
    }
}

/// The order's number, then stock taken for each of the cart's lines (what each holds
/// reserved, by position): in one round trip. `OUT_OF_STOCK` names the first line short of
/// stock in the order stock is taken. On PostgreSQL the same statement locks the rows the
/// order and its lines will reference (the customer, each line's product): their foreign keys'
/// checks run at the end of the transaction's last statement, under the event log's lock, and
/// must not wait there (see `db::WriteTx::defer`).
async fn number_and_stock(
    tx: &WriteTx,
    customer_id: Uuid,
    cart_lines: &[carts::LineView],
) -> Result<(String, Vec<i32>), AppError> {
    let order = super::model::stock_order(cart_lines, |l| {
        (l.product.id, l.variant.as_ref().map(|v| v.id))
    });
    // Lines refused below, before anything is written, take nothing.
    let taking: Vec<usize> = order
        .into_iter()
        .filter(|&index| {
            let line = &cart_lines[index];
            line.rental_period.is_none() && line.warnings.iter().all(|w| w.starts_with("only "))
        })
        .collect();
    let items: Vec<StockItem> = taking
        .iter()
        .map(|&index| {
            let line = &cart_lines[index];
            StockItem {
                product_id: line.product.id,
                variant_id: line.variant.as_ref().map(|v| v.id),
                quantity: line.quantity,
            }
        })
        .collect();
    let backend = sea_orm::ConnectionTrait::get_database_backend(&**tx);
    let mut parents = vec![("customer", customer_id)];
    for line in cart_lines {
        if !parents.contains(&("product", line.product.id)) {
            parents.push(("product", line.product.id));
        }
    }
    let (number, takes) = catalog::service::take_stock_after(
        &**tx,
        numbering::next_statement(backend, ORDER_SERIES),
        &items,
        &parents,
    )
    .await?;
    let number = numbering::from_row(ORDER_SERIES, &number)?;
    let mut reserved = vec![0; cart_lines.len()];
    for ((index, item), take) in taking.into_iter().zip(&items).zip(takes) {
        let line = &cart_lines[index];
        reserved[index] = held(take, item.quantity, &format!("lines.{index}"), || {
            line_name(
                &line.product.name,
                line.variant.as_ref().map(|v| v.name.as_str()),
            )
        })?;
    }
    Ok((number, reserved))
}

/// The cart's lines as order lines of `order_id` (not yet written), holding `reserved`.
fn cart_order_lines(
    order_id: Uuid,
    cart_lines: Vec<carts::LineView>,
    reserved: &[i32],
    now: DateTime<Utc>,
) -> Result<Vec<order_line::Model>, AppError> {
    let mut lines = Vec::with_capacity(cart_lines.len());
    for (index, line) in cart_lines.into_iter().enumerate() {
        let field = format!("lines.{index}");
        if line.rental_period.is_some() {
            return Err(AppError::validation(
                field,
                "rental lines are booked with placeRentalOrder",
            ));
        }
        if let Some(warning) = line
            .warnings
            .iter()
            .find(|w| !w.starts_with("only "))
            .cloned()
        {
            return Err(AppError::validation(field, warning));
        }
        let name = line_name(
            &line.product.name,
            line.variant.as_ref().map(|v| v.name.as_str()),
        );
        let reserved = reserved[index];
        let reference = line
            .variant
            .as_ref()
            .map_or_else(|| line.product.reference.clone(), |v| v.reference.clone());
        let line = QuotedLine {
            product_id: line.product.id,
            variant_id: line.variant.as_ref().map(|v| v.id),
            configuration: serde_json::to_value(&line.configuration).unwrap_or_default(),
            reference,
            name,
            kind: line.product.kind.as_str().to_owned(),
            quantity: line.quantity,
            unit_price: line.amount.unit_price,
            discount_percent: Decimal::ZERO,
            discount_amount: Decimal::ZERO,
            vat_rate: line.product.vat_rate,
        };
        lines.push(line_row(order_id, index, line, reserved, now)?);
    }
    Ok(lines)
}

/// What a manager gives when creating an order for a customer; the rest comes from the
/// customer record.
#[derive(Clone, Debug, Default)]
pub struct CreateOrderInput {
    pub delivery_address_id: Option<Uuid>,
    pub customer_reference: String,
    pub title: String,
    pub note: String,
    pub delivery_method: String,
    pub payment_method: String,
}

/// Staff: a new `DRAFT` order for a customer, with contact, billing and delivery address from
/// the customer record. Lines come with `add_line`.
pub async fn create_order(
    state: &AppState,
    principal: &Principal,
    customer_id: Uuid,
    input: CreateOrderInput,
) -> Result<Order, AppError> {
    let staff = principal.require_staff()?;
    let header = parse_header(
        &input.title,
        &input.customer_reference,
        &input.note,
        &input.delivery_method,
        &input.payment_method,
    )?;
    let now = state.clock.now();
    let mut tx = state.db.begin(&state.events).await?;
    let record = Record::read(&*tx, principal, customer_id, true)
        .await
        .map_err(|error| error.not_found_as("customer", "customerId"))?;
    if record.customer.blocked {
        return Err(AppError::validation(
            "customerId",
            "this customer is blocked",
        ));
    }
    let contact = record.contact(None);
    let delivery = match input.delivery_address_id {
        Some(id) => record.saved_address(id, "deliveryAddressId")?,
        None => record
            .default_address(AddressKind::Delivery)
            .unwrap_or_default(),
    };
    let billing = record
        .default_address(AddressKind::Billing)
        .unwrap_or_else(|| delivery.clone());
    let customer = record.customer;
    let row = new_row(
        numbering::next(&*tx, ORDER_SERIES).await?,
        &customer,
        OrderSource::Backoffice,
        OrderStatus::Draft,
        header,
        contact,
        billing,
        delivery,
        Some(staff.id),
        now,
    );
    let (row, _) = insert_new(
        &mut tx,
        row,
        Vec::new(),
        "ORDER_CREATED",
        Some(staff.id),
        now,
    )
    .await?;
    tx.commit().await?;
    store::to_order(row)
}

/// A line a manager adds to an order.
#[derive(Clone, Debug)]
pub struct AddLineInput {
    pub product_id: Uuid,
    pub variant_id: Option<Uuid>,
    pub configuration: Vec<catalog::model::RawSelection>,
    pub quantity: i32,
    /// The catalog price (with options) when not given.
    pub unit_price: Option<Decimal>,
    pub discount_percent: Option<Decimal>,
    pub delivery_date: Option<chrono::NaiveDate>,
    pub instructions: Option<String>,
}

/// Staff: adds a product to an order (stock taken now, as at checkout).
pub async fn add_line(
    state: &AppState,
    principal: &Principal,
    order_id: Uuid,
    version: i32,
    input: AddLineInput,
) -> Result<Order, AppError> {
    principal.require_staff()?;
    let quantity = parse_quantity(input.quantity, "quantity", false)?;
    let discount = input
        .discount_percent
        .map(|d| super::model::parse_discount(d, "discountPercent"))
        .transpose()?
        .unwrap_or_default();
    let instructions = input
        .instructions
        .as_deref()
        .map(|i| parse_text(i, "instructions", 5_000, false))
        .transpose()?
        .unwrap_or_default();
    let mut edit = Edit::open(state, principal, order_id, Some(version)).await?;
    let delivery_date = input
        .delivery_date
        .map(|d| super::model::parse_delivery_date(d, edit.now, "deliveryDate"))
        .transpose()?;
    edit.seller_edits().await?;
    if edit.lines.len() >= 500 {
        return Err(AppError::validation(
            "orderId",
            "an order holds at most 500 lines",
        ));
    }
    let catalog::service::ResolvedItem {
        product,
        variant,
        configuration,
        unit_price: catalog_price,
    } = resolve_product(&edit.tx, &input).await?;
    let unit_price = match input.unit_price {
        Some(price) => {
            to_e4(price, "unitPrice")?;
            if price < Decimal::ZERO {
                return Err(AppError::validation("unitPrice", "must not be negative"));
            }
            price
        }
        None => catalog_price,
    };
    let name = line_name(&product.name, variant.as_ref().map(|v| v.name.as_str()));
    let variant_id = variant.as_ref().map(|v| v.id);
    let reserved = take(
        &edit.tx, product.id, variant_id, quantity, "quantity", &name,
    )
    .await?;
    let position = edit.lines.iter().map(|l| l.position + 1).max().unwrap_or(0);
    let line = store::insert_line(
        &*edit.tx,
        order_line::Model {
            id: Uuid::now_v7(),
            order_id,
            position,
            product_id: product.id,
            variant_id,
            configuration: serde_json::to_value(&configuration).unwrap_or_default(),
            reference: variant
                .as_ref()
                .map_or_else(|| product.reference.clone(), |v| v.reference.clone()),
            name: name.clone(),
            kind: product.kind.as_str().to_owned(),
            quantity,
            unit_price_e4: to_e4(unit_price, "unitPrice")?,
            discount_bp: service::bp(discount, "discountPercent")?,
            discount_amount_e4: 0,
            vat_bp: service::bp(product.vat_rate, "vatRate")?,
            delivery_date,
            instructions,
            on_hold: false,
            rental_start: None,
            rental_end: None,
            reserved_stock: reserved,
            created_at: edit.now,
        },
    )
    .await?;
    edit.line_change(line.id, "line", None, Some(format!("{quantity} × {name}")));
    edit.lines.push(line);
    edit.finish("ORDER_UPDATED", true).await
}

/// The product a manager adds, resolved by the catalog; rentals are booked elsewhere.
async fn resolve_product(
    tx: &WriteTx,
    input: &AddLineInput,
) -> Result<catalog::service::ResolvedItem, AppError> {
    let item = catalog::service::resolve_item(
        &**tx,
        input.product_id,
        input.variant_id,
        &input.configuration,
        false,
    )
    .await?;
    if item.product.kind == ProductKind::Rental {
        return Err(AppError::validation(
            "productId",
            "rental products are booked in rental projects",
        ));
    }
    Ok(item)
}

/// Takes stock for `quantity` units; returns how many the line now holds reserved (0 when the
/// product does not count stock).
pub(super) async fn take(
    tx: &WriteTx,
    product_id: Uuid,
    variant_id: Option<Uuid>,
    quantity: i32,
    field: &str,
    name: &str,
) -> Result<i32, AppError> {
    let take = catalog::service::take_stock(&**tx, product_id, variant_id, quantity).await?;
    held(take, quantity, field, || name.to_owned())
}

/// What a line holds reserved after `take` of `quantity` units (0 when the product does not
/// count stock); `OUT_OF_STOCK` on `field` when it fell short, naming the line.
fn held(
    take: StockTake,
    quantity: i32,
    field: &str,
    name: impl FnOnce() -> String,
) -> Result<i32, AppError> {
    match take {
        StockTake::Taken => Ok(quantity),
        StockTake::Untracked => Ok(0),
        StockTake::Short { available } => Err(AppError::OutOfStock {
            field: field.to_owned(),
            name: name(),
            available,
        }),
    }
}

fn line_name(product: &str, variant: Option<&str>) -> String {
    match variant {
        Some(variant) if !variant.is_empty() => format!("{product} – {variant}"),
        _ => product.to_owned(),
    }
}

/// A customer with the contacts and addresses an order copies from their record.
struct Record {
    customer: Customer,
    contacts: Vec<customers::Contact>,
    addresses: Vec<customers::Address>,
}

impl Record {
    /// Reads customer `id` (if `principal` may see it) with their saved addresses, and their
    /// contacts when `contacts`.
    async fn read(
        db: &impl sea_orm::ConnectionTrait,
        principal: &Principal,
        id: Uuid,
        contacts: bool,
    ) -> Result<Self, AppError> {
        let (customer, addresses) =
            customers::service::find_with_addresses_for(db, principal, id).await?;
        let contacts = if contacts {
            customers::service::contacts_of(db, &[customer.id]).await?
        } else {
            Vec::new()
        };
        Ok(Self {
            customer,
            contacts,
            addresses,
        })
    }

    /// A customer created with this order: nothing saved yet.
    fn new(customer: Customer) -> Self {
        Self {
            customer,
            contacts: Vec::new(),
            addresses: Vec::new(),
        }
    }

    /// The primary contact, else the customer's name with `fallback_email`.
    fn contact(&self, fallback_email: Option<String>) -> Contact {
        match self.contacts.iter().find(|c| c.is_primary) {
            Some(contact) => Contact {
                name: contact.name.clone(),
                email: contact.email.clone(),
                phone: contact.phone.clone(),
            },
            None => Contact {
                name: self.customer.name.clone(),
                email: fallback_email,
                phone: None,
            },
        }
    }

    fn saved_address(&self, id: Uuid, field: &str) -> Result<PostalAddress, AppError> {
        self.addresses
            .iter()
            .find(|a| a.id == id)
            .map(|a| copy_address(a, &self.customer.name))
            .ok_or_else(|| AppError::not_found("address of this customer", field))
    }

    fn default_address(&self, kind: AddressKind) -> Option<PostalAddress> {
        customers::Address::default_of(&self.addresses, kind)
            .map(|a| copy_address(a, &self.customer.name))
    }
}

#[allow(clippy::too_many_arguments)]
fn new_row(
    number: String,
    customer: &Customer,
    source: OrderSource,
    status: OrderStatus,
    header: Header,
    contact: Contact,
    billing: PostalAddress,
    delivery: PostalAddress,
    created_by: Option<Uuid>,
    now: DateTime<Utc>,
) -> sales_order::Model {
    sales_order::Model {
        id: Uuid::now_v7(),
        number,
        customer_id: customer.id,
        status: status.as_str().to_owned(),
        status_before_hold: None,
        hold_reason: None,
        source: source.as_str().to_owned(),
        title: header.title,
        customer_reference: header.customer_reference,
        note: header.note,
        contact_name: contact.name,
        contact_email: contact.email,
        contact_phone: contact.phone,
        billing_address: serde_json::to_value(billing).unwrap_or_default(),
        delivery_address: serde_json::to_value(delivery).unwrap_or_default(),
        delivery_method: header.delivery_method,
        payment_method: header.payment_method,
        shipping_e4: 0,
        shipping_vat_bp: 2_000,
        discount_bp: 0,
        total_e4: 0,
        paid_e4: 0,
        delivery_date: None,
        delivery_sort: store::delivery_sort(None).0,
        delivery_sort_desc: store::delivery_sort(None).1,
        product_summary: String::new(),
        customer_code: customer.code.clone(),
        search_text: String::new(),
        sales_rep_id: customer.sales_rep_id,
        created_by,
        idempotency_key: None,
        customer_seen_change: 0,
        seller_seen_change: 0,
        version: 1,
        created_at: now,
        updated_at: now,
        confirmed_at: None,
        shown_to_customer: status != OrderStatus::Draft,
    }
}

/// Writes a new order and its lines, the order's totals and search text derived from them (one
/// insert each, no update after), and records its first event. Returns the row and the lines as
/// the domain sees them.
async fn insert_new(
    tx: &mut WriteTx,
    row: sales_order::Model,
    lines: Vec<order_line::Model>,
    kind: &'static str,
    actor: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(sales_order::Model, Vec<OrderLine>), AppError> {
    let (row, domain) = derive_new(row, &lines)?;
    let row = store::insert_order(&**tx, row).await?;
    store::insert_lines(&**tx, lines).await?;
    record_new(tx, &row, kind, actor, now);
    Ok((row, domain))
}

/// A new order's row with its derived columns (totals), and its lines as the domain sees them.
fn derive_new(
    mut row: sales_order::Model,
    lines: &[order_line::Model],
) -> Result<(sales_order::Model, Vec<OrderLine>), AppError> {
    let domain: Vec<_> = lines.iter().cloned().map(store::to_line).collect();
    keep_derived(&mut row, &domain)?;
    Ok((row, domain))
}

/// The event of a new order.
fn record_new(
    tx: &mut WriteTx,
    row: &sales_order::Model,
    kind: &'static str,
    actor: Option<Uuid>,
    now: DateTime<Utc>,
) {
    let changes = json!({ "number": row.number, "source": row.source });
    tx.record(order_event(row, kind, actor, changes, now));
}

/// The row of a new order's line at `index`, holding `reserved` units of stock.
fn line_row(
    order_id: Uuid,
    index: usize,
    line: QuotedLine,
    reserved: i32,
    now: DateTime<Utc>,
) -> Result<order_line::Model, AppError> {
    Ok(order_line::Model {
        id: Uuid::now_v7(),
        order_id,
        position: i32::try_from(index).unwrap_or(i32::MAX),
        product_id: line.product_id,
        variant_id: line.variant_id,
        configuration: line.configuration,
        reference: line.reference,
        name: line.name,
        kind: line.kind,
        quantity: line.quantity,
        unit_price_e4: to_e4(line.unit_price, "unitPrice")?,
        discount_bp: service::bp(line.discount_percent, "discountPercent")?,
        discount_amount_e4: to_e4(line.discount_amount, "discountAmount")?,
        vat_bp: service::bp(line.vat_rate, "vatRate")?,
        delivery_date: None,
        instructions: String::new(),
        on_hold: false,
        rental_start: None,
        rental_end: None,
        reserved_stock: reserved,
        created_at: now,
    })
}

/// The seller's order desk address (a setting) and the template of the email it gets.
struct OrderDesk {
    recipient: Recipient,
    template: templates::Picked,
}

impl OrderDesk {
    /// Announces a new order.
    fn notify(
        self,
        tx: &mut WriteTx,
        data: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let message = NewMessage {
            recipient: self.recipient,
            template: "order_submitted",
            language: "en".to_owned(),
            data,
            attachments: Vec::new(),
            customer_id: None,
        };
        outbox::enqueue_picked(tx, message, &self.template, now)?;
        Ok(())
    }
}

/// A line as a new order takes it: from an accepted quote, or from a cart (no discounts).
#[derive(Clone, Debug)]
pub struct QuotedLine {
    pub product_id: Uuid,
    pub variant_id: Option<Uuid>,
    pub configuration: serde_json::Value,
    pub reference: String,
    pub name: String,
    pub kind: String,
    pub quantity: i32,
    pub unit_price: Decimal,
    pub discount_percent: Decimal,
    pub discount_amount: Decimal,
    pub vat_rate: Decimal,
}

/// What an accepted quote brings to its order.
#[derive(Clone, Debug)]
pub struct OrderFromQuote {
    pub customer_id: Uuid,
    pub contact: Contact,
    pub delivery_address: PostalAddress,
    pub delivery_method: String,
    pub payment_method: String,
    pub title: String,
    pub customer_reference: String,
    pub note: String,
    pub adjustments: crate::pricing::Adjustments,
    pub lines: Vec<QuotedLine>,
    /// Lines may exceed the stock (the quote settings allow it): what is there is reserved.
    pub allow_out_of_stock: bool,
    pub actor: Uuid,
}

/// The order of an accepted quote, inside the quote's transaction: `CONFIRMED` (the customer
/// accepted the quote's terms), source `QUOTE`, stock re-checked and reserved.
pub async fn create_from_quote(
    tx: &mut WriteTx,
    principal: &Principal,
    input: OrderFromQuote,
    now: DateTime<Utc>,
) -> Result<Order, AppError> {
    let record = Record::read(&**tx, principal, input.customer_id, false).await?;
    let header = Header {
        title: input.title.chars().take(200).collect(),
        customer_reference: input.customer_reference.chars().take(100).collect(),
        note: input.note,
        delivery_method: input.delivery_method.chars().take(100).collect(),
        payment_method: input.payment_method.chars().take(100).collect(),
    };
    let billing = record
        .default_address(AddressKind::Billing)
        .unwrap_or_else(|| input.delivery_address.clone());
    let customer = record.customer;
    let mut row = new_row(
        numbering::next(&**tx, ORDER_SERIES).await?,
        &customer,
        OrderSource::Quote,
        OrderStatus::Confirmed,
        header,
        input.contact,
        billing,
        input.delivery_address,
        Some(input.actor),
        now,
    );
    row.confirmed_at = Some(now);
    row.shipping_e4 = to_e4(input.adjustments.shipping, "shipping")?;
    row.shipping_vat_bp = service::bp(input.adjustments.shipping_vat_rate, "shippingVatRate")?;
    row.discount_bp = service::bp(input.adjustments.discount_percent, "discountPercent")?;
    let by_stock = super::model::stock_order(&input.lines, |l| (l.product_id, l.variant_id));
    let mut reserved = vec![0; input.lines.len()];
    for index in by_stock {
        let line = &input.lines[index];
        let field = format!("lines.{index}");
        reserved[index] = match take(
            tx,
            line.product_id,
            line.variant_id,
            line.quantity,
            &field,
            &line.name,
        )
        .await
        {
            Err(AppError::OutOfStock { available, .. }) if input.allow_out_of_stock => {
                take(
                    tx,
                    line.product_id,
                    line.variant_id,
                    available.max(0),
                    &field,
                    &line.name,
                )
                .await?
            }
            other => other?,
        };
    }
    let mut lines = Vec::with_capacity(input.lines.len());
    for (index, (line, reserved)) in input.lines.into_iter().zip(reserved).enumerate() {
        lines.push(line_row(row.id, index, line, reserved, now)?);
    }
    let (row, lines) =
        insert_new(tx, row, lines, "ORDER_CONFIRMED", Some(input.actor), now).await?;
    service::email_confirmation(tx, &row, &lines, now).await?;
    store::to_order(row)
}
