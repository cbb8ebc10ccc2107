//! Refresh tokens of the password grant. Each belongs to one session (the
//! session is the token "family" of RFC 9700 §4.14): ending the session
//! deletes its refresh tokens with it. The client holds 32 random bytes;
//! only their SHA-256 is stored, so a copy of this table refreshes nothing.
//! A rotated token stays as a row with `used_at` set, so presenting it
//! again is recognised as reuse and ends the whole session. `scope` is
//! what the original grant allowed; a refresh can narrow it, never widen.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .if_not_exists()
                    .col(big_pk_auto(RefreshTokens::Id))
                    .col(integer(RefreshTokens::SessionId))
                    .col(string_len_uniq(RefreshTokens::TokenHash, 64))
                    .col(string_len(RefreshTokens::Scope, 32))
                    .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("refresh_tokens_session_id_fkey")
                            .from(RefreshTokens::Table, RefreshTokens::SessionId)
                            .to(Sessions::Table, Sessions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The cascade from a deleted session looks rows up by session.
        manager
            .create_index(
                Index::create()
                    .name("refresh_tokens_session_id_idx")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::SessionId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RefreshTokens::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    SessionId,
    TokenHash,
    Scope,
    CreatedAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
}
