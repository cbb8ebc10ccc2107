//! The `sessions` table: one row per sign-in, browser or API token.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Shown on pages and in the API, and used to revoke; not a credential.
    #[sea_orm(unique)]
    pub public_id: String,
    /// SHA-256 (hex) of the secret the client holds.
    #[sea_orm(unique)]
    pub token_hash: String,
    pub user_id: i32,
    pub kind: String,
    pub remember: bool,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: TimeDateTimeWithTimeZone,
    pub last_seen_at: TimeDateTimeWithTimeZone,
    pub expires_at: TimeDateTimeWithTimeZone,
    /// The user's `credential_version` when the password that made this
    /// session was checked.
    pub credential_version: i32,
    /// The last time its holder proved who they are: the sign-in, or a
    /// confirmation since. Sensitive actions need it within
    /// `reauth_minutes`; None (a session older than the column) is stale.
    pub confirmed_at: Option<TimeDateTimeWithTimeZone>,
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

/// How a session was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    Browser,
    Api,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Browser => "browser",
            SessionKind::Api => "api",
        }
    }
}

impl crate::db::OwnedByUser for Entity {
    fn owner_column() -> Column {
        Column::UserId
    }
}
