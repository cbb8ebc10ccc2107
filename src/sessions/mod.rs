//! Sessions: the server-side record of every sign-in, and the queries on
//! it (the owner-scoped ones included). Reading the cookie that names a
//! session is `auth`'s job.
//!
//! Security rules: the browser holds only a random secret, inside a
//! private (encrypted, authenticated) cookie; the database holds its
//! SHA-256. A new session is made at every sign-in (no fixation), and
//! sign-out deletes the row, so a copied cookie dies with it.

pub mod entity;
pub mod refresh;
pub mod refresh_token;
pub mod store;

use sea_orm::{ConnectionTrait, DbErr};
use serde_json::json;
use time::OffsetDateTime;

use crate::client::ClientInfo;
use crate::security_log::{self, Event, EventKind};

/// Where a session was ended from, for the security log.
#[derive(Clone, Copy)]
pub enum Via {
    /// The sessions page; ending the session in use is signing out.
    Page {
        this_one: bool,
    },
    Api,
    /// `POST /api/v1/revoke` (RFC 7009), with one of the session's tokens.
    Revocation,
}

/// Ends `user_id`'s session `public_id` and records it. False means there
/// is no such session of theirs (a 404).
pub async fn revoke(
    db: &impl ConnectionTrait,
    now: OffsetDateTime,
    client: &ClientInfo,
    user_id: i32,
    public_id: &str,
    via: Via,
) -> Result<bool, DbErr> {
    if !store::delete_owned_by_public_id(db, user_id, public_id).await? {
        return Ok(false);
    }
    let event = match via {
        Via::Page { this_one: true } => {
            Event::new(user_id, EventKind::SignOut, client).detail(json!({ "session": public_id }))
        }
        Via::Page { this_one: false } => Event::new(user_id, EventKind::SessionRevoked, client)
            .detail(json!({ "session": public_id })),
        Via::Api => Event::new(user_id, EventKind::SessionRevoked, client)
            .detail(json!({ "session": public_id, "method": "API" })),
        Via::Revocation => Event::new(user_id, EventKind::SessionRevoked, client)
            .detail(json!({ "session": public_id, "method": "token revocation" })),
    };
    security_log::record(db, now, event).await;
    Ok(true)
}

/// Ends every session of `user_id` but `keep` (and, with
/// `revoke_api_keys`, revokes every API key of theirs), and records it.
/// Answers how many sessions ended.
pub async fn revoke_others(
    db: &impl ConnectionTrait,
    now: OffsetDateTime,
    client: &ClientInfo,
    user_id: i32,
    keep: Option<i32>,
    revoke_api_keys: bool,
) -> Result<u64, DbErr> {
    let ended = store::delete_others(db, user_id, keep).await?;
    let keys = if revoke_api_keys {
        crate::api_keys::entity::revoke_all(db, user_id, now).await?
    } else {
        0
    };
    let event = Event::new(user_id, EventKind::OtherSessionsRevoked, client)
        .detail(json!({ "ended": ended, "api_keys_revoked": keys }));
    security_log::record(db, now, event).await;
    Ok(ended)
}
