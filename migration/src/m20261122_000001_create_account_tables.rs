use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserAccount::Table)
                    .col(pk_uuid(UserAccount::Id))
                    .col(string_len_uniq(UserAccount::Email, 254))
                    .col(string(UserAccount::PasswordHash))
                    .col(string_len(UserAccount::Role, 32))
                    .col(integer(UserAccount::TokenVersion).default(0))
                    .col(boolean(UserAccount::Blocked).default(false))
                    .col(text_null(UserAccount::BlockedReason))
                    .col(timestamp_with_time_zone_null(UserAccount::BlockedAt))
                    .col(timestamp_with_time_zone_null(UserAccount::EmailVerifiedAt))
                    .col(timestamp_with_time_zone(UserAccount::CreatedAt))
                    .col(timestamp_with_time_zone(UserAccount::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_user_account_role")
                    .table(UserAccount::Table)
                    .col(UserAccount::Role)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshToken::Table)
                    .col(pk_uuid(RefreshToken::Id))
                    .col(uuid(RefreshToken::UserId))
                    .col(uuid(RefreshToken::FamilyId))
                    .col(string_len_uniq(RefreshToken::TokenHash, 64))
                    .col(integer(RefreshToken::TokenVersion))
                    .col(timestamp_with_time_zone(RefreshToken::CreatedAt))
                    .col(timestamp_with_time_zone(RefreshToken::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshToken::UsedAt))
                    .col(timestamp_with_time_zone_null(RefreshToken::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refresh_token_user")
                            .from(RefreshToken::Table, RefreshToken::UserId)
                            .to(UserAccount::Table, UserAccount::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_refresh_token_user", RefreshToken::UserId),
            ("idx_refresh_token_family", RefreshToken::FamilyId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(RefreshToken::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(UserToken::Table)
                    .col(pk_uuid(UserToken::Id))
                    .col(uuid(UserToken::UserId))
                    .col(string_len(UserToken::Purpose, 32))
                    .col(string_len_uniq(UserToken::TokenHash, 64))
                    .col(timestamp_with_time_zone(UserToken::CreatedAt))
                    .col(timestamp_with_time_zone(UserToken::ExpiresAt))
                    .col(timestamp_with_time_zone_null(UserToken::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_token_user")
                            .from(UserToken::Table, UserToken::UserId)
                            .to(UserAccount::Table, UserAccount::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_user_token_user")
                    .table(UserToken::Table)
                    .col(UserToken::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RateLimit::Table)
                    .col(string_len(RateLimit::Key, 320).primary_key())
                    .col(timestamp_with_time_zone(RateLimit::WindowStart))
                    .col(integer(RateLimit::Count))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RateLimit::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(UserToken::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(RefreshToken::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(UserAccount::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum UserAccount {
    Table,
    Id,
    Email,
    PasswordHash,
    Role,
    TokenVersion,
    Blocked,
    BlockedReason,
    BlockedAt,
    EmailVerifiedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RefreshToken {
    Table,
    Id,
    UserId,
    FamilyId,
    TokenHash,
    TokenVersion,
    CreatedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum UserToken {
    Table,
    Id,
    UserId,
    Purpose,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum RateLimit {
    Table,
    Key,
    WindowStart,
    Count,
}
