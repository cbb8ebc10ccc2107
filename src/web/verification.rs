//! Handlers for `/email/confirm/<token>` (verifying an address by its
//! emailed link) and `/account/email/resend`.

use rocket::http::CookieJar;
use rocket::response::{Flash, Redirect};
use rocket::{Responder, get, post, routes};
use serde_json::json;

use super::page::{Page, Rendered};
use crate::auth::csrf::{CsrfForm, NoFields};
use crate::auth::recovery::LinkError;
use crate::auth::verification::{self, Confirmed, Resend};
use crate::auth::{AppState, ClientInfo, CurrentUser};
use crate::error::AppError;

pub fn routes() -> Vec<rocket::Route> {
    routes![confirm_page, confirm, resend]
}

#[derive(Responder)]
enum ConfirmResponse {
    Done(Box<Flash<Redirect>>),
    Form(Rendered),
    /// Unknown, used, expired or void: one page for all.
    #[response(status = 400)]
    BadLink(Rendered),
}

fn bad_link(page: &Page<'_>) -> ConfirmResponse {
    ConfirmResponse::BadLink(page.render("accounts/email_confirm_invalid", json!({})))
}

/// A page with one button: a GET changes nothing (mail scanners open links).
#[get("/email/confirm/<token>")]
async fn confirm_page(
    token: &str,
    page: Page<'_>,
    app: AppState<'_>,
) -> Result<ConfirmResponse, AppError> {
    match verification::open_link(&app, token).await {
        Ok(link) => Ok(ConfirmResponse::Form(page.render(
            "accounts/email_confirm",
            json!({ "token": token, "address": link.address() }),
        ))),
        Err(LinkError::BadLink) => Ok(bad_link(&page)),
        Err(LinkError::Failed(e)) => Err(e),
    }
}

#[post("/email/confirm/<token>", data = "<_form>")]
async fn confirm(
    token: &str,
    _form: CsrfForm<NoFields>,
    page: Page<'_>,
    app: AppState<'_>,
    client: ClientInfo,
) -> Result<ConfirmResponse, AppError> {
    let to = Redirect::to("/account");
    match verification::confirm(&app, &client, token).await {
        Ok(Confirmed::Verified) => Ok(ConfirmResponse::Done(Box::new(Flash::success(
            to,
            "Your email address is verified.",
        )))),
        Ok(Confirmed::Changed(address)) => Ok(ConfirmResponse::Done(Box::new(Flash::success(
            to,
            format!("Your email address is now {address}."),
        )))),
        Err(LinkError::BadLink) => Ok(bad_link(&page)),
        Err(LinkError::Failed(e)) => Err(e),
    }
}

/// Signed in: the account's link. Not signed in: the link of the account
/// this browser was just refused at sign-in for want of verification.
#[post("/account/email/resend", data = "<_form>")]
async fn resend(
    current: Option<CurrentUser>,
    _form: CsrfForm<NoFields>,
    app: AppState<'_>,
    cookies: &CookieJar<'_>,
) -> Result<Flash<Redirect>, AppError> {
    let (outcome, to) = match &current {
        Some(current) => (verification::resend(&app, &current.user).await?, "/account"),
        None => (
            verification::resend_after_refusal(&app, cookies).await?,
            "/login",
        ),
    };
    let to = Redirect::to(to);
    Ok(match outcome {
        Resend::Sent => Flash::success(to, "We sent the link again; it may take a minute."),
        Resend::AlreadyVerified => Flash::success(to, "Your email address is already verified."),
        Resend::TooSoon => Flash::error(
            to,
            "We sent three links in the last hour; wait a little before asking again.",
        ),
        Resend::Off => Flash::error(to, "This site does not verify email addresses."),
        Resend::NoAccount => Flash::error(
            to,
            "Sign in with your password first; the page will then offer to send the link.",
        ),
    })
}
