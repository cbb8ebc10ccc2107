//! The `passkeys` table and its queries, each scoped to the owner where a
//! user acts.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, DbErr, QueryOrder as _};

use crate::db::{delete_owned, find_owned, update_owned};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "passkeys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub user_id: i32,
    pub name: String,
    /// Base64url, as the browser names it.
    #[sea_orm(unique)]
    pub credential_id: String,
    /// The WebAuthn user id the authenticator holds for this account.
    pub user_handle: String,
    /// webauthn-rs's `Passkey`, as JSON.
    pub credential: String,
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub transports: String,
    pub created_at: TimeDateTimeWithTimeZone,
    pub last_used_at: Option<TimeDateTimeWithTimeZone>,
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

impl crate::db::OwnedByUser for Entity {
    fn owner_column() -> Column {
        Column::UserId
    }
}

/// `user_id`'s passkeys, newest first.
pub async fn list_for_user(db: &impl ConnectionTrait, user_id: i32) -> Result<Vec<Model>, DbErr> {
    find_owned::<Entity>(user_id)
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .all(db)
        .await
}

pub async fn count_for_user(db: &impl ConnectionTrait, user_id: i32) -> Result<u64, DbErr> {
    find_owned::<Entity>(user_id).count(db).await
}

/// `user_id`'s passkey `id`; None for another user's or a missing one.
pub async fn find_for_owner(
    db: &impl ConnectionTrait,
    user_id: i32,
    id: i32,
) -> Result<Option<Model>, DbErr> {
    find_owned::<Entity>(user_id)
        .filter(Column::Id.eq(id))
        .one(db)
        .await
}

/// The passkey with this credential id, whoever holds it: a discoverable
/// sign-in has only the credential to go on.
pub async fn find_by_credential_id(
    db: &impl ConnectionTrait,
    credential_id: &str,
) -> Result<Option<Model>, DbErr> {
    // `credential_id` is unique: no LIMIT (see `api_keys::find_by_hash`).
    Ok(Entity::find()
        .filter(Column::CredentialId.eq(credential_id))
        .all(db)
        .await?
        .pop())
}

/// Renames `user_id`'s passkey `id`; false when there is no such passkey
/// of theirs.
pub async fn rename(
    db: &impl ConnectionTrait,
    user_id: i32,
    id: i32,
    name: &str,
) -> Result<bool, DbErr> {
    let result = update_owned::<Entity>(user_id)
        .col_expr(Column::Name, Expr::value(name))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Deletes `user_id`'s passkey `id`; false when there is no such passkey
/// of theirs (or a parallel request deleted it first).
pub async fn delete(db: &impl ConnectionTrait, user_id: i32, id: i32) -> Result<bool, DbErr> {
    let result = delete_owned::<Entity>(user_id)
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Stores what a successful use changed: the credential's counter and
/// backup state, and when it was used.
pub async fn record_use(
    db: &impl ConnectionTrait,
    used: &Model,
    credential: String,
    sign_count: i64,
    backup_state: bool,
    now: TimeDateTimeWithTimeZone,
) -> Result<(), DbErr> {
    update_owned::<Entity>(used.user_id)
        .col_expr(Column::Credential, Expr::value(credential))
        .col_expr(Column::SignCount, Expr::value(sign_count))
        .col_expr(Column::BackupState, Expr::value(backup_state))
        .col_expr(Column::LastUsedAt, Expr::value(now))
        .filter(Column::Id.eq(used.id))
        .exec(db)
        .await?;
    Ok(())
}
