//! The `linked_accounts` table and its queries, scoped to the owner where
//! a user acts.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, DbErr, QueryOrder as _};

use crate::db::find_owned;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "linked_accounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub user_id: i32,
    pub provider: String,
    pub provider_user_id: String,
    pub login: Option<String>,
    pub email: Option<String>,
    pub linked_at: TimeDateTimeWithTimeZone,
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

/// The index that makes an identity belong to one user only.
pub const IDENTITY_INDEX: &str = "linked_accounts_identity_key";

/// The link of this identity and its user, in one query.
pub async fn find_identity(
    db: &impl ConnectionTrait,
    provider: &str,
    provider_user_id: &str,
) -> Result<Option<(Model, Option<crate::accounts::entity::Model>)>, DbErr> {
    Entity::find()
        .filter(Column::Provider.eq(provider))
        .filter(Column::ProviderUserId.eq(provider_user_id))
        .find_also_related(crate::accounts::entity::Entity)
        .one(db)
        .await
}

pub async fn list_for_user(db: &impl ConnectionTrait, user_id: i32) -> Result<Vec<Model>, DbErr> {
    find_owned::<Entity>(user_id)
        .order_by_asc(Column::Provider)
        .order_by_asc(Column::Id)
        .all(db)
        .await
}

impl crate::db::OwnedByUser for Entity {
    fn owner_column() -> Column {
        Column::UserId
    }
}
