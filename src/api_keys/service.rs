//! Creating and revoking keys, with the rules on names, scopes, expiry
//! and how many a user may hold; each is recorded in the security log.

use sea_orm::{ActiveModelTrait as _, DatabaseConnection, Set, TransactionTrait as _};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::entity as api_key;
use super::key;
use super::scope::Scopes;
use crate::accounts::entity as user;
use crate::client::ClientInfo;
use crate::config::AppConfig;
use crate::email::notice::{self, Notice};
use crate::error::{AppError, FormErrors};
use crate::security_log::{self, Event, EventKind};

/// More than this many live keys is a sign of keys not being revoked.
const MAX_KEYS_PER_USER: u64 = 50;
const MAX_NAME_LEN: usize = 64;
const EXPIRY_CHOICES: [i64; 3] = [30, 90, 365];

/// A new key as asked for on the form.
pub struct NewKey<'a> {
    pub name: &'a str,
    /// `read`, `write`.
    pub scopes: &'a [&'a str],
    /// 30, 90, 365, or empty / `none` for a key that does not expire.
    pub expires_days: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// Input a person can fix, by field.
    #[error("invalid input")]
    Invalid(FormErrors),
    #[error(transparent)]
    Failed(#[from] AppError),
}

impl From<sea_orm::DbErr> for CreateError {
    fn from(err: sea_orm::DbErr) -> Self {
        CreateError::Failed(err.into())
    }
}

/// Makes a key for `account`, recorded and told to the holder by mail in
/// the key's transaction. The key itself is in the answer only.
pub async fn create(
    db: &DatabaseConnection,
    config: &AppConfig,
    now: OffsetDateTime,
    client: &ClientInfo,
    account: &user::Model,
    input: &NewKey<'_>,
) -> Result<key::NewKey, CreateError> {
    let user_id = account.id;
    let mut errors = FormErrors::default();
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        errors.add(
            "name",
            format!("Give the key a name of 1 to {MAX_NAME_LEN} characters."),
        );
    }
    let scopes = errors.check(
        "scopes",
        Scopes::from_names(input.scopes.iter().copied()).ok_or("Choose read, write or both."),
    );
    let expires_days = match input.expires_days {
        "" | "none" => None,
        text => match text.parse::<i64>() {
            Ok(days) if EXPIRY_CHOICES.contains(&days) => Some(days),
            _ => {
                errors.add("expires_days", "Choose 30, 90 or 365 days, or no expiry.");
                None
            }
        },
    };
    if api_key::count_unrevoked_for_user(db, user_id).await? >= MAX_KEYS_PER_USER {
        errors.add(
            "name",
            format!("You have {MAX_KEYS_PER_USER} keys; revoke some before creating more."),
        );
    }
    let Some(scopes) = scopes.filter(|_| errors.is_empty()) else {
        return Err(CreateError::Invalid(errors));
    };
    let new_key = key::generate();
    let txn = db.begin().await?;
    api_key::ActiveModel {
        user_id: Set(user_id),
        name: Set(name.to_owned()),
        prefix: Set(new_key.prefix.clone()),
        key_hash: Set(new_key.hash.clone()),
        scopes: Set(scopes.to_string()),
        created_at: Set(now),
        expires_at: Set(expires_days.map(|days| now + Duration::days(days))),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let event = Event::new(user_id, EventKind::ApiKeyCreated, client)
        .detail(json!({ "name": name, "key": new_key.prefix, "scopes": scopes.to_string() }));
    security_log::record(&txn, now, event).await;
    let notice = Notice::ApiKeyCreated { name };
    notice::queue(&txn, config, now, &account.email, &account.username, notice).await?;
    crate::db::changes::commit(txn).await?;
    Ok(new_key)
}

/// Revokes `user_id`'s key `id`; false when there is no such key of
/// theirs (or it already was revoked).
pub async fn revoke(
    db: &DatabaseConnection,
    now: OffsetDateTime,
    client: &ClientInfo,
    user_id: i32,
    id: i32,
) -> Result<bool, AppError> {
    let Some(revoked) = api_key::revoke(db, user_id, id, now).await? else {
        return Ok(false);
    };
    let event = Event::new(user_id, EventKind::ApiKeyRevoked, client)
        .detail(json!({ "name": revoked.name, "key": revoked.prefix }));
    security_log::record(db, now, event).await;
    Ok(true)
}
