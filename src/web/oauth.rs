//! `/oauth/<provider>/{login,link,callback,unlink}` and `/account/linked`.

use rocket::http::CookieJar;
use rocket::response::{Flash, Redirect};
use rocket::{State, get, post, routes, uri};
use serde::Serialize;
use serde_json::json;

use super::page::{Page, Rendered};
use super::safe_next;
use crate::auth::csrf::{CsrfForm, NoFields};
use crate::auth::oauth_flow::{self as flow, FlowKind};
use crate::auth::reauth;
use crate::auth::sign_in::{self, Outcome, Refusal};
use crate::auth::{AppState, ClientInfo, CurrentUser, Recent};
use crate::error::AppError;
use crate::oauth::Provider;
use crate::oauth::client::{self, Identity, ProviderHttp};
use crate::oauth::entity as linked;
use crate::oauth::service::{self, LinkOutcome, UnlinkOutcome};

pub fn routes() -> Vec<rocket::Route> {
    routes![linked_page, login, link, callback, unlink]
}

fn provider<'a>(app: &AppState<'a>, name: &str) -> Result<&'a Provider, AppError> {
    app.config
        .oauth
        .iter()
        .find(|p| p.name == name)
        .ok_or(AppError::NotFound)
}

fn to_provider(
    app: &AppState<'_>,
    cookies: &CookieJar<'_>,
    provider: &Provider,
    kind: FlowKind,
    user_id: Option<i32>,
    next: Option<&str>,
) -> Result<Redirect, AppError> {
    let started = flow::start(
        cookies,
        app.config,
        app.clock.now(),
        &provider.name,
        kind,
        user_id,
        next,
    );
    let redirect = client::redirect_uri(&app.config.public_url, provider);
    let url = client::authorize_url(provider, &redirect, started.challenge, started.state)
        .map_err(|e| anyhow::anyhow!("provider `{}` URL: {e}", provider.name))?;
    Ok(Redirect::to(url))
}

#[derive(Serialize)]
struct LinkView {
    provider: String,
    display_name: String,
    login: Option<String>,
    email: Option<String>,
    linked_at: String,
}

#[get("/account/linked")]
async fn linked_page(
    current: CurrentUser,
    page: Page<'_>,
    app: AppState<'_>,
) -> Result<Rendered, AppError> {
    let links = linked::list_for_user(app.db, current.user.id).await?;
    let display = |name: &str| {
        app.config
            .oauth
            .iter()
            .find(|p| p.name == name)
            .map_or_else(|| name.to_owned(), |p| p.display_name.clone())
    };
    let unlinked: Vec<_> = app
        .config
        .oauth
        .iter()
        .filter(|p| !links.iter().any(|l| l.provider == p.name))
        .map(|p| json!({ "name": p.name, "display_name": p.display_name }))
        .collect();
    let links: Vec<LinkView> = links
        .into_iter()
        .map(|l| LinkView {
            display_name: display(&l.provider),
            linked_at: l.linked_at.date().to_string(),
            provider: l.provider,
            login: l.login,
            email: l.email,
        })
        .collect();
    Ok(page.render(
        "oauth/linked",
        json!({
            "links": links,
            "unlinked": unlinked,
            "has_password": current.user.password_hash.is_some(),
        }),
    ))
}

/// Signs in (or up) with the provider. A GET, as a link on the sign-in
/// page; it changes nothing but the flow cookie.
#[get("/oauth/<name>/login?<next>")]
async fn login(
    name: &str,
    next: Option<&str>,
    current: Option<CurrentUser>,
    app: AppState<'_>,
    cookies: &CookieJar<'_>,
) -> Result<Redirect, AppError> {
    let provider = provider(&app, name)?;
    let next = next.and_then(safe_next);
    // A signed-in person comes here to confirm it is them (an account
    // without password or 2FA): only a recent session is sent straight on.
    if current.is_some_and(|current| reauth::is_recent(app.config, app.clock.now(), &current)) {
        return Ok(Redirect::to(next.unwrap_or("/account").to_owned()));
    }
    to_provider(&app, cookies, provider, FlowKind::Login, None, next)
}

#[post("/oauth/<name>/link", data = "<_form>")]
async fn link(
    name: &str,
    current: CurrentUser,
    _recent: Recent,
    _form: CsrfForm<NoFields>,
    app: AppState<'_>,
    cookies: &CookieJar<'_>,
) -> Result<Redirect, AppError> {
    let provider = provider(&app, name)?;
    to_provider(
        &app,
        cookies,
        provider,
        FlowKind::Link,
        Some(current.user.id),
        None,
    )
}

/// The provider's answer, as it arrives: `code` and `state`, or `error`.
#[derive(rocket::FromForm)]
struct ProviderAnswer<'r> {
    code: Option<&'r str>,
    state: Option<&'r str>,
    error: Option<&'r str>,
}

/// Who the provider says the person is: the code exchanged (with the
/// flow's PKCE verifier) and the profile fetched. A refusal at the
/// provider, a missing code or a failing provider changes nothing.
async fn identity(
    app: &AppState<'_>,
    http: &ProviderHttp,
    provider: &Provider,
    answer: &ProviderAnswer<'_>,
    verifier: &str,
) -> Result<Identity, AppError> {
    if answer.error.is_some() {
        return Err(AppError::BadRequest(
            "The provider did not authorize the request, so nothing was changed.",
        ));
    }
    let Some(code) = answer.code.filter(|c| !c.is_empty() && c.len() <= 2048) else {
        return Err(AppError::BadRequest(
            "The provider sent no authorization code.",
        ));
    };
    let redirect = client::redirect_uri(&app.config.public_url, provider);
    client::fetch_identity(http, provider, &redirect, code, verifier.to_owned())
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "OAuth provider failed");
            AppError::BadGateway("We could not reach the provider or understand its answer. Nothing was changed; please try again later.")
        })
}

#[get("/oauth/<name>/callback?<answer..>")]
async fn callback(
    name: &str,
    answer: ProviderAnswer<'_>,
    current: Option<CurrentUser>,
    app: AppState<'_>,
    http: &State<ProviderHttp>,
    client_info: ClientInfo,
    cookies: &CookieJar<'_>,
) -> Result<Flash<Redirect>, AppError> {
    let provider = provider(&app, name)?;
    let now = app.clock.now();
    let Some(pending) = flow::take(cookies, app.config, now, &provider.name, answer.state) else {
        return Err(AppError::BadRequest(
            "This sign-in attempt has expired or was already used. Please start again.",
        ));
    };
    let identity = identity(&app, http, provider, &answer, &pending.verifier).await?;
    match pending.kind {
        FlowKind::Link => {
            let current = current.filter(|c| Some(c.user.id) == pending.user_id);
            link_identity(&app, &client_info, current, provider, &identity).await
        }
        FlowKind::Login => {
            let next = pending.next.as_deref().and_then(safe_next);
            let outcome =
                sign_in::with_provider(&app, &client_info, cookies, provider, &identity, next)
                    .await?;
            signed_in_by_provider(outcome, next)
        }
    }
}

async fn link_identity(
    app: &AppState<'_>,
    client: &ClientInfo,
    current: Option<CurrentUser>,
    provider: &Provider,
    identity: &Identity,
) -> Result<Flash<Redirect>, AppError> {
    let Some(current) = current else {
        return Err(AppError::Forbidden(
            "Sign in to the account you started linking from, then try again.",
        ));
    };
    let now = app.clock.now();
    let linked = service::link(app.db, now, client, current.user.id, provider, identity).await?;
    let message = match linked {
        LinkOutcome::Linked => format!("Your {} account is now linked.", provider.display_name),
        LinkOutcome::AlreadyYours => {
            format!("That {} account was already linked.", provider.display_name)
        }
        LinkOutcome::LinkedElsewhere => {
            return Err(AppError::Conflict(
                "That provider account is already linked to another user.",
            ));
        }
    };
    Ok(Flash::success(Redirect::to(uri!(linked_page)), message))
}

fn signed_in_by_provider(
    outcome: Outcome,
    next: Option<&str>,
) -> Result<Flash<Redirect>, AppError> {
    match outcome {
        Outcome::SignedIn(signed) => Ok(Flash::success(
            Redirect::to(next.unwrap_or("/account").to_owned()),
            signed.greeting,
        )),
        Outcome::NeedsSecondFactor => Ok(super::accounts::to_second_step()),
        Outcome::Refused(Refusal::EmailInUse) => Err(AppError::Conflict(
            "An account with this email already exists. Sign in with your password, then link this provider from your account's Linked accounts page.",
        )),
        Outcome::Refused(Refusal::NoEmail) => Err(AppError::BadRequest(
            "The provider did not share a verified email address, which a new account needs.",
        )),
        Outcome::Refused(Refusal::Limited { retry_after }) => {
            Err(AppError::TooManyRequests { retry_after })
        }
        Outcome::Refused(Refusal::Unverified { .. }) => Ok(Flash::error(
            Redirect::to("/login"),
            "Confirm your email address first: open the link we sent you, then sign in again.",
        )),
        Outcome::Refused(_) => Err(AppError::Forbidden("This account is deactivated.")),
    }
}

#[post("/oauth/<name>/unlink", data = "<_form>")]
async fn unlink(
    name: &str,
    current: CurrentUser,
    _recent: Recent,
    _form: CsrfForm<NoFields>,
    app: AppState<'_>,
    client: ClientInfo,
) -> Result<Flash<Redirect>, AppError> {
    let (now, providers) = (app.clock.now(), &app.config.oauth);
    match service::unlink(app.db, now, &client, current.user.id, name, providers).await? {
        UnlinkOutcome::Unlinked => Ok(Flash::success(
            Redirect::to(uri!(linked_page)),
            "The account was unlinked.",
        )),
        UnlinkOutcome::NotLinked => Err(AppError::NotFound),
        UnlinkOutcome::LastWayIn => Ok(Flash::error(
            Redirect::to(uri!(linked_page)),
            "This is the only way into your account. Set a password or link another provider first.",
        )),
    }
}
