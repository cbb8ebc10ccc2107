//! The one design for links sent by email: password reset, address
//! verification and change of address. A link carries 32 random
//! bytes in base64url; the `email_tokens` row keeps only an HMAC of them
//! under a key derived for this use, so neither a copy of the table nor a
//! leaked log line of hashes opens anything. A token is bound to its
//! purpose and account, expires, is used at most once (one conditional
//! update, so two racing requests cannot both use it), and is void once
//! the account's password or address changes: the row stores an HMAC of
//! the state it was sent for, and the caller presents the current state.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{QuerySelect as _, Set};
use time::{Duration, OffsetDateTime};

use super::entity::millis;
use crate::config::AppConfig;
use crate::crypto::{constant_time_eq, hex, hmac_sha256};

const KEY_LABEL: &str = "email-token";

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_tokens")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i32,
    pub purpose: String,
    pub token_hash: String,
    pub state: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// For a change of address: the address the link was sent to, which
    /// confirming it makes the account's.
    pub new_email: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// What a link is for. A token sent for one purpose is refused for any
/// other.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Purpose {
    PasswordReset,
    VerifyEmail,
    ChangeEmail,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::PasswordReset => "password_reset",
            Purpose::VerifyEmail => "verify_email",
            Purpose::ChangeEmail => "change_email",
        }
    }
}

/// Why a presented token opens nothing. Pages show one answer for all of
/// them; the variants are for tests and the log.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no such link")]
    Unknown,
    #[error("link already used")]
    Used,
    #[error("link expired")]
    Expired,
    #[error("link void: the account changed since it was sent")]
    Stale,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The account state a link is bound to: its password hash and address
/// (any parts the caller names), each length-prefixed so that no two
/// different states hash alike.
pub fn state_of(config: &AppConfig, parts: &[&str]) -> String {
    let mut framed = Vec::new();
    for part in parts {
        framed.extend_from_slice(&(part.len() as u64).to_be_bytes());
        framed.extend_from_slice(part.as_bytes());
    }
    hex(&hmac_sha256(
        &config.derive_key(KEY_LABEL),
        &[b"state", &framed],
    ))
}

fn hash_token(config: &AppConfig, token: &str) -> String {
    hex(&hmac_sha256(
        &config.derive_key(KEY_LABEL),
        &[b"token", token.as_bytes()],
    ))
}

/// What a new token is for and bound to.
pub struct Issue<'a> {
    pub user_id: i32,
    pub purpose: Purpose,
    /// The account's state, from [`state_of`].
    pub state: &'a str,
    pub lifetime: Duration,
    /// Only for [`Purpose::ChangeEmail`].
    pub new_email: Option<&'a str>,
}

/// Stores a new token and returns the secret for the link. Call it in the
/// transaction that queues the message carrying it.
pub async fn issue<C: ConnectionTrait>(
    conn: &C,
    config: &AppConfig,
    now: OffsetDateTime,
    new: Issue<'_>,
) -> Result<String, DbErr> {
    let Issue {
        user_id,
        purpose,
        state,
        lifetime,
        new_email,
    } = new;
    let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    ActiveModel {
        user_id: Set(user_id),
        purpose: Set(purpose.as_str().to_owned()),
        token_hash: Set(hash_token(config, &token)),
        state: Set(state.to_owned()),
        created_at: Set(millis(now)),
        expires_at: Set(millis(now + lifetime)),
        used_at: Set(None),
        new_email: Set(new_email.map(str::to_owned)),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(token)
}

/// The live token row for `token` and `purpose`, without using it (a GET
/// shows the form for a link that works, a 400 for one that does not).
/// `current_state` is the account's state now, from the same parts as at
/// issue; the caller looks it up from the returned row's `user_id`, so
/// this returns the row and the caller checks with [`check_state`].
pub async fn find_live<C: ConnectionTrait>(
    conn: &C,
    config: &AppConfig,
    now: OffsetDateTime,
    token: &str,
    purpose: Purpose,
) -> Result<Model, TokenError> {
    find_live_for(conn, config, now, token, &[purpose]).await
}

/// [`find_live`] for a link that may serve any of `purposes` (one page
/// confirms both a new account's address and a change of address).
pub async fn find_live_for<C: ConnectionTrait>(
    conn: &C,
    config: &AppConfig,
    now: OffsetDateTime,
    token: &str,
    purposes: &[Purpose],
) -> Result<Model, TokenError> {
    // A token is 43 base64url characters; anything else cannot match, and
    // is refused before it costs a query.
    if token.len() != 43 || URL_SAFE_NO_PAD.decode(token).is_err() {
        return Err(TokenError::Unknown);
    }
    let row = Entity::find()
        .filter(Column::TokenHash.eq(hash_token(config, token)))
        .one(conn)
        .await?
        .ok_or(TokenError::Unknown)?;
    if !purposes
        .iter()
        .any(|purpose| row.purpose == purpose.as_str())
    {
        return Err(TokenError::Unknown);
    }
    if row.used_at.is_some() {
        return Err(TokenError::Used);
    }
    if row.expires_at <= millis(now) {
        return Err(TokenError::Expired);
    }
    Ok(row)
}

/// Refuses a token whose account changed (password or address) since it
/// was sent.
pub fn check_state(row: &Model, current_state: &str) -> Result<(), TokenError> {
    if constant_time_eq(row.state.as_bytes(), current_state.as_bytes()) {
        Ok(())
    } else {
        Err(TokenError::Stale)
    }
}

/// Uses the token: succeeds for exactly one caller, however many race.
pub async fn mark_used<C: ConnectionTrait>(
    conn: &C,
    now: OffsetDateTime,
    row: &Model,
) -> Result<(), TokenError> {
    let result = Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(millis(now)))
        .filter(Column::Id.eq(row.id))
        .filter(Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    if result.rows_affected == 1 {
        Ok(())
    } else {
        Err(TokenError::Used)
    }
}

/// Voids every unused token of `purpose` for `user_id` (after a reset, the
/// other reset links sent before it).
pub async fn void_all<C: ConnectionTrait>(
    conn: &C,
    now: OffsetDateTime,
    user_id: i32,
    purpose: Purpose,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(millis(now)))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Purpose.eq(purpose.as_str()))
        .filter(Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Links of one purpose mailed to one account per hour, at most: reset,
/// verification and change-of-address mails alike.
const MAILS_PER_HOUR: u64 = 3;

/// Whether `user_id` was already mailed [`MAILS_PER_HOUR`] links of
/// `purpose` in the hour before `now`.
pub async fn hourly_mails_used_up<C: ConnectionTrait>(
    conn: &C,
    now: OffsetDateTime,
    user_id: i32,
    purpose: Purpose,
) -> Result<bool, DbErr> {
    let since = now - time::Duration::hours(1);
    let sent = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Purpose.eq(purpose.as_str()))
        .filter(Column::CreatedAt.gte(millis(since)))
        .count(conn)
        .await?;
    Ok(sent >= MAILS_PER_HOUR)
}
