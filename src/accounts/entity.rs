//! The `users` table and the queries on it.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ConnectionTrait, DbErr, ExprTrait as _};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub username: String,
    pub email: String,
    /// argon2id PHC string; None for an account made through OAuth.
    pub password_hash: Option<String>,
    pub is_active: bool,
    pub is_member: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
    pub last_login_at: Option<TimeDateTimeWithTimeZone>,
    /// The TOTP secret, AEAD-encrypted (see `two_factor::totp`).
    pub totp_secret: Option<String>,
    /// A secret shown at setup and not yet confirmed with a code.
    pub totp_pending_secret: Option<String>,
    /// Set while two-factor authentication is on.
    pub totp_enabled_at: Option<TimeDateTimeWithTimeZone>,
    /// The last TOTP time step accepted, so no code is accepted twice.
    pub totp_last_step: Option<i64>,
}

/// The one place roles imply each other: a superuser counts as staff, and
/// staff count as members. Everything that asks about a role asks here
/// (and SQL that counts staff uses [`STAFF_SQL`]).
impl Model {
    pub fn has_two_factor(&self) -> bool {
        self.totp_enabled_at.is_some()
    }

    pub fn counts_as_staff(&self) -> bool {
        self.is_staff || self.is_superuser
    }

    pub fn counts_as_member(&self) -> bool {
        self.is_member || self.counts_as_staff()
    }
}

/// [`Model::counts_as_staff`] as an SQL condition, for aggregates.
pub const STAFF_SQL: &str = "is_staff OR is_superuser";

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The unique indexes behind "already taken" (see the users migration).
pub const USERNAME_INDEX: &str = "users_username_lower_key";
pub const EMAIL_INDEX: &str = "users_email_lower_key";

/// The user whose username or email is `login`, ignoring case. A username
/// cannot contain `@` and an email must, so at most one user matches.
pub async fn find_by_login(db: &impl ConnectionTrait, login: &str) -> Result<Option<Model>, DbErr> {
    let column = if login.contains('@') {
        Column::Email
    } else {
        Column::Username
    };
    Entity::find()
        .filter(Expr::expr(Func::lower(Expr::col(column))).eq(Func::lower(Expr::val(login))))
        .one(db)
        .await
}

pub async fn find_by_id(db: &impl ConnectionTrait, id: i32) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id).one(db).await
}

/// One page of users whose username or email contains `query` (ignoring
/// case), ordered by id, and the total number of matches.
pub async fn search(
    db: &impl ConnectionTrait,
    query: &str,
    page: u64,
    per_page: u64,
) -> Result<(Vec<Model>, u64), DbErr> {
    use sea_orm::sea_query::LikeExpr;
    use sea_orm::{PaginatorTrait as _, QueryOrder as _};
    let mut select = Entity::find().order_by_asc(Column::Id);
    let query = query.trim();
    if !query.is_empty() {
        // `%`, `_` and the escape itself are literal in the search text.
        let escaped = query
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = || LikeExpr::new(format!("%{escaped}%")).escape('\\');
        select = select.filter(
            Expr::expr(Func::lower(Expr::col(Column::Username)))
                .like(pattern())
                .or(Expr::expr(Func::lower(Expr::col(Column::Email))).like(pattern())),
        );
    }
    let paginator = select.paginate(db, per_page);
    let total = paginator.num_items().await?;
    let users = paginator.fetch_page(page).await?;
    Ok((users, total))
}
