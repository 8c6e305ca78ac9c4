//! Quote requests: from a cart or from one configured product, by customers (and the public when
//! the settings allow it), and the claim of a public request by the account of its email.

use chrono::{DateTime, Datelike, Utc};
use comptoir_entity::{quote, quote_attachment, quote_line};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    model::{LineKind, Negotiation, QuoteSettings, QuoteStatus},
    service::{self, keep_derived, quote_event},
    store,
};
use crate::{
    auth::{Principal, Role},
    carts::{self, model::parse_quantity},
    catalog::{self, ProductKind, model::RawSelection},
    customers::{self, model::parse_text},
    db::WriteTx,
    error::AppError,
    kernel::{
        money::{rate_to_bp, to_e4},
        numbering,
    },
    notifications::{
        model::{Attachment, Recipient},
        outbox::{self, NewMessage},
    },
    quotes::model::Quote,
    state::AppState,
};

/// Who to reach about a request; required from the public.
#[derive(Clone, Debug, Default)]
pub struct ContactInput {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub company: String,
}

/// A file sent with a request.
pub struct UploadedFile {
    pub filename: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// The requester, resolved: a customer (logged in) or a bare contact (public).
struct Requester {
    customer_id: Option<Uuid>,
    user_id: Option<Uuid>,
    sales_rep_id: Option<Uuid>,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    company: String,
}

/// A line to quote, priced from the catalog.
struct Wanted {
    product_id: Uuid,
    variant_id: Option<Uuid>,
    configuration: Value,
    reference: String,
    name: String,
    quantity: i32,
    unit_price: Decimal,
    vat_rate: Decimal,
    rental: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

fn idempotency_key(
    key: Option<String>,
    principal: &Principal,
    contact: Option<&ContactInput>,
) -> Result<Option<String>, AppError> {
    let Some(key) = key else { return Ok(None) };
    let key = key.trim();
    if key.is_empty() || key.len() > 100 {
        return Err(AppError::validation(
            "idempotencyKey",
            "1 to 100 characters",
        ));
    }
    let who = principal.user_id().map_or_else(
        || {
            contact
                .map(|c| c.email.trim().to_lowercase())
                .unwrap_or_default()
        },
        |id| id.simple().to_string(),
    );
    Ok(Some(format!("quote:{who}:{key}")))
}

/// A customer (or, when allowed, any visitor) asks for a quote on their cart: its lines become
/// the quote's, the cart is emptied, the seller is emailed.
pub async fn request_from_cart(
    state: &AppState,
    principal: &Principal,
    cart_id: Uuid,
    cart_token: Option<String>,
    message: &str,
    contact: Option<ContactInput>,
    key: Option<String>,
) -> Result<Quote, AppError> {
    let message = parse_text(message, "message", 5_000, false)?;
    let begin = Begin::new(state, principal, contact, key).await?;
    let Some(mut tx) = begin.open(state).await? else {
        return begin.existing(state).await;
    };
    let catalog = state.catalog.at(&*tx).await?;
    let cart =
        match carts::service::for_order(&tx, &catalog, principal, cart_id, cart_token.as_deref())
            .await
        {
            // A parallel retry with the same key emptied the cart while this one waited for it.
            Err(AppError::Validation { field, message })
                if field == "cartId" && begin.key.is_some() =>
            {
                drop(tx);
                let key = begin.key.clone().unwrap_or_default();
                if store::find_by_idempotency_key(state.db.read(), &key)
                    .await?
                    .is_some()
                {
                    return begin.existing(state).await;
                }
                return Err(AppError::Validation { field, message });
            }
            other => other?,
        };
    let requested: Vec<Uuid> = cart.lines.iter().map(|l| l.id).collect();
    let mut wanted = Vec::with_capacity(cart.lines.len());
    for (index, line) in cart.lines.into_iter().enumerate() {
        let field = format!("lines.{index}");
        if let Some(warning) = line.warnings.iter().find(|w| !w.starts_with("only ")) {
            return Err(AppError::validation(field, warning.clone()));
        }
        let rental = line.rental_period.is_some();
        if !rental
            && !begin.settings.allow_out_of_stock
            && let Some(available) = line.available_quantity
            && line.quantity > available
        {
            return Err(AppError::OutOfStock {
                field,
                name: line.product.name.clone(),
                available,
            });
        }
        wanted.push(Wanted {
            product_id: line.product.id,
            variant_id: line.variant.as_ref().map(|v| v.id),
            configuration: serde_json::to_value(&line.configuration).unwrap_or_default(),
            reference: line
                .variant
                .as_ref()
                .map_or_else(|| line.product.reference.clone(), |v| v.reference.clone()),
            name: match &line.variant {
                Some(v) if !v.name.is_empty() => format!("{} – {}", line.product.name, v.name),
                _ => line.product.name.clone(),
            },
            quantity: line.quantity,
            unit_price: line.amount.unit_price,
            vat_rate: line.product.vat_rate,
            rental: line.rental_period.map(|p| (p.start, p.end)),
        });
    }
    carts::service::remove_lines(&tx, cart.id, &requested).await?;
    let created = begin
        .create(&mut tx, wanted, message, String::new(), Vec::new())
        .await;
    begin.settle(state, tx, created).await
}

/// What one configured product's request carries.
pub struct ConfigurationRequest {
    pub product_id: Uuid,
    pub variant_id: Option<Uuid>,
    pub configuration: Vec<RawSelection>,
    pub quantity: i32,
    pub modifications: String,
    pub attachments: Vec<UploadedFile>,
}

/// A quote for one configured product, with modifications described in text and files.
pub async fn request_for_configuration(
    state: &AppState,
    principal: &Principal,
    request: ConfigurationRequest,
    contact: Option<ContactInput>,
    key: Option<String>,
) -> Result<Quote, AppError> {
    let quantity = parse_quantity(request.quantity, "quantity", false)?;
    let modifications = parse_text(&request.modifications, "modifications", 10_000, false)?;
    for (index, file) in request.attachments.iter().enumerate() {
        check_file(&state.config, file, &format!("attachments.{index}"))?;
    }
    let begin = Begin::new(state, principal, contact, key).await?;
    let Some(mut tx) = begin.open(state).await? else {
        return begin.existing(state).await;
    };
    let db = &*tx;
    let product = catalog::service::products_by_ids(db, &[request.product_id])
        .await?
        .into_iter()
        .next()
        .filter(catalog::Product::is_public)
        .ok_or_else(|| AppError::not_found("product", "productId"))?;
    if product.kind == ProductKind::Rental {
        return Err(AppError::validation(
            "productId",
            "rental products are quoted from a cart with a period",
        ));
    }
    let variants = catalog::service::variants_of(db, &[product.id], true).await?;
    let variant = match request.variant_id {
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
    let options = catalog::service::options_of(db, &[product.id]).await?;
    let base = variant
        .as_ref()
        .map_or(product.unit_price, |v| v.unit_price);
    let (configuration, unit_price) =
        catalog::model::price_configuration(base, &options, &request.configuration)?;
    let (tracked, stock) = match &variant {
        Some(v) => (v.track_stock, v.stock),
        None => (product.track_stock, product.stock),
    };
    if tracked && quantity > stock && !begin.settings.allow_out_of_stock {
        return Err(AppError::OutOfStock {
            field: "quantity".to_owned(),
            name: product.name.clone(),
            available: stock,
        });
    }
    let wanted = vec![Wanted {
        product_id: product.id,
        variant_id: variant.as_ref().map(|v| v.id),
        configuration: serde_json::to_value(catalog::model::describe(&configuration, &options))
            .unwrap_or_default(),
        reference: variant
            .as_ref()
            .map_or_else(|| product.reference.clone(), |v| v.reference.clone()),
        name: product.name.clone(),
        quantity,
        unit_price,
        vat_rate: product.vat_rate,
        rental: None,
    }];
    let created = begin
        .create(
            &mut tx,
            wanted,
            String::new(),
            modifications,
            request.attachments,
        )
        .await;
    begin.settle(state, tx, created).await
}

/// Whether `content` begins as a file of type `media` does: PDF (`%PDF-`), PNG (its 8-byte
/// signature), JPEG (`FF D8 FF`), TIFF (`II*\0` or `MM\0*`). Other accepted types have no
/// signature to check.
pub fn looks_like(media: &str, content: &[u8]) -> bool {
    match media {
        "application/pdf" => content.starts_with(b"%PDF-"),
        "image/png" => content.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => content.starts_with(b"\xFF\xD8\xFF"),
        "image/tiff" => content.starts_with(b"II*\0") || content.starts_with(b"MM\0*"),
        _ => true,
    }
}

/// Size and type limits of an uploaded file; PDF, PNG, JPEG and TIFF must look like what they
/// claim.
pub fn check_file(
    config: &crate::config::Config,
    file: &UploadedFile,
    field: &str,
) -> Result<(), AppError> {
    if file.content.is_empty() {
        return Err(AppError::validation(field, "the file is empty"));
    }
    if file.content.len() > config.max_upload_bytes {
        return Err(AppError::validation(
            field,
            format!("at most {} bytes", config.max_upload_bytes),
        ));
    }
    let media = file.content_type.to_ascii_lowercase();
    if !config.upload_types.iter().any(|t| t.trim() == media) {
        return Err(AppError::validation(
            field,
            format!("type {media} is not accepted"),
        ));
    }
    if !looks_like(&media, &file.content) {
        return Err(AppError::validation(
            field,
            format!("the content is not {media}"),
        ));
    }
    Ok(())
}

/// What every request does before its lines: settings, requester, idempotency.
struct Begin {
    settings: QuoteSettings,
    store_settings: catalog::settings::StoreSettings,
    now: DateTime<Utc>,
    key: Option<String>,
    contact: Option<ContactInput>,
    principal: Principal,
}

impl Begin {
    async fn new(
        state: &AppState,
        principal: &Principal,
        contact: Option<ContactInput>,
        key: Option<String>,
    ) -> Result<Self, AppError> {
        service::require_customer_side(principal)?;
        if let Some(reason) = principal.rejection() {
            return Err(AppError::Unauthenticated(reason));
        }
        let settings = service::require_available(state.db.read(), principal).await?;
        if principal.user_id().is_none() && contact.is_none() {
            return Err(AppError::validation(
                "contact",
                "required without an account",
            ));
        }
        let store_settings = state.settings.get(state.db.read()).await?;
        if store_settings.require_verified_email {
            let verified = match principal.user_id() {
                Some(id) => crate::auth::service::user_by_id(state, id)
                    .await?
                    .is_some_and(|u| u.email_verified_at.is_some()),
                None => false,
            };
            if !verified {
                return Err(AppError::EmailNotVerified);
            }
        }
        let key = idempotency_key(key, principal, contact.as_ref())?;
        Ok(Self {
            settings,
            store_settings,
            now: state.clock.now(),
            key,
            contact,
            principal: *principal,
        })
    }

    /// The transaction, or `None` when the key names a quote already made.
    async fn open(&self, state: &AppState) -> Result<Option<WriteTx>, AppError> {
        if let Some(key) = &self.key
            && store::find_by_idempotency_key(state.db.read(), key)
                .await?
                .is_some()
        {
            return Ok(None);
        }
        let tx = state.db.begin(&state.events).await?;
        // Again inside: a parallel retry that waited for the SQLite writer finds the first here.
        if let Some(key) = &self.key
            && store::find_by_idempotency_key(&*tx, key).await?.is_some()
        {
            return Ok(None);
        }
        Ok(Some(tx))
    }

    /// Commits a created quote; when a parallel retry with the same key committed first (the
    /// unique key refused this insert on PostgreSQL), rolls back and answers with that quote.
    async fn settle(
        &self,
        state: &AppState,
        tx: WriteTx,
        created: Result<Quote, AppError>,
    ) -> Result<Quote, AppError> {
        match created {
            Ok(quote) => {
                tx.commit().await?;
                Ok(quote)
            }
            Err(AppError::Conflict { field: None, .. }) if self.key.is_some() => {
                drop(tx);
                self.existing(state).await
            }
            Err(error) => Err(error),
        }
    }

    /// The quote an earlier request with this key made, if the caller may see it: their own, or
    /// for the public a request still unclaimed (a key never opens someone else's quote).
    async fn existing(&self, state: &AppState) -> Result<Quote, AppError> {
        let key = self.key.clone().unwrap_or_default();
        let used = || AppError::conflict("idempotencyKey", "already used");
        let row = store::find_by_idempotency_key(state.db.read(), &key)
            .await?
            .ok_or_else(used)?;
        let visible = if self.principal.user_id().is_some() {
            service::may_see(&self.principal, &row)
        } else {
            row.customer_id.is_none() && row.requested_by.is_none()
        };
        if !visible {
            return Err(used());
        }
        store::to_quote(row)
    }

    async fn requester(&self, tx: &WriteTx, now: DateTime<Utc>) -> Result<Requester, AppError> {
        let typed = self
            .contact
            .as_ref()
            .map(|c| -> Result<_, AppError> {
                Ok((
                    parse_text(&c.name, "contact.name", 200, true)?,
                    Recipient::email(&c.email, "contact.email")?.address,
                    c.phone
                        .as_deref()
                        .filter(|p| !p.trim().is_empty())
                        .map(|p| customers::model::parse_phone(p, "contact.phone"))
                        .transpose()?,
                    parse_text(&c.company, "contact.company", 200, false)?,
                ))
            })
            .transpose()?;
        let Some(user) = self.principal.require_user().ok() else {
            let (name, email, phone, company) =
                typed.ok_or_else(|| AppError::validation("contact", "required"))?;
            return Ok(Requester {
                customer_id: None,
                user_id: None,
                sales_rep_id: None,
                name,
                email: Some(email),
                phone,
                company,
            });
        };
        let account = crate::auth::service::users_by_ids(&**tx, &[user.id])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| AppError::Unauthenticated("account not found"))?;
        let customer = if let Some(id) = user.customer_id {
            customers::service::find_for(&**tx, &self.principal, id).await?
        } else {
            let name = typed
                .as_ref()
                .map_or(account.email.as_str(), |t| t.0.as_str());
            customers::service::create_for_user(tx, user.id, name, now).await?
        };
        let contacts = customers::service::contacts_of(&**tx, &[customer.id]).await?;
        let primary = contacts.into_iter().find(|c| c.is_primary);
        let (name, email, phone, company) = match typed {
            Some(t) => (t.0, Some(t.1), t.2, t.3),
            None => match primary {
                Some(c) => (
                    c.name,
                    c.email.or(Some(account.email)),
                    c.phone,
                    customer.name.clone(),
                ),
                None => (
                    customer.name.clone(),
                    Some(account.email),
                    None,
                    customer.name.clone(),
                ),
            },
        };
        Ok(Requester {
            customer_id: Some(customer.id),
            user_id: Some(user.id),
            sales_rep_id: customer.sales_rep_id,
            name,
            email,
            phone,
            company,
        })
    }

    async fn create(
        &self,
        tx: &mut WriteTx,
        wanted: Vec<Wanted>,
        message: String,
        modifications: String,
        attachments: Vec<UploadedFile>,
    ) -> Result<Quote, AppError> {
        let now = self.now;
        let requester = self.requester(tx, now).await?;
        let row = new_quote(
            tx,
            NewQuote {
                customer_id: requester.customer_id,
                requested_by: requester.user_id,
                sales_rep_id: requester.sales_rep_id,
                contact_name: requester.name.clone(),
                contact_email: requester.email.clone(),
                contact_phone: requester.phone.clone(),
                contact_company: requester.company.clone(),
                message,
                modifications,
                idempotency_key: self.key.clone(),
            },
            now,
        )
        .await?;
        let rows = wanted
            .into_iter()
            .enumerate()
            .map(|(index, line)| {
                Ok(quote_line::Model {
                    id: Uuid::now_v7(),
                    quote_id: row.id,
                    position: i32::try_from(index).unwrap_or(i32::MAX),
                    kind: LineKind::Product.as_str().to_owned(),
                    product_id: Some(line.product_id),
                    variant_id: line.variant_id,
                    configuration: line.configuration,
                    reference: line.reference,
                    name: line.name,
                    comment: String::new(),
                    quantity: line.quantity,
                    unit_price_e4: to_e4(line.unit_price, "unitPrice")?,
                    discount_bp: 0,
                    discount_amount_e4: 0,
                    vat_bp: rate_to_bp(line.vat_rate, "vatRate")?,
                    rental_start: line.rental.map(|r| r.0),
                    rental_end: line.rental.map(|r| r.1),
                })
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        let lines = store::insert_lines(&**tx, rows).await?;
        let files = attachments
            .into_iter()
            .map(|file| quote_attachment::Model {
                id: Uuid::now_v7(),
                quote_id: row.id,
                filename: file.filename.chars().take(255).collect(),
                content_type: file.content_type,
                size: i64::try_from(file.content.len()).unwrap_or(i64::MAX),
                content: file.content,
                created_at: now,
            })
            .collect();
        store::insert_attachments(&**tx, files).await?;
        let mut row = row;
        keep_derived(&mut row, &lines)?;
        let row = store::update(&**tx, row).await?;
        tx.record(quote_event(
            &row,
            "QUOTE_REQUESTED",
            requester.user_id,
            json!({ "number": row.number }),
            now,
        ));
        notify_seller(tx, &self.settings, &self.store_settings, &row, &lines, now).await?;
        store::to_quote(row)
    }
}

/// The fields of a new quote that are not defaults.
pub(super) struct NewQuote {
    pub customer_id: Option<Uuid>,
    pub requested_by: Option<Uuid>,
    pub sales_rep_id: Option<Uuid>,
    pub contact_name: String,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_company: String,
    pub message: String,
    pub modifications: String,
    pub idempotency_key: Option<String>,
}

/// Inserts a new quote (`REQUESTED`, revision 1) numbered `Q-<year>-000123`.
pub(super) async fn new_quote(
    tx: &WriteTx,
    new: NewQuote,
    now: DateTime<Utc>,
) -> Result<quote::Model, AppError> {
    let number = numbering::next(&**tx, &format!("Q-{}", now.year())).await?;
    let id = Uuid::now_v7();
    Ok(store::insert(
        &**tx,
        quote::Model {
            id,
            number,
            root_id: id,
            revision: 1,
            superseded_by: None,
            customer_id: new.customer_id,
            requested_by: new.requested_by,
            contact_name: new.contact_name,
            contact_email: new.contact_email,
            contact_phone: new.contact_phone,
            contact_company: new.contact_company,
            status: QuoteStatus::Requested.as_str().to_owned(),
            negotiation: Negotiation::None.as_str().to_owned(),
            message: new.message,
            modifications: new.modifications,
            customer_comment: String::new(),
            internal_comment: String::new(),
            delivery_address: Value::Null,
            shipping_method: String::new(),
            shipping_e4: 0,
            shipping_vat_bp: 2_000,
            payment_method: String::new(),
            discount_bp: 0,
            total_e4: 0,
            search_text: String::new(),
            sales_rep_id: new.sales_rep_id,
            valid_until: None,
            sent_at: None,
            order_id: None,
            transferred_to_invoice: false,
            idempotency_key: new.idempotency_key,
            version: 1,
            created_at: now,
            updated_at: now,
        },
    )
    .await?)
}

/// Emails the seller (the sales manager, and the customer's sales rep when the settings say so)
/// a readable summary and the request as JSON.
async fn notify_seller(
    tx: &mut WriteTx,
    settings: &QuoteSettings,
    store_settings: &catalog::settings::StoreSettings,
    row: &quote::Model,
    lines: &[quote_line::Model],
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    if !settings.notify_on_request {
        return Ok(());
    }
    let mut recipients: Vec<String> = settings.sales_manager_email.iter().cloned().collect();
    if settings.notify_sales_rep
        && let Some(rep) = row.sales_rep_id
    {
        let reps = crate::auth::service::users_by_ids(&**tx, &[rep]).await?;
        recipients.extend(reps.into_iter().map(|u| u.email));
    }
    recipients.dedup();
    if recipients.is_empty() {
        return Ok(());
    }
    let quote = store::to_quote(row.clone())?;
    let priced: Vec<_> = lines.iter().cloned().map(store::to_line).collect();
    let totals = super::model::totals(&priced, quote.adjustments);
    let items: Vec<Value> = priced
        .iter()
        .map(|l| {
            json!({
                "reference": l.reference,
                "name": l.name,
                "configuration": l.configuration.iter().map(|s| json!({
                    "option": s.option, "name": s.option_name, "value": s.value,
                    "label": s.value_label, "number": s.number.map(|n| n.normalize().to_string()),
                })).collect::<Vec<_>>(),
                "quantity": l.quantity,
                "unit_price": l.unit_price.normalize().to_string(),
                "total": l.amount.total.to_string(),
                "rental_start": l.rental_period.map(|p| p.start),
                "rental_end": l.rental_period.map(|p| p.end),
            })
        })
        .collect();
    let request = json!({
        "number": row.number,
        "requested_at": row.created_at,
        "customer_id": row.customer_id,
        "contact": {
            "name": row.contact_name, "email": row.contact_email,
            "phone": row.contact_phone, "company": row.contact_company,
        },
        "message": row.message,
        "modifications": row.modifications,
        "lines": items,
        "subtotal": totals.subtotal.to_string(),
        "vat_total": totals.vat_total.to_string(),
        "total": totals.total.to_string(),
    });
    let mut data = request.clone();
    if let Value::Object(map) = &mut data {
        map.insert("store_name".to_owned(), json!(store_settings.name));
        map.insert("currency".to_owned(), json!(store_settings.currency));
    }
    let content = serde_json::to_vec_pretty(&request).unwrap_or_default();
    for address in recipients {
        outbox::enqueue(
            tx,
            NewMessage {
                recipient: Recipient::email(&address, "salesManagerEmail")?,
                template: "quote_requested",
                language: "en".to_owned(),
                data: data.clone(),
                attachments: vec![Attachment {
                    filename: format!("{}.json", row.number),
                    content_type: "application/json".to_owned(),
                    content: content.clone(),
                }],
                customer_id: row.customer_id,
            },
            now,
        )
        .await?;
    }
    Ok(())
}

/// A logged-in user claims the public requests made with their verified email: they join the
/// user's customer. Returns how many.
pub async fn claim(state: &AppState, principal: &Principal) -> Result<u64, AppError> {
    let user = principal.require_role(&[Role::Identified, Role::AccountClient])?;
    service::require_available(state.db.read(), principal).await?;
    let account = crate::auth::service::user_by_id(state, user.id)
        .await?
        .ok_or(AppError::Unauthenticated("account not found"))?;
    if account.email_verified_at.is_none() {
        return Err(AppError::EmailNotVerified);
    }
    let now = state.clock.now();
    let mut tx = state.db.begin(&state.events).await?;
    let customer_id = match user.customer_id {
        Some(id) => id,
        None => {
            customers::service::create_for_user(&tx, user.id, &account.email, now)
                .await?
                .id
        }
    };
    let rows = store::unclaimed_with_email(&*tx, &account.email).await?;
    let count = rows.len() as u64;
    for mut row in rows {
        row.customer_id = Some(customer_id);
        row.requested_by = Some(user.id);
        row.version += 1;
        row.updated_at = now;
        let row = store::update(&*tx, row).await?;
        tx.record(quote_event(
            &row,
            "QUOTE_CLAIMED",
            Some(user.id),
            json!({ "customer": { "old": null, "new": customer_id } }),
            now,
        ));
    }
    tx.commit().await?;
    Ok(count)
}
