//! Handlers for `/password/forgot` (asking for a reset link) and
//! `/password/reset/<token>` (using it).

use rocket::response::{Flash, Redirect};
use rocket::{Responder, get, post, routes};
use serde_json::json;

use super::page::{Page, Rendered};
use crate::accounts::forms::{ForgotPasswordForm, ResetPasswordForm};
use crate::auth::csrf::CsrfForm;
use crate::auth::recovery::{self, LinkError, ResetOutcome};
use crate::auth::{AppState, ClientInfo};
use crate::error::AppError;

pub fn routes() -> Vec<rocket::Route> {
    routes![forgot_page, forgot, reset_page, reset]
}

#[derive(Responder)]
enum ResetResponse {
    Done(Box<Flash<Redirect>>),
    Form(Rendered),
    /// Unknown, used, expired or void: one page for all.
    #[response(status = 400)]
    BadLink(Rendered),
    #[response(status = 422)]
    Invalid(Rendered),
}

#[get("/password/forgot")]
fn forgot_page(page: Page<'_>) -> Rendered {
    page.render("accounts/password_forgot", json!({ "sent": false }))
}

/// The same page and status for every address, known or not.
#[post("/password/forgot", data = "<form>")]
async fn forgot(
    form: CsrfForm<ForgotPasswordForm<'_>>,
    page: Page<'_>,
    app: AppState<'_>,
    client: ClientInfo,
) -> Result<Rendered, AppError> {
    recovery::request_reset(&app, &client, form.0.email).await?;
    Ok(page.render("accounts/password_forgot", json!({ "sent": true })))
}

fn bad_link(page: &Page<'_>) -> ResetResponse {
    ResetResponse::BadLink(page.render("accounts/password_reset_invalid", json!({})))
}

/// Shows the form for a working link; changes nothing (mail scanners
/// open links).
#[get("/password/reset/<token>")]
async fn reset_page(
    token: &str,
    page: Page<'_>,
    app: AppState<'_>,
) -> Result<ResetResponse, AppError> {
    match recovery::open_link(&app, token).await {
        Ok((_, account)) => Ok(ResetResponse::Form(page.render(
            "accounts/password_reset",
            json!({ "token": token, "username": account.username, "errors": {} }),
        ))),
        Err(LinkError::BadLink) => Ok(bad_link(&page)),
        Err(LinkError::Failed(e)) => Err(e),
    }
}

#[post("/password/reset/<token>", data = "<form>")]
async fn reset(
    token: &str,
    form: CsrfForm<ResetPasswordForm<'_>>,
    page: Page<'_>,
    app: AppState<'_>,
    client: ClientInfo,
) -> Result<ResetResponse, AppError> {
    match recovery::reset_password(&app, &client, token, form.0.new_password).await {
        Ok(ResetOutcome::Done) => Ok(ResetResponse::Done(Box::new(Flash::success(
            Redirect::to("/login"),
            "Your password was reset, and every session of your account was signed out. Sign in with your new password.",
        )))),
        Ok(ResetOutcome::Invalid(errors)) => Ok(ResetResponse::Invalid(page.render(
            "accounts/password_reset",
            json!({ "token": token, "errors": errors }),
        ))),
        Err(LinkError::BadLink) => Ok(bad_link(&page)),
        Err(LinkError::Failed(e)) => Err(e),
    }
}
