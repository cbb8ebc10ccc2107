//! The confirmation page (`/account/confirm`): a signed-in person proves
//! again who they are before a sensitive action, with their password, a
//! 2FA code, or (an account with neither) a new sign-in with a linked
//! provider; a passkey of the account too (`web::passkeys` takes its
//! answer). See `auth::reauth` for the window and the guard.

use rocket::form::FromForm;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, routes};
use serde_json::{Value, json};

use super::forms::{FormErrors, FormResponse};
use super::page::{Page, Rendered};
use super::safe_next;
use crate::auth::csrf::CsrfForm;
use crate::auth::reauth::{self, Proof};
use crate::auth::{AppState, ClientInfo, CurrentUser};
use crate::error::AppError;
use crate::oauth::entity as linked;

pub fn routes() -> Vec<rocket::Route> {
    routes![confirm_page, confirm]
}

#[derive(FromForm)]
pub struct ConfirmForm<'r> {
    #[field(default = "")]
    password: &'r str,
    #[field(default = "")]
    code: &'r str,
    #[field(default = "")]
    next: &'r str,
}

/// What the page offers this account: a code field with 2FA, else a
/// password field, else its linked providers' sign-in links.
async fn context(
    app: &AppState<'_>,
    current: &CurrentUser,
    next: &str,
    errors: &FormErrors,
) -> Result<Value, AppError> {
    let user = &current.user;
    let providers: Vec<Value> = if user.has_two_factor() || user.password_hash.is_some() {
        Vec::new()
    } else {
        let links = linked::list_for_user(app.db, user.id).await?;
        app.config
            .oauth
            .iter()
            .filter(|p| links.iter().any(|l| l.provider == p.name))
            .map(|p| json!({ "name": p.name, "display_name": p.display_name }))
            .collect()
    };
    let has_passkeys = crate::passkeys::service::available(app.config)
        && crate::passkeys::entity::count_for_user(app.db, user.id).await? > 0;
    Ok(json!({
        "next": next,
        "has_passkeys": has_passkeys,
        "two_factor": user.has_two_factor(),
        "has_password": user.password_hash.is_some(),
        "providers": providers,
        "errors": errors,
    }))
}

#[get("/account/confirm?<next>")]
async fn confirm_page(
    current: CurrentUser,
    next: Option<&str>,
    page: Page<'_>,
    app: AppState<'_>,
) -> Result<Rendered, AppError> {
    let next = next.and_then(safe_next).unwrap_or("/account");
    let context = context(&app, &current, next, &FormErrors::default()).await?;
    Ok(page.render("reauth/confirm", context))
}

#[post("/account/confirm", data = "<form>")]
async fn confirm(
    current: CurrentUser,
    form: CsrfForm<ConfirmForm<'_>>,
    page: Page<'_>,
    app: AppState<'_>,
    client: ClientInfo,
) -> Result<FormResponse, AppError> {
    let form = form.0;
    let next = safe_next(form.next).unwrap_or("/account");
    let (field, proof) = if current.user.has_two_factor() {
        ("code", Proof::Code(form.code))
    } else {
        ("password", Proof::Password(form.password))
    };
    if reauth::confirm(&app, &client, &current, proof).await? {
        return Ok(FormResponse::Redirect(Flash::success(
            Redirect::to(next.to_owned()),
            "Thank you: you can go on.",
        )));
    }
    let message = match field {
        "code" => "That code is not valid (or was already used).",
        _ => "That password is not right.",
    };
    let errors = FormErrors::single(field, message);
    let context = context(&app, &current, next, &errors).await?;
    Ok(FormResponse::Refused(
        page.render("reauth/confirm", context),
    ))
}
