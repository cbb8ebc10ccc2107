//! The JSON API under `/api/v1`: the OAuth2 password-grant token endpoint,
//! the caller's profile and sessions, staff user search, and the OpenAPI
//! document generated from the handlers' annotations.
//!
//! Security rules: no cookies here (see `auth`); bearer tokens are HS256
//! JWTs bound to revocable sessions; API keys carry scopes; every error is
//! JSON; token responses are `Cache-Control: no-store`.

pub mod auth;
mod openapi;
mod routes;
pub mod scope;
pub mod tokens;

pub use openapi::document as openapi_document;

pub fn routes() -> Vec<rocket::Route> {
    routes::routes()
}
