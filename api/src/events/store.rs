use comptoir_entity::event;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, Set};

use super::{NewEvent, StoredEvent};

pub async fn insert(db: &impl ConnectionTrait, event: NewEvent) -> Result<StoredEvent, DbErr> {
    let row = event::ActiveModel {
        kind: Set(event.kind.to_owned()),
        object_type: Set(event.object_type.to_owned()),
        object_id: Set(event.object_id),
        owner_user_id: Set(event.owner_user_id),
        actor_id: Set(event.actor_id),
        status: Set(event.status),
        changes: Set(event.changes),
        created_at: Set(event.at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(from_row(row))
}

pub async fn find(db: &impl ConnectionTrait, id: i64) -> Result<Option<StoredEvent>, DbErr> {
    Ok(event::Entity::find_by_id(id).one(db).await?.map(from_row))
}

fn from_row(row: event::Model) -> StoredEvent {
    StoredEvent {
        id: row.id,
        kind: row.kind,
        object_type: row.object_type,
        object_id: row.object_id,
        owner_user_id: row.owner_user_id,
        actor_id: row.actor_id,
        status: row.status,
        changes: row.changes,
        created_at: row.created_at,
    }
}
