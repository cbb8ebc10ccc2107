//! The `refresh_tokens` table: the refresh tokens of a session made by the
//! password grant, the live one and those already rotated (kept, with
//! `used_at`, so that presenting one again is seen as reuse).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub session_id: i32,
    /// SHA-256 (hex) of the token the client holds.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// The scopes of the original grant, space-separated.
    pub scope: String,
    pub created_at: TimeDateTimeWithTimeZone,
    /// When it was exchanged for a new one; set means spent.
    pub used_at: Option<TimeDateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::entity::Entity",
        from = "Column::SessionId",
        to = "super::entity::Column::Id",
        on_delete = "Cascade"
    )]
    Session,
}

impl Related<super::entity::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Session.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
