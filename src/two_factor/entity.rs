//! The `recovery_codes` table.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, DbErr};

use crate::db::find_owned;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "recovery_codes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub user_id: i32,
    pub code_hash: String,
    pub created_at: TimeDateTimeWithTimeZone,
    pub used_at: Option<TimeDateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

pub async fn count_unused(db: &impl ConnectionTrait, user_id: i32) -> Result<u64, DbErr> {
    find_owned::<Entity>(user_id)
        .filter(Column::UsedAt.is_null())
        .count(db)
        .await
}

impl crate::db::OwnedByUser for Entity {
    fn owner_column() -> Column {
        Column::UserId
    }
}
