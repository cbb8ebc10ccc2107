//! Who is calling the API: the session a bearer token names, the owner
//! of an `X-API-Key`, or, with neither header, the session of a
//! single-page app's `gatehouse_jwt` cookie (see `spa`; the session cookie
//! of the pages is never consulted here). A presented but bad credential
//! is refused with 401 (never treated as anonymous), a token the site's
//! check hook refuses too; a credential whose scope does not cover the
//! method gets 403 `insufficient_scope`, and the cookie without its
//! `X-CSRF-Token` on an unsafe method 403 `csrf`.

use rocket::http::{Method, Status};
use rocket::request::{Outcome, Request};
use sea_orm::DbErr;

use super::client::ClientInfo;
use super::session::{Authenticated, Credential, Lookup, LookupError};
use super::spa;
use super::state::AppState;
use super::tokens::{self, Claims};
use crate::api_keys::scope::Scopes;
use crate::api_keys::{entity as api_key, key};
use crate::rate_limit::Counter;
use crate::sessions::entity::SessionKind;
use crate::sessions::store::{self, SessionRef};

/// `last_used_at` of a key is written at most this often.
const KEY_TOUCH_INTERVAL: time::Duration = time::Duration::minutes(1);

fn refused(status: Status, code: &'static str, message: &'static str) -> Lookup {
    Lookup::Refused {
        status,
        code,
        message,
    }
}

fn invalid_token(message: &'static str) -> Lookup {
    refused(Status::Unauthorized, "invalid_token", message)
}

/// The caller of an API request, by `Authorization: Bearer` or
/// `X-API-Key`; anonymous with neither.
pub async fn authenticate(req: &Request<'_>) -> Result<Lookup, LookupError> {
    let app = match req.guard::<AppState<'_>>().await {
        Outcome::Success(app) => app,
        _ => return Err(LookupError::MissingState),
    };
    let headers = req.headers();
    // RFC 6750 §2: one credential per request. Taking one and ignoring the
    // other would let a request pass on a credential its sender did not
    // mean to be judged by.
    if headers.contains("Authorization") && headers.contains("X-API-Key") {
        return Ok(refused(
            Status::Unauthorized,
            "invalid_request",
            "Send one credential: a bearer token or an API key, not both.",
        ));
    }
    if let Some(authorization) = headers.get_one("Authorization") {
        let Some(token) = bearer_token(authorization) else {
            return Ok(refused(
                Status::Unauthorized,
                "invalid_request",
                "Send the token as `Authorization: Bearer <token>`.",
            ));
        };
        Ok(by_token(&app, token).await?.allowing(req.method()))
    } else if let Some(presented) = headers.get_one("X-API-Key") {
        let client = ClientInfo::of(req);
        Ok(by_key(&app, presented, &client)
            .await?
            .allowing(req.method()))
    } else if let Some(token) = spa::token(req) {
        Ok(by_cookie(req, &app, token).await?.allowing(req.method()))
    } else {
        Ok(Lookup::Anonymous)
    }
}

/// A credential found, with the scopes it carries, or the refusal.
enum Presented {
    Valid(Box<Authenticated>, Scopes),
    Refused(Lookup),
}

impl Presented {
    /// The lookup, once the scopes are checked against the request method.
    fn allowing(self, method: Method) -> Lookup {
        match self {
            Presented::Valid(found, scopes) if scopes.allow(method) => Lookup::Found(found),
            Presented::Valid(..) => refused(
                Status::Forbidden,
                "insufficient_scope",
                "This credential's scope does not allow this request; it needs `write`.",
            ),
            Presented::Refused(refusal) => refusal,
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme is
/// case-insensitive, RFC 7235).
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

async fn by_token(app: &AppState<'_>, token: &str) -> Result<Presented, DbErr> {
    let Some(claims) = tokens::verify(app.config, app.clock.now(), token) else {
        return Ok(Presented::Refused(invalid_access_token()));
    };
    Ok(match by_claims(app, &claims).await? {
        Some((found, scopes)) => Presented::Valid(Box::new(found), scopes),
        None => Presented::Refused(invalid_access_token()),
    })
}

fn invalid_access_token() -> Lookup {
    invalid_token("The access token is invalid, expired or revoked.")
}

/// The caller a genuine token's claims name: its live API session, of the
/// user it was issued to, if the site's check hook accepts the claims.
async fn by_claims(
    app: &AppState<'_>,
    claims: &Claims,
) -> Result<Option<(Authenticated, Scopes)>, DbErr> {
    let (db, config, now) = (app.db, app.config, app.clock.now());
    let Some(scopes) = Scopes::parse(&claims.scope) else {
        return Ok(None);
    };
    let Some((session, user)) = store::find_live(
        db,
        &app.lookups.sessions,
        config,
        now,
        SessionRef::PublicId(&claims.sid),
    )
    .await?
    else {
        return Ok(None);
    };
    if session.kind != SessionKind::Api.as_str()
        || claims.sub != user.id.to_string()
        || !app.hooks.accepts(claims, &user)
    {
        return Ok(None);
    }
    let found = Authenticated {
        user,
        credential: Credential::Session(session),
    };
    Ok(Some((found, scopes)))
}

/// A single-page app's cookie: its token is good while its session lives
/// (an expired one is renewed, not refused), an unsafe method also needs
/// `X-CSRF-Token`, and a token past half its life is replaced in the
/// response.
async fn by_cookie(req: &Request<'_>, app: &AppState<'_>, token: &str) -> Result<Presented, DbErr> {
    let Some(claims) = tokens::genuine(app.config, token) else {
        return Ok(Presented::Refused(invalid_access_token()));
    };
    let Some((found, scopes)) = by_claims(app, &claims).await? else {
        return Ok(Presented::Refused(invalid_access_token()));
    };
    if !spa::passes_csrf(req, app.config, &claims.sid) {
        return Ok(Presented::Refused(refused(
            Status::Forbidden,
            "csrf",
            "Requests that change something need the `X-CSRF-Token` header, equal to the `gatehouse_xsrf` cookie.",
        )));
    }
    let now = app.clock.now();
    if spa::due_for_renewal(app.config, now, &claims) {
        let extra = app.hooks.claims_for(&found.user);
        let renewed = tokens::issue(app.config, now, found.user.id, &claims.sid, scopes, extra);
        match renewed {
            Ok(issued) => spa::renew(app.config, req.cookies(), issued.token),
            Err(e) => tracing::error!(error = %e, "renewing a token failed"),
        }
    }
    Ok(Presented::Valid(Box::new(found), scopes))
}

/// An API key's owner. A malformed key (prefix, length, checksum) is
/// refused for free and not counted; a well-formed one costs a lookup, so
/// its failures count against the client's address, and while that is over
/// its limit no key is looked up at all. An address with no failure here
/// lately is not checked in the store (`RateLimiter::check_failures`).
async fn by_key(
    app: &AppState<'_>,
    presented: &str,
    client: &ClientInfo,
) -> Result<Presented, LookupError> {
    let (db, limiter) = (app.db, app.limiter);
    let invalid = || invalid_token("The API key is invalid, expired or revoked.");
    if !key::is_well_formed(presented) {
        return Ok(Presented::Refused(invalid()));
    }
    let now = app.clock.now();
    let counters: Vec<Counter> = client
        .ip_string()
        .map(|ip| {
            limiter.counter(
                "api_key:ip",
                &ip,
                limiter.settings().api_key_failures_per_ip,
            )
        })
        .into_iter()
        .collect();
    if let Some(retry_after) = limiter.check_failures(now, &counters).await? {
        return Ok(Presented::Refused(Lookup::Limited { retry_after }));
    }
    let found = api_key::find_by_hash(db, &app.lookups.api_keys, &key::hash(presented)).await?;
    let usable = found.and_then(|(api_key, user)| {
        let scopes = Scopes::parse(&api_key.scopes)?;
        let user = user.filter(|user| user.is_active)?;
        api_key.is_usable(now).then_some((api_key, user, scopes))
    });
    let Some((api_key, user, scopes)) = usable else {
        limiter.hit_failures(now, &counters).await?;
        return Ok(Presented::Refused(invalid()));
    };
    let stale = api_key
        .last_used_at
        .is_none_or(|at| now - at >= KEY_TOUCH_INTERVAL);
    let key_id = api_key.id;
    if stale {
        let memo = &app.lookups.api_keys;
        api_key::record_use(db, memo, api_key, user.clone(), now, client.ip_string()).await?;
    }
    let found = Authenticated {
        user,
        credential: Credential::ApiKey { key_id },
    };
    Ok(Presented::Valid(Box::new(found), scopes))
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        assert_eq!(bearer_token("Bearer abc.def"), Some("abc.def"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearerabc"), None);
    }
}
