//! The HTML site: every page and form, rendered with Tera templates, the
//! error pages and catchers, and the security headers. Handlers parse the
//! request, call one service (or the sign-in flow in `auth`), and render
//! or redirect.

mod accounts;
mod admin;
mod api_keys;
pub mod client;
pub mod errors;
pub mod forms;
pub mod handoff;
pub mod headers;
mod home;
pub mod metrics;
mod oauth;
pub mod page;
mod reauth;
mod recovery;
mod security_log;
mod sessions;
pub mod time;
mod two_factor;
mod verification;

use rocket::request::Request;

/// Every HTML route, mounted at `/`.
pub fn routes() -> Vec<rocket::Route> {
    [
        home::routes(),
        accounts::routes(),
        sessions::routes(),
        two_factor::routes(),
        admin::routes(),
        security_log::routes(),
        api_keys::routes(),
        oauth::routes(),
        recovery::routes(),
        reauth::routes(),
        verification::routes(),
    ]
    .concat()
}

pub use crate::auth::next::safe_next;

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
