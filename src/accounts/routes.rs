//! Handlers for `/signup`, `/login`, `/logout` and `/account`.

use rocket::http::CookieJar;
use rocket::response::{Flash, Redirect};
use rocket::{Either, get, post, routes, uri};
use rocket_dyn_templates::Template;
use serde_json::json;

use super::forms::{ChangePasswordForm, LoginForm, SignupForm};
use super::password::{Password, check_new_password};
use super::service::{self, RegisterError, Registration, Roles, SignInAttempt};
use crate::error::AppError;
use crate::security_log::{self, Event, EventKind};
use crate::sessions::{self, guards::CurrentUser};
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::csrf::{CsrfForm, NoFields};
use crate::web::forms::{FormErrors, FormResponse};
use crate::web::page::Page;
use crate::web::safe_next;

pub fn routes() -> Vec<rocket::Route> {
    routes![
        signup_page,
        signup,
        login_page,
        login,
        logout,
        account,
        change_password
    ]
}

#[get("/signup")]
fn signup_page(page: Page<'_>) -> Either<Redirect, Template> {
    if page.is_signed_in() {
        return Either::Left(Redirect::to(uri!(account)));
    }
    Either::Right(page.render("accounts/signup", json!({ "values": {}, "errors": {} })))
}

#[post("/signup", data = "<form>")]
async fn signup(
    form: CsrfForm<SignupForm<'_>>,
    page: Page<'_>,
    app: AppState<'_>,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
) -> Result<FormResponse, AppError> {
    let form = form.0;
    let now = app.clock.now();
    service::count_sign_up(&app, &client).await?;
    let registration = Registration {
        username: form.username,
        email: form.email,
        password: form.password,
    };
    let rerender = |errors: &FormErrors| {
        page.render(
            "accounts/signup",
            json!({
                "values": { "username": form.username, "email": form.email },
                "errors": errors,
            }),
        )
    };
    let user = match service::register(app.db, app.hasher, now, registration, Roles::default())
        .await
    {
        Ok(user) => user,
        Err(RegisterError::Invalid(errors)) => return Ok(FormResponse::Invalid(rerender(&errors))),
        Err(RegisterError::Taken(errors)) => return Ok(FormResponse::Conflict(rerender(&errors))),
        Err(RegisterError::Db(e)) => return Err(e.into()),
        Err(RegisterError::Hashing(e)) => return Err(e.into()),
        Err(RegisterError::Internal(e)) => return Err(e.into()),
    };
    service::finish_sign_in(&app, cookies, &client, &user, false, "sign-up").await?;
    Ok(FormResponse::Redirect(Flash::success(
        Redirect::to(uri!(account)),
        format!("Welcome, {}! Your account is ready.", user.username),
    )))
}

#[get("/login?<next>")]
fn login_page(next: Option<&str>, page: Page<'_>) -> Either<Redirect, Template> {
    let next = next.and_then(safe_next);
    if page.is_signed_in() {
        return Either::Left(Redirect::to(next.unwrap_or("/account").to_owned()));
    }
    Either::Right(page.render(
        "accounts/login",
        json!({ "values": { "next": next.unwrap_or("") }, "errors": {} }),
    ))
}

#[post("/login", data = "<form>")]
async fn login(
    form: CsrfForm<LoginForm<'_>>,
    page: Page<'_>,
    app: AppState<'_>,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
) -> Result<FormResponse, AppError> {
    let form = form.0;
    let now = app.clock.now();
    let next = safe_next(form.next);
    let user = match service::sign_in_with_password(&app, &client, form.login, form.password)
        .await?
    {
        SignInAttempt::Success(user) => user,
        SignInAttempt::Limited { retry_after } => {
            return Err(AppError::TooManyRequests { retry_after });
        }
        SignInAttempt::Failed { account } => {
            if let Some(account) = account {
                security_log::record(
                    app.db,
                    now,
                    Event::new(account.id, EventKind::SignInFailed, &client)
                        .detail(json!({ "method": "password" })),
                )
                .await;
            }
            let mut errors = FormErrors::default();
            errors.add("login", "Incorrect username, email or password.");
            return Ok(FormResponse::Refused(page.render(
                "accounts/login",
                json!({
                    "values": { "login": form.login.trim(), "next": next.unwrap_or(""), "remember": form.remember },
                    "errors": errors,
                }),
            )));
        }
    };
    if user.has_two_factor() {
        // No session yet: the second factor comes first.
        crate::two_factor::pending::begin(
            cookies,
            app.config,
            now,
            user.id,
            form.remember,
            next,
            "password",
        );
        return Ok(FormResponse::Redirect(Flash::new(
            Redirect::to("/login/2fa"),
            "info",
            "Now enter the code from your authenticator app.",
        )));
    }
    let greeting =
        service::finish_sign_in(&app, cookies, &client, &user, form.remember, "password").await?;
    let destination = next.unwrap_or("/account").to_owned();
    Ok(FormResponse::Redirect(Flash::success(
        Redirect::to(destination),
        greeting,
    )))
}

/// Only a POST signs out: a link or an image tag elsewhere cannot.
#[post("/logout", data = "<_form>")]
async fn logout(
    _form: CsrfForm<NoFields>,
    current: Option<CurrentUser>,
    app: AppState<'_>,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
) -> Result<Flash<Redirect>, AppError> {
    if let Some(current) = &current
        && let Some(session) = current.session()
    {
        sessions::sign_out(app.db, app.config, cookies, session.id).await?;
        let event = Event::new(current.user.id, EventKind::SignOut, &client);
        security_log::record(app.db, app.clock.now(), event).await;
    }
    Ok(Flash::success(Redirect::to("/"), "You are signed out."))
}

#[get("/account")]
async fn account(
    current: CurrentUser,
    page: Page<'_>,
    app: AppState<'_>,
) -> Result<Template, AppError> {
    let context = account_context(&current, &app, &FormErrors::default()).await?;
    Ok(page.render("accounts/account", context))
}

/// The account page's own facts. Recovery codes are counted only when 2FA
/// is on, so a plain account page stays at one query.
async fn account_context(
    current: &CurrentUser,
    app: &AppState<'_>,
    errors: &FormErrors,
) -> Result<serde_json::Value, AppError> {
    let user = &current.user;
    let recovery_codes_left = if user.has_two_factor() {
        crate::two_factor::entity::count_unused(app.db, user.id).await?
    } else {
        0
    };
    Ok(json!({
        "has_password": user.password_hash.is_some(),
        "joined": user.created_at.date().to_string(),
        "two_factor": user.has_two_factor(),
        "recovery_codes_left": recovery_codes_left,
        "errors": errors,
    }))
}

#[post("/account/password", data = "<form>")]
async fn change_password(
    current: CurrentUser,
    form: CsrfForm<ChangePasswordForm<'_>>,
    page: Page<'_>,
    app: AppState<'_>,
    client: ClientInfo,
) -> Result<FormResponse, AppError> {
    let form = form.0;
    let user = &current.user;
    let mut errors = FormErrors::default();
    // An account made through OAuth has no password yet and may set one.
    if user.password_hash.is_some()
        && !service::confirm_password(&app, &client, user, form.current_password).await?
    {
        errors.add("current_password", "Your current password is not correct.");
    }
    let new_password = errors.check("new_password", Password::parse_new(form.new_password));
    if let Some(password) = &new_password
        && let Err(message) = check_new_password(password, &user.username, &user.email).await
    {
        errors.add("new_password", message);
    }
    let Some(new_password) = new_password.filter(|_| errors.is_empty()) else {
        let context = account_context(&current, &app, &errors).await?;
        return Ok(FormResponse::Invalid(
            page.render("accounts/account", context),
        ));
    };
    let hash = app.hasher.hash(&new_password).await?;
    let now = app.clock.now();
    service::set_password_hash(app.db, user.id, hash, now).await?;
    let keep = current.session().map(|session| session.id);
    let ended = sessions::store::delete_others(app.db, user.id, keep).await?;
    let event = Event::new(user.id, EventKind::PasswordChanged, &client)
        .detail(json!({ "other_sessions_ended": ended }));
    security_log::record(app.db, now, event).await;
    let message = match ended {
        0 => "Your password was changed.".to_owned(),
        1 => "Your password was changed, and your other session was signed out.".to_owned(),
        n => format!("Your password was changed, and your {n} other sessions were signed out."),
    };
    Ok(FormResponse::Redirect(Flash::success(
        Redirect::to(uri!(account)),
        message,
    )))
}
