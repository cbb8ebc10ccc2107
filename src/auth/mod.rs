//! The request-facing layer under the pages and the API: who is calling
//! (the session cookie, or a bearer token / API key under `/api`), the
//! guards that demand it, CSRF, the cookies the app sets, the managed
//! state, and the one sign-in flow every way in goes through.
//!
//! Security rules: any cookie that does not name a live session means
//! "anonymous", never an error; under `/api` only the single-page app's
//! `gatehouse_jwt` cookie is read (and an unsafe method with it needs the
//! `X-CSRF-Token` header), and a presented but bad credential is a 401; a sign-in, whatever proved who
//! the person is, passes the same limits, lockout, second factor and
//! events (`sign_in`).

pub mod api_caller;
pub mod client;
pub mod cookies;
pub mod csrf;
pub mod deletion;
pub mod device;
pub mod email_change;
pub mod ended;
pub mod guards;
pub mod hooks;
pub mod next;
pub mod oauth_flow;
pub mod password;
pub mod pending;
pub mod reauth;
pub mod recovery;
pub mod refusal;
pub mod session;
pub mod sign_in;
pub mod spa;
pub mod state;
pub mod token_grants;
pub mod tokens;
pub mod verification;

pub use client::ClientInfo;
pub use guards::{CurrentUser, Member, Staff, Superuser};
pub use hooks::TokenHooks;
pub use reauth::Recent;
pub use session::{Authenticated, Credential, current};
pub use state::AppState;
