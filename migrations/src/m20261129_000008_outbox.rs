//! The outbox: every email is first a row here, inserted in the same
//! transaction as the change that causes it, then sent by the worker.
//! Times are Unix milliseconds. `next_attempt_at` is when the row may next
//! be claimed: a claim moves it a lease ahead, a failure moves it by the
//! backoff, so a claimed row is invisible to other instances until its
//! lease runs out. `sent_at` is set once the server accepted the message.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Outbox::Id))
                    .col(string_len(Outbox::ToAddress, 320))
                    .col(string_len(Outbox::Subject, 200))
                    .col(text(Outbox::BodyText))
                    .col(big_integer(Outbox::CreatedAt))
                    .col(big_integer(Outbox::NextAttemptAt))
                    .col(integer(Outbox::Attempts).default(0))
                    .col(big_integer_null(Outbox::SentAt))
                    .col(string_len_null(Outbox::LastError, 500))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("outbox_unsent_due_idx")
                    .table(Outbox::Table)
                    .col(Outbox::SentAt)
                    .col(Outbox::NextAttemptAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Outbox::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    ToAddress,
    Subject,
    BodyText,
    CreatedAt,
    NextAttemptAt,
    Attempts,
    SentAt,
    LastError,
}
