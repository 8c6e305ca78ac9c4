//! The storefront's rental checkout: a cart's rental lines become a `NEW` project, by a
//! logged-in customer or by a visitor who gives a name, an email and a phone (quick checkout:
//! a customer and an account are created for them, and the credentials emailed).

use std::net::IpAddr;

use comptoir_entity::rental_item;
use serde_json::json;
use uuid::Uuid;

use super::{
    create::{finish_new, item_row, new_project, require_rental},
    model::{Contact, Project, ProjectSource},
    service::{self, email_contact, template_data},
    store,
};
use crate::{
    auth::{self, Principal, Role, model::Email},
    carts::{self, model::RentalPeriod},
    catalog::{self, ProductKind},
    customers::{self, Customer, model::parse_text},
    db::WriteTx,
    error::AppError,
    kernel::secret_token,
    notifications::{
        model::Recipient,
        outbox::{self, NewMessage},
    },
    state::AppState,
};

/// Who a visitor is (required for a visitor; a logged-in customer may override their
/// customer's primary contact).
#[derive(Clone, Debug, Default)]
pub struct ContactInput {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub company: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct PlaceInput {
    pub cart_id: Uuid,
    /// The anonymous cart's token (visitors).
    pub cart_token: Option<String>,
    pub contact: Option<ContactInput>,
    pub note: String,
    pub idempotency_key: Option<String>,
}

/// A placed rental order: the project, and whether an account was created for the visitor.
pub struct Placed {
    pub project: Project,
    pub account_created: bool,
}

struct ParsedContact {
    name: String,
    email: Email,
    phone: String,
    company: Option<String>,
}

impl ContactInput {
    fn parse(self) -> Result<ParsedContact, AppError> {
        Ok(ParsedContact {
            name: parse_text(&self.name, "contact.name", 200, true)?,
            email: Email::parse(&self.email, "contact.email")?,
            phone: customers::model::parse_phone(&self.phone, "contact.phone")?,
            company: self
                .company
                .filter(|c| !c.trim().is_empty())
                .map(|c| parse_text(&c, "contact.company", 200, true))
                .transpose()?,
        })
    }
}

/// Who is ordering, as read before the transaction (it must not wait on a second connection,
/// nor on argon2).
enum Buyer {
    /// A logged-in customer, and their account's email.
    User {
        user: auth::AuthUser,
        email: Option<String>,
    },
    /// A visitor: the account their email already has, or a generated password and its hash
    /// for the account to create.
    Visitor {
        existing: Option<auth::User>,
        new_password: Option<(String, String)>,
    },
}

/// Places a rental order from a cart's rental lines (other lines stay in the cart). It never
/// fails for lack of units (drafts block nothing); each item shows what is free. A blocked
/// customer, or a visitor with a blocked customer's email or phone, gets `CUSTOMER_BLOCKED`
/// and nothing is stored. With `idempotency_key`, a retry returns the first project.
pub async fn place(
    state: &AppState,
    principal: &Principal,
    client: Option<IpAddr>,
    input: PlaceInput,
) -> Result<Placed, AppError> {
    if principal.is_staff() {
        // Staff book for customers on the desk (`createRentalProject`).
        return Err(AppError::Forbidden);
    }
    let user = principal
        .user_id()
        .map(|_| principal.require_user())
        .transpose()?;
    let note = service::parse_note(&input.note, "note")?;
    let contact = input.contact.clone().map(ContactInput::parse).transpose()?;
    // A key counts for one buyer: the user, or for a visitor the anonymous cart (its token is
    // their secret; an email anyone could type is not). Hashed: any length fits the column.
    let key =
        crate::orders::checkout::parse_idempotency_key(input.idempotency_key.clone())?.map(|k| {
            let scope = match (user, input.cart_token.as_deref()) {
                (Some(user), _) => format!("user:{}", user.id.simple()),
                (None, Some(token)) => format!("cart:{}", secret_token::hash(token)),
                (None, None) => "public".to_owned(),
            };
            format!("rental:{}", secret_token::hash(&format!("{scope}:{k}")))
        });
    if let Some(key) = &key
        && let Some(row) = store::find_by_idempotency_key(state.db.read(), key).await?
    {
        return Ok(Placed {
            project: store::to_project(row)?,
            account_created: false,
        });
    }
    let settings = catalog::settings::get(state.db.read()).await?;
    let buyer = prepare(state, client, user, contact.as_ref()).await?;
    if settings.require_verified_email {
        let verified = match &buyer {
            Buyer::User { user, .. } => auth::service::user_by_id(state, user.id)
                .await?
                .is_some_and(|u| u.email_verified_at.is_some()),
            Buyer::Visitor { .. } => false,
        };
        if !verified {
            return Err(AppError::EmailNotVerified);
        }
    }
    let now = state.clock.now();
    let mut tx = state.db.begin(&state.events).await?;
    if let Some(key) = &key
        && let Some(row) = store::find_by_idempotency_key(&*tx, key).await?
    {
        return Ok(Placed {
            project: store::to_project(row)?,
            account_created: false,
        });
    }
    let catalog = state.catalog.at(&*tx).await?;
    let cart = carts::service::for_order(
        &tx,
        &catalog,
        principal,
        input.cart_id,
        input.cart_token.as_deref(),
    )
    .await?;
    let (customer, contact, created) = resolve(&tx, principal, buyer, contact, now).await?;
    if customer.blocked {
        return Err(AppError::CustomerBlocked);
    }
    let mut row = new_project(
        &tx,
        &customer,
        ProjectSource::Storefront,
        contact,
        note,
        user.map(|u| u.id),
        now,
    )
    .await?;
    row.idempotency_key = key;
    let row = store::update_project(&*tx, row).await?;
    let (items, taken) = items_from_cart(&tx, row.id, &cart.lines, now).await?;
    carts::service::remove_lines(&tx, cart.id, &taken).await?;
    let row = finish_new(
        &mut tx,
        row,
        &items,
        "RENTAL_ORDER_PLACED",
        user.map(|u| u.id),
        now,
    )
    .await?;
    notify_placed(&mut tx, &row, &items, created.as_ref(), settings, now).await?;
    tx.commit().await?;
    Ok(Placed {
        project: store::to_project(row)?,
        account_created: created.is_some(),
    })
}

/// The visitor's credentials, the customer's confirmation, the rental desk's announcement.
async fn notify_placed(
    tx: &mut WriteTx,
    row: &comptoir_entity::rental_project::Model,
    items: &[rental_item::Model],
    created: Option<&(String, String)>,
    settings: catalog::settings::StoreSettings,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), AppError> {
    let data = template_data(tx, row, items).await?;
    if let Some((email, password)) = created {
        send_credentials(tx, row, email, password, &data, now).await?;
    }
    email_contact(tx, row, "rental_order_received", data.clone(), now).await?;
    if let Some(desk) = settings.rental_email.or(settings.orders_email) {
        outbox::enqueue(
            tx,
            NewMessage {
                recipient: Recipient::email(&desk, "rentalEmail")?,
                template: "rental_order_placed",
                language: "en".to_owned(),
                data,
                attachments: Vec::new(),
                customer_id: None,
            },
            now,
        )
        .await?;
    }
    Ok(())
}

/// What is read and computed before the transaction: the account's email, or for a visitor
/// (rate-limited per address) their existing account or a new password, hashed.
async fn prepare(
    state: &AppState,
    client: Option<IpAddr>,
    user: Option<auth::AuthUser>,
    contact: Option<&ParsedContact>,
) -> Result<Buyer, AppError> {
    if let Some(user) = user {
        let email = auth::service::user_by_id(state, user.id)
            .await?
            .map(|u| u.email);
        return Ok(Buyer::User { user, email });
    }
    let Some(contact) = contact else {
        return Err(AppError::validation(
            "contact",
            "required without an account",
        ));
    };
    if let Some(addr) = client {
        let bucket = crate::auth::rate_limit::address_bucket(addr);
        let limits = [(
            format!("rental-checkout:addr:{bucket}"),
            state.config.carts_max_per_address,
        )];
        crate::auth::rate_limit::enforce(
            state,
            &limits,
            state.config.login_rate_window,
            state.clock.now(),
        )
        .await?;
    }
    // Hashed whether or not the email has an account: the time taken tells nothing.
    let password = auth::service::generate_password();
    let hash = state.hasher.hash(password.clone()).await?;
    let existing = auth::service::account_by_email(state.db.read(), &contact.email).await?;
    Ok(Buyer::Visitor {
        new_password: existing.is_none().then_some((password, hash)),
        existing,
    })
}

/// The customer the project is for, the contact on it, and the credentials of an account
/// created for a visitor (to email them).
async fn resolve(
    tx: &WriteTx,
    principal: &Principal,
    buyer: Buyer,
    typed: Option<ParsedContact>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Customer, Contact, Option<(String, String)>), AppError> {
    match (buyer, typed) {
        (Buyer::User { user, email }, typed) => {
            let customer = if let Some(id) = user.customer_id {
                customers::service::find_for(&**tx, principal, id).await?
            } else {
                let name = typed.as_ref().map(|c| c.name.clone()).ok_or_else(|| {
                    AppError::validation("contact", "required for your first order")
                })?;
                customers::service::create_for_user(tx, user.id, &name, now).await?
            };
            let contact = match typed {
                Some(c) => contact_of(c),
                None => default_contact(tx, &customer, email).await?,
            };
            Ok((customer, contact, None))
        }
        (
            Buyer::Visitor {
                existing,
                new_password,
            },
            Some(typed),
        ) => {
            if customers::service::blocked_contact(tx, typed.email.as_str(), Some(&typed.phone))
                .await?
            {
                return Err(AppError::CustomerBlocked);
            }
            let (customer, created) =
                visitor_customer(tx, &typed, existing, new_password, now).await?;
            Ok((customer, contact_of(typed), created))
        }
        (Buyer::Visitor { .. }, None) => Err(AppError::validation("contact", "required")),
    }
}

fn contact_of(typed: ParsedContact) -> Contact {
    Contact {
        name: typed.name,
        email: Some(typed.email.as_str().to_owned()),
        phone: Some(typed.phone),
        company: typed.company.unwrap_or_default(),
    }
}

/// The customer's primary contact, or the account's email.
async fn default_contact(
    tx: &WriteTx,
    customer: &Customer,
    account_email: Option<String>,
) -> Result<Contact, AppError> {
    let primary = customers::service::contacts_of(&**tx, &[customer.id])
        .await?
        .into_iter()
        .next();
    Ok(match primary {
        Some(c) => Contact {
            name: c.name,
            email: c.email.or(account_email),
            phone: c.phone,
            company: String::new(),
        },
        None => Contact {
            name: customer.name.clone(),
            email: account_email,
            phone: None,
            company: String::new(),
        },
    })
}

/// A visitor's customer: the one of the account their email already has (no password sent),
/// or a new customer and account (their email and generated password returned, to be sent).
async fn visitor_customer(
    tx: &WriteTx,
    typed: &ParsedContact,
    existing: Option<auth::User>,
    new_password: Option<(String, String)>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Customer, Option<(String, String)>), AppError> {
    // Read again in the transaction: an account created meanwhile is used, not duplicated.
    let existing = match existing {
        Some(account) => Some(account),
        None => auth::service::account_by_email(&**tx, &typed.email).await?,
    };
    let storefront = customers::service::StorefrontContact {
        name: &typed.name,
        email: typed.email.as_str(),
        phone: Some(&typed.phone),
        company: typed.company.as_deref(),
    };
    if let Some(account) = existing {
        if account.blocked {
            return Err(AppError::CustomerBlocked);
        }
        let customer = match account.customer_id {
            Some(id) => customers::service::find_for(&**tx, &system(), id).await?,
            // A visitor must not decide which customer an account belongs to for good (the
            // account's owner does, at their first order): a customer of its own, unlinked.
            None => customers::service::create_storefront_customer(tx, &storefront, now).await?,
        };
        return Ok((customer, None));
    }
    let Some((password, hash)) = new_password else {
        return Err(AppError::internal(anyhow::anyhow!(
            "no password prepared for a new storefront account"
        )));
    };
    let customer = customers::service::create_storefront_customer(tx, &storefront, now).await?;
    auth::service::create_storefront_account(tx, &typed.email, hash, customer.id, now).await?;
    Ok((customer, Some((typed.email.as_str().to_owned(), password))))
}

/// The storefront acts for the visitor with the rights of the system on their new records.
fn system() -> Principal {
    Principal::user(auth::AuthUser {
        id: Uuid::nil(),
        role: Role::Admin,
        customer_id: None,
    })
}

/// The cart's rental lines as draft items; the IDs of the cart lines they came from.
async fn items_from_cart(
    tx: &WriteTx,
    project_id: Uuid,
    lines: &[carts::LineView],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Vec<rental_item::Model>, Vec<Uuid>), AppError> {
    let mut items = Vec::new();
    let mut taken = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let field = format!("lines.{index}");
        let Some(period) = line.rental_period else {
            continue;
        };
        if line.product.kind != ProductKind::Rental {
            continue;
        }
        let product = require_rental(Some(&line.product), true, &field)?;
        let period = RentalPeriod::parse(period.start, period.end, now, &field)?;
        let position = i32::try_from(items.len()).unwrap_or(i32::MAX);
        let row = item_row(
            project_id,
            position,
            &product,
            line.quantity,
            period,
            None,
            now,
        )?;
        items.push(row);
        taken.push(line.id);
    }
    if items.is_empty() {
        return Err(AppError::validation(
            "cartId",
            "the cart has no rental lines",
        ));
    }
    Ok((store::insert_items(&**tx, items).await?, taken))
}

/// Emails a visitor the login and password of the account created for them.
async fn send_credentials(
    tx: &mut WriteTx,
    row: &comptoir_entity::rental_project::Model,
    email: &str,
    password: &str,
    data: &serde_json::Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), AppError> {
    let mut data = data.clone();
    if let Some(map) = data.as_object_mut() {
        map.insert("login".to_owned(), json!(email));
        map.insert("password".to_owned(), json!(password));
    }
    outbox::enqueue(
        tx,
        NewMessage {
            recipient: Recipient::email(email, "contact.email")?,
            template: "rental_account_created",
            language: customers::service::language_of(tx, row.customer_id).await?,
            data,
            attachments: Vec::new(),
            customer_id: Some(row.customer_id),
        },
        now,
    )
    .await?;
    Ok(())
}
