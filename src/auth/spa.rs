//! The cookies of a same-site single-page app (`POST /api/v1/session`):
//! `gatehouse_jwt`, the session's bearer token, and `gatehouse_xsrf`, the
//! value the app repeats in `X-CSRF-Token` on every unsafe request.
//!
//! Security rules: the token cookie is `HttpOnly` (script on the page
//! cannot read it), `SameSite=Strict` and scoped to `/api`, `Secure` under
//! https. A browser sends it along with forged requests too, so any method
//! but GET/HEAD/OPTIONS with it must also carry the header, which only
//! script of this site can read the value for (double submit). The value
//! is an HMAC of the session's id, not a free random: a cookie planted by
//! a sibling subdomain cannot be paired with a header of the attacker's
//! choosing. It is compared in constant time. The token itself is short
//! lived and renewed (sliding) while its server-side session lives, so a
//! signed-out or revoked session ends the cookie's use at once.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rocket::http::{Cookie, CookieJar, Method, SameSite};
use rocket::request::Request;
use time::OffsetDateTime;

use super::tokens::Claims;
use crate::config::AppConfig;
use crate::crypto;

pub const TOKEN_COOKIE: &str = "gatehouse_jwt";
pub const XSRF_COOKIE: &str = "gatehouse_xsrf";
pub const XSRF_HEADER: &str = "X-CSRF-Token";
const XSRF_LABEL: &str = "gatehouse/spa-xsrf/v1";

/// The `X-CSRF-Token` value of session `sid`.
pub fn xsrf_value(config: &AppConfig, sid: &str) -> String {
    let key = config.derive_key(XSRF_LABEL);
    URL_SAFE_NO_PAD.encode(crypto::hmac_sha256(&key, &[sid.as_bytes()]))
}

fn base(name: &str, value: String, path: &'static str, config: &AppConfig) -> Cookie<'static> {
    Cookie::build((name.to_owned(), value))
        .path(path)
        .same_site(SameSite::Strict)
        .secure(config.is_https())
        .build()
}

fn token_cookie(config: &AppConfig, token: String) -> Cookie<'static> {
    let mut cookie = base(TOKEN_COOKIE, token, "/api", config);
    cookie.set_http_only(true);
    cookie
}

/// Hands the app its token cookie and the matching `gatehouse_xsrf`.
/// Both end with the browser session; the server-side session decides
/// how long they are any good.
pub fn hand_out(config: &AppConfig, cookies: &CookieJar<'_>, token: String, sid: &str) {
    cookies.add(token_cookie(config, token));
    cookies.add(base(XSRF_COOKIE, xsrf_value(config, sid), "/", config));
}

/// Replaces the token cookie with a renewed token of the same session.
pub fn renew(config: &AppConfig, cookies: &CookieJar<'_>, token: String) {
    cookies.add(token_cookie(config, token));
}

/// Clears both cookies (at sign-out).
pub fn forget(config: &AppConfig, cookies: &CookieJar<'_>) {
    cookies.remove(token_cookie(config, String::new()));
    cookies.remove(base(XSRF_COOKIE, String::new(), "/", config));
}

/// The token the cookie holds, if any.
pub fn token<'r>(req: &'r Request<'_>) -> Option<&'r str> {
    req.cookies()
        .get(TOKEN_COOKIE)
        .map(|cookie| cookie.value())
        .filter(|value| !value.is_empty())
}

/// Whether a request that authenticates with the cookie of session `sid`
/// may go on: safe methods always, others only with the header and the
/// cookie both equal to the session's value.
pub fn passes_csrf(req: &Request<'_>, config: &AppConfig, sid: &str) -> bool {
    if matches!(req.method(), Method::Get | Method::Head | Method::Options) {
        return true;
    }
    let expected = xsrf_value(config, sid);
    let header = req.headers().get_one(XSRF_HEADER).unwrap_or_default();
    let cookie = req
        .cookies()
        .get(XSRF_COOKIE)
        .map(|cookie| cookie.value())
        .unwrap_or_default();
    // Both compared, each in constant time, and both always.
    let header_ok = crypto::constant_time_eq(header.as_bytes(), expected.as_bytes());
    let cookie_ok = crypto::constant_time_eq(cookie.as_bytes(), expected.as_bytes());
    header_ok & cookie_ok
}

/// Whether the cookie's token should be replaced now: once half its
/// lifetime has passed (or all of it, after a pause), so an app in use
/// never meets an expired token while its session lives.
pub fn due_for_renewal(config: &AppConfig, now: OffsetDateTime, claims: &Claims) -> bool {
    let half = i64::from(config.jwt_ttl_seconds) / 2;
    claims.exp - now.unix_timestamp() < half
}
