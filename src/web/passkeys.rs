//! `/account/passkeys` (list, add, rename, remove) and the JSON endpoints
//! that `static/passkeys.js` calls to run WebAuthn ceremonies: adding a
//! passkey, signing in with one from `/login`, using one as the second
//! factor at `/login/2fa`, and confirming with one at `/account/confirm`.
//! Adding and removing need a recent confirmation ([`Recent`]). The JSON endpoints take the page's CSRF token
//! in `X-CSRF-Token` ([`CsrfJson`]) and answer JSON; refusals say little.

use rocket::form::FromForm;
use rocket::http::{CookieJar, Status};
use rocket::response::status::Custom;
use rocket::response::{Flash, Redirect};
use rocket::serde::json::Json;
use rocket::{Either, get, post, routes, uri};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::page::{Page, Rendered};
use super::safe_next;
use crate::auth::csrf::{CsrfForm, CsrfJson, NoFields};
use crate::auth::reauth::{self, Proof};
use crate::auth::sign_in::{self, DEACTIVATED, Outcome, Refusal};
use crate::auth::{AppState, ClientInfo, CurrentUser, Recent};
use crate::error::AppError;
use crate::passkeys::entity as passkey;
use crate::passkeys::service::{self, PasskeyError};

pub fn routes() -> Vec<rocket::Route> {
    routes![
        passkeys_page,
        registration_options,
        add_passkey,
        rename_passkey,
        remove_passkey,
        remove_passkey_json,
        sign_in_options,
        passkey_sign_in,
        second_factor_options,
        second_factor,
        confirm_options,
        confirm,
    ]
}

/// A JSON answer: the body, or a refusal with its status and message.
type JsonAnswer = Result<Either<Flash<Json<Value>>, Custom<Json<Value>>>, AppError>;

fn refused(status: Status, message: &str) -> JsonAnswer {
    Ok(Either::Right(Custom(
        status,
        Json(json!({ "error": message })),
    )))
}

/// A success that goes to `to`, with `message` shown there.
fn go_to(to: &str, message: String) -> JsonAnswer {
    let body = Json(json!({ "redirect": to }));
    Ok(Either::Left(Flash::success(body, message)))
}

const NOT_ACCEPTED: &str = "That passkey was not accepted. Try again.";
const UNAVAILABLE: &str = "Passkeys are not available on this site.";

/// A [`PasskeyError`] as a JSON answer.
fn answer_error(err: PasskeyError) -> JsonAnswer {
    match err {
        PasskeyError::Unavailable => refused(Status::NotFound, UNAVAILABLE),
        PasskeyError::Invalid(errors) => {
            let message = errors.iter().map(|(_, m)| m).collect::<Vec<_>>().join(" ");
            refused(Status::UnprocessableEntity, &message)
        }
        PasskeyError::Refused => refused(Status::BadRequest, NOT_ACCEPTED),
        PasskeyError::Failed(e) => Err(e),
    }
}

fn options_answer(options: Result<Value, PasskeyError>) -> JsonAnswer {
    match options {
        Ok(options) => Ok(Either::Right(Custom(Status::Ok, Json(options)))),
        Err(err) => answer_error(err),
    }
}

/// A body with nothing the endpoint reads (`{}`).
#[derive(Deserialize)]
pub struct Empty {}

#[derive(Deserialize)]
pub struct NewPasskey {
    #[serde(default)]
    name: String,
    credential: Value,
}

#[derive(Deserialize)]
pub struct PasskeyAnswer {
    credential: Value,
    #[serde(default)]
    next: Option<String>,
}

#[derive(FromForm)]
pub struct NameForm<'r> {
    #[field(default = "")]
    name: &'r str,
}

/// A passkey as the page shows it.
#[derive(Serialize)]
struct PasskeyView {
    id: i32,
    name: String,
    created: String,
    last_used: Option<String>,
    synced: bool,
}

fn view(model: passkey::Model) -> PasskeyView {
    PasskeyView {
        id: model.id,
        name: model.name,
        created: super::time::absolute(model.created_at),
        last_used: model.last_used_at.map(super::time::absolute),
        synced: model.backup_state,
    }
}

#[get("/account/passkeys")]
async fn passkeys_page(
    current: CurrentUser,
    page: Page<'_>,
    app: AppState<'_>,
) -> Result<Rendered, AppError> {
    let held = passkey::list_for_user(app.db, current.user.id).await?;
    let passkeys: Vec<PasskeyView> = held.into_iter().map(view).collect();
    Ok(page.render(
        "passkeys/passkeys",
        json!({
            "passkeys": passkeys,
            "available": service::available(app.config),
            "max_name": service::MAX_NAME_LEN,
        }),
    ))
}

#[post("/account/passkeys/options", data = "<_body>")]
async fn registration_options(
    current: CurrentUser,
    _recent: Recent,
    _body: CsrfJson<Empty>,
    app: AppState<'_>,
) -> JsonAnswer {
    let now = app.clock.now();
    options_answer(service::begin_registration(app.db, app.config, now, &current.user).await)
}

#[post("/account/passkeys", data = "<body>")]
async fn add_passkey(
    current: CurrentUser,
    _recent: Recent,
    body: CsrfJson<NewPasskey>,
    app: AppState<'_>,
    client: ClientInfo,
) -> JsonAnswer {
    let NewPasskey { name, credential } = body.0;
    let now = app.clock.now();
    let account = &current.user;
    match service::finish_registration(app.db, app.config, now, &client, account, &name, credential)
        .await
    {
        Ok(added) => go_to(
            "/account/passkeys",
            format!("The passkey “{}” was added.", added.name),
        ),
        Err(err) => answer_error(err),
    }
}

#[post("/account/passkeys/<id>/rename", data = "<form>")]
async fn rename_passkey(
    current: CurrentUser,
    id: i32,
    form: CsrfForm<NameForm<'_>>,
    app: AppState<'_>,
) -> Result<Flash<Redirect>, AppError> {
    let to = Redirect::to(uri!(passkeys_page));
    match service::rename(app.db, current.user.id, id, form.0.name).await {
        Ok(true) => Ok(Flash::success(to, "The passkey was renamed.")),
        Ok(false) => Err(AppError::NotFound),
        Err(PasskeyError::Invalid(_)) => Ok(Flash::error(
            to,
            "Give the passkey a name of 1 to 64 characters.",
        )),
        Err(PasskeyError::Failed(e)) => Err(e),
        Err(_) => Err(AppError::NotFound),
    }
}

/// Removes the holder's passkey `id`; None when there is none of theirs.
async fn remove(
    current: &CurrentUser,
    app: &AppState<'_>,
    client: &ClientInfo,
    id: i32,
) -> Result<(), AppError> {
    let now = app.clock.now();
    match service::remove(app.db, app.config, now, client, &current.user, id, None).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(AppError::NotFound),
        Err(PasskeyError::Failed(e)) => Err(e),
        Err(_) => Err(AppError::NotFound),
    }
}

const REMOVED: &str = "The passkey was removed. It no longer signs in.";

#[post("/account/passkeys/<id>/delete", format = "form", data = "<_form>")]
async fn remove_passkey(
    current: CurrentUser,
    _recent: Recent,
    id: i32,
    _form: CsrfForm<NoFields>,
    app: AppState<'_>,
    client: ClientInfo,
) -> Result<Flash<Redirect>, AppError> {
    remove(&current, &app, &client, id).await?;
    Ok(Flash::success(Redirect::to(uri!(passkeys_page)), REMOVED))
}

#[post(
    "/account/passkeys/<id>/delete",
    format = "json",
    data = "<_body>",
    rank = 2
)]
async fn remove_passkey_json(
    current: CurrentUser,
    _recent: Recent,
    id: i32,
    _body: CsrfJson<Empty>,
    app: AppState<'_>,
    client: ClientInfo,
) -> JsonAnswer {
    remove(&current, &app, &client, id).await?;
    go_to("/account/passkeys", REMOVED.to_owned())
}

#[post("/login/passkey/options", data = "<_body>")]
async fn sign_in_options(
    _body: CsrfJson<Empty>,
    app: AppState<'_>,
    client: ClientInfo,
) -> JsonAnswer {
    sign_in::count_passkey_challenge(&app, &client).await?;
    options_answer(service::begin_sign_in(app.db, app.config, app.clock.now()).await)
}

/// A sign-in's outcome as a JSON answer.
fn signed_in_answer(outcome: Outcome) -> JsonAnswer {
    match outcome {
        Outcome::SignedIn(signed) => {
            let next = signed.next.as_deref().and_then(safe_next);
            go_to(next.unwrap_or("/account"), signed.greeting)
        }
        Outcome::Refused(Refusal::Limited { retry_after }) => {
            Err(AppError::TooManyRequests { retry_after })
        }
        Outcome::Refused(Refusal::Inactive) => refused(Status::Forbidden, DEACTIVATED),
        Outcome::Refused(Refusal::Expired | Refusal::StartAgain | Refusal::TooManyCodes) => {
            refused(
                Status::Conflict,
                "Your sign-in has expired. Please sign in again.",
            )
        }
        Outcome::NeedsSecondFactor | Outcome::Refused(_) => {
            refused(Status::BadRequest, NOT_ACCEPTED)
        }
    }
}

#[post("/login/passkey", data = "<body>")]
async fn passkey_sign_in(
    body: CsrfJson<PasskeyAnswer>,
    app: AppState<'_>,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
) -> JsonAnswer {
    let PasskeyAnswer { credential, next } = body.0;
    let next = next.as_deref().and_then(safe_next);
    signed_in_answer(sign_in::with_passkey(&app, &client, cookies, credential, next).await?)
}

#[post("/login/2fa/passkey/options", data = "<_body>")]
async fn second_factor_options(
    _body: CsrfJson<Empty>,
    app: AppState<'_>,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
) -> JsonAnswer {
    sign_in::count_passkey_challenge(&app, &client).await?;
    match sign_in::second_step_passkey_options(&app, cookies).await? {
        Some(options) => Ok(Either::Right(Custom(Status::Ok, Json(options)))),
        None => refused(
            Status::Conflict,
            "There is no sign-in waiting for a passkey.",
        ),
    }
}

#[post("/login/2fa/passkey", data = "<body>")]
async fn second_factor(
    body: CsrfJson<PasskeyAnswer>,
    app: AppState<'_>,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
) -> JsonAnswer {
    let credential = body.0.credential;
    signed_in_answer(sign_in::second_step_passkey(&app, &client, cookies, credential).await?)
}

#[post("/account/confirm/passkey/options", data = "<_body>")]
async fn confirm_options(
    current: CurrentUser,
    _body: CsrfJson<Empty>,
    app: AppState<'_>,
) -> JsonAnswer {
    match reauth::passkey_options(&app, &current).await? {
        Some(options) => Ok(Either::Right(Custom(Status::Ok, Json(options)))),
        None => refused(Status::Conflict, "Your account has no passkeys."),
    }
}

/// A passkey confirming it is the account's holder (`/account/confirm`);
/// then on to `next`.
#[post("/account/confirm/passkey", data = "<body>")]
async fn confirm(
    current: CurrentUser,
    body: CsrfJson<PasskeyAnswer>,
    app: AppState<'_>,
    client: ClientInfo,
) -> JsonAnswer {
    let PasskeyAnswer { credential, next } = body.0;
    let proof = Proof::Passkey(credential);
    if !reauth::confirm(&app, &client, &current, proof).await? {
        return refused(Status::BadRequest, NOT_ACCEPTED);
    }
    let next = next.as_deref().and_then(safe_next).unwrap_or("/account");
    go_to(next, "Thank you: you can go on.".to_owned())
}
