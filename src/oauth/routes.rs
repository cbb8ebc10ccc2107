//! `/oauth/<provider>/{login,link,callback,unlink}` and `/account/linked`.

use rocket::http::CookieJar;
use rocket::response::{Flash, Redirect};
use rocket::{State, get, post, routes, uri};
use rocket_dyn_templates::Template;
use serde::Serialize;
use serde_json::json;

use super::client::{self, ProviderHttp};
use super::entity as linked;
use super::flow::{self, FlowKind};
use super::providers::Provider;
use super::service::{self, LinkOutcome, LoginOutcome, UnlinkOutcome};
use crate::accounts::service::finish_sign_in;
use crate::error::AppError;
use crate::security_log::{self, Event, EventKind};
use crate::sessions::guards::CurrentUser;
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::csrf::{CsrfForm, NoFields};
use crate::web::page::Page;
use crate::web::safe_next;

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
) -> Result<Template, AppError> {
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
    if current.is_some() {
        return Ok(Redirect::to(next.unwrap_or("/account").to_owned()));
    }
    to_provider(&app, cookies, provider, FlowKind::Login, None, next)
}

#[post("/oauth/<name>/link", data = "<_form>")]
async fn link(
    name: &str,
    current: CurrentUser,
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

#[allow(clippy::too_many_arguments)]
#[get("/oauth/<name>/callback?<code>&<state>&<error>")]
async fn callback(
    name: &str,
    code: Option<&str>,
    state: Option<&str>,
    error: Option<&str>,
    current: Option<CurrentUser>,
    app: AppState<'_>,
    http: &State<ProviderHttp>,
    client_info: ClientInfo,
    cookies: &CookieJar<'_>,
) -> Result<Flash<Redirect>, AppError> {
    let provider = provider(&app, name)?;
    let now = app.clock.now();
    let Some(pending) = flow::take(cookies, app.config, now, &provider.name, state) else {
        return Err(AppError::BadRequest(
            "This sign-in attempt has expired or was already used. Please start again.",
        ));
    };
    if error.is_some() {
        return Err(AppError::BadRequest(
            "The provider did not authorize the request, so nothing was changed.",
        ));
    }
    let Some(code) = code.filter(|c| !c.is_empty() && c.len() <= 2048) else {
        return Err(AppError::BadRequest(
            "The provider sent no authorization code.",
        ));
    };
    let redirect = client::redirect_uri(&app.config.public_url, provider);
    let identity = client::fetch_identity(http, provider, &redirect, code, pending.verifier)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "OAuth provider failed");
            AppError::BadGateway("We could not reach the provider or understand its answer. Nothing was changed; please try again later.")
        })?;
    match pending.kind {
        FlowKind::Link => {
            let Some(current) = current.filter(|c| Some(c.user.id) == pending.user_id) else {
                return Err(AppError::Forbidden(
                    "Sign in to the account you started linking from, then try again.",
                ));
            };
            let message = match service::link(app.db, now, current.user.id, provider, &identity)
                .await?
            {
                LinkOutcome::Linked => {
                    let event = Event::new(current.user.id, EventKind::AccountLinked, &client_info)
                        .detail(json!({ "provider": provider.name, "login": identity.login }));
                    security_log::record(app.db, now, event).await;
                    format!("Your {} account is now linked.", provider.display_name)
                }
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
        FlowKind::Login => match service::login(&app, &client_info, provider, &identity).await? {
            LoginOutcome::SignIn(user) if user.has_two_factor() => {
                crate::two_factor::pending::begin(
                    cookies,
                    app.config,
                    now,
                    user.id,
                    false,
                    pending.next.as_deref().and_then(safe_next),
                    &provider.name,
                );
                Ok(Flash::new(
                    Redirect::to("/login/2fa"),
                    "info",
                    "Now enter the code from your authenticator app.",
                ))
            }
            LoginOutcome::SignIn(user) => {
                let greeting =
                    finish_sign_in(&app, cookies, &client_info, &user, false, &provider.name)
                        .await?;
                let destination = pending
                    .next
                    .as_deref()
                    .and_then(safe_next)
                    .unwrap_or("/account")
                    .to_owned();
                Ok(Flash::success(Redirect::to(destination), greeting))
            }
            LoginOutcome::EmailInUse => Err(AppError::Conflict(
                "An account with this email already exists. Sign in with your password, then link this provider from your account's Linked accounts page.",
            )),
            LoginOutcome::NoEmail => Err(AppError::BadRequest(
                "The provider did not share a verified email address, which a new account needs.",
            )),
            LoginOutcome::Inactive => Err(AppError::Forbidden("This account is deactivated.")),
        },
    }
}

#[post("/oauth/<name>/unlink", data = "<_form>")]
async fn unlink(
    name: &str,
    current: CurrentUser,
    _form: CsrfForm<NoFields>,
    app: AppState<'_>,
    client: ClientInfo,
) -> Result<Flash<Redirect>, AppError> {
    match service::unlink(app.db, current.user.id, name, &app.config.oauth).await? {
        UnlinkOutcome::Unlinked => {
            let event = Event::new(current.user.id, EventKind::AccountUnlinked, &client)
                .detail(json!({ "provider": name }));
            security_log::record(app.db, app.clock.now(), event).await;
            Ok(Flash::success(
                Redirect::to(uri!(linked_page)),
                "The account was unlinked.",
            ))
        }
        UnlinkOutcome::NotLinked => Err(AppError::NotFound),
        UnlinkOutcome::LastWayIn => Ok(Flash::error(
            Redirect::to(uri!(linked_page)),
            "This is the only way into your account. Set a password or link another provider first.",
        )),
    }
}
