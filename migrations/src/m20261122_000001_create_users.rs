//! Users. Username and email keep the case the person typed, but are unique
//! case-insensitively: expression indexes on `lower(..)` let the database,
//! not a racy SELECT before INSERT, decide which of two concurrent sign-ups
//! wins. SQLite and PostgreSQL both support them with the same syntax.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(pk_auto(Users::Id))
                    .col(string_len(Users::Username, 32))
                    .col(string_len(Users::Email, 254))
                    // NULL for accounts created through an OAuth provider.
                    .col(string_null(Users::PasswordHash))
                    .col(boolean(Users::IsActive).default(true))
                    .col(boolean(Users::IsMember).default(false))
                    .col(boolean(Users::IsStaff).default(false))
                    .col(boolean(Users::IsSuperuser).default(false))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Users::LastLoginAt))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username))",
        )
        .await?;
        db.execute_unprepared("CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email))")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    Email,
    PasswordHash,
    IsActive,
    IsMember,
    IsStaff,
    IsSuperuser,
    CreatedAt,
    UpdatedAt,
    LastLoginAt,
}
