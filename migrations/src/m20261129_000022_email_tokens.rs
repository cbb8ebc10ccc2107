//! Links sent by email (password reset, later address verification and
//! change of address). The link carries 32 random bytes; only an HMAC of
//! them is stored (`token_hash`), so a copy of this table opens nothing.
//! `purpose` binds a token to what it was sent for, `user_id` to whom.
//! `state` is an HMAC of the account's password hash and address when the
//! link was sent: once either changes, the link no longer matches and is
//! void without anyone having to find and delete it. Times are Unix
//! milliseconds; `used_at` makes a link single use.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EmailTokens::Table)
                    .if_not_exists()
                    .col(big_pk_auto(EmailTokens::Id))
                    .col(integer(EmailTokens::UserId))
                    .col(string_len(EmailTokens::Purpose, 32))
                    .col(string_len_uniq(EmailTokens::TokenHash, 64))
                    .col(string_len(EmailTokens::State, 64))
                    .col(big_integer(EmailTokens::CreatedAt))
                    .col(big_integer(EmailTokens::ExpiresAt))
                    .col(big_integer_null(EmailTokens::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(EmailTokens::Table, EmailTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The per-address cap counts a user's recent tokens of a purpose.
        manager
            .create_index(
                Index::create()
                    .name("email_tokens_user_purpose_idx")
                    .table(EmailTokens::Table)
                    .col(EmailTokens::UserId)
                    .col(EmailTokens::Purpose)
                    .col(EmailTokens::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EmailTokens::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum EmailTokens {
    Table,
    Id,
    UserId,
    Purpose,
    TokenHash,
    State,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
