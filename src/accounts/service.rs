//! Account operations shared by the web forms, the CLI and (later) the API:
//! registration with the full sign-up policy, and password sign-in.

use sea_orm::{ActiveModelTrait as _, DatabaseConnection, DbErr, Set};
use time::OffsetDateTime;

use super::entity::{self as user, EMAIL_INDEX, USERNAME_INDEX};
use super::forms::{Email, Username};
use super::password::{HashError, Password, PasswordHasher, check_new_password};
use crate::error::AppError;
use crate::rate_limit::{Counter, Turn};
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::forms::FormErrors;

/// What a new account is made from, as typed.
pub struct Registration<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
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

pub async fn register(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    now: OffsetDateTime,
    input: Registration<'_>,
    roles: Roles,
) -> Result<user::Model, RegisterError> {
    let mut errors = FormErrors::default();
    let username = errors.check("username", Username::parse(input.username));
    let email = errors.check("email", Email::parse(input.email));
    let password = errors.check("password", Password::parse_new(input.password));
    let (Some(username), Some(email), Some(password)) = (username, email, password) else {
        return Err(RegisterError::Invalid(errors));
    };
    if let Err(message) = check_new_password(&password, username.as_str(), email.as_str()).await {
        errors.add("password", message);
        return Err(RegisterError::Invalid(errors));
    }
    let password_hash = hasher.hash(&password).await?;
    let inserted = user::ActiveModel {
        username: Set(username.as_str().to_owned()),
        email: Set(email.as_str().to_owned()),
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
    .insert(db)
    .await;
    match inserted {
        Ok(user) => Ok(user),
        Err(err) => match crate::db::unique_violation(&err) {
            Some(message) if message.contains(USERNAME_INDEX) => {
                errors.add("username", "That username is taken.");
                Err(RegisterError::Taken(errors))
            }
            Some(message) if message.contains(EMAIL_INDEX) => {
                errors.add("email", "An account with this email already exists.");
                Err(RegisterError::Taken(errors))
            }
            _ => Err(err.into()),
        },
    }
}

/// What a password sign-in attempt came to.
pub enum SignInAttempt {
    Success(user::Model),
    /// Wrong login or password, with no hint of which; `account` is the
    /// existing account the login named, for the security log only.
    Failed {
        account: Option<user::Model>,
    },
    /// Too many failures for this account or address: the password was not
    /// checked.
    Limited {
        retry_after: u64,
    },
}

/// The failed-sign-in counters of an account (or typed login) and address.
fn sign_in_counters(app: &AppState<'_>, client: &ClientInfo, subject: &str) -> Vec<Counter> {
    let limits = app.limiter.settings();
    let mut counters =
        vec![
            app.limiter
                .counter("sign_in:account", subject, limits.sign_in_per_account),
        ];
    if let Some(ip) = client.ip_string() {
        counters.push(
            app.limiter
                .counter("sign_in:ip", &ip, limits.sign_in_per_ip),
        );
    }
    counters
}

/// Counts a sign-up attempt against the client's address, through the form
/// or a provider; over the limit it is refused (429). Every attempt counts,
/// so sign-up cannot be used to probe for taken names at speed either.
pub async fn count_sign_up(app: &AppState<'_>, client: &ClientInfo) -> Result<(), AppError> {
    let Some(ip) = client.ip_string() else {
        return Ok(());
    };
    let counter = [app
        .limiter
        .counter("sign_up:ip", &ip, app.limiter.settings().sign_up_per_ip)];
    match app
        .limiter
        .count_and_check(app.clock.now(), &counter)
        .await?
    {
        Some(retry_after) => Err(AppError::TooManyRequests { retry_after }),
        None => Ok(()),
    }
}

/// Checks a signed-in user's password before a sensitive change (a new
/// password, ending sessions, two-factor settings). It is a password check
/// like any other: refused while the account or address is over the
/// sign-in limit, and a wrong answer counts against it.
pub async fn confirm_password(
    app: &AppState<'_>,
    client: &ClientInfo,
    account: &user::Model,
    input: &str,
) -> Result<bool, AppError> {
    let counters = sign_in_counters(app, client, &format!("user:{}", account.id));
    let _turn = app.limiter.take_turn(&counters).await;
    let now = app.clock.now();
    if let Some(retry_after) = app.limiter.check(now, &counters).await? {
        return Err(AppError::TooManyRequests { retry_after });
    }
    let matched = match Password::for_sign_in(input) {
        Some(password) => {
            app.hasher
                .verify(&password, account.password_hash.as_deref())
                .await?
        }
        None => false,
    };
    if !matched {
        app.limiter.hit(now, &counters).await?;
    }
    Ok(matched)
}

/// Before a second factor is checked (the password already was): waits for
/// this instance's turn on the account's and the address's sign-in
/// counters, and refuses while either is over its limit, so neither many
/// pending sign-ins nor parallel requests bring more guesses. Hold the
/// turn until a failure is counted with [`count_sign_in_failure`].
pub async fn second_factor_turn(
    app: &AppState<'_>,
    client: &ClientInfo,
    account: &user::Model,
) -> Result<Turn, AppError> {
    let counters = sign_in_counters(app, client, &format!("user:{}", account.id));
    let turn = app.limiter.take_turn(&counters).await;
    match app.limiter.check(app.clock.now(), &counters).await? {
        Some(retry_after) => Err(AppError::TooManyRequests { retry_after }),
        None => Ok(turn),
    }
}

/// Counts a failure that came after the password, such as a wrong `otp` at
/// the token endpoint, against the same limits as a wrong password.
pub async fn count_sign_in_failure(
    app: &AppState<'_>,
    client: &ClientInfo,
    account: &user::Model,
) -> Result<(), AppError> {
    let counters = sign_in_counters(app, client, &format!("user:{}", account.id));
    app.limiter.hit(app.clock.now(), &counters).await?;
    Ok(())
}

/// Signs in with a username or email and a password, for the sign-in form
/// and the token endpoint alike. Failures count against the account (or,
/// for an unknown login, the login as typed, so unknown accounts are
/// limited the same way) and the client address; while either is over its
/// limit, the password is not even verified. An unknown login costs a
/// verification against a dummy hash, so timing does not tell either.
pub async fn sign_in_with_password(
    app: &AppState<'_>,
    client: &ClientInfo,
    login: &str,
    password: &str,
) -> Result<SignInAttempt, AppError> {
    let now = app.clock.now();
    let login = login.trim();
    let user = if login.is_empty() || login.len() > 254 {
        None
    } else {
        user::find_by_login(app.db, login).await?
    };
    let subject = match &user {
        Some(user) => format!("user:{}", user.id),
        None => format!("login:{}", login.to_lowercase()),
    };
    let counters = sign_in_counters(app, client, &subject);
    let _turn = app.limiter.take_turn(&counters).await;
    if let Some(retry_after) = app.limiter.check(now, &counters).await? {
        return Ok(SignInAttempt::Limited { retry_after });
    }
    let stored = user
        .as_ref()
        .filter(|u| u.is_active)
        .and_then(|u| u.password_hash.clone());
    let verified = match Password::for_sign_in(password) {
        Some(password) => app
            .hasher
            .verify(&password, stored.as_deref())
            .await?
            .then_some(password),
        None => None,
    };
    let (Some(password), Some(user)) = (verified, user.clone()) else {
        app.limiter.hit(now, &counters).await?;
        return Ok(SignInAttempt::Failed { account: user });
    };
    if stored.is_some_and(|hash| app.hasher.needs_rehash(&hash)) {
        let rehashed = app.hasher.hash(&password).await?;
        set_password_hash(app.db, user.id, rehashed, now).await?;
    }
    Ok(SignInAttempt::Success(user))
}

pub async fn set_password_hash(
    db: &DatabaseConnection,
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
    Ok(())
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

/// Deletes a user and, through the foreign keys' cascades, everything that
/// belongs to them (sessions, keys, ...), in one transaction that also
/// makes sure an active superuser remains.
pub async fn delete_user(db: &DatabaseConnection, user_id: i32) -> Result<(), AccountChangeError> {
    use sea_orm::EntityTrait as _;
    let txn = begin_superuser_safe(db, user_id, |user| user.is_superuser).await?;
    user::Entity::delete_by_id(user_id).exec(&txn).await?;
    txn.commit().await?;
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
    txn.commit().await?;
    Ok(())
}

/// Opens the transaction of a change to `user_id` that `removes_superuser`
/// says takes a superuser out of service: refused when no other active
/// superuser would remain. Commit it once the change is made.
async fn begin_superuser_safe(
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

/// Makes an account for someone arriving from an OAuth provider: no
/// password, the provider's email, and a username made from `login_hint`
/// (cleaned to the allowed characters, then `-2`, `-3`... until free).
/// The email must be free: `Taken` (on `email`) otherwise.
pub async fn register_external(
    db: &DatabaseConnection,
    now: OffsetDateTime,
    login_hint: &str,
    email: &str,
) -> Result<user::Model, RegisterError> {
    let mut errors = FormErrors::default();
    let Some(email) = errors.check("email", Email::parse(email)) else {
        return Err(RegisterError::Invalid(errors));
    };
    let base = username_base(login_hint);
    for attempt in 1..=50 {
        let candidate = if attempt == 1 {
            base.clone()
        } else {
            let suffix = format!("-{attempt}");
            let keep = base.len().min(32 - suffix.len());
            format!("{}{suffix}", &base[..keep])
        };
        let inserted = user::ActiveModel {
            username: Set(candidate),
            email: Set(email.as_str().to_owned()),
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
        .insert(db)
        .await;
        match inserted {
            Ok(user) => return Ok(user),
            Err(err) => match crate::db::unique_violation(&err) {
                Some(message) if message.contains(USERNAME_INDEX) => continue,
                Some(message) if message.contains(EMAIL_INDEX) => {
                    errors.add("email", "An account with this email already exists.");
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

/// Completes a browser sign-in, whatever proved who the person is (a
/// password, a provider, a second factor): a new session and its cookie,
/// `last_login_at`, a `sign_in` security event, and the sentence to greet
/// them with, which tells of failed attempts on the account since their
/// previous sign-in.
pub async fn finish_sign_in(
    app: &AppState<'_>,
    cookies: &rocket::http::CookieJar<'_>,
    client: &ClientInfo,
    user: &user::Model,
    remember: bool,
    method: &str,
) -> Result<String, AppError> {
    use crate::security_log::{self, Event, EventKind};
    let now = app.clock.now();
    crate::sessions::sign_in(
        app.db, app.config, app.clock, cookies, client, user.id, remember,
    )
    .await?;
    record_login(app.db, user.id, now).await?;
    security_log::record(
        app.db,
        now,
        Event::new(user.id, EventKind::SignIn, client)
            .detail(serde_json::json!({ "method": method })),
    )
    .await;
    let since = user.last_login_at.unwrap_or(user.created_at);
    let failures = security_log::entity::recent_of_kind(
        app.db,
        user.id,
        EventKind::SignInFailed.as_str(),
        since,
    )
    .await?;
    let mut greeting = format!("Signed in as {}.", user.username);
    if let Some(latest) = failures.first() {
        let from = latest.ip.as_deref().unwrap_or("an unknown address");
        let attempts = match failures.len() {
            1 => "1 failed attempt".to_owned(),
            n => format!("{n} failed attempts"),
        };
        greeting.push_str(&format!(
            " Since your last sign-in there were {attempts} to sign in to your account, the latest from {from}. If that was not you, see your security log."
        ));
    }
    Ok(greeting)
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
