//! Passkeys: WebAuthn credentials (discoverable, user verification
//! required) that sign in on their own or serve as the second factor.
//! Added, renamed and removed from `/account/passkeys`; staff may remove
//! them too.
//!
//! Security rules: the relying party is `webauthn.rp_id`, and an answer
//! from any origin but `public_url`'s is refused (webauthn-rs checks
//! `clientDataJSON`); every challenge is kept server-side, single use and
//! five minutes long, bound to its purpose and account; a discoverable
//! sign-in must name the user handle stored with its credential; a
//! credential id belongs to one account only; every query acting for a
//! user is scoped to that user, so another user's passkey id is a 404.
//! Only public keys are stored.

pub mod challenge;
pub mod entity;
pub mod service;
