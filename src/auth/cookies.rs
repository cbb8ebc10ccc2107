//! Cookies as Gatehouse sets them. Every cookie of the app (session, CSRF
//! token, pending second factor, OAuth flow) is made here.

use rocket::http::{Cookie, SameSite};

use crate::config::AppConfig;

/// The expiry of a cookie that ends with the browser session. Rocket gives
/// private cookies a week unless told otherwise, and `None` converts to
/// the cookie crate's `Expiration::Session`.
pub const BROWSER_SESSION: Option<::time::OffsetDateTime> = None;

/// A cookie as Gatehouse sets them: `HttpOnly`, `SameSite=Lax` (so the
/// OAuth callback, arriving from the provider's site, still carries it),
/// path `/`, and under https `Secure` with the `__Host-` prefix, which
/// stops a sibling subdomain from planting or overwriting it.
pub fn build(config: &AppConfig, base: &str, value: String) -> Cookie<'static> {
    Cookie::build((name(config, base), value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(config.is_https())
        .build()
}

/// The name a cookie carries on the wire: `__Host-<name>` under https.
pub fn name(config: &AppConfig, name: &str) -> String {
    if config.is_https() {
        format!("__Host-{name}")
    } else {
        name.to_owned()
    }
}
