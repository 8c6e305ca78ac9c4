//! Template carts ("paniers types"): named lists of lines that staff publish for every customer
//! or for one, and that a customer saves from their cart; loading one copies its lines into a
//! cart in one mutation.

use chrono::{DateTime, Utc};
use comptoir_entity::{cart_template, cart_template_line};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, ModelTrait,
    QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

use super::{
    service::{
        LineInput, MAX_LINES, add_all_prepared, cart_for_write, cart_to_change, prepare_line, view,
    },
    store,
};
use crate::{
    auth::Principal,
    carts::CartView,
    catalog::{
        self, Configuration, Product, Variant,
        model::{SelectionView, describe},
    },
    error::AppError,
    state::AppState,
};

#[derive(Clone, Debug)]
pub struct TemplateView {
    pub id: Uuid,
    pub name: String,
    /// `None`: published for every customer.
    pub customer_id: Option<Uuid>,
    pub lines: Vec<TemplateLine>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct TemplateLine {
    pub product: Product,
    pub variant: Option<Variant>,
    pub configuration: Vec<SelectionView>,
    pub quantity: i32,
}

/// Whether the caller may see (and load) a template.
fn visible(principal: &Principal, template: &cart_template::Model) -> bool {
    principal.is_staff()
        || template.customer_id.is_none()
        || template.customer_id == principal.customer_id()
}

/// Templates the caller may use: staff see all; a user the ones for everyone and for their
/// customer.
pub async fn list(state: &AppState, principal: &Principal) -> Result<Vec<TemplateView>, AppError> {
    principal.require_user()?;
    let db = state.db.read();
    let mut query = cart_template::Entity::find();
    if !principal.is_staff() {
        let mut condition = Condition::any().add(cart_template::Column::CustomerId.is_null());
        if let Some(customer) = principal.customer_id() {
            condition = condition.add(cart_template::Column::CustomerId.eq(customer));
        }
        query = query.filter(condition);
    }
    let rows = query
        .order_by_asc(cart_template::Column::Name)
        .order_by_asc(cart_template::Column::Id)
        .all(db)
        .await?;
    views(db, rows, !principal.is_staff()).await
}

/// A template holds at most as many lines as a cart: loading one adds all its lines or none.
fn too_long(field: &str) -> AppError {
    AppError::validation(field, format!("a template holds at most {MAX_LINES} lines"))
}

/// Staff: publishes a template for every customer (`customer_id: None`) or for one.
pub async fn create(
    state: &AppState,
    principal: &Principal,
    name: &str,
    customer_id: Option<Uuid>,
    lines: Vec<LineInput>,
) -> Result<TemplateView, AppError> {
    let staff = principal.require_staff()?;
    let name = catalog::model::parse_name(name, "name")?;
    if lines.is_empty() {
        return Err(AppError::validation(
            "lines",
            "a template needs at least one line",
        ));
    }
    if lines.len() > MAX_LINES {
        return Err(too_long("lines"));
    }
    let now = state.clock.now();
    let tx = state.db.begin(&state.events).await?;
    if let Some(customer_id) = customer_id {
        crate::customers::service::require_exists(&tx, customer_id, "customerId").await?;
    }
    let catalog = state.catalog.at(&*tx).await?;
    // The products' rows in one read (those not kept), for the checks below.
    let products: Vec<Uuid> = lines.iter().map(|l| l.product_id).collect();
    catalog.products(&*tx, &products).await?;
    let mut prepared = Vec::with_capacity(lines.len());
    for line in lines {
        if line.rental_period.is_some() {
            return Err(AppError::validation(
                "lines",
                "templates hold no rental lines",
            ));
        }
        let line = prepare_line(&*tx, &catalog, principal, line, now).await?;
        // Templates are for customers: only what the storefront sells.
        let public = catalog
            .product(&*tx, line.product_id)
            .await?
            .is_some_and(|rows| rows.product.is_public());
        if !public {
            return Err(AppError::validation(
                "lines",
                "templates hold only products the storefront shows",
            ));
        }
        prepared.push(line);
    }
    let template = insert(&*tx, &name, customer_id, Some(staff.id), &prepared, now).await?;
    let view = views(&*tx, vec![template], !principal.is_staff())
        .await?
        .pop();
    tx.commit().await?;
    view.ok_or_else(|| AppError::internal(anyhow::anyhow!("template vanished")))
}

/// A customer saves their cart as a template for their company (rental lines stay out).
pub async fn save_cart(
    state: &AppState,
    principal: &Principal,
    token: Option<&str>,
    name: &str,
) -> Result<TemplateView, AppError> {
    let user = principal.require_user()?;
    let customer_id = principal.customer_id().ok_or_else(|| {
        AppError::validation("customer", "only users of a customer save templates")
    })?;
    let name = catalog::model::parse_name(name, "name")?;
    let now = state.clock.now();
    let tx = state.db.begin(&state.events).await?;
    let cart = cart_for_write(&tx, principal, token, now).await?;
    let lines: Vec<store::NewLine> = store::lines_of(&*tx, cart.id)
        .await?
        .into_iter()
        .filter(|l| l.rental_start.is_none())
        .map(|l| store::NewLine {
            product_id: l.product_id,
            variant_id: l.variant_id,
            configuration: l.configuration,
            line_key: l.line_key,
            quantity: l.quantity,
            rental_start: None,
            rental_end: None,
        })
        .collect();
    if lines.is_empty() {
        return Err(AppError::validation("cart", "the cart has no line to save"));
    }
    // A cart grows past it only by a merge at login; such a template could never be loaded.
    if lines.len() > MAX_LINES {
        return Err(too_long("cart"));
    }
    let template = insert(&*tx, &name, Some(customer_id), Some(user.id), &lines, now).await?;
    let view = views(&*tx, vec![template], !principal.is_staff())
        .await?
        .pop();
    tx.commit().await?;
    view.ok_or_else(|| AppError::internal(anyhow::anyhow!("template vanished")))
}

/// Copies a template's lines into a cart, each checked against the current catalog.
pub async fn load(
    state: &AppState,
    principal: &Principal,
    token: Option<&str>,
    template_id: Uuid,
) -> Result<CartView, AppError> {
    principal.require_user()?;
    let now = state.clock.now();
    let tx = state.db.begin(&state.events).await?;
    let template = cart_template::Entity::find_by_id(template_id)
        .one(&*tx)
        .await?
        .filter(|t| visible(principal, t))
        .ok_or_else(|| AppError::not_found("cart template", "templateId"))?;
    let cart = cart_to_change(&tx, principal, token, now).await?;
    let catalog = state.catalog.at(&*tx).await?;
    let lines = lines_of(&*tx, &[template.id]).await?;
    // The products' rows in one read (those not kept), for the checks below.
    let products: Vec<Uuid> = lines.iter().map(|l| l.product_id).collect();
    catalog.products(&*tx, &products).await?;
    let mut prepared = Vec::with_capacity(lines.len());
    for line in lines {
        let configuration: Configuration =
            serde_json::from_value(line.configuration).unwrap_or_default();
        let input = LineInput {
            product_id: line.product_id,
            variant_id: line.variant_id,
            configuration: configuration.to_raw(),
            quantity: line.quantity,
            rental_period: None,
        };
        // A line the catalog no longer offers is left out; the others still load.
        match prepare_line(&*tx, &catalog, principal, input, now).await {
            Ok(line) => prepared.push(line),
            Err(AppError::Validation { .. } | AppError::NotFound { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    add_all_prepared(&tx, &cart, prepared, now).await?;
    let view = view(&*tx, Some(&catalog), cart).await?;
    tx.commit().await?;
    Ok(view)
}

/// Deletes a template: staff any; a user only the templates they saved themselves.
pub async fn delete(state: &AppState, principal: &Principal, id: Uuid) -> Result<(), AppError> {
    principal.require_user()?;
    let tx = state.db.begin(&state.events).await?;
    let template = cart_template::Entity::find_by_id(id)
        .one(&*tx)
        .await?
        .filter(|t| visible(principal, t))
        .ok_or_else(|| AppError::not_found("cart template", "id"))?;
    if !principal.is_staff() && template.created_by != principal.user_id() {
        return Err(AppError::Forbidden);
    }
    template.delete(&*tx).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert(
    db: &impl ConnectionTrait,
    name: &str,
    customer_id: Option<Uuid>,
    created_by: Option<Uuid>,
    lines: &[store::NewLine],
    now: DateTime<Utc>,
) -> Result<cart_template::Model, AppError> {
    let template = cart_template::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name.to_owned()),
        customer_id: Set(customer_id),
        created_by: Set(created_by),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    let rows = lines
        .iter()
        .enumerate()
        .map(|(position, line)| cart_template_line::ActiveModel {
            id: Set(Uuid::now_v7()),
            template_id: Set(template.id),
            product_id: Set(line.product_id),
            variant_id: Set(line.variant_id),
            configuration: Set(line.configuration.clone()),
            quantity: Set(line.quantity),
            position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
        });
    // One insert for all the lines (SeaORM runs none for none).
    cart_template_line::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(template)
}

async fn lines_of(
    db: &impl ConnectionTrait,
    template_ids: &[Uuid],
) -> Result<Vec<cart_template_line::Model>, AppError> {
    Ok(cart_template_line::Entity::find()
        .filter(cart_template_line::Column::TemplateId.is_in(template_ids.iter().copied()))
        .order_by_asc(cart_template_line::Column::Position)
        .all(db)
        .await?)
}

/// Templates with their lines, named from the catalog: a fixed number of statements.
async fn views(
    db: &impl ConnectionTrait,
    templates: Vec<cart_template::Model>,
    public_only: bool,
) -> Result<Vec<TemplateView>, AppError> {
    let ids: Vec<Uuid> = templates.iter().map(|t| t.id).collect();
    let lines = if ids.is_empty() {
        Vec::new()
    } else {
        lines_of(db, &ids).await?
    };
    let product_ids: Vec<Uuid> = lines.iter().map(|l| l.product_id).collect();
    let variant_ids: Vec<Uuid> = lines.iter().filter_map(|l| l.variant_id).collect();
    let products = if product_ids.is_empty() {
        Vec::new()
    } else {
        catalog::service::products_by_ids(db, &product_ids).await?
    };
    let variants = if variant_ids.is_empty() {
        Vec::new()
    } else {
        catalog::service::variants_by_ids(db, &variant_ids).await?
    };
    let options = if product_ids.is_empty() {
        Vec::new()
    } else {
        catalog::service::options_of(db, &product_ids).await?
    };
    Ok(templates
        .into_iter()
        .map(|template| TemplateView {
            lines: lines
                .iter()
                .filter(|l| l.template_id == template.id)
                .filter_map(|l| {
                    let product = products
                        .iter()
                        .find(|p| p.id == l.product_id && (!public_only || p.is_public()))?
                        .clone();
                    let configuration: Configuration =
                        serde_json::from_value(l.configuration.clone()).unwrap_or_default();
                    let product_options: Vec<_> = options
                        .iter()
                        .filter(|o| o.product_id == product.id)
                        .cloned()
                        .collect();
                    Some(TemplateLine {
                        variant: l
                            .variant_id
                            .and_then(|id| variants.iter().find(|v| v.id == id).cloned()),
                        configuration: describe(&configuration, &product_options),
                        quantity: l.quantity,
                        product,
                    })
                })
                .collect(),
            id: template.id,
            name: template.name,
            customer_id: template.customer_id,
            created_at: template.created_at,
        })
        .collect())
}
