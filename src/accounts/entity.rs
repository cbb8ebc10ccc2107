//! The `users` table and the queries on it.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{Condition, ConnectionTrait, DbErr, ExprTrait as _, QuerySelect as _};

use crate::db::changes;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub username: String,
    pub email: String,
    /// [`email_key`] of `email`: unique, and what sign-in looks up.
    pub email_key: String,
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
    /// Bumped by every password change; a session made with another
    /// version is dead (see `sessions::store::find_live`).
    pub credential_version: i32,
    /// When the holder confirmed the address by an emailed link.
    pub email_verified_at: Option<TimeDateTimeWithTimeZone>,
}

/// The one place roles imply each other: a superuser counts as staff, and
/// staff count as members. Everything that asks about a role asks here
/// (and SQL that counts staff, in [`counts`], uses `STAFF_SQL`).
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
const STAFF_SQL: &str = "is_staff OR is_superuser";

/// How many users there are, and how many of them are active, members,
/// staff (superusers included) and using two-factor authentication.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub users: i64,
    pub active: i64,
    pub members: i64,
    pub staff: i64,
    pub two_factor: i64,
}

/// [`Counts`], in one aggregate query.
pub async fn counts(db: &impl ConnectionTrait) -> Result<Counts, DbErr> {
    let count_where = |condition: &str| {
        Expr::cust(format!(
            "COALESCE(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END), 0)"
        ))
    };
    let (users, active, members, staff, two_factor) = Entity::find()
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), "users")
        .column_as(count_where("is_active"), "active")
        .column_as(count_where("is_member"), "members")
        .column_as(count_where(STAFF_SQL), "staff")
        .column_as(count_where("totp_enabled_at IS NOT NULL"), "two_factor")
        .into_tuple::<(i64, i64, i64, i64, i64)>()
        .one(db)
        .await?
        .unwrap_or_default();
    Ok(Counts {
        users,
        active,
        members,
        staff,
        two_factor,
    })
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The unique indexes behind "already taken" (see the users migration).
pub const USERNAME_INDEX: &str = "users_username_lower_key";
pub const EMAIL_INDEX: &str = "users_email_lower_key";

/// Whether a unique violation's message is about the email: the old
/// `lower(email)` index, or `email_key` (SQLite names the column,
/// PostgreSQL the index `users_email_key`).
pub fn is_email_taken(message: &str) -> bool {
    message.contains(EMAIL_INDEX) || message.contains("email_key")
}

/// The key that makes two spellings of one email one account: Unicode's
/// canonical caseless match (NFD, full case folding, then NFC to store),
/// not SQL's `lower()` (ASCII-only on SQLite) nor `to_lowercase` (which
/// leaves `ß` apart from `SS`). `ü@bücher.de` and `Ü@BÜCHER.DE`,
/// `straße@x.de` and `STRASSE@x.de`, or a composed and a decomposed `café@`,
/// have one key.
pub fn email_key(email: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    let decomposed: String = email.trim().nfd().collect();
    caseless::default_case_fold_str(&decomposed).nfc().collect()
}

/// The user whose username or email is `login`, ignoring case. A username
/// cannot contain `@` and an email must, so at most one user matches.
pub async fn find_by_login(db: &impl ConnectionTrait, login: &str) -> Result<Option<Model>, DbErr> {
    // Emails are looked up by their key, as they are kept unique.
    if login.contains('@') {
        return Entity::find()
            .filter(Column::EmailKey.eq(email_key(login)))
            .one(db)
            .await;
    }
    Entity::find()
        .filter(
            Expr::expr(Func::lower(Expr::col(Column::Username))).eq(Func::lower(Expr::val(login))),
        )
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

// The two-factor columns: written only through these, by `two_factor`'s
// service, each a conditional UPDATE so concurrent requests cannot both win.

/// Accepts TOTP `step` for `user_id` only if it is newer than the last
/// accepted one.
pub async fn claim_totp_step(
    db: &impl ConnectionTrait,
    user_id: i32,
    step: i64,
) -> Result<bool, DbErr> {
    let claimed = Entity::update_many()
        .col_expr(Column::TotpLastStep, Expr::value(step))
        .filter(Column::Id.eq(user_id))
        .filter(
            Condition::any()
                .add(Column::TotpLastStep.is_null())
                .add(Column::TotpLastStep.lt(step)),
        )
        .exec(db)
        .await?;
    changes::changed();
    Ok(claimed.rows_affected == 1)
}

/// Keeps `sealed` as the secret being set up, replacing any earlier one.
pub async fn set_pending_totp_secret(
    db: &impl ConnectionTrait,
    user_id: i32,
    sealed: String,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::TotpPendingSecret, Expr::value(sealed))
        .filter(Column::Id.eq(user_id))
        .exec(db)
        .await?;
    changes::changed();
    Ok(())
}

/// Turns two-factor authentication on with the pending secret `sealed`,
/// only if that is still the pending one and it is not on yet; `step` is
/// the step its confirming code used.
pub async fn enable_totp(
    db: &impl ConnectionTrait,
    user_id: i32,
    sealed: &str,
    step: i64,
    now: TimeDateTimeWithTimeZone,
) -> Result<bool, DbErr> {
    let enabled = Entity::update_many()
        .col_expr(Column::TotpSecret, Expr::value(sealed))
        .col_expr(
            Column::TotpPendingSecret,
            Expr::value(Option::<String>::None),
        )
        .col_expr(Column::TotpEnabledAt, Expr::value(now))
        .col_expr(Column::TotpLastStep, Expr::value(step))
        .filter(Column::Id.eq(user_id))
        .filter(Column::TotpPendingSecret.eq(sealed))
        .filter(Column::TotpEnabledAt.is_null())
        .exec(db)
        .await?;
    changes::changed();
    Ok(enabled.rows_affected == 1)
}

/// Turns two-factor authentication off and forgets its secrets.
pub async fn clear_totp(db: &impl ConnectionTrait, user_id: i32) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::TotpSecret, Expr::value(Option::<String>::None))
        .col_expr(
            Column::TotpPendingSecret,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            Column::TotpEnabledAt,
            Expr::value(Option::<TimeDateTimeWithTimeZone>::None),
        )
        .filter(Column::Id.eq(user_id))
        .exec(db)
        .await?;
    changes::changed();
    Ok(())
}

/// The first statement of a transaction that reads `user_id`'s row to
/// decide a change: a write that changes nothing. A row lock on
/// PostgreSQL, the write lock on SQLite, so two such transactions take
/// turns. Then the row, if it still exists.
pub async fn lock_and_find(
    db: &impl ConnectionTrait,
    user_id: i32,
) -> Result<Option<Model>, DbErr> {
    Entity::update_many()
        .col_expr(Column::UpdatedAt, Expr::col(Column::UpdatedAt))
        .filter(Column::Id.eq(user_id))
        .exec(db)
        .await?;
    Entity::find_by_id(user_id).one(db).await
}

pub async fn delete_by_id(db: &impl ConnectionTrait, user_id: i32) -> Result<(), DbErr> {
    Entity::delete_by_id(user_id).exec(db).await?;
    changes::changed();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::email_key;

    #[test]
    fn spellings_of_one_address_share_a_key() {
        for (a, b) in [
            ("straße@x.de", "STRASSE@x.de"),
            ("Ü@BÜCHER.DE", "ü@bücher.de"),
            ("cafe\u{301}@x.fr", "CAFÉ@X.FR"),
            ("ﬁx@x.org", "FIX@x.org"),
            ("ΣΊΣΥΦΟΣ@x.gr", "σίσυφος@x.gr"),
        ] {
            assert_eq!(email_key(a), email_key(b), "{a} / {b}");
        }
        assert_ne!(email_key("a@x.de"), email_key("b@x.de"));
        assert_eq!(email_key("STRASSE@X.DE"), "strasse@x.de");
    }
}
