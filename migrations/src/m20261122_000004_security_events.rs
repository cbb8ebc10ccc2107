//! The security log: what happened to an account, when, from where, and
//! (for staff actions) by whom. Events go with their user; an actor who is
//! deleted leaves the event, without the name. Listing is per user, newest
//! first, hence the index; the retention sweep deletes by `created_at`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SecurityEvents::Table)
                    .if_not_exists()
                    .col(pk_auto(SecurityEvents::Id))
                    .col(integer(SecurityEvents::UserId))
                    .col(string_len(SecurityEvents::Kind, 40))
                    .col(timestamp_with_time_zone(SecurityEvents::CreatedAt))
                    .col(string_len_null(SecurityEvents::Ip, 64))
                    .col(string_len_null(SecurityEvents::UserAgent, 512))
                    .col(integer_null(SecurityEvents::ActorId))
                    // A small JSON object, e.g. {"provider": "github"}.
                    .col(text_null(SecurityEvents::Detail))
                    .foreign_key(
                        ForeignKey::create()
                            .name("security_events_user_id_fkey")
                            .from(SecurityEvents::Table, SecurityEvents::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("security_events_actor_id_fkey")
                            .from(SecurityEvents::Table, SecurityEvents::ActorId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("security_events_user_created_idx")
                    .table(SecurityEvents::Table)
                    .col(SecurityEvents::UserId)
                    .col(SecurityEvents::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("security_events_created_at_idx")
                    .table(SecurityEvents::Table)
                    .col(SecurityEvents::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SecurityEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum SecurityEvents {
    Table,
    Id,
    UserId,
    Kind,
    CreatedAt,
    Ip,
    UserAgent,
    ActorId,
    Detail,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
