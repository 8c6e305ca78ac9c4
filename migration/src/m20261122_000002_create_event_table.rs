use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Event::Table)
                    .col(big_pk_auto(Event::Id))
                    .col(string_len(Event::Kind, 64))
                    .col(string_len(Event::ObjectType, 64))
                    .col(uuid(Event::ObjectId))
                    .col(uuid_null(Event::OwnerUserId))
                    .col(uuid_null(Event::ActorId))
                    .col(string_len_null(Event::Status, 64))
                    .col(json(Event::Changes))
                    .col(timestamp_with_time_zone(Event::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_event_object")
                    .table(Event::Table)
                    .col(Event::ObjectType)
                    .col(Event::ObjectId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_event_owner_user")
                    .table(Event::Table)
                    .col(Event::OwnerUserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Event::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Event {
    Table,
    Id,
    Kind,
    ObjectType,
    ObjectId,
    OwnerUserId,
    ActorId,
    Status,
    Changes,
    CreatedAt,
}
