//! The reauthentication window: sensitive actions (new API keys, 2FA
//! settings, linking providers, staff actions on users, ...) need the
//! session to have proved who holds it within `reauth_minutes`, by its
//! sign-in or a confirmation since. A stolen but idle-looking cookie, or a
//! browser left signed in, cannot take them without the password or code.
//!
//! A route opts in by taking the [`Recent`] guard (beside any role guard).
//! A stale browser session is sent to `GET /account/confirm?next=<page>`
//! before the handler runs, so nothing changes; `next` is the page the
//! person was on (for a form POST, the same-site page that held the form,
//! from `Referer`), and a POST is never replayed. Under `/api` a bearer
//! token counts from its password grant; an API key, a standing
//! credential with nobody present, never counts as recent (403
//! `reauthentication_required`).
//!
//! Confirming counts failures against the session (and address), not the
//! account, as every password confirmation does, so a stranger's guesses
//! cannot lock the owner out; each confirmation and failure is logged.

use rocket::http::{Method, Status};
use rocket::outcome::try_outcome;
use rocket::request::{FromRequest, Outcome, Request};
use serde_json::json;
use time::OffsetDateTime;

use super::client::ClientInfo;
use super::guards::CurrentUser;
use super::next::safe_next;
use super::state::AppState;
use super::{refusal, sign_in};
use crate::clock::Clock;
use crate::config::AppConfig;
use crate::error::AppError;
use crate::security_log::{self, Event, EventKind};
use crate::sessions::store;
use crate::two_factor::service as two_factor;

/// Where a stale session is sent.
pub const CONFIRM_PATH: &str = "/account/confirm";

/// True when `current` proved who they are within `reauth_minutes`.
pub fn is_recent(config: &AppConfig, now: OffsetDateTime, current: &CurrentUser) -> bool {
    current
        .session()
        .and_then(|session| session.confirmed_at)
        .is_some_and(|at| now - at <= config.reauth)
}

/// A signed-in user whose session signed in or confirmed within
/// `reauth_minutes`. Take it in any handler of a sensitive action.
#[derive(Debug, Clone)]
pub struct Recent(pub CurrentUser);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Recent {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let current = try_outcome!(CurrentUser::from_request(req).await);
        let rocket = req.rocket();
        let (Some(config), Some(clock)) = (rocket.state::<AppConfig>(), rocket.state::<Clock>())
        else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        if is_recent(config, clock.now(), &current) {
            return Outcome::Success(Recent(current));
        }
        let message = "Please confirm it is you to continue.";
        if refusal::is_api(req) {
            refusal::explain_api(
                req,
                "reauthentication_required",
                "This action needs a token from a password grant within the reauthentication window; API keys cannot take it.",
            );
        } else {
            let to = confirm_uri(return_page(req, config).as_deref());
            refusal::explain_redirect_to(req, to, "reauthentication_required", message);
        }
        Outcome::Error((Status::Forbidden, ()))
    }
}

/// `/account/confirm?next=<page>`.
pub fn confirm_uri(next: Option<&str>) -> String {
    match next.and_then(safe_next) {
        Some(page) => format!(
            "{CONFIRM_PATH}?next={}",
            rocket::http::RawStr::new(page).percent_encode()
        ),
        None => CONFIRM_PATH.to_owned(),
    }
}

/// The page to come back to after confirming: this page for a GET; for
/// a POST the page that held the form, when the browser names a page of
/// this site (`Referrer-Policy: same-origin` sends it), else none.
fn return_page(req: &Request<'_>, config: &AppConfig) -> Option<String> {
    if req.method() == Method::Get {
        return Some(req.uri().to_string());
    }
    let referer = req.headers().get_one("Referer")?;
    let path = referer
        .strip_prefix(config.public_url.as_str())
        .unwrap_or(referer);
    safe_next(path)
        .filter(|page| !page.starts_with(CONFIRM_PATH))
        .map(str::to_owned)
}

/// What a person confirms with.
pub enum Proof<'a> {
    Password(&'a str),
    /// A TOTP code or a recovery code.
    Code(&'a str),
}

impl Proof<'_> {
    fn method(&self) -> &'static str {
        match self {
            Proof::Password(_) => "password",
            Proof::Code(_) => "code",
        }
    }
}

/// Checks `proof` for `current` and, if right, restarts the session's
/// window. A code is only taken from an account with 2FA, a password only
/// from one that has a password. Failures count against the session.
pub async fn confirm(
    app: &AppState<'_>,
    client: &ClientInfo,
    current: &CurrentUser,
    proof: Proof<'_>,
) -> Result<bool, AppError> {
    let confirmed = match proof {
        Proof::Password(input) => sign_in::confirm_password(app, client, current, input).await?,
        Proof::Code(input) => confirm_code(app, client, current, input).await?,
    };
    let kind = if confirmed {
        EventKind::Reauthenticated
    } else {
        EventKind::ReauthenticationFailed
    };
    let event =
        Event::new(current.user.id, kind, client).detail(json!({ "method": proof.method() }));
    security_log::record(app.db, app.clock.now(), event).await;
    Ok(confirmed)
}

/// A TOTP or recovery code typed to confirm, limited like a password
/// confirmation (per session).
async fn confirm_code(
    app: &AppState<'_>,
    client: &ClientInfo,
    current: &CurrentUser,
    code: &str,
) -> Result<bool, AppError> {
    let counters = sign_in::confirm_counters(app, client, current);
    let _turn = app.limiter.take_turn(&counters).await;
    let now = app.clock.now();
    if let Some(retry_after) = app.limiter.check(now, &counters).await? {
        return Err(AppError::TooManyRequests { retry_after });
    }
    let account = &current.user;
    let factor = two_factor::verify(app.db, app.config, now, client, account, code).await?;
    if factor.is_none() {
        app.limiter.hit(now, &counters).await?;
        return Ok(false);
    }
    mark_confirmed(app, current).await?;
    Ok(true)
}

/// Restarts the window of `current`'s session (none for an API key).
pub async fn mark_confirmed(app: &AppState<'_>, current: &CurrentUser) -> Result<(), AppError> {
    if let Some(session) = current.session() {
        store::mark_confirmed(app.db, session.id, app.clock.now()).await?;
    }
    Ok(())
}
