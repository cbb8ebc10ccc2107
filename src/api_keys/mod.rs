//! API keys: created and revoked from `/account/api-keys`, presented in the
//! `X-API-Key` header under `/api` (checked in `auth::api_caller`).
//!
//! Security rules: a key is shown once and stored only as its SHA-256; a
//! malformed key (wrong prefix, length or checksum) is refused before any
//! database work; keys carry scopes (`read`, `write`) and an optional
//! expiry; revocation takes effect on the next request; every query acting
//! for a user is scoped to that user, so another user's key id is a 404.

pub mod entity;
pub mod key;
pub mod scope;
pub mod service;
