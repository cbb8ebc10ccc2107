//! Hooks for a site built on Gatehouse: claims of its own in every token
//! Gatehouse issues, and checks of its own on every token it accepts.
//!
//! ```no_run
//! use gatehouse::TokenHooks;
//! use serde_json::{Map, Value, json};
//!
//! let hooks = TokenHooks::new()
//!     .add_claims(|user| {
//!         let mut claims = Map::new();
//!         claims.insert("tenant".into(), json!(tenant_of(&user.email)));
//!         claims
//!     })
//!     .check_claims(|claims, user| {
//!         claims.extra.get("tenant") == Some(&json!(tenant_of(&user.email)))
//!     });
//! let site = gatehouse::rocket(rocket::Config::figment()).manage(hooks);
//! # fn tenant_of(email: &str) -> String { email.rsplit('@').next().unwrap_or("").to_owned() }
//! ```
//!
//! The claims are added when a token is issued (password grant, refresh,
//! single-page-app sign-in and its sliding renewal) and checked on every
//! request that carries one (`Authorization: Bearer` or the
//! `gatehouse_jwt` cookie); a check that fails is a 401 `invalid_token`.
//! A hook cannot replace a registered claim (`sub`, `sid`, `exp`, ...):
//! those it returns are dropped. API keys carry no claims, so the check
//! hook does not see them.

use serde_json::{Map, Value};

use super::tokens::{Claims, REGISTERED};
use crate::accounts::entity as user;

type AddClaims = dyn Fn(&user::Model) -> Map<String, Value> + Send + Sync;
type CheckClaims = dyn Fn(&Claims, &user::Model) -> bool + Send + Sync;

/// A site's token hooks; `.manage()` them on the Rocket that
/// `gatehouse::rocket()` returns. Without them, tokens carry only
/// Gatehouse's claims and nothing more is checked.
#[derive(Default)]
pub struct TokenHooks {
    add: Option<Box<AddClaims>>,
    check: Option<Box<CheckClaims>>,
}

impl TokenHooks {
    pub fn new() -> TokenHooks {
        TokenHooks::default()
    }

    /// Claims to add to every token issued to `user`.
    pub fn add_claims(
        mut self,
        add: impl Fn(&user::Model) -> Map<String, Value> + Send + Sync + 'static,
    ) -> TokenHooks {
        self.add = Some(Box::new(add));
        self
    }

    /// Whether a genuine, live token of `user` is accepted; false is 401.
    pub fn check_claims(
        mut self,
        check: impl Fn(&Claims, &user::Model) -> bool + Send + Sync + 'static,
    ) -> TokenHooks {
        self.check = Some(Box::new(check));
        self
    }

    /// The site's claims for a token of `user`, without registered names.
    pub fn claims_for(&self, user: &user::Model) -> Map<String, Value> {
        let mut claims = self.add.as_ref().map(|add| add(user)).unwrap_or_default();
        claims.retain(|name, _| !REGISTERED.contains(&name.as_str()));
        claims
    }

    /// Whether the site accepts `claims` for `user`.
    pub fn accepts(&self, claims: &Claims, user: &user::Model) -> bool {
        self.check.as_ref().is_none_or(|check| check(claims, user))
    }
}
