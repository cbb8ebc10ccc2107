//! Changing a signed-in user's password: the current one confirmed (see
//! `sign_in::confirm_password`), the policy, the new hash, every other
//! session ended, and the event.

use sea_orm::{DatabaseConnection, DbErr};
use time::OffsetDateTime;

use super::client::ClientInfo;
use crate::accounts::entity as user;
use crate::accounts::password::{Password, PasswordHasher, check_new_password};
use crate::accounts::service::set_password_hash;
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
    /// The session the change was made from, which stays signed in.
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
/// session of the user, and records it. Answers how many sessions ended.
pub async fn change_password(
    db: &DatabaseConnection,
    hasher: &PasswordHasher,
    now: OffsetDateTime,
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
    let hash = hasher.hash(&new_password).await.map_err(AppError::from)?;
    set_password_hash(db, user.id, hash, now).await?;
    let ended = store::delete_others(db, user.id, change.keep_session).await?;
    let keys = if change.revoke_api_keys {
        crate::api_keys::entity::revoke_all(db, user.id, now).await?
    } else {
        0
    };
    let event = Event::new(user.id, EventKind::PasswordChanged, client)
        .detail(serde_json::json!({ "other_sessions_ended": ended, "api_keys_revoked": keys }));
    security_log::record(db, now, event).await;
    Ok(ended)
}
