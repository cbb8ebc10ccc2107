//! Change of address: a `change_email` link carries the address it would
//! switch the account to. The address is not secret (it is where the link
//! was sent); it is also part of the state the link is bound to, so the
//! row cannot be edited to point the change elsewhere.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(EmailTokens::Table)
                    .add_column(string_len_null(EmailTokens::NewEmail, 254))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(EmailTokens::Table)
                    .drop_column(EmailTokens::NewEmail)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum EmailTokens {
    Table,
    NewEmail,
}
