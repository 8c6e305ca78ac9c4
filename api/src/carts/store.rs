//! Cart queries. Only the carts service calls these.

use chrono::{DateTime, Utc};
use comptoir_entity::{cart, cart_line};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};
use uuid::Uuid;

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

pub async fn set_status(
    db: &impl ConnectionTrait,
    cart: cart::Model,
    status: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut active: cart::ActiveModel = cart.into();
    active.status = Set(status.to_owned());
    active.updated_at = Set(now);
    active.update(db).await?;
    Ok(())
}

pub async fn lines_of(
    db: &impl ConnectionTrait,
    cart_id: Uuid,
) -> Result<Vec<cart_line::Model>, DbErr> {
    cart_line::Entity::find()
        .filter(cart_line::Column::CartId.eq(cart_id))
        .order_by_asc(cart_line::Column::CreatedAt)
        .order_by_asc(cart_line::Column::Id)
        .all(db)
        .await
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

/// Adds `line` to the cart, or its quantity to the line that already holds the same thing.
pub async fn add_line(
    db: &impl ConnectionTrait,
    cart_id: Uuid,
    line: NewLine,
    now: DateTime<Utc>,
) -> Result<cart_line::Model, DbErr> {
    let existing = cart_line::Entity::find()
        .filter(cart_line::Column::CartId.eq(cart_id))
        .filter(cart_line::Column::LineKey.eq(line.line_key.as_str()))
        .one(db)
        .await?;
    if let Some(existing) = existing {
        let quantity = existing.quantity.saturating_add(line.quantity).min(100_000);
        let mut active: cart_line::ActiveModel = existing.into();
        active.quantity = Set(quantity);
        return active.update(db).await;
    }
    cart_line::ActiveModel {
        id: Set(Uuid::now_v7()),
        cart_id: Set(cart_id),
        product_id: Set(line.product_id),
        variant_id: Set(line.variant_id),
        configuration: Set(line.configuration),
        line_key: Set(line.line_key),
        quantity: Set(line.quantity),
        rental_start: Set(line.rental_start),
        rental_end: Set(line.rental_end),
        created_at: Set(now),
    }
    .insert(db)
    .await
}

pub async fn set_quantity(
    db: &impl ConnectionTrait,
    line: cart_line::Model,
    quantity: i32,
) -> Result<(), DbErr> {
    let mut active: cart_line::ActiveModel = line.into();
    active.quantity = Set(quantity);
    active.update(db).await?;
    Ok(())
}
