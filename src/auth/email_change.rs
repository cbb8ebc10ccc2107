//! Asking to change the signed-in holder's address: the password
//! confirmed (a right one also counts as a recent confirmation), the new
//! address checked, at most three links an hour, then the link, the
//! notice and the event in one transaction (`accounts::email_change`).
//! Confirming the link is `verification::confirm`'s.

use sea_orm::TransactionTrait as _;

use super::sign_in::confirm_password;
use super::{AppState, ClientInfo, CurrentUser};
use crate::accounts::email_change;
use crate::accounts::entity as user;
use crate::accounts::forms::Email;
use crate::email::token::{self, Purpose};
use crate::error::{AppError, FormErrors};

/// What asking for a change came to.
pub enum ChangeRequest {
    /// A link went to the new address (or, when another account has it,
    /// nothing did: the answer is the same), a notice to the old one.
    Sent(String),
    /// Three links this hour already.
    TooSoon,
    /// Input a person can fix, by field.
    Invalid(FormErrors),
}

pub async fn request_change(
    app: &AppState<'_>,
    client: &ClientInfo,
    current: &CurrentUser,
    new_email: &str,
    password: &str,
) -> Result<ChangeRequest, AppError> {
    let account = &current.user;
    let mut errors = FormErrors::default();
    let email = errors.check("email", Email::parse(new_email));
    if let Some(email) = &email
        && user::email_key(email.as_str()) == account.email_key
    {
        errors.add("email", "That is already your address.");
    }
    if account.password_hash.is_none() {
        errors.add(
            "password",
            "Set a password first: changing the address needs it.",
        );
    } else if !confirm_password(app, client, current, password).await? {
        errors.add("password", "That password is not correct.");
    }
    let Some(email) = email.filter(|_| errors.is_empty()) else {
        return Ok(ChangeRequest::Invalid(errors));
    };
    let now = app.clock.now();
    let txn = app.db.begin().await?;
    // A write first: on SQLite a transaction that read before writing
    // fails if another wrote in between; this one waits its turn instead,
    // and two requests of one account count each other's links.
    user::lock_and_find(&txn, account.id).await?;
    if token::hourly_mails_used_up(&txn, now, account.id, Purpose::ChangeEmail).await? {
        return Ok(ChangeRequest::TooSoon);
    }
    email_change::request(&txn, app.config, now, client, account, &email).await?;
    crate::db::changes::commit(txn).await?;
    Ok(ChangeRequest::Sent(email.as_str().to_owned()))
}
