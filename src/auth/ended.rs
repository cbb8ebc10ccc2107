//! Why a browser was signed out when it did not sign out itself. At
//! sign-in a second private cookie remembers whose session it holds and
//! since when; when the sign-in page is shown to a browser whose session
//! is gone, the security log tells whether staff, a password change or
//! another of the user's devices ended it, and the page says so, once.
//! Changes this browser makes itself (a new password, ending the other
//! sessions) move "since" past them, so they are not blamed on anyone.

use rocket::http::CookieJar;
use sea_orm::{ConnectionTrait, DbErr};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::cookies;
use crate::config::AppConfig;
use crate::security_log::EventKind;
use crate::security_log::entity as events;
use crate::sessions::entity;

const COOKIE: &str = "gatehouse_signed_in";

pub const BY_STAFF: &str = "You were signed out: staff ended your session.";
pub const BY_PASSWORD_CHANGE: &str =
    "You were signed out because the password of your account was changed.";
pub const BY_OTHER_DEVICE: &str = "You were signed out from another of your devices.";

#[derive(Serialize, Deserialize)]
struct SignedIn {
    user_id: i32,
    /// The session's public id, which "session ended" events name.
    session: String,
    /// Unix nanoseconds: only events after this count.
    since: i64,
}

/// Remembers, beside the session cookie and for as long, whose session
/// this browser holds.
pub fn remember(
    cookies: &CookieJar<'_>,
    config: &AppConfig,
    session: &entity::Model,
    expires: Option<OffsetDateTime>,
) {
    let signed_in = SignedIn {
        user_id: session.user_id,
        session: session.public_id.clone(),
        since: nanos(session.created_at),
    };
    write(cookies, config, &signed_in, expires);
}

fn nanos(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

fn write(
    cookies: &CookieJar<'_>,
    config: &AppConfig,
    signed_in: &SignedIn,
    expires: Option<OffsetDateTime>,
) {
    let Ok(text) = serde_json::to_string(signed_in) else {
        return;
    };
    let mut cookie = cookies::build(config, COOKIE, text);
    cookie.set_expires(expires);
    cookies.add_private(cookie);
}

fn read(cookies: &CookieJar<'_>, config: &AppConfig) -> Option<SignedIn> {
    let cookie = cookies.get_private(&cookies::name(config, COOKIE))?;
    serde_json::from_str(cookie.value()).ok()
}

/// This browser itself just ended other sessions (a new password, "end
/// every other session"): what happened until `now` is its own doing.
pub fn acted(cookies: &CookieJar<'_>, config: &AppConfig, now: OffsetDateTime) {
    if let Some(mut signed_in) = read(cookies, config) {
        signed_in.since = nanos(now);
        let expires = cookies
            .get_private(&cookies::name(config, COOKIE))
            .and_then(|c| c.expires_datetime());
        write(cookies, config, &signed_in, expires);
    }
}

pub fn forget(cookies: &CookieJar<'_>, config: &AppConfig) {
    cookies.remove_private(cookies::build(config, COOKIE, String::new()));
}

/// Why this browser's session ended, if someone else ended it; asked by
/// the sign-in page, and answered once.
pub async fn reason(
    db: &impl ConnectionTrait,
    config: &AppConfig,
    cookies: &CookieJar<'_>,
) -> Result<Option<&'static str>, DbErr> {
    let Some(signed_in) = read(cookies, config) else {
        return Ok(None);
    };
    forget(cookies, config);
    let since = OffsetDateTime::from_unix_timestamp_nanos(i128::from(signed_in.since))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let causes = [
        (EventKind::AllSessionsRevokedByStaff, BY_STAFF),
        (EventKind::AccountDeactivated, BY_STAFF),
        (EventKind::PasswordChanged, BY_PASSWORD_CHANGE),
        (EventKind::PasswordReset, BY_PASSWORD_CHANGE),
        (EventKind::OtherSessionsRevoked, BY_OTHER_DEVICE),
    ];
    for (kind, message) in causes {
        let found = events::recent_of_kind(db, signed_in.user_id, kind.as_str(), since).await?;
        if !found.is_empty() {
            return Ok(Some(message));
        }
    }
    let ended_here = events::recent_of_kind(
        db,
        signed_in.user_id,
        EventKind::SessionRevoked.as_str(),
        since,
    )
    .await?
    .iter()
    .any(|event| {
        event
            .detail
            .as_deref()
            .is_some_and(|detail| detail.contains(&signed_in.session))
    });
    Ok(ended_here.then_some(BY_OTHER_DEVICE))
}
