//! Accounts at OAuth providers linked to Gatehouse users. An identity
//! (provider + the provider's user id) belongs to at most one user: the
//! unique index settles two concurrent links of the same identity.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LinkedAccounts::Table)
                    .if_not_exists()
                    .col(pk_auto(LinkedAccounts::Id))
                    .col(integer(LinkedAccounts::UserId))
                    .col(string_len(LinkedAccounts::Provider, 32))
                    .col(string_len(LinkedAccounts::ProviderUserId, 255))
                    .col(string_len_null(LinkedAccounts::Login, 255))
                    .col(string_len_null(LinkedAccounts::Email, 254))
                    .col(timestamp_with_time_zone(LinkedAccounts::LinkedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("linked_accounts_user_id_fkey")
                            .from(LinkedAccounts::Table, LinkedAccounts::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("linked_accounts_identity_key")
                    .table(LinkedAccounts::Table)
                    .col(LinkedAccounts::Provider)
                    .col(LinkedAccounts::ProviderUserId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("linked_accounts_user_id_idx")
                    .table(LinkedAccounts::Table)
                    .col(LinkedAccounts::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LinkedAccounts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum LinkedAccounts {
    Table,
    Id,
    UserId,
    Provider,
    ProviderUserId,
    Login,
    Email,
    LinkedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
