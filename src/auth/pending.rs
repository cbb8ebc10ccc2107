//! A sign-in waiting for its second factor: after the right password (or
//! provider) for a 2FA account, no session exists yet; this private cookie
//! says who, until when (five minutes), whether to remember them, and where
//! to go next. Its random `id` keys the wrong-code counter, which is kept
//! server-side (a replayed cookie cannot reset it).

use rocket::http::CookieJar;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::cookies;
use crate::config::AppConfig;

const COOKIE: &str = "gatehouse_2fa";
pub const LIFETIME: Duration = Duration::minutes(5);

#[derive(Debug, Serialize, Deserialize)]
pub struct PendingSignIn {
    pub id: String,
    pub user_id: i32,
    pub remember: bool,
    pub next: Option<String>,
    /// How the first factor was proved: "password" or a provider name.
    pub method: String,
    expires_at: i64,
}

impl PendingSignIn {
    /// When the password (or provider) step succeeded.
    pub fn started_at(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.expires_at).unwrap_or(OffsetDateTime::UNIX_EPOCH)
            - LIFETIME
    }
}

pub fn begin(
    cookies: &CookieJar<'_>,
    config: &AppConfig,
    now: OffsetDateTime,
    user_id: i32,
    remember: bool,
    next: Option<&str>,
    method: &str,
) {
    let pending = PendingSignIn {
        id: uuid::Uuid::new_v4().to_string(),
        user_id,
        remember,
        next: next.map(str::to_owned),
        method: method.to_owned(),
        expires_at: (now + LIFETIME).unix_timestamp(),
    };
    let mut cookie = cookies::build(
        config,
        COOKIE,
        serde_json::to_string(&pending).expect("a pending sign-in serializes"),
    );
    cookie.set_max_age(LIFETIME);
    cookies.add_private(cookie);
}

/// The pending sign-in of this browser, if it has not expired.
pub fn current(
    cookies: &CookieJar<'_>,
    config: &AppConfig,
    now: OffsetDateTime,
) -> Option<PendingSignIn> {
    let cookie = cookies.get_private(&cookies::name(config, COOKIE))?;
    let pending: PendingSignIn = serde_json::from_str(cookie.value()).ok()?;
    (pending.expires_at > now.unix_timestamp()).then_some(pending)
}

pub fn clear(cookies: &CookieJar<'_>, config: &AppConfig) {
    cookies.remove_private(cookies::build(config, COOKIE, String::new()));
}
