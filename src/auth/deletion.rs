//! The holder deleting their own account: the username typed out and the
//! password (a right one also counts as a recent confirmation; an account
//! made through a provider, which has none, types its username only and
//! must have confirmed within the reauthentication window), then
//! `accounts::service::delete_own_account`, and the browser signed out.

use rocket::http::CookieJar;

use super::sign_in::confirm_password;
use super::{AppState, ClientInfo, CurrentUser, reauth, session};
use crate::accounts::service::{self, AccountChangeError};
use crate::error::{AppError, FormErrors};

/// What asking to delete the account came to.
pub enum Deletion {
    Deleted,
    /// Input a person can fix, by field (`confirm`, `delete_password`).
    Invalid(FormErrors),
    /// The last active superuser cannot go.
    LastSuperuser(FormErrors),
    /// No password to confirm with and no recent confirmation: confirm
    /// at `/account/confirm` first.
    ConfirmFirst,
}

pub async fn delete_account(
    app: &AppState<'_>,
    client: &ClientInfo,
    cookies: &CookieJar<'_>,
    current: &CurrentUser,
    typed_username: &str,
    password: &str,
) -> Result<Deletion, AppError> {
    let account = &current.user;
    if account.password_hash.is_none() && !reauth::is_recent(app.config, app.clock.now(), current) {
        return Ok(Deletion::ConfirmFirst);
    }
    let mut errors = FormErrors::default();
    if typed_username.trim() != account.username {
        errors.add("confirm", "Type your username exactly to confirm.");
    }
    if account.password_hash.is_some() && !confirm_password(app, client, current, password).await? {
        errors.add("delete_password", "That password is not correct.");
    }
    if !errors.is_empty() {
        return Ok(Deletion::Invalid(errors));
    }
    match service::delete_own_account(app.db, app.config, app.clock.now(), account).await {
        Ok(()) => {}
        Err(AccountChangeError::LastSuperuser) => {
            return Ok(Deletion::LastSuperuser(FormErrors::single(
                "confirm",
                "You are the last active superuser: make someone else a superuser first.",
            )));
        }
        Err(other) => return Err(other.into()),
    }
    session::forget(app.config, cookies);
    Ok(Deletion::Deleted)
}
