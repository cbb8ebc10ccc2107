//! Two-factor authentication: TOTP, recovery codes, turning it on and off,
//! and checking a second factor (the sign-in step itself is in
//! `auth::sign_in`, its pages in `web`).
//!
//! Security rules: secrets are AEAD-encrypted at rest and bound to their
//! user; nothing is enabled until a code for the new secret is confirmed;
//! a TOTP step is accepted once (the last accepted step is kept per user)
//! and a recovery code once; recovery codes are shown once and stored as
//! keyed hashes; between the password and the second factor there is no
//! session, only a five-minute private cookie, and five wrong codes drop
//! it (counted server-side); turning 2FA off or making new recovery codes
//! needs the password (and, to turn it off, a code).

pub mod entity;
pub mod recovery;
pub mod service;
pub mod totp;
