//! Handlers for `/signup`, `/login`, `/logout`, `/account` and its
//! password and address forms.

use rocket::http::{CookieJar, Header};
use rocket::response::{Flash, Redirect};
use rocket::{Either, get, post, routes, uri};
use serde_json::json;

use super::forms::{FormErrors, FormResponse};
use super::page::{Page, Rendered};
use super::safe_next;
use crate::accounts::forms::{
    ChangeEmailForm, ChangePasswordForm, DeleteAccountForm, LoginForm, SignupForm,
};
use crate::accounts::service::Registration;
use crate::auth::csrf::{CsrfForm, NoFields};
use crate::auth::deletion::{self, Deletion};
use crate::auth::email_change::{self, ChangeRequest};
use crate::auth::password::{self, PasswordChange, PasswordChangeError};
use crate::auth::sign_in::{self, Holder, NewAccount, Outcome, Refusal};
use crate::auth::{AppState, ClientInfo, CurrentUser, Recent, reauth, session};
use crate::auth::{ended, verification};
use crate::config::EmailVerification;
use crate::error::AppError;

pub fn routes() -> Vec<rocket::Route> {
    routes![
        signup_page,
        signup,
        login_page,
        login,
        logout,
        account,
        change_password,
        change_email,
        delete_account,
        export
    ]
}

#[get("/signup")]
fn signup_page(page: Page<'_>) -> Either<Redirect, Rendered> {
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
    let registration = Registration {
        username: form.username,
        email: form.email,
        password: form.password,
        min_password_length: app.config.password_min_length,
        verification_mail: None,
    };
    let rerender = |errors: &FormErrors| {
        let values = json!({ "username": form.username, "email": form.email });
        let context = json!({ "values": values, "errors": errors });
        page.render("accounts/signup", context)
    };
    let user = match sign_in::with_new_account(&app, &client, cookies, registration).await? {
        NewAccount::Created(user) => user,
        NewAccount::CheckEmail(user) => {
            return Ok(FormResponse::Redirect(Flash::success(
                Redirect::to("/login"),
                format!(
                    "Welcome, {}! Check your email: open the link we sent to confirm your address, then sign in.",
                    user.username
                ),
            )));
        }
        NewAccount::Invalid(errors) => return Ok(FormResponse::Invalid(rerender(&errors))),
        NewAccount::Taken(errors) => return Ok(FormResponse::Conflict(rerender(&errors))),
    };
    Ok(FormResponse::Redirect(Flash::success(
        Redirect::to(uri!(account)),
        format!("Welcome, {}! Your account is ready.", user.username),
    )))
}

#[get("/login?<next>")]
async fn login_page(
    next: Option<&str>,
    page: Page<'_>,
    app: AppState<'_>,
    cookies: &CookieJar<'_>,
) -> Result<Either<Redirect, Rendered>, AppError> {
    let next = next.and_then(safe_next);
    if page.is_signed_in() {
        return Ok(Either::Left(Redirect::to(
            next.unwrap_or("/account").to_owned(),
        )));
    }
    let ended = ended::reason(app.db, app.config, cookies).await?;
    Ok(Either::Right(page.render(
        "accounts/login",
        json!({ "values": { "next": next.unwrap_or("") }, "errors": {}, "ended": ended }),
    )))
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
    let next = safe_next(form.next);
    let holder = Holder::Browser {
        cookies,
        remember: form.remember,
        next,
    };
    let (login, password) = (form.login, form.password);
    match sign_in::with_password(&app, &client, holder, login, password, None, "password").await? {
        Outcome::SignedIn(signed) => Ok(FormResponse::Redirect(Flash::success(
            Redirect::to(next.unwrap_or("/account").to_owned()),
            signed.greeting,
        ))),
        Outcome::NeedsSecondFactor => Ok(FormResponse::Redirect(to_second_step())),
        Outcome::Refused(Refusal::Limited { retry_after }) => {
            Err(AppError::TooManyRequests { retry_after })
        }
        Outcome::Refused(refusal) => {
            let message = match refusal {
                Refusal::Inactive => sign_in::DEACTIVATED,
                Refusal::Unverified { user_id } => {
                    verification::remember_refused(cookies, app.config, app.clock.now(), user_id);
                    sign_in::UNVERIFIED
                }
                _ => "Incorrect username, email or password.",
            };
            let unverified = matches!(refusal, Refusal::Unverified { .. });
            let errors = FormErrors::single("login", message);
            let values = json!({ "login": login.trim(), "next": next.unwrap_or(""), "remember": form.remember });
            let context = json!({ "values": values, "errors": errors, "unverified": unverified });
            Ok(FormResponse::Refused(
                page.render("accounts/login", context),
            ))
        }
    }
}

/// Where a sign-in whose first factor was right goes next.
pub fn to_second_step() -> Flash<Redirect> {
    Flash::new(
        Redirect::to("/login/2fa"),
        "info",
        "Now enter the code from your authenticator app.",
    )
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
    if let Some(current) = &current {
        session::sign_out(&app, cookies, &client, current).await?;
    }
    Ok(Flash::success(Redirect::to("/"), "You are signed out."))
}

#[get("/account")]
async fn account(
    current: CurrentUser,
    page: Page<'_>,
    app: AppState<'_>,
) -> Result<Rendered, AppError> {
    let context = account_context(&current, &app, &FormErrors::default()).await?;
    Ok(page.render_again("accounts/account", context))
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
        "password_min_length": app.config.password_min_length,
        "joined": user.created_at.date().to_string(),
        "two_factor": user.has_two_factor(),
        "email_verified": user.email_verified_at.is_some(),
        "verification_on": app.config.email_verification != EmailVerification::Off,
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
    cookies: &CookieJar<'_>,
) -> Result<FormResponse, AppError> {
    let form = form.0;
    let user = &current.user;
    // An account made through OAuth has no password yet and may set its
    // first one, but only from a session its provider vouched for lately:
    // a stale session (a browser left signed in) confirms first.
    let confirmed = match user.password_hash {
        None if !reauth::is_recent(app.config, app.clock.now(), &current) => {
            return Ok(FormResponse::Redirect(Flash::error(
                Redirect::to(reauth::confirm_uri(Some("/account"))),
                "Please confirm it is you to set a password.",
            )));
        }
        None => true,
        Some(_) => {
            sign_in::confirm_password(&app, &client, &current, form.current_password).await?
        }
    };
    let change = PasswordChange {
        confirmed,
        new_password: form.new_password,
        min_password_length: app.config.password_min_length,
        revoke_api_keys: form.revoke_api_keys,
        keep_session: current.session().map(|session| session.id),
    };
    let now = app.clock.now();
    let ended = match password::change_password(&app, cookies, &client, user, change).await {
        Ok(ended) => ended,
        Err(PasswordChangeError::Invalid(errors)) => {
            let context = account_context(&current, &app, &errors).await?;
            return Ok(FormResponse::Invalid(
                page.render("accounts/account", context),
            ));
        }
        Err(PasswordChangeError::Failed(e)) => return Err(e),
    };
    ended::acted(cookies, app.config, now);
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

#[post("/account/email", data = "<form>")]
async fn change_email(
    current: CurrentUser,
    form: CsrfForm<ChangeEmailForm<'_>>,
    page: Page<'_>,
    app: AppState<'_>,
    client: ClientInfo,
) -> Result<FormResponse, AppError> {
    let form = form.0;
    let to = Redirect::to(uri!(account));
    match email_change::request_change(&app, &client, &current, form.email, form.password).await? {
        ChangeRequest::Sent(address) => Ok(FormResponse::Redirect(Flash::success(
            to,
            format!(
                "We sent a link to {address}. Your address changes when you open it and press the button; until then it stays as it is."
            ),
        ))),
        ChangeRequest::TooSoon => Ok(FormResponse::Redirect(Flash::error(
            to,
            "We sent three links in the last hour; wait a little before asking again.",
        ))),
        ChangeRequest::Invalid(errors) => {
            let mut context = account_context(&current, &app, &errors).await?;
            context["values"] = json!({ "email": form.email.trim() });
            Ok(FormResponse::Invalid(
                page.render("accounts/account", context),
            ))
        }
    }
}

#[post("/account/delete", data = "<form>")]
async fn delete_account(
    current: CurrentUser,
    form: CsrfForm<DeleteAccountForm<'_>>,
    page: Page<'_>,
    app: AppState<'_>,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
) -> Result<FormResponse, AppError> {
    let form = form.0;
    let (typed, password) = (form.confirm, form.password);
    let rerender = async |errors: &FormErrors| {
        let mut context = account_context(&current, &app, errors).await?;
        context["values"] = json!({ "confirm": typed.trim() });
        Ok::<_, AppError>(page.render("accounts/account", context))
    };
    match deletion::delete_account(&app, &client, cookies, &current, typed, password).await? {
        Deletion::Deleted => Ok(FormResponse::Redirect(Flash::success(
            Redirect::to("/"),
            "Your account was deleted. We sent a last message to your address.",
        ))),
        Deletion::Invalid(errors) => Ok(FormResponse::Invalid(rerender(&errors).await?)),
        Deletion::LastSuperuser(errors) => Ok(FormResponse::Conflict(rerender(&errors).await?)),
        Deletion::ConfirmFirst => Ok(FormResponse::Redirect(Flash::error(
            Redirect::to(reauth::confirm_uri(Some("/account"))),
            "Please confirm it is you to delete the account.",
        ))),
    }
}

/// The account's data as a JSON file to save.
#[derive(rocket::Responder)]
#[response(content_type = "json")]
struct Download {
    body: String,
    disposition: Header<'static>,
}

/// Behind the reauthentication window: a browser left signed in does not
/// hand out the account's data.
#[get("/account/export")]
async fn export(recent: Recent, app: AppState<'_>) -> Result<Download, AppError> {
    let user = &recent.0.user;
    let data = crate::export::account_data(app.db, app.config, app.clock.now(), user).await?;
    let body = serde_json::to_string_pretty(&data).map_err(anyhow::Error::from)?;
    // A username holds only [A-Za-z0-9_.-]: safe in the header as it is.
    let disposition = format!("attachment; filename=\"{}-data.json\"", user.username);
    Ok(Download {
        body,
        disposition: Header::new("Content-Disposition", disposition),
    })
}
