//! Rate-limit counters shared by every instance: one row per key and
//! window, bumped by an atomic upsert. Keys hold a hash of the subject (an
//! account, an address), never the subject itself. Old windows are swept
//! by `expires_at`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RateLimitCounters::Table)
                    .if_not_exists()
                    .col(string_len(RateLimitCounters::Key, 64))
                    // Unix seconds at the start of the window.
                    .col(big_integer(RateLimitCounters::WindowStart))
                    .col(integer(RateLimitCounters::Hits))
                    .col(big_integer(RateLimitCounters::ExpiresAt))
                    .primary_key(
                        Index::create()
                            .col(RateLimitCounters::Key)
                            .col(RateLimitCounters::WindowStart),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("rate_limit_counters_expires_at_idx")
                    .table(RateLimitCounters::Table)
                    .col(RateLimitCounters::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RateLimitCounters::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RateLimitCounters {
    Table,
    Key,
    WindowStart,
    Hits,
    ExpiresAt,
}
