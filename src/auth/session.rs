//! Who is calling: the session cookie in the browser (or, under `/api`,
//! the credential `api_caller` reads), looked up once per request; and
//! signing a browser in and out.
//!
//! Security rules: the browser holds only a random secret, inside a
//! private (encrypted, authenticated) cookie; the database holds its
//! SHA-256. A new session is made at every sign-in (no fixation), and
//! sign-out deletes the row, so a copied cookie dies with it. Any cookie
//! that does not name a live session means "anonymous", never an error.
//! The session cookie is not accepted under `/api`: there the caller is
//! whoever the bearer token, API key or single-page app's token cookie
//! names (see `api_caller`).

use rocket::http::{CookieJar, Status};
use rocket::request::Request;
use sea_orm::{DatabaseConnection, DbErr};

use super::client::ClientInfo;
use super::cookies;
use super::guards::CurrentUser;
use super::state::{AppState, Lookups};
use crate::accounts::entity as user;
use crate::clock::Clock;
use crate::config::AppConfig;
use crate::rate_limit::LimiterError;
use crate::security_log::{self, Event, EventKind};
use crate::sessions::entity::{self, SessionKind};
use crate::sessions::store;

const COOKIE: &str = "gatehouse_session";

/// The signed-in user and what vouched for them.
pub struct Authenticated {
    pub user: user::Model,
    pub credential: Credential,
}

#[derive(Debug, Clone)]
pub enum Credential {
    /// A browser's session cookie or a bearer token: both name a session row.
    Session(entity::Model),
    /// An API key, which stands on its own without a session.
    ApiKey { key_id: i32 },
}

/// The outcome of finding out who is calling, done once per request and
/// shared by every guard and the page renderer of the request.
pub enum Lookup {
    Found(Box<Authenticated>),
    Anonymous,
    /// A credential was presented and refused (under `/api`): the status,
    /// and the code and sentence for the JSON error.
    Refused {
        status: Status,
        code: &'static str,
        message: &'static str,
    },
    /// Too many failed attempts from this client: try again later.
    Limited {
        retry_after: u64,
    },
    /// The database failed; the cause is logged.
    Failed,
}

/// Why the caller could not be looked up (a 500; the cause is logged).
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("application state is missing")]
    MissingState,
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error("rate limiter: {0}")]
    Limiter(#[from] LimiterError),
}

/// Who is signed in on this request: None for anonymous, `Err(status)` when
/// a credential was refused (the reason is recorded for the error
/// response) or the database failed (500).
pub async fn current<'r>(req: &'r Request<'_>) -> Result<Option<&'r Authenticated>, Status> {
    let lookup = req
        .local_cache_async(async {
            let found = if super::refusal::is_api(req) {
                super::api_caller::authenticate(req).await
            } else {
                from_cookie(req).await.map(|found| {
                    found.map_or(Lookup::Anonymous, |auth| Lookup::Found(Box::new(auth)))
                })
            };
            found.unwrap_or_else(|e| {
                tracing::error!(error = %e, "looking up the caller failed");
                Lookup::Failed
            })
        })
        .await;
    match lookup {
        Lookup::Found(auth) => {
            crate::telemetry::note_user(req, auth.user.id);
            Ok(Some(auth))
        }
        Lookup::Anonymous => Ok(None),
        Lookup::Refused {
            status,
            code,
            message,
        } => {
            super::refusal::explain_api(req, code, message);
            Err(*status)
        }
        Lookup::Limited { retry_after } => {
            super::refusal::explain_retry_after(req, *retry_after);
            Err(Status::TooManyRequests)
        }
        Lookup::Failed => Err(Status::InternalServerError),
    }
}

/// The user this request was found to be signed in as, if [`current`]
/// already ran for it (an error page cannot wait for a lookup).
pub fn already_found<'r>(req: &'r Request<'_>) -> Option<&'r crate::accounts::entity::Model> {
    match req.local_cache(|| Lookup::Anonymous) {
        Lookup::Found(auth) => Some(&auth.user),
        _ => None,
    }
}

async fn from_cookie(req: &Request<'_>) -> Result<Option<Authenticated>, LookupError> {
    let rocket = req.rocket();
    let (Some(config), Some(db), Some(clock), Some(lookups)) = (
        rocket.state::<AppConfig>(),
        rocket.state::<DatabaseConnection>(),
        rocket.state::<Clock>(),
        rocket.state::<Lookups>(),
    ) else {
        return Err(LookupError::MissingState);
    };
    let Some(cookie) = req.cookies().get_private(&cookies::name(config, COOKIE)) else {
        return Ok(None);
    };
    let found = store::find_live(
        db,
        &lookups.sessions,
        config,
        clock.now(),
        store::SessionRef::Secret(cookie.value()),
    )
    .await?;
    Ok(found.map(|(session, user)| Authenticated {
        user,
        credential: Credential::Session(session),
    }))
}

/// Starts a browser session for `user` (as loaded before its password
/// was checked) and hands its cookie to the browser, persistent only with
/// `remember`. A session this browser held before ends. The CSRF token is
/// replaced along with it.
pub async fn sign_in(
    app: &AppState<'_>,
    cookies: &CookieJar<'_>,
    client: &ClientInfo,
    user: &user::Model,
    remember: bool,
) -> Result<entity::Model, DbErr> {
    let (db, config) = (app.db, app.config);
    if let Some(previous) = cookies.get_private(&cookies::name(config, COOKIE)) {
        store::delete_by_secret(db, previous.value()).await?;
    }
    let now = app.clock.now();
    let issued = store::create(
        db,
        config,
        now,
        user,
        SessionKind::Browser,
        remember,
        client,
    )
    .await?;
    hand_out(config, cookies, &issued);
    super::csrf::rotate(cookies, config);
    Ok(issued.session)
}

/// Gives the browser's session `session_id` a new id and secret, made
/// with credential `version` (after this browser changed the password):
/// its old cookie value dies, and the browser gets the new one.
pub async fn renew(
    app: &AppState<'_>,
    cookies: &CookieJar<'_>,
    session_id: i32,
    version: i32,
) -> Result<(), DbErr> {
    if let Some(issued) = store::renew(app.db, session_id, version).await? {
        hand_out(app.config, cookies, &issued);
    }
    Ok(())
}

/// The session cookie (and the `ended` one beside it) for `issued`,
/// persistent only for a remembered session.
pub(super) fn hand_out(config: &AppConfig, cookies: &CookieJar<'_>, issued: &store::IssuedSession) {
    let mut cookie = cookies::build(config, COOKIE, issued.secret.clone());
    let expires = if issued.session.remember {
        Some(issued.session.expires_at)
    } else {
        cookies::BROWSER_SESSION
    };
    cookie.set_expires(expires);
    cookies.add_private(cookie);
    super::ended::remember(cookies, config, &issued.session, expires);
}

/// Signs out: ends the request's session (if it came with one), clears
/// the browser's cookie, and records it.
pub async fn sign_out(
    app: &AppState<'_>,
    cookies: &CookieJar<'_>,
    client: &ClientInfo,
    current: &CurrentUser,
) -> Result<(), DbErr> {
    let Some(session) = current.session() else {
        return Ok(());
    };
    store::delete(app.db, session.id).await?;
    forget(app.config, cookies);
    let event = Event::new(current.user.id, EventKind::SignOut, client);
    security_log::record(app.db, app.clock.now(), event).await;
    Ok(())
}

/// Clears the browser's session cookie (its row is already gone) and
/// replaces the CSRF token.
pub fn forget(config: &AppConfig, cookies: &CookieJar<'_>) {
    cookies.remove_private(cookies::build(config, COOKIE, String::new()));
    super::ended::forget(cookies, config);
    super::csrf::rotate(cookies, config);
}
