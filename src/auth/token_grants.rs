//! The sessions behind tokens: starting one for the password grant (with a
//! refresh token) or for a single-page app (in cookies), the refresh
//! grant, revocation (RFC 7009) and the app's sign-out.
//!
//! Security rules: every token, access or refresh, names one server-side
//! session, so ending that session (sign-out, revocation, the sessions
//! page, a password change, staff "end all sessions") kills them all on
//! the next request. Revocation is for public clients: there are no
//! registered OAuth clients to authenticate, so holding a token is what
//! entitles one to revoke it, and the answer never says whether it was
//! known (RFC 7009 §2.2).

use rocket::http::CookieJar;
use serde_json::json;

use super::client::ClientInfo;
use super::guards::CurrentUser;
use super::spa;
use super::state::AppState;
use super::tokens::{self, IssuedToken};
use crate::accounts::entity as user;
use crate::api_keys::scope::Scopes;
use crate::error::AppError;
use crate::security_log::{self, Event, EventKind};
use crate::sessions::entity::{self as session, SessionKind};
use crate::sessions::refresh::{self, Rotation};
use crate::sessions::{self, Via, store};

/// A new API session for `user` and its access token (with the site's
/// claims), and with `refresh` a refresh token too.
async fn start(
    app: &AppState<'_>,
    client: &ClientInfo,
    user: &user::Model,
    scopes: Scopes,
    refresh: bool,
) -> Result<(session::Model, IssuedToken), AppError> {
    let now = app.clock.now();
    let created = store::create(
        app.db,
        app.config,
        now,
        user,
        SessionKind::Api,
        false,
        client,
    )
    .await?;
    let session = created.session;
    let mut issued = access_token(app, user, &session.public_id, scopes)?;
    if refresh {
        let scope = scopes.to_string();
        issued.refresh_token = Some(refresh::issue(app.db, now, session.id, &scope).await?);
    }
    Ok((session, issued))
}

fn access_token(
    app: &AppState<'_>,
    user: &user::Model,
    sid: &str,
    scopes: Scopes,
) -> Result<IssuedToken, AppError> {
    let extra = app.hooks.claims_for(user);
    tokens::issue(app.config, app.clock.now(), user.id, sid, scopes, extra)
        .map_err(|e| anyhow::anyhow!("signing a token failed: {e}").into())
}

/// The password grant's session: an access token and a refresh token.
pub async fn start_for_client(
    app: &AppState<'_>,
    client: &ClientInfo,
    user: &user::Model,
    scopes: Scopes,
) -> Result<IssuedToken, AppError> {
    Ok(start(app, client, user, scopes, true).await?.1)
}

/// A single-page app's session, its token handed out in cookies. A
/// session this browser's app held before ends (no fixation, one session
/// per app as per browser).
pub async fn start_in_cookies(
    app: &AppState<'_>,
    cookies: &CookieJar<'_>,
    client: &ClientInfo,
    user: &user::Model,
) -> Result<IssuedToken, AppError> {
    let previous = cookies
        .get(spa::TOKEN_COOKIE)
        .and_then(|cookie| tokens::genuine(app.config, cookie.value()));
    if let Some(claims) = previous
        && let Ok(owner) = claims.sub.parse::<i32>()
    {
        store::delete_owned_by_public_id(app.db, owner, &claims.sid).await?;
    }
    let (session, issued) = start(app, client, user, Scopes::ALL, false).await?;
    spa::hand_out(
        app.config,
        cookies,
        issued.token.clone(),
        &session.public_id,
    );
    Ok(issued)
}

/// What a refresh grant came to.
pub enum Refreshed {
    Granted(IssuedToken, Scopes),
    /// Unknown, spent (its session has now ended) or its session is over.
    Invalid,
    ScopeTooWide,
}

/// `grant_type=refresh_token`: a new access token and a new refresh
/// token for the same session; the presented one is spent.
pub async fn refresh(
    app: &AppState<'_>,
    client: &ClientInfo,
    presented: &str,
    wanted: Option<Scopes>,
) -> Result<Refreshed, AppError> {
    let now = app.clock.now();
    let rotation = refresh::rotate(app.db, app.config, now, client, presented, wanted).await?;
    let rotated = match rotation {
        Rotation::Rotated(rotated) => rotated,
        Rotation::Reused | Rotation::Invalid => return Ok(Refreshed::Invalid),
        Rotation::ScopeTooWide => return Ok(Refreshed::ScopeTooWide),
    };
    let mut issued = access_token(
        app,
        &rotated.user,
        &rotated.session.public_id,
        rotated.scopes,
    )?;
    issued.refresh_token = Some(rotated.secret);
    Ok(Refreshed::Granted(issued, rotated.scopes))
}

/// Which kind of token `POST /api/v1/revoke` was told it is given.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    AccessToken,
    RefreshToken,
    /// None, or one this server does not know (RFC 7009 §2.1 lets it be
    /// ignored).
    Unknown,
}

/// RFC 7009: ends the session behind `token`, an access token (genuine,
/// expired or not) or a refresh token (spent or not). Anything else is
/// quietly ignored.
pub async fn revoke(
    app: &AppState<'_>,
    client: &ClientInfo,
    token: &str,
    hint: Hint,
) -> Result<(), AppError> {
    let by_access = || {
        tokens::genuine(app.config, token)
            .and_then(|claims| Some((claims.sub.parse::<i32>().ok()?, claims.sid)))
    };
    let found = match hint {
        Hint::RefreshToken => match refresh_owner(app, token).await? {
            Some(found) => Some(found),
            None => by_access(),
        },
        Hint::AccessToken | Hint::Unknown => match by_access() {
            Some(found) => Some(found),
            None => refresh_owner(app, token).await?,
        },
    };
    if let Some((user_id, public_id)) = found {
        let now = app.clock.now();
        sessions::revoke(app.db, now, client, user_id, &public_id, Via::Revocation).await?;
    }
    Ok(())
}

async fn refresh_owner(app: &AppState<'_>, token: &str) -> Result<Option<(i32, String)>, AppError> {
    let session = refresh::session_of(app.db, token).await?;
    Ok(session.map(|session| (session.user_id, session.public_id)))
}

/// `DELETE /api/v1/session`: ends the caller's session (the app's, or a
/// bearer token's), clears the app's cookies and records the sign-out.
pub async fn sign_out(
    app: &AppState<'_>,
    cookies: &CookieJar<'_>,
    client: &ClientInfo,
    current: &CurrentUser,
) -> Result<(), AppError> {
    spa::forget(app.config, cookies);
    let Some(session) = current.session() else {
        return Ok(());
    };
    store::delete(app.db, session.id).await?;
    let event = Event::new(current.user.id, EventKind::SignOut, client)
        .detail(json!({ "session": session.public_id, "method": "API" }));
    security_log::record(app.db, app.clock.now(), event).await;
    Ok(())
}
