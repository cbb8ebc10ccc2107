//! Changing a signed-in user's password: the current one confirmed (see
//! `sign_in::confirm_password`), the policy, the new hash and credential
//! version, every other session ended (those racing the change too: their
//! version is the old one), the current one renewed, the event and the
//! notice mailed to the account, in one transaction.

use rocket::http::CookieJar;
use sea_orm::{DbErr, TransactionTrait as _};

use super::client::ClientInfo;
use super::state::AppState;
use crate::accounts::entity as user;
use crate::accounts::password::{Password, check_new_password};
use crate::accounts::service::change_password_hash;
use crate::email::notice::{self, Notice};
use crate::error::{AppError, FormErrors};
use crate::security_log::{self, Event, EventKind};
use crate::sessions::store;

/// A request to change a signed-in user's password.
pub struct PasswordChange<'a> {
    /// Whether the current password was confirmed (or there is none).
    pub confirmed: bool,
    pub new_password: &'a str,
    /// The `password_min_length` setting.
    pub min_password_length: usize,
    /// Also revoke every API key of the account.
    pub revoke_api_keys: bool,
    /// The session the change was made from, which stays signed in under
    /// a new id and secret.
    pub keep_session: Option<i32>,
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    /// Input a person can fix, by field.
    #[error("invalid input")]
    Invalid(FormErrors),
    #[error(transparent)]
    Failed(#[from] AppError),
}

impl From<DbErr> for PasswordChangeError {
    fn from(err: DbErr) -> Self {
        PasswordChangeError::Failed(err.into())
    }
}

/// Sets a new password (checked against the policy), ends every other
/// session of the user, renews the browser's own, and records it. Answers
/// how many sessions ended.
pub async fn change_password(
    app: &AppState<'_>,
    cookies: &CookieJar<'_>,
    client: &ClientInfo,
    user: &user::Model,
    change: PasswordChange<'_>,
) -> Result<u64, PasswordChangeError> {
    let mut errors = FormErrors::default();
    if !change.confirmed {
        errors.add("current_password", "Your current password is not correct.");
    }
    let new_password = errors.check(
        "new_password",
        Password::parse_new(change.new_password, change.min_password_length),
    );
    if let Some(password) = &new_password
        && let Err(message) = check_new_password(password, &user.username, &user.email).await
    {
        errors.add("new_password", message);
    }
    let Some(new_password) = new_password.filter(|_| errors.is_empty()) else {
        return Err(PasswordChangeError::Invalid(errors));
    };
    let now = app.clock.now();
    let hash = app
        .hasher
        .hash(&new_password)
        .await
        .map_err(AppError::from)?;
    // The new password, the sessions it ends, the event and the notice
    // commit together; the browser's new cookie is handed out once they
    // have.
    let txn = app.db.begin().await?;
    let version = change_password_hash(&txn, user.id, hash, now).await?;
    let renewed = match change.keep_session {
        Some(keep) => store::renew(&txn, keep, version).await?,
        None => None,
    };
    let ended = store::delete_others(&txn, user.id, change.keep_session).await?;
    let keys = if change.revoke_api_keys {
        crate::api_keys::entity::revoke_all(&txn, user.id, now).await?
    } else {
        0
    };
    let event = Event::new(user.id, EventKind::PasswordChanged, client)
        .detail(serde_json::json!({ "other_sessions_ended": ended, "api_keys_revoked": keys }));
    security_log::record(&txn, now, event).await;
    let notice = Notice::PasswordChanged;
    notice::queue(&txn, app.config, now, &user.email, &user.username, notice).await?;
    crate::db::changes::commit(txn).await?;
    if let Some(issued) = renewed {
        super::session::hand_out(app.config, cookies, &issued);
    }
    Ok(ended)
}
