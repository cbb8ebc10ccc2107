//! `email_key` by full Unicode case folding (canonical caseless match:
//! NFD, fold, NFC) instead of lowercasing, so `straße@x.de` and
//! `STRASSE@x.de` are one address. Keys are recomputed; when two accounts
//! now share one, the account already holding it (else the oldest) keeps
//! it, and the other keeps a key of its own (`#<id>` appended) and signs
//! in by username, as in `m20261129_000021`. Changed rows first take a
//! placeholder key, so no update meets the unique index halfway.

use sea_orm_migration::prelude::*;
use std::collections::HashSet;
use unicode_normalization::UnicodeNormalization as _;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The same rule as `accounts::entity::email_key`.
fn email_key(email: &str) -> String {
    let decomposed: String = email.trim().nfd().collect();
    caseless::default_case_fold_str(&decomposed).nfc().collect()
}

fn column<T: sea_orm_migration::sea_orm::TryGetable>(
    row: &sea_orm_migration::sea_orm::QueryResult,
    name: &str,
) -> Result<T, DbErr> {
    T::try_get(row, "", name).map_err(|e| DbErr::Custom(format!("{e:?}")))
}

async fn set_key(manager: &SchemaManager<'_>, id: i32, key: String) -> Result<(), DbErr> {
    manager
        .exec_stmt(
            Query::update()
                .table(Users::Table)
                .value(Users::EmailKey, key)
                .and_where(Expr::col(Users::Id).eq(id))
                .to_owned(),
        )
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let select = Query::select()
            .columns([Users::Id, Users::Email, Users::EmailKey])
            .from(Users::Table)
            .order_by(Users::Id, Order::Asc)
            .to_owned();
        let mut rows = Vec::new();
        for row in manager.get_connection().query_all(&select).await? {
            let id: i32 = column(&row, "id")?;
            let email: String = column(&row, "email")?;
            let old: String = column(&row, "email_key")?;
            rows.push((id, email_key(&email), old));
        }
        // Accounts whose key does not change claim it first.
        rows.sort_by_key(|(id, new, old)| (new != old, *id));
        let mut taken = HashSet::new();
        let mut changed = Vec::new();
        for (id, new, old) in rows {
            let key = if taken.insert(new.clone()) {
                new
            } else {
                format!("{new}#{id}")
            };
            if key != old {
                changed.push((id, key));
            }
        }
        for (id, _) in &changed {
            set_key(manager, *id, format!("#{id}")).await?;
        }
        for (id, key) in changed {
            set_key(manager, id, key).await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // Folded keys stay unique under the older rule's lookups too.
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    EmailKey,
}
