//! Email verification: sign-up sends a link; opening it shows a page with
//! a button and changes nothing (mail scanners open links); pressing it
//! marks the address verified, uses the link and voids the account's other
//! verification links, in one transaction. A signed-in holder may ask for
//! the link again, at most three mails an hour. With
//! `email_verification = "mandatory"` an unverified account that gave the
//! right password at sign-in is not signed in; a private cookie naming it
//! for fifteen minutes lets the sign-in page's button send the link again.

use rocket::http::CookieJar;
use sea_orm::TransactionTrait as _;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::ClientInfo;
use super::recovery::LinkError;
use super::{AppState, cookies};
use crate::accounts::email_change::{self, ApplyError};
use crate::accounts::entity as user;
use crate::accounts::recovery::account_state;
use crate::accounts::verification;
use crate::config::{AppConfig, EmailVerification};
use crate::email::token;
use crate::email::token::Purpose;
use crate::error::AppError;

/// What asking for the link again did.
pub enum Resend {
    Sent,
    AlreadyVerified,
    /// Three mails this hour already.
    TooSoon,
    /// `email_verification = "off"`: no verification mail is sent.
    Off,
    /// Neither signed in nor refused at sign-in for want of verification
    /// in the last fifteen minutes.
    NoAccount,
}

const COOKIE: &str = "gatehouse_unverified";
const COOKIE_LIFETIME: Duration = Duration::minutes(15);

#[derive(Serialize, Deserialize)]
struct Unverified {
    user_id: i32,
    expires_at: i64,
}

/// Remembers, in this browser, the unverified account whose right password
/// was just refused, so that it may ask for its link again.
pub fn remember_refused(
    cookies: &CookieJar<'_>,
    config: &AppConfig,
    now: OffsetDateTime,
    user_id: i32,
) {
    let value = Unverified {
        user_id,
        expires_at: (now + COOKIE_LIFETIME).unix_timestamp(),
    };
    let mut cookie = cookies::build(
        config,
        COOKIE,
        serde_json::to_string(&value).expect("two numbers serialize"),
    );
    cookie.set_max_age(COOKIE_LIFETIME);
    cookies.add_private(cookie);
}

/// Sends the link again to the account refused at sign-in in this
/// browser (see [`remember_refused`]).
pub async fn resend_after_refusal(
    app: &AppState<'_>,
    cookies: &CookieJar<'_>,
) -> Result<Resend, AppError> {
    let remembered = cookies
        .get_private(&cookies::name(app.config, COOKIE))
        .and_then(|cookie| serde_json::from_str::<Unverified>(cookie.value()).ok())
        .filter(|value| value.expires_at > app.clock.now().unix_timestamp());
    let Some(remembered) = remembered else {
        return Ok(Resend::NoAccount);
    };
    match user::find_by_id(app.db, remembered.user_id).await? {
        Some(account) if account.is_active => resend(app, &account).await,
        _ => Ok(Resend::NoAccount),
    }
}

/// A live link confirming an address: a new account's, or the new one of
/// a change of address.
pub struct OpenLink {
    row: token::Model,
    account: user::Model,
}

impl OpenLink {
    /// The address the link confirms.
    pub fn address(&self) -> &str {
        self.row.new_email.as_deref().unwrap_or(&self.account.email)
    }
}

/// The account a live verification or change-of-address link belongs to.
pub async fn open_link(app: &AppState<'_>, secret: &str) -> Result<OpenLink, LinkError> {
    let purposes = [token::Purpose::VerifyEmail, token::Purpose::ChangeEmail];
    let row = token::find_live_for(app.db, app.config, app.clock.now(), secret, &purposes).await?;
    let account = user::find_by_id(app.db, row.user_id)
        .await?
        .filter(|account| account.is_active)
        .ok_or(LinkError::BadLink)?;
    let state = match row.new_email.as_deref() {
        Some(new_email) => email_change::change_state(app.config, &account, new_email),
        None => account_state(app.config, &account),
    };
    token::check_state(&row, &state)?;
    Ok(OpenLink { row, account })
}

/// What confirming a link did.
pub enum Confirmed {
    Verified,
    /// The account's address is now this one.
    Changed(String),
}

/// Confirms the address the link `secret` was sent to: marks it verified,
/// or applies the change of address it carries, using the link in the
/// same transaction.
pub async fn confirm(
    app: &AppState<'_>,
    client: &ClientInfo,
    secret: &str,
) -> Result<Confirmed, LinkError> {
    let OpenLink { row, account } = open_link(app, secret).await?;
    let now = app.clock.now();
    let txn = app.db.begin().await?;
    token::mark_used(&txn, now, &row).await?;
    let confirmed = if row.new_email.is_some() {
        match email_change::apply(&txn, app.config, now, client, &account, &row).await {
            Ok(address) => Confirmed::Changed(address),
            // Taken by another account since: the link opens nothing.
            Err(ApplyError::Taken) => return Err(LinkError::BadLink),
            Err(ApplyError::Db(e)) => return Err(e.into()),
        }
    } else {
        token::void_all(&txn, now, account.id, token::Purpose::VerifyEmail).await?;
        verification::mark_verified(&txn, account.id, now).await?;
        Confirmed::Verified
    };
    crate::db::changes::commit(txn).await?;
    Ok(confirmed)
}

/// Sends the signed-in holder's verification link again.
pub async fn resend(app: &AppState<'_>, account: &user::Model) -> Result<Resend, AppError> {
    if app.config.email_verification == EmailVerification::Off {
        return Ok(Resend::Off);
    }
    if account.email_verified_at.is_some() {
        return Ok(Resend::AlreadyVerified);
    }
    let now = app.clock.now();
    let txn = app.db.begin().await?;
    // A write first (see `accounts::entity::lock_and_find`): reading the
    // count, then writing, would fail on SQLite if another wrote between.
    user::lock_and_find(&txn, account.id).await?;
    if token::hourly_mails_used_up(&txn, now, account.id, Purpose::VerifyEmail).await? {
        return Ok(Resend::TooSoon);
    }
    verification::queue_verify_mail(&txn, app.config, now, account).await?;
    crate::db::changes::commit(txn).await?;
    Ok(Resend::Sent)
}
