//! Web plumbing shared by every feature: cookies, CSRF, security headers,
//! the client's address, page rendering and form errors.

pub mod client;
pub mod csrf;
pub mod forms;
pub mod headers;
pub mod metrics;
pub mod page;
pub mod time;

use rocket::http::{Cookie, SameSite};
use rocket::request::Request;

use crate::config::AppConfig;

/// The expiry of a cookie that ends with the browser session. Rocket gives
/// private cookies a week unless told otherwise, and `None` converts to
/// the cookie crate's `Expiration::Session`.
pub const BROWSER_SESSION: Option<::time::OffsetDateTime> = None;

/// A cookie as Gatehouse sets them: `HttpOnly`, `SameSite=Lax` (so the
/// OAuth callback, arriving from the provider's site, still carries it),
/// path `/`, and under https `Secure` with the `__Host-` prefix, which
/// stops a sibling subdomain from planting or overwriting it.
pub fn cookie(config: &AppConfig, name: &str, value: String) -> Cookie<'static> {
    Cookie::build((cookie_name(config, name), value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(config.is_https())
        .build()
}

/// The name a cookie carries on the wire: `__Host-<name>` under https.
pub fn cookie_name(config: &AppConfig, name: &str) -> String {
    if config.is_https() {
        format!("__Host-{name}")
    } else {
        name.to_owned()
    }
}

/// `next` when it is a clean path on this site, else None. Browsers treat
/// `//x` and `/\x` as other hosts, so those are refused; so is anything
/// that is not already a valid URI reference (`ü`, `<`, `"`, `{`, `^`, a
/// backtick, `|`, a second `#`, a bad `%` escape), which could not be sent
/// back in a `Location` header.
pub fn safe_next(next: &str) -> Option<&str> {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= 2048
        && next
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%#".contains(&b))
        && next.matches('#').count() <= 1
        && percent_escapes_are_whole(next)
        && rocket::http::uri::Reference::parse(next).is_ok();
    local.then_some(next)
}

/// Every `%` starts a two-hex-digit escape.
fn percent_escapes_are_whole(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().all(|(at, &b)| {
        b != b'%'
            || bytes
                .get(at + 1..at + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    })
}

/// `/login?next=<this page>` for a browser that must sign in first. Only
/// GETs are worth returning to: a POST would be replayed as a GET.
pub fn login_uri_for(req: &Request<'_>) -> String {
    if req.method() != rocket::http::Method::Get {
        return "/login".to_owned();
    }
    let here = req.uri().to_string();
    match safe_next(&here) {
        Some(path) if path != "/" => {
            format!(
                "/login?next={}",
                rocket::http::RawStr::new(path).percent_encode()
            )
        }
        _ => "/login".to_owned(),
    }
}

/// The highest page number a `?page=` may ask for: far past any real list,
/// and small enough that the row offset cannot overflow.
const LAST_PAGE: u64 = 1_000_000;

/// A 1-based `?page=` parameter made safe: absent or 0 is the first page,
/// anything huge the last one we serve (an empty page, not an overflow).
pub fn page_number(requested: Option<u64>) -> u64 {
    requested.unwrap_or(1).clamp(1, LAST_PAGE)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed() {
        for good in [
            "/",
            "/account",
            "/account?tab=1",
            "/a/b#c",
            "/caf%C3%A9?q=a%20b&x=(1)",
        ] {
            assert_eq!(safe_next(good), Some(good), "{good}");
        }
        for bad in [
            "",
            "account",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "/\t/evil.example",
            "/\n/evil.example",
            " /account",
            "/a<b",
            "/ü",
            "/a\"b",
            "/a{b}",
            "/a^b",
            "/a`b",
            "/a|b",
            "/a#b#c",
            "/a%zz",
            "/a%4",
            "/a\0b",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }
}
