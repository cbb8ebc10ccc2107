//! OAuth identities (GitHub, Google, GitLab presets, or any provider from
//! config): talking to providers, linked accounts, and what an identity
//! coming back means. The flow cookie is `auth::oauth_flow`, the sign-in
//! `auth::sign_in::with_provider`, the pages `web`.
//!
//! Security rules: every flow carries `state` and a PKCE S256 verifier in a
//! ten-minute private cookie, checked once; an unknown identity whose email
//! matches an account is never linked automatically; an identity belongs
//! to one user; unlinking never leaves an account without a way in;
//! provider calls have timeouts and follow no redirects, and a failing
//! provider changes nothing (502).

pub mod client;
pub mod entity;
pub mod service;

pub use crate::config::providers::Provider;
