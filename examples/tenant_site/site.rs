//! A site built on Gatehouse: its own routes behind `CurrentUser` and
//! `Staff`, and a `tenant` claim in every token, checked on every request.
//!
//! The tenant is the domain of the account's email address. Tokens issued
//! to `alice@acme.test` carry `"tenant": "acme.test"`; a token without
//! the claim, or with another tenant than the account's current one (its
//! address changed since), is refused with 401.

use gatehouse::{CurrentUser, Staff, TokenHooks};
use rocket::serde::json::{Json, Value, json};
use rocket::{Build, Rocket, Route, get, routes};
use serde_json::Map;

/// The tenant an account belongs to: its email's domain.
pub fn tenant_of(email: &str) -> String {
    email
        .rsplit_once('@')
        .map(|(_, domain)| domain.to_ascii_lowercase())
        .unwrap_or_default()
}

/// Adds `tenant` at issue; accepts a token only if it names the account's
/// tenant.
pub fn hooks() -> TokenHooks {
    TokenHooks::new()
        .add_claims(|user| {
            let mut claims = Map::new();
            claims.insert("tenant".to_owned(), json!(tenant_of(&user.email)));
            claims
        })
        .check_claims(|claims, user| {
            claims.extra.get("tenant").and_then(Value::as_str) == Some(&tenant_of(&user.email))
        })
}

/// The caller's projects (here: only their tenant's name). Under `/api`,
/// `CurrentUser` is whoever the bearer token, API key or app cookie names.
#[get("/site/projects")]
fn projects(current: CurrentUser) -> Json<Value> {
    Json(json!({
        "user": current.user.username,
        "tenant": tenant_of(&current.user.email),
        "projects": [],
    }))
}

/// A report for staff only; anyone else gets 403.
#[get("/site/report")]
fn report(staff: Staff) -> Json<Value> {
    Json(json!({ "by": staff.0.user.username, "tenant": tenant_of(&staff.0.user.email) }))
}

/// A page of the site, behind the pages' session cookie.
#[get("/site")]
fn home(current: CurrentUser) -> String {
    format!(
        "Welcome to {}, {}.",
        tenant_of(&current.user.email),
        current.user.username
    )
}

/// The site's JSON routes, to mount at `/api`.
pub fn api_routes() -> Vec<Route> {
    routes![projects, report]
}

/// The site's pages, to mount at `/`.
pub fn page_routes() -> Vec<Route> {
    routes![home]
}

/// The site: the Rocket `gatehouse::rocket()` made, with the site's token
/// hooks and routes.
pub fn extend(gatehouse: Rocket<Build>) -> Rocket<Build> {
    gatehouse
        .manage(hooks())
        .mount("/api", api_routes())
        .mount("/", page_routes())
}
