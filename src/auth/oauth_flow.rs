//! The state of a flow between leaving for the provider and coming back:
//! kept in a private (encrypted, authenticated) cookie for ten minutes,
//! read once. It carries the CSRF `state`, the PKCE verifier, what the flow
//! is for (login or link, and for whom) and where to go afterwards.

use oauth2::{CsrfToken, PkceCodeChallenge};
use rocket::http::CookieJar;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::cookies;
use crate::config::AppConfig;

const COOKIE: &str = "gatehouse_oauth";
pub const LIFETIME: Duration = Duration::minutes(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowKind {
    Login,
    Link,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PendingFlow {
    pub provider: String,
    state: String,
    pub verifier: String,
    pub kind: FlowKind,
    /// The user who asked to link; None for a login.
    pub user_id: Option<i32>,
    pub next: Option<String>,
    expires_at: i64,
}

/// A flow about to start: the PKCE challenge and `state` for the
/// authorization URL.
pub struct Started {
    pub challenge: PkceCodeChallenge,
    pub state: CsrfToken,
}

/// Starts a flow: remembers it in the cookie (replacing any earlier one)
/// and returns what the authorization URL needs.
pub fn start(
    cookies: &CookieJar<'_>,
    config: &AppConfig,
    now: OffsetDateTime,
    provider: &str,
    kind: FlowKind,
    user_id: Option<i32>,
    next: Option<&str>,
) -> Started {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state = CsrfToken::new_random();
    let flow = PendingFlow {
        provider: provider.to_owned(),
        state: state.secret().clone(),
        verifier: verifier.secret().clone(),
        kind,
        user_id,
        next: next.map(str::to_owned),
        expires_at: (now + LIFETIME).unix_timestamp(),
    };
    let value = serde_json::to_string(&flow).expect("a flow serializes");
    let mut cookie = cookies::build(config, COOKIE, value);
    cookie.set_max_age(LIFETIME);
    cookies.add_private(cookie);
    Started { challenge, state }
}

/// The flow this callback belongs to, if its `state` matches and it has not
/// expired. The cookie is removed whatever the answer: a state is good for
/// one callback only.
pub fn take(
    cookies: &CookieJar<'_>,
    config: &AppConfig,
    now: OffsetDateTime,
    provider: &str,
    state: Option<&str>,
) -> Option<PendingFlow> {
    let name = cookies::name(config, COOKIE);
    let cookie = cookies.get_private(&name)?;
    cookies.remove_private(cookies::build(config, COOKIE, String::new()));
    let flow: PendingFlow = serde_json::from_str(cookie.value()).ok()?;
    let state_matches =
        state.is_some_and(|s| crate::crypto::constant_time_eq(s.as_bytes(), flow.state.as_bytes()));
    (state_matches && flow.provider == provider && flow.expires_at > now.unix_timestamp())
        .then_some(flow)
}
