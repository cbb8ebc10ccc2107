//! Email verification: sign-up sends a link; opening it shows a page with
//! a button and changes nothing (mail scanners open links); pressing it
//! marks the address verified, uses the link and voids the account's other
//! verification links, in one transaction. A signed-in holder may ask for
//! the link again, at most three mails an hour.

use sea_orm::TransactionTrait as _;

use super::AppState;
use super::recovery::LinkError;
use crate::accounts::entity as user;
use crate::accounts::recovery::account_state;
use crate::accounts::verification::{self, MAILS_PER_ADDRESS_PER_HOUR};
use crate::email::token;
use crate::error::AppError;

/// What asking for the link again did.
pub enum Resend {
    Sent,
    AlreadyVerified,
    /// Three mails this hour already.
    TooSoon,
}

/// Queues the verification mail of a new account.
pub async fn send_after_sign_up(app: &AppState<'_>, account: &user::Model) -> Result<(), AppError> {
    let txn = app.db.begin().await?;
    verification::queue_verify_mail(&txn, app.config, app.clock.now(), account).await?;
    txn.commit().await?;
    Ok(())
}

/// The account a live verification link belongs to.
pub async fn open_link(
    app: &AppState<'_>,
    secret: &str,
) -> Result<(token::Model, user::Model), LinkError> {
    let row = token::find_live(
        app.db,
        app.config,
        app.clock.now(),
        secret,
        token::Purpose::VerifyEmail,
    )
    .await?;
    let account = user::find_by_id(app.db, row.user_id)
        .await?
        .filter(|account| account.is_active)
        .ok_or(LinkError::BadLink)?;
    token::check_state(&row, &account_state(app.config, &account))?;
    Ok((row, account))
}

/// Confirms the address the link `secret` was sent to.
pub async fn confirm(app: &AppState<'_>, secret: &str) -> Result<(), LinkError> {
    let (row, account) = open_link(app, secret).await?;
    let now = app.clock.now();
    let txn = app.db.begin().await?;
    token::mark_used(&txn, now, &row).await?;
    token::void_all(&txn, now, account.id, token::Purpose::VerifyEmail).await?;
    verification::mark_verified(&txn, account.id, now).await?;
    txn.commit().await?;
    Ok(())
}

/// Sends the signed-in holder's verification link again.
pub async fn resend(app: &AppState<'_>, account: &user::Model) -> Result<Resend, AppError> {
    if account.email_verified_at.is_some() {
        return Ok(Resend::AlreadyVerified);
    }
    let now = app.clock.now();
    let txn = app.db.begin().await?;
    if verification::sent_last_hour(&txn, now, account).await? >= MAILS_PER_ADDRESS_PER_HOUR {
        return Ok(Resend::TooSoon);
    }
    verification::queue_verify_mail(&txn, app.config, now, account).await?;
    txn.commit().await?;
    Ok(Resend::Sent)
}
