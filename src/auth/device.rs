//! The device cookie (OWASP's device-cookie pattern): after a successful
//! sign-in the browser holds a private (encrypted, signed) cookie naming
//! the account and a random device id. A sign-in presenting it for that
//! account is exempt from the account's failure limit, so strangers'
//! wrong guesses cannot lock the owner out of a browser they used before;
//! its own failures count against that device alone, with the same limit.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rocket::http::CookieJar;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::cookies;
use crate::config::AppConfig;

const COOKIE: &str = "gatehouse_device";

/// How long a browser stays known without signing in again.
const LIFETIME: Duration = Duration::days(365);

/// A browser's device cookie: whose sign-ins it vouches for.
#[derive(Serialize, Deserialize)]
pub struct Device {
    pub user_id: i32,
    pub id: String,
}

/// The device cookie this browser holds, if any (a forged or altered one
/// does not decrypt and counts as none).
pub fn known(cookies: &CookieJar<'_>, config: &AppConfig) -> Option<Device> {
    let cookie = cookies.get_private(&cookies::name(config, COOKIE))?;
    serde_json::from_str(cookie.value()).ok()
}

/// After a sign-in as `user_id`: the browser's device cookie names that
/// account (keeping its device id if it already did) for another year.
pub fn remember(cookies: &CookieJar<'_>, config: &AppConfig, now: OffsetDateTime, user_id: i32) {
    let device = match known(cookies, config) {
        Some(device) if device.user_id == user_id => device,
        _ => Device {
            user_id,
            id: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()),
        },
    };
    let Ok(text) = serde_json::to_string(&device) else {
        return;
    };
    let mut cookie = cookies::build(config, COOKIE, text);
    cookie.set_expires(now + LIFETIME);
    cookies.add_private(cookie);
}
