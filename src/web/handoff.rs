//! Secrets shown once, by post/redirect/get: the POST that makes a secret
//! (a new API key, recovery codes) puts it in a private (encrypted,
//! authenticated) cookie bound to the user and good for one minute, and
//! answers 303; the GET after it takes the secret out and shows it.
//! Loading that page again finds nothing, and makes nothing.

use rocket::http::CookieJar;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::config::AppConfig;

const LIFETIME: Duration = Duration::minutes(1);

/// What the cookie holds: whose secret, until when, and the secret.
#[derive(Serialize, Deserialize)]
struct Sealed<T> {
    user_id: i32,
    expires_at: i64,
    value: T,
}

fn name(kind: &str) -> String {
    format!("gatehouse_once_{kind}")
}

/// Hands `value` to the next page of `user_id` that calls [`take`] with
/// the same `kind`.
pub fn put<T: Serialize>(
    cookies: &CookieJar<'_>,
    config: &AppConfig,
    now: OffsetDateTime,
    user_id: i32,
    kind: &str,
    value: T,
) {
    let sealed = Sealed {
        user_id,
        expires_at: (now + LIFETIME).unix_timestamp(),
        value,
    };
    let Ok(text) = serde_json::to_string(&sealed) else {
        return;
    };
    let mut cookie = crate::auth::cookies::build(config, &name(kind), text);
    cookie.set_max_age(LIFETIME);
    cookies.add_private(cookie);
}

/// The value handed over for `user_id`, at most once; the cookie is
/// removed whatever it held.
pub fn take<T: DeserializeOwned>(
    cookies: &CookieJar<'_>,
    config: &AppConfig,
    now: OffsetDateTime,
    user_id: i32,
    kind: &str,
) -> Option<T> {
    let cookie_name = crate::auth::cookies::name(config, &name(kind));
    cookies.get(&cookie_name)?;
    let found = cookies.get_private(&cookie_name);
    cookies.remove_private(crate::auth::cookies::build(
        config,
        &name(kind),
        String::new(),
    ));
    let sealed: Sealed<T> = serde_json::from_str(found?.value()).ok()?;
    (sealed.user_id == user_id && sealed.expires_at > now.unix_timestamp()).then_some(sealed.value)
}
