//! The JSON API under `/api/v1`: the OAuth2 token endpoint (password and
//! refresh grants), revocation, a same-site single-page app's sign-in and
//! sign-out, the caller's profile and sessions, staff user search, and the
//! OpenAPI document generated from the handlers' annotations.
//!
//! Security rules: of cookies only the app's `gatehouse_jwt` is read, and
//! with it an unsafe method needs `X-CSRF-Token` (see `auth::api_caller`);
//! bearer tokens are HS256 JWTs bound to revocable sessions; API keys
//! carry scopes; every error is JSON; token responses are
//! `Cache-Control: no-store`.

mod json_body;
mod methods;
mod openapi;
mod responses;
mod routes;
mod token_sessions;

pub use openapi::document as openapi_document;

pub fn routes() -> Vec<rocket::Route> {
    routes::routes()
}

/// The API's own catchers, registered at `/api` (405 with `Allow`).
pub fn catchers() -> Vec<rocket::Catcher> {
    methods::catchers()
}
