//! Bearer tokens: HS256 JWTs whose `sid` names a server-side session of
//! kind "api", so revoking the session revokes the token.
//!
//! The signing key is derived from `secret_key` for this purpose alone.
//! Verification pins the algorithm (so `alg: none` and RS/ES tricks fail),
//! requires and checks `iss`, `aud` and `exp` (against Gatehouse's clock),
//! and only then is the session looked up. A site built on the library
//! may add claims of its own (`extra`, see `hooks`).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::api_keys::scope::Scopes;
use crate::config::AppConfig;

const KEY_LABEL: &str = "gatehouse/jwt-hs256/v1";
/// Tokens longer than this are refused unread.
pub const MAX_TOKEN_LEN: usize = 4096;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: String,
    /// The session's public id.
    pub sid: String,
    pub scope: String,
    /// Claims a site added with its `TokenHooks`.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The claims Gatehouse sets itself, which no hook may replace.
pub const REGISTERED: [&str; 8] = ["sub", "iat", "exp", "iss", "aud", "jti", "sid", "scope"];

/// The HS256 key, derived from `secret_key` for tokens alone.
pub fn signing_key(config: &AppConfig) -> [u8; 32] {
    config.derive_key(KEY_LABEL)
}

pub struct IssuedToken {
    pub token: String,
    pub expires_in: i64,
    /// With the password grant and a refresh: the next refresh token.
    pub refresh_token: Option<String>,
}

/// A token for `user_id` bound to session `session_public_id`, carrying
/// the site's `extra` claims.
pub fn issue(
    config: &AppConfig,
    now: OffsetDateTime,
    user_id: i32,
    session_public_id: &str,
    scopes: Scopes,
    extra: Map<String, Value>,
) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
    let ttl = i64::from(config.jwt_ttl_seconds);
    let claims = Claims {
        sub: user_id.to_string(),
        iat: now.unix_timestamp(),
        exp: now.unix_timestamp() + ttl,
        iss: config.jwt_issuer.clone(),
        aud: config.jwt_audience.clone(),
        jti: uuid::Uuid::new_v4().to_string(),
        sid: session_public_id.to_owned(),
        scope: scopes.to_string(),
        extra,
    };
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&signing_key(config)),
    )?;
    Ok(IssuedToken {
        token,
        expires_in: ttl,
        refresh_token: None,
    })
}

/// The claims of a genuine, unexpired token of this deployment, or None.
pub fn verify(config: &AppConfig, now: OffsetDateTime, token: &str) -> Option<Claims> {
    genuine(config, token).filter(|claims| claims.exp > now.unix_timestamp())
}

/// The claims of a token this deployment signed, expired or not: for the
/// single-page app's cookie, renewed while its session lives, and for
/// revocation, which ends the session behind an expired token too.
pub fn genuine(config: &AppConfig, token: &str) -> Option<Claims> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[&config.jwt_issuer]);
    validation.set_audience(&[&config.jwt_audience]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    // Expiry is checked by the callers against Gatehouse's clock, not the
    // system's.
    validation.validate_exp = false;
    decode::<Claims>(
        token,
        &DecodingKey::from_secret(&signing_key(config)),
        &validation,
    )
    .ok()
    .map(|data| data.claims)
}
