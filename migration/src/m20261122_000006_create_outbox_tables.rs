use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OutboxMessage::Table)
                    .col(pk_uuid(OutboxMessage::Id))
                    .col(string_len(OutboxMessage::Channel, 8))
                    .col(string_len(OutboxMessage::Recipient, 254))
                    .col(text(OutboxMessage::Subject))
                    .col(text(OutboxMessage::Body))
                    .col(json(OutboxMessage::Attachments))
                    .col(string_len(OutboxMessage::Template, 64))
                    .col(string_len(OutboxMessage::MessageId, 200))
                    .col(uuid_null(OutboxMessage::CustomerId))
                    .col(string_len(OutboxMessage::Status, 16))
                    .col(integer(OutboxMessage::Attempts))
                    .col(timestamp_with_time_zone(OutboxMessage::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(OutboxMessage::ClaimedUntil))
                    .col(text_null(OutboxMessage::LastError))
                    .col(timestamp_with_time_zone(OutboxMessage::CreatedAt))
                    .col(timestamp_with_time_zone_null(OutboxMessage::SentAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_due")
                    .table(OutboxMessage::Table)
                    .col(OutboxMessage::Status)
                    .col(OutboxMessage::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OutboxAttempt::Table)
                    .col(pk_uuid(OutboxAttempt::Id))
                    .col(uuid(OutboxAttempt::MessageId))
                    .col(timestamp_with_time_zone(OutboxAttempt::At))
                    .col(boolean(OutboxAttempt::Succeeded))
                    .col(text_null(OutboxAttempt::Error))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_outbox_attempt_message")
                            .from(OutboxAttempt::Table, OutboxAttempt::MessageId)
                            .to(OutboxMessage::Table, OutboxMessage::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_attempt_message")
                    .table(OutboxAttempt::Table)
                    .col(OutboxAttempt::MessageId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MessageTemplate::Table)
                    .col(string_len(MessageTemplate::Name, 64))
                    .col(string_len(MessageTemplate::Language, 8))
                    .col(text(MessageTemplate::Subject))
                    .col(text(MessageTemplate::Body))
                    .col(timestamp_with_time_zone(MessageTemplate::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(MessageTemplate::Name)
                            .col(MessageTemplate::Language),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MessageTemplate::Table.into_iden(),
            OutboxAttempt::Table.into_iden(),
            OutboxMessage::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum OutboxMessage {
    Table,
    Id,
    Channel,
    Recipient,
    Subject,
    Body,
    Attachments,
    Template,
    MessageId,
    CustomerId,
    Status,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    LastError,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum OutboxAttempt {
    Table,
    Id,
    MessageId,
    At,
    Succeeded,
    Error,
}

#[derive(DeriveIden)]
enum MessageTemplate {
    Table,
    Name,
    Language,
    Subject,
    Body,
    UpdatedAt,
}
