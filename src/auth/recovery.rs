//! Account recovery: asking for a password-reset link. The answer is the
//! same whether or not the address belongs to an account, so the form
//! cannot be used to learn who has one; only a known, active account gets
//! mail, at most three reset mails per address an hour, and each client
//! address may ask `rate_limits.password_reset_per_ip` times. The token
//! and the message carrying it are written in one transaction.
//!
//! Using a link sets the new password and, in the same transaction, marks
//! the link used, voids the account's other reset links, ends every session
//! and API token of the account, revokes its API keys, records the event
//! and queues a notice. It never signs in: two-factor authentication still
//! applies at the next sign-in.

use sea_orm::TransactionTrait as _;

use super::{AppState, ClientInfo};
use crate::accounts::entity as user;
use crate::accounts::password::{Password, check_new_password};
use crate::accounts::recovery;
use crate::accounts::service::change_password_hash;
use crate::email::token::Purpose;
use crate::email::{self, token};
use crate::error::{AppError, FormErrors};
use crate::security_log::{self, Event, EventKind};
use crate::sessions::store;

/// The least time a "forgot password" answer takes.
const ANSWER_FLOOR: std::time::Duration = std::time::Duration::from_millis(250);

const RESET_NOTICE: &str = include_str!("../../templates/email/password_was_reset.txt");

/// How using a reset link went.
pub enum ResetOutcome {
    /// The password was set; every session ended.
    Done,
    /// The new password breaks the policy; the link still works.
    Invalid(FormErrors),
}

/// Why an emailed link opens nothing: unknown, used, expired, for another
/// purpose, or sent before the password or address changed. One answer
/// for all, so the page cannot be used to tell them apart.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("the link does not work")]
    BadLink,
    #[error(transparent)]
    Failed(#[from] AppError),
}

impl From<sea_orm::DbErr> for LinkError {
    fn from(err: sea_orm::DbErr) -> Self {
        LinkError::Failed(err.into())
    }
}

impl From<token::TokenError> for LinkError {
    fn from(err: token::TokenError) -> Self {
        match err {
            token::TokenError::Db(e) => e.into(),
            _ => LinkError::BadLink,
        }
    }
}

/// The account a live reset link belongs to, checked against its state
/// now; a GET of the link calls this and changes nothing.
pub async fn open_link(
    app: &AppState<'_>,
    secret: &str,
) -> Result<(token::Model, user::Model), LinkError> {
    let row = token::find_live(
        app.db,
        app.config,
        app.clock.now(),
        secret,
        token::Purpose::PasswordReset,
    )
    .await?;
    let account = user::find_by_id(app.db, row.user_id)
        .await?
        .filter(|account| account.is_active)
        .ok_or(LinkError::BadLink)?;
    token::check_state(&row, &recovery::account_state(app.config, &account))?;
    Ok((row, account))
}

/// Sets a new password through the reset link `secret`.
pub async fn reset_password(
    app: &AppState<'_>,
    client: &ClientInfo,
    secret: &str,
    new_password: &str,
) -> Result<ResetOutcome, LinkError> {
    let (row, account) = open_link(app, secret).await?;
    let mut errors = FormErrors::default();
    let password = errors.check(
        "new_password",
        Password::parse_new(new_password, app.config.password_min_length),
    );
    if let Some(password) = &password
        && let Err(message) = check_new_password(password, &account.username, &account.email).await
    {
        errors.add("new_password", message);
    }
    let Some(password) = password.filter(|_| errors.is_empty()) else {
        return Ok(ResetOutcome::Invalid(errors));
    };
    let hash = app.hasher.hash(&password).await.map_err(AppError::from)?;
    let now = app.clock.now();
    let txn = app.db.begin().await?;
    // Of two requests racing with one link, exactly one gets past this.
    token::mark_used(&txn, now, &row).await?;
    token::void_all(&txn, now, account.id, token::Purpose::PasswordReset).await?;
    // A new credential version: a sign-in racing the reset with the old
    // password makes a session that is already dead.
    change_password_hash(&txn, account.id, hash, now).await?;
    let ended = store::delete_others(&txn, account.id, None).await?;
    let keys = crate::api_keys::entity::revoke_all(&txn, account.id, now).await?;
    let event = Event::new(account.id, EventKind::PasswordReset, client)
        .detail(serde_json::json!({ "sessions_ended": ended, "api_keys_revoked": keys }));
    security_log::record(&txn, now, event).await;
    let body = RESET_NOTICE
        .replace("{username}", &account.username)
        .replace("{site}", &app.config.site_name)
        .replace(
            "{forgot}",
            &format!("{}/password/forgot", app.config.public_url),
        );
    let subject = format!("{}: your password was reset", app.config.site_name);
    email::queue(&txn, now, &account.email, &subject, &body).await?;
    crate::db::changes::commit(txn).await?;
    Ok(ResetOutcome::Done)
}

/// Handles a "forgot password" request for `address`. Over the per-client
/// limit it is refused (429) whatever the address; otherwise it succeeds
/// with no sign of whether mail was sent.
pub async fn request_reset(
    app: &AppState<'_>,
    client: &ClientInfo,
    address: &str,
) -> Result<(), AppError> {
    let started = rocket::tokio::time::Instant::now();
    let now = app.clock.now();
    if let Some(ip) = client.ip_string() {
        let counter = [app.limiter.counter(
            "password_reset:ip",
            &ip,
            app.limiter.settings().password_reset_per_ip,
        )];
        if let Some(retry_after) = app.limiter.count_and_check(now, &counter).await? {
            return Err(AppError::TooManyRequests { retry_after });
        }
    }
    let sent = queue_if_known(app, now, address).await;
    // A known account costs a transaction more than an unknown address:
    // every answer leaves no sooner than ANSWER_FLOOR after the request
    // came, so its timing tells nothing either. (The wait holds no
    // connection.)
    rocket::tokio::time::sleep_until(started + ANSWER_FLOOR).await;
    sent
}

async fn queue_if_known(
    app: &AppState<'_>,
    now: time::OffsetDateTime,
    address: &str,
) -> Result<(), AppError> {
    // Only an address (with '@') is looked up: a username here finds nothing.
    let address = address.trim();
    if !address.contains('@') {
        return Ok(());
    }
    let Some(account) = user::find_by_login(app.db, address).await? else {
        return Ok(());
    };
    if !account.is_active {
        return Ok(());
    }
    let txn = app.db.begin().await?;
    if token::hourly_mails_used_up(&txn, now, account.id, Purpose::PasswordReset).await? {
        return Ok(());
    }
    recovery::queue_reset_mail(&txn, app.config, now, &account).await?;
    crate::db::changes::commit(txn).await?;
    Ok(())
}
