//! When a session last proved who holds it: its sign-in, or a later
//! confirmation (password, code or provider). Sensitive actions need this
//! to be within `reauth_minutes`. Nullable because SQLite cannot add a
//! column defaulting to another column; a session made before this
//! migration has none and is asked to confirm once.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(timestamp_with_time_zone_null(Sessions::ConfirmedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .drop_column(Sessions::ConfirmedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    ConfirmedAt,
}
