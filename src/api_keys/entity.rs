//! The `api_keys` table and its queries, each scoped to the owner where a
//! user acts.

use sea_orm::entity::prelude::*;
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, QueryOrder as _, QueryTrait as _, SelectTwo, SelectTwoModel,
    SelectorTrait as _, Set, Statement,
};

use crate::db::changes::{self, Memo};
use crate::db::{PrebuiltSql, find_owned, update_owned};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub user_id: i32,
    pub name: String,
    pub prefix: String,
    #[sea_orm(unique)]
    pub key_hash: String,
    pub scopes: String,
    pub created_at: TimeDateTimeWithTimeZone,
    pub expires_at: Option<TimeDateTimeWithTimeZone>,
    pub last_used_at: Option<TimeDateTimeWithTimeZone>,
    pub last_used_ip: Option<String>,
    pub revoked_at: Option<TimeDateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "crate::accounts::entity::Entity",
        from = "Column::UserId",
        to = "crate::accounts::entity::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<crate::accounts::entity::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn is_usable(&self, now: TimeDateTimeWithTimeZone) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

/// Keys with their owners, remembered by the key's hash (see
/// `db::changes`).
pub type KnownKeys = Memo<(Model, crate::accounts::entity::Model)>;

/// The key with this hash and its owner: one query, or none when `memo`
/// remembers them.
pub async fn find_by_hash(
    db: &impl ConnectionTrait,
    memo: &KnownKeys,
    hash: &str,
) -> Result<Option<(Model, Option<crate::accounts::entity::Model>)>, DbErr> {
    if let Some((key, user)) = memo.get(hash) {
        return Ok(Some((key, Some(user))));
    }
    let ticket = memo.ticket();
    let statement = by_hash_statement(db.get_database_backend(), hash);
    let Some(row) = db.query_all_raw(statement).await?.pop() else {
        return Ok(None);
    };
    let (key, user) =
        SelectTwoModel::<Model, crate::accounts::entity::Model>::from_raw_query_result(row)?;
    if let (Some(ticket), Some(user)) = (ticket, &user) {
        memo.keep(hash.to_owned(), ticket, (key.clone(), user.clone()));
    }
    Ok(Some((key, user)))
}

/// The lookup of an API request's key, with its owner. `key_hash` is
/// unique: no LIMIT, which SeaORM's `.one()` would bind as a parameter and
/// SQLite would then plan anew on every request.
fn by_hash_query(hash: &str) -> SelectTwo<Entity, crate::accounts::entity::Entity> {
    Entity::find()
        .filter(Column::KeyHash.eq(hash))
        .find_also_related(crate::accounts::entity::Entity)
}

/// [`by_hash_query`], its SQL built once per backend: it runs on every
/// request made with a key.
fn by_hash_statement(backend: DbBackend, hash: &str) -> Statement {
    static SQL: PrebuiltSql = PrebuiltSql::new();
    SQL.statement(
        backend,
        || by_hash_query(hash).build(backend).sql,
        [hash.into()],
    )
}

pub async fn list_for_user(db: &impl ConnectionTrait, user_id: i32) -> Result<Vec<Model>, DbErr> {
    find_owned::<Entity>(user_id)
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .all(db)
        .await
}

pub async fn count_unrevoked_for_user(
    db: &impl ConnectionTrait,
    user_id: i32,
) -> Result<u64, DbErr> {
    find_owned::<Entity>(user_id)
        .filter(Column::RevokedAt.is_null())
        .count(db)
        .await
}

/// Revokes key `id` if `user_id` owns it and it is not revoked yet, and
/// returns it. None means there is no such key of theirs, which callers
/// answer with 404.
pub async fn revoke(
    db: &impl ConnectionTrait,
    user_id: i32,
    id: i32,
    now: TimeDateTimeWithTimeZone,
) -> Result<Option<Model>, DbErr> {
    let result = update_owned::<Entity>(user_id)
        .col_expr(Column::RevokedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    changes::changed();
    if result.rows_affected == 0 {
        return Ok(None);
    }
    find_owned::<Entity>(user_id)
        .filter(Column::Id.eq(id))
        .one(db)
        .await
}

/// Revokes every unrevoked key of `user_id`; answers how many.
pub async fn revoke_all(
    db: &impl ConnectionTrait,
    user_id: i32,
    now: TimeDateTimeWithTimeZone,
) -> Result<u64, DbErr> {
    let result = update_owned::<Entity>(user_id)
        .col_expr(Column::RevokedAt, Expr::value(now))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    changes::changed();
    Ok(result.rows_affected)
}

/// Records that `key` (of `owner`) was used at `now` from `ip`. Not
/// counted as a change: the remembered copy is brought up to date instead.
pub async fn record_use(
    db: &impl ConnectionTrait,
    memo: &KnownKeys,
    mut key: Model,
    owner: crate::accounts::entity::Model,
    now: TimeDateTimeWithTimeZone,
    ip: Option<String>,
) -> Result<(), DbErr> {
    ActiveModel {
        id: Set(key.id),
        last_used_at: Set(Some(now)),
        last_used_ip: Set(ip.clone()),
        ..Default::default()
    }
    .update(db)
    .await?;
    key.last_used_at = Some(now);
    key.last_used_ip = ip;
    memo.replace(&key.key_hash.clone(), (key, owner));
    Ok(())
}

impl crate::db::OwnedByUser for Entity {
    fn owner_column() -> Column {
        Column::UserId
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prebuilt_key_lookup_is_the_query_seaorm_builds() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            // Twice: the first builds the SQL, the second reuses it.
            for hash in ["one hash", "another"] {
                assert_eq!(
                    by_hash_statement(backend, hash),
                    by_hash_query(hash).build(backend)
                );
            }
        }
    }
}
