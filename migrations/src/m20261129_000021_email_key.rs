//! `email_key`: the email in NFC, lowercased by Unicode's rules (not
//! SQL's `lower()`, which SQLite applies to ASCII only), unique. Sign-up
//! and sign-in use it, so `ü@bücher.de` and `Ü@BÜCHER.DE`, or the
//! composed and decomposed `café@`, are one account. Existing rows are
//! backfilled here; an older account whose key another already has keeps
//! a key of its own (`#<id>` appended) and signs in by username.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::TryGetable as _;
use std::collections::HashSet;
use unicode_normalization::UnicodeNormalization as _;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The same rule as `accounts::entity::email_key`.
fn email_key(email: &str) -> String {
    let composed: String = email.nfc().collect();
    composed.to_lowercase().nfc().collect()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(string(Users::EmailKey).default(""))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let select = Query::select()
            .columns([Users::Id, Users::Email])
            .from(Users::Table)
            .order_by(Users::Id, Order::Asc)
            .to_owned();
        let rows = db.query_all(&select).await?;
        let mut taken = HashSet::new();
        for row in rows {
            let id = i32::try_get(&row, "", "id").map_err(|e| DbErr::Custom(format!("{e:?}")))?;
            let email =
                String::try_get(&row, "", "email").map_err(|e| DbErr::Custom(format!("{e:?}")))?;
            let mut key = email_key(&email);
            if !taken.insert(key.clone()) {
                key = format!("{key}#{id}");
            }
            manager
                .exec_stmt(
                    Query::update()
                        .table(Users::Table)
                        .value(Users::EmailKey, key)
                        .and_where(Expr::col(Users::Id).eq(id))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("users_email_key")
                    .table(Users::Table)
                    .col(Users::EmailKey)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("users_email_key")
                    .table(Users::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::EmailKey)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    EmailKey,
}
