//! Account operations shared by the web forms, the API and the CLI:
//! registration with the full sign-up policy, passwords, deleting and
//! (de)activating accounts. Signing in is `auth::sign_in`'s.

use sea_orm::{
    ActiveModelTrait as _, ConnectionTrait, DatabaseConnection, DbErr, Set, TransactionTrait as _,
};
use time::OffsetDateTime;

use super::entity::{self as user, USERNAME_INDEX};
use super::forms::{Email, Username};
use super::password::{HashError, Password, PasswordHasher, check_new_password};
use super::verification;
use crate::config::AppConfig;
use crate::email::notice::{self, Notice};
use crate::error::{AppError, FormErrors};

/// What a new account is made from, as typed.
pub struct Registration<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    /// The `password_min_length` setting.
    pub min_password_length: usize,
    /// When set, the link to verify the address is queued in the
    /// account's own transaction: no account without its mail.
    pub verification_mail: Option<&'a AppConfig>,
}

/// Roles given at creation: none for sign-up, all for `createsuperuser`.
#[derive(Clone, Copy, Default)]
pub struct Roles {
    pub is_member: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Input a person can fix, by field.
    #[error("invalid input")]
    Invalid(FormErrors),
    /// The username or email belongs to someone else (decided by the
    /// database's unique indexes, so concurrent sign-ups cannot both win).
    #[error("already taken")]
    Taken(FormErrors),
    #[error(transparent)]
    Hashing(#[from] HashError),
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Only for callers that cannot show a form: its errors become a 400/409.
impl From<RegisterError> for AppError {
    fn from(err: RegisterError) -> Self {
        match err {
            RegisterError::Invalid(_) => AppError::BadRequest("That input is not valid."),
            RegisterError::Taken(_) => AppError::Conflict("That name or email is taken."),
            RegisterError::Hashing(e) => e.into(),
            RegisterError::Db(e) => AppError::Db(e),
            RegisterError::Internal(e) => AppError::Internal(e),
        }
    }
}

const TAKEN_USERNAME: &str = "That username is taken.";
const TAKEN_EMAIL: &str = "An account with this email already exists.";

pub async fn register(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    now: OffsetDateTime,
    input: Registration<'_>,
    roles: Roles,
) -> Result<user::Model, RegisterError> {
    // Every problem at once: each field is checked whatever the others say.
    let mut errors = FormErrors::default();
    let username = errors.check("username", Username::parse(input.username));
    let email = errors.check("email", Email::parse(input.email));
    let password = errors.check(
        "password",
        Password::parse_new(input.password, input.min_password_length),
    );
    if let Some(password) = &password
        && let Err(message) =
            check_new_password(password, input.username.trim(), input.email.trim()).await
    {
        errors.add("password", message);
    }
    let invalid = !errors.is_empty();
    if let Some(username) = &username
        && user::find_by_login(db, username.as_str()).await?.is_some()
    {
        errors.add("username", TAKEN_USERNAME);
    }
    if let Some(email) = &email
        && user::find_by_login(db, email.as_str()).await?.is_some()
    {
        errors.add("email", TAKEN_EMAIL);
    }
    let (Some(username), Some(email), Some(password), true) =
        (username, email, password, errors.is_empty())
    else {
        return Err(if invalid {
            RegisterError::Invalid(errors)
        } else {
            RegisterError::Taken(errors)
        });
    };
    let password_hash = hasher.hash(&password).await?;
    let txn = db.begin().await?;
    let inserted = user::ActiveModel {
        username: Set(username.as_str().to_owned()),
        email: Set(email.as_str().to_owned()),
        email_key: Set(user::email_key(email.as_str())),
        password_hash: Set(Some(password_hash)),
        is_active: Set(true),
        is_member: Set(roles.is_member),
        is_staff: Set(roles.is_staff || roles.is_superuser),
        is_superuser: Set(roles.is_superuser),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    match inserted {
        Ok(user) => {
            if let Some(config) = input.verification_mail {
                verification::queue_verify_mail(&txn, config, now, &user).await?;
            }
            crate::db::changes::commit(txn).await?;
            Ok(user)
        }
        Err(err) => match crate::db::unique_violation(&err) {
            Some(message) if message.contains(USERNAME_INDEX) => {
                errors.add("username", TAKEN_USERNAME);
                Err(RegisterError::Taken(errors))
            }
            Some(message) if user::is_email_taken(&message) => {
                errors.add("email", TAKEN_EMAIL);
                Err(RegisterError::Taken(errors))
            }
            _ => Err(err.into()),
        },
    }
}

pub async fn set_password_hash(
    db: &impl ConnectionTrait,
    user_id: i32,
    hash: String,
    now: OffsetDateTime,
) -> Result<(), DbErr> {
    user::ActiveModel {
        id: Set(user_id),
        password_hash: Set(Some(hash)),
        updated_at: Set(now),
        ..Default::default()
    }
    .update(db)
    .await?;
    crate::db::changes::changed();
    Ok(())
}

/// Sets a new password and bumps the credential version, which ends every
/// session made with the old one; answers the new version.
pub async fn change_password_hash(
    db: &impl ConnectionTrait,
    user_id: i32,
    hash: String,
    now: OffsetDateTime,
) -> Result<i32, DbErr> {
    use sea_orm::QuerySelect as _;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait as _, EntityTrait as _, ExprTrait as _, QueryFilter as _};
    user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(hash))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .col_expr(
            user::Column::CredentialVersion,
            Expr::col(user::Column::CredentialVersion).add(1),
        )
        .filter(user::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    crate::db::changes::changed();
    let version = user::Entity::find_by_id(user_id)
        .select_only()
        .column(user::Column::CredentialVersion)
        .into_tuple::<i32>()
        .one(db)
        .await?;
    version.ok_or_else(|| DbErr::RecordNotFound(format!("user {user_id}")))
}

pub async fn record_login(
    db: &DatabaseConnection,
    user_id: i32,
    now: OffsetDateTime,
) -> Result<(), DbErr> {
    user::ActiveModel {
        id: Set(user_id),
        last_login_at: Set(Some(now)),
        ..Default::default()
    }
    .update(db)
    .await?;
    crate::db::changes::changed();
    Ok(())
}

/// Sets the member and staff roles (a superuser stays one).
pub async fn set_roles(
    db: &DatabaseConnection,
    user_id: i32,
    is_member: bool,
    is_staff: bool,
    now: OffsetDateTime,
) -> Result<(), DbErr> {
    user::ActiveModel {
        id: Set(user_id),
        is_member: Set(is_member),
        is_staff: Set(is_staff),
        updated_at: Set(now),
        ..Default::default()
    }
    .update(db)
    .await?;
    crate::db::changes::changed();
    Ok(())
}

/// Why deleting or (de)activating an account was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountChangeError {
    #[error("no such user")]
    NotFound,
    #[error("the last active superuser cannot be removed")]
    LastSuperuser,
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl AccountChangeError {
    /// As an `AppError` whose refusal says `last_superuser` when that is
    /// the reason.
    pub fn saying(self, last_superuser: &'static str) -> AppError {
        match self {
            AccountChangeError::LastSuperuser => AppError::Conflict(last_superuser),
            other => other.into(),
        }
    }
}

impl From<AccountChangeError> for AppError {
    fn from(err: AccountChangeError) -> Self {
        match err {
            AccountChangeError::NotFound => AppError::NotFound,
            AccountChangeError::LastSuperuser => {
                AppError::Conflict("The last active superuser cannot be removed or deactivated.")
            }
            AccountChangeError::Db(e) => AppError::Db(e),
        }
    }
}

/// Deletes a user and, through the foreign keys' cascades, everything that
/// belongs to them (sessions, keys, ...), in one transaction that also
/// makes sure an active superuser remains.
pub async fn delete_user(db: &DatabaseConnection, user_id: i32) -> Result<(), AccountChangeError> {
    use sea_orm::EntityTrait as _;
    let txn = begin_superuser_safe(db, user_id, |user| user.is_superuser).await?;
    user::Entity::delete_by_id(user_id).exec(&txn).await?;
    crate::db::changes::commit(txn).await?;
    Ok(())
}

/// The holder deletes their own account: the notice is queued to its
/// address, then the row goes and everything it owns with it (sessions,
/// keys, links, codes, tokens, its security log), in one transaction that
/// refuses to remove the last active superuser. The security log goes
/// with the account, so the deletion is written to the server's log.
pub async fn delete_own_account(
    db: &DatabaseConnection,
    config: &AppConfig,
    now: OffsetDateTime,
    account: &user::Model,
) -> Result<(), AccountChangeError> {
    use sea_orm::EntityTrait as _;
    let txn = begin_superuser_safe(db, account.id, |user| user.is_superuser).await?;
    let notice = Notice::AccountDeleted;
    notice::queue(&txn, config, now, &account.email, &account.username, notice).await?;
    user::Entity::delete_by_id(account.id).exec(&txn).await?;
    crate::db::changes::commit(txn).await?;
    tracing::info!(user_id = account.id, "account deleted by its holder");
    Ok(())
}

/// Turns an account on or off, in a transaction that makes sure an active
/// superuser remains when a superuser is turned off.
pub async fn set_active(
    db: &DatabaseConnection,
    user_id: i32,
    active: bool,
    now: OffsetDateTime,
) -> Result<(), AccountChangeError> {
    use sea_orm::{ActiveModelTrait as _, Set};
    let txn = begin_superuser_safe(db, user_id, |user| user.is_superuser && !active).await?;
    user::ActiveModel {
        id: Set(user_id),
        is_active: Set(active),
        updated_at: Set(now),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    crate::db::changes::commit(txn).await?;
    Ok(())
}

/// Opens the transaction of a change to `user_id` that `removes_superuser`
/// says takes a superuser out of service: refused when no other active
/// superuser would remain. Commit it once the change is made.
pub async fn begin_superuser_safe(
    db: &DatabaseConnection,
    user_id: i32,
    removes_superuser: impl FnOnce(&user::Model) -> bool,
) -> Result<sea_orm::DatabaseTransaction, AccountChangeError> {
    use sea_orm::{EntityTrait as _, TransactionTrait as _};
    let txn = db.begin().await?;
    lock_superusers(&txn).await?;
    let user = user::Entity::find_by_id(user_id)
        .one(&txn)
        .await?
        .ok_or(AccountChangeError::NotFound)?;
    if removes_superuser(&user) {
        another_superuser_remains(&txn, user_id).await?;
    }
    Ok(txn)
}

/// The first statement of a transaction that may remove a superuser: a
/// write that changes nothing. On PostgreSQL it locks the active
/// superusers' rows until the transaction ends; on SQLite it takes the
/// database's write lock before anything is read. Either way two such
/// transactions take turns, and the second sees what the first did.
async fn lock_superusers(txn: &sea_orm::DatabaseTransaction) -> Result<(), DbErr> {
    use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, sea_query::Expr};
    user::Entity::update_many()
        .col_expr(
            user::Column::IsSuperuser,
            Expr::col(user::Column::IsSuperuser),
        )
        .filter(user::Column::IsSuperuser.eq(true))
        .filter(user::Column::IsActive.eq(true))
        .exec(txn)
        .await?;
    Ok(())
}

/// Refuses unless an active superuser other than `user_id` exists.
async fn another_superuser_remains(
    txn: &sea_orm::DatabaseTransaction,
    user_id: i32,
) -> Result<(), AccountChangeError> {
    use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, QuerySelect as _};
    let superusers: Vec<i32> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::IsSuperuser.eq(true))
        .filter(user::Column::IsActive.eq(true))
        .into_tuple()
        .all(txn)
        .await?;
    if superusers.iter().any(|&id| id != user_id) {
        Ok(())
    } else {
        Err(AccountChangeError::LastSuperuser)
    }
}

/// How a provider vouches for a new account's address.
pub struct ExternalEmail<'a> {
    pub address: &'a str,
    /// The provider says the address is verified: it counts as verified.
    pub verified: bool,
    /// Otherwise, when set, the verification link is queued in the
    /// account's transaction.
    pub verification_mail: Option<&'a AppConfig>,
}

/// Makes an account for someone arriving from an OAuth provider: no
/// password, the provider's email, and a username made from `login_hint`
/// (cleaned to the allowed characters, then `-2`, `-3`... until free).
/// The email must be free: `Taken` (on `email`) otherwise.
pub async fn register_external(
    db: &DatabaseConnection,
    now: OffsetDateTime,
    login_hint: &str,
    external: ExternalEmail<'_>,
) -> Result<user::Model, RegisterError> {
    let mut errors = FormErrors::default();
    let Some(email) = errors.check("email", Email::parse(external.address)) else {
        return Err(RegisterError::Invalid(errors));
    };
    let base = username_base(login_hint);
    let txn = db.begin().await?;
    for attempt in 1..=50 {
        let candidate = if attempt == 1 {
            base.clone()
        } else {
            let suffix = format!("-{attempt}");
            let keep = base.len().min(32 - suffix.len());
            format!("{}{suffix}", &base[..keep])
        };
        // A savepoint per try: on PostgreSQL a failed insert would
        // otherwise abort the whole transaction.
        let attempt = txn.begin().await?;
        let inserted = user::ActiveModel {
            username: Set(candidate),
            email: Set(email.as_str().to_owned()),
            email_key: Set(user::email_key(email.as_str())),
            email_verified_at: Set(external.verified.then_some(now)),
            password_hash: Set(None),
            is_active: Set(true),
            is_member: Set(false),
            is_staff: Set(false),
            is_superuser: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
            last_login_at: Set(None),
            ..Default::default()
        }
        .insert(&attempt)
        .await;
        match inserted {
            Ok(user) => {
                crate::db::changes::commit(attempt).await?;
                if let (false, Some(config)) = (external.verified, external.verification_mail) {
                    verification::queue_verify_mail(&txn, config, now, &user).await?;
                }
                crate::db::changes::commit(txn).await?;
                return Ok(user);
            }
            Err(err) => match crate::db::unique_violation(&err) {
                Some(message) if message.contains(USERNAME_INDEX) => continue,
                Some(message) if user::is_email_taken(&message) => {
                    errors.add("email", TAKEN_EMAIL);
                    return Err(RegisterError::Taken(errors));
                }
                _ => return Err(err.into()),
            },
        }
    }
    Err(RegisterError::Internal(anyhow::anyhow!(
        "no free username near `{base}`"
    )))
}

/// A valid username made from whatever a provider calls the person.
fn username_base(hint: &str) -> String {
    let local = hint.split('@').next().unwrap_or(hint);
    let mut cleaned: String = local
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        .take(32)
        .collect();
    if cleaned.len() < 3 {
        cleaned = format!("user{cleaned}");
    }
    cleaned
}

#[cfg(test)]
mod tests {
    use super::username_base;
    use crate::accounts::forms::Username;

    #[test]
    fn provider_logins_become_valid_usernames() {
        for (hint, expected) in [
            ("octocat", "octocat"),
            ("jane.doe@example.com", "jane.doe"),
            ("Émile Zola", "mileZola"),
            ("x", "userx"),
            ("", "user"),
        ] {
            let base = username_base(hint);
            assert_eq!(base, expected);
            assert!(Username::parse(&base).is_ok() || base.len() < 3 + 4);
        }
        assert_eq!(username_base(&"a".repeat(40)).len(), 32);
    }
}
