//! `/account/sessions`: where the user is signed in, and ending sessions.

use rocket::form::FromForm;
use rocket::http::CookieJar;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes, uri};
use serde::Serialize;
use serde_json::json;

use super::client::describe_user_agent;
use super::forms::{FormErrors, FormResponse};
use super::page::{Page, Rendered};
use super::time;
use crate::auth::csrf::{CsrfForm, NoFields};
use crate::auth::ended;
use crate::auth::sign_in::confirm_password;
use crate::auth::{AppState, ClientInfo, CurrentUser, session as browser};
use crate::error::AppError;
use crate::sessions::entity::{self as session, SessionKind};
use crate::sessions::{self, Via, store};

pub fn routes() -> Vec<rocket::Route> {
    routes![sessions_page, revoke_session, revoke_others]
}

#[derive(Serialize)]
struct SessionView {
    id: String,
    browser: String,
    ip: Option<String>,
    api: bool,
    created: String,
    last_active: String,
    last_active_iso: String,
    last_active_exact: String,
    current: bool,
}

fn view(
    session: session::Model,
    current_id: Option<i32>,
    now: ::time::OffsetDateTime,
) -> SessionView {
    SessionView {
        current: Some(session.id) == current_id,
        browser: describe_user_agent(session.user_agent.as_deref()),
        api: session.kind == SessionKind::Api.as_str(),
        created: time::absolute(session.created_at),
        last_active: time::relative(now, session.last_seen_at),
        last_active_iso: time::iso(session.last_seen_at),
        last_active_exact: time::absolute(session.last_seen_at),
        id: session.public_id,
        ip: session.ip,
    }
}

async fn render(
    current: &CurrentUser,
    page: &Page<'_>,
    app: &AppState<'_>,
    errors: &FormErrors,
) -> Result<Rendered, AppError> {
    let now = app.clock.now();
    let current_id = current.session().map(|s| s.id);
    let mut sessions: Vec<SessionView> =
        store::list_live_for_user(app.db, app.config, now, current.user.id)
            .await?
            .into_iter()
            .map(|s| view(s, current_id, now))
            .collect();
    // This device first; the others stay most recently active first.
    sessions.sort_by_key(|s| !s.current);
    Ok(page.render(
        "sessions/sessions",
        json!({
            "sessions": sessions,
            "errors": errors,
            "has_password": current.user.password_hash.is_some(),
        }),
    ))
}

#[get("/account/sessions")]
async fn sessions_page(
    current: CurrentUser,
    page: Page<'_>,
    app: AppState<'_>,
) -> Result<Rendered, AppError> {
    render(&current, &page, &app, &FormErrors::default()).await
}

/// Ends one session of the user's. Ending the current one is signing out.
#[post("/account/sessions/<id>/revoke", data = "<_form>")]
async fn revoke_session(
    current: CurrentUser,
    id: &str,
    _form: CsrfForm<NoFields>,
    app: AppState<'_>,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
) -> Result<Flash<Redirect>, AppError> {
    let this_one = current.session().is_some_and(|s| s.public_id == id);
    let (now, via) = (app.clock.now(), Via::Page { this_one });
    if !sessions::revoke(app.db, now, &client, current.user.id, id, via).await? {
        return Err(AppError::NotFound);
    }
    if this_one {
        browser::forget(app.config, cookies);
        return Ok(Flash::success(Redirect::to("/"), "You are signed out."));
    }
    Ok(Flash::success(
        Redirect::to(uri!(sessions_page)),
        "That session was ended. It is signed out on its next request.",
    ))
}

#[derive(FromForm)]
pub struct RevokeOthersForm<'r> {
    #[field(default = "")]
    password: &'r str,
    /// Also revoke every API key of the account.
    #[field(default = false)]
    revoke_api_keys: bool,
}

#[post("/account/sessions/revoke-others", data = "<form>")]
async fn revoke_others(
    current: CurrentUser,
    form: CsrfForm<RevokeOthersForm<'_>>,
    page: Page<'_>,
    app: AppState<'_>,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
) -> Result<FormResponse, AppError> {
    let user = &current.user;
    // An account made through a provider has no password to confirm with;
    // setting one ends the other sessions too. Not a failed sign-in.
    let refusal = if user.password_hash.is_none() {
        Some("Your account has no password yet: set one on your account page first.")
    } else if !confirm_password(&app, &client, &current, form.0.password).await? {
        Some("That password is not correct.")
    } else {
        None
    };
    if let Some(message) = refusal {
        let mut errors = FormErrors::default();
        errors.add("password", message);
        return Ok(FormResponse::Invalid(
            render(&current, &page, &app, &errors).await?,
        ));
    }
    let keep = current.session().map(|s| s.id);
    let now = app.clock.now();
    let revoke_keys = form.0.revoke_api_keys;
    let ended = sessions::revoke_others(app.db, now, &client, user.id, keep, revoke_keys).await?;
    ended::acted(cookies, app.config, now);
    let message = match ended {
        0 => "There were no other sessions.".to_owned(),
        1 => "Your other session was ended.".to_owned(),
        n => format!("Your {n} other sessions were ended."),
    };
    Ok(FormResponse::Redirect(Flash::success(
        Redirect::to(uri!(sessions_page)),
        message,
    )))
}
