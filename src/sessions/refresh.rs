//! Refresh tokens: issuing one for a session, rotating it, and reuse
//! detection (RFC 9700 §4.14, OAuth 2.1 §4.3.1).
//!
//! Security rules: the client holds 32 random bytes, the table their
//! SHA-256. A token is good once: exchanging it marks it used (a
//! conditional update, so of two racing exchanges only one wins) and
//! issues the next one in the same transaction. Presenting a used token
//! means two parties hold the family, so the whole session ends, its
//! access tokens with it, and the event is recorded. A token lives exactly
//! as long as its session (idle and absolute limits, credential version).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, DatabaseConnection, DbErr, EntityTrait as _,
    QueryFilter as _, Set, TransactionTrait as _,
};
use serde_json::json;
use time::OffsetDateTime;

use super::entity as session;
use super::refresh_token as row;
use super::store::{self, SessionRef};
use crate::accounts::entity as user;
use crate::api_keys::scope::Scopes;
use crate::client::ClientInfo;
use crate::config::AppConfig;
use crate::security_log::{self, Event, EventKind};

/// Refresh tokens longer than this are refused unread (ours are 43).
pub const MAX_LEN: usize = 256;

/// A new refresh token for `session_id` with the grant's `scope`; answers
/// the token, which exists only here and in the client.
pub async fn issue(
    db: &impl sea_orm::ConnectionTrait,
    now: OffsetDateTime,
    session_id: i32,
    scope: &str,
) -> Result<String, DbErr> {
    let secret = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    row::ActiveModel {
        session_id: Set(session_id),
        token_hash: Set(store::hash_secret(&secret)),
        scope: Set(scope.to_owned()),
        created_at: Set(now),
        used_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(secret)
}

/// What presenting a refresh token came to.
pub enum Rotation {
    /// The token was good: it is spent now, and `secret` replaces it.
    Rotated(Box<Rotated>),
    /// The token had been used before: its session has ended.
    Reused,
    /// Unknown, or its session is no longer live.
    Invalid,
    /// It asked for scopes the original grant did not have; still good.
    ScopeTooWide,
}

pub struct Rotated {
    pub session: session::Model,
    pub user: user::Model,
    /// The scopes of the new access token: those asked for, else the
    /// original grant's.
    pub scopes: Scopes,
    pub secret: String,
}

/// Exchanges `presented` for a new refresh token of the same session,
/// and an access token with the `wanted` scopes (at most the original
/// grant's; RFC 6749 §6).
pub async fn rotate(
    db: &DatabaseConnection,
    config: &AppConfig,
    now: OffsetDateTime,
    client: &ClientInfo,
    presented: &str,
    wanted: Option<Scopes>,
) -> Result<Rotation, DbErr> {
    let Some(token) = find(db, presented).await? else {
        return Ok(Rotation::Invalid);
    };
    if token.used_at.is_some() {
        end_reused(db, now, client, token.session_id).await?;
        return Ok(Rotation::Reused);
    }
    let Some(granted) = Scopes::parse(&token.scope) else {
        return Ok(Rotation::Invalid);
    };
    let scopes = wanted.unwrap_or(granted);
    if (scopes.read && !granted.read) || (scopes.write && !granted.write) {
        return Ok(Rotation::ScopeTooWide);
    }
    let Some((session, user)) =
        store::read_live(db, config, now, SessionRef::Id(token.session_id)).await?
    else {
        return Ok(Rotation::Invalid);
    };
    let txn = db.begin().await?;
    let spent = row::Entity::update_many()
        .col_expr(row::Column::UsedAt, Some(now).into())
        .filter(row::Column::Id.eq(token.id))
        .filter(row::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if spent.rows_affected != 1 {
        // Another request exchanged it first: two holders, as with reuse.
        txn.rollback().await?;
        end_reused(db, now, client, token.session_id).await?;
        return Ok(Rotation::Reused);
    }
    let secret = issue(&txn, now, session.id, &token.scope).await?;
    crate::db::changes::commit(txn).await?;
    Ok(Rotation::Rotated(Box::new(Rotated {
        session,
        user,
        scopes,
        secret,
    })))
}

/// The session `presented` belongs to, live or not, if it is one of ours.
pub async fn session_of(
    db: &DatabaseConnection,
    presented: &str,
) -> Result<Option<session::Model>, DbErr> {
    let Some(token) = find(db, presented).await? else {
        return Ok(None);
    };
    session::Entity::find_by_id(token.session_id).one(db).await
}

async fn find(db: &DatabaseConnection, presented: &str) -> Result<Option<row::Model>, DbErr> {
    if presented.is_empty() || presented.len() > MAX_LEN {
        return Ok(None);
    }
    row::Entity::find()
        .filter(row::Column::TokenHash.eq(store::hash_secret(presented)))
        .one(db)
        .await
}

/// Ends the session of a reused refresh token (its tokens go with it) and
/// records why, in one transaction.
async fn end_reused(
    db: &DatabaseConnection,
    now: OffsetDateTime,
    client: &ClientInfo,
    session_id: i32,
) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    let ended = session::Entity::delete_many()
        .filter(session::Column::Id.eq(session_id))
        .exec_with_returning(&txn)
        .await?;
    for session in ended {
        let event = Event::new(session.user_id, EventKind::SessionRevoked, client)
            .detail(json!({ "session": session.public_id, "reason": "refresh_token_reused" }));
        security_log::record(&txn, now, event).await;
    }
    crate::db::changes::commit(txn).await
}
