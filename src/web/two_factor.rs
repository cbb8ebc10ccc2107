//! `/account/2fa*` (setup, confirm, disable, recovery codes) and the second
//! sign-in step at `/login/2fa`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use qrcode::QrCode;
use qrcode::render::svg;
use rocket::form::FromForm;
use rocket::http::CookieJar;
use rocket::response::{Flash, Redirect};
use rocket::{Either, get, post, routes, uri};
use serde_json::json;

use super::forms::{FormErrors, FormResponse};
use super::handoff;
use super::page::{Page, Rendered};
use super::safe_next;
use crate::accounts::entity as user;
use crate::auth::csrf::{CsrfForm, NoFields};
use crate::auth::pending;
use crate::auth::sign_in::{self, Outcome, Refusal, confirm_password, count_sign_in_failure};
use crate::auth::{AppState, ClientInfo, CurrentUser, Recent};
use crate::error::AppError;
use crate::two_factor::entity::count_unused;
use crate::two_factor::service::{self, Confirmation};
use crate::two_factor::totp::TotpSecret;

pub fn routes() -> Vec<rocket::Route> {
    routes![
        overview,
        setup_page,
        setup,
        codes_page,
        confirm,
        disable,
        regenerate,
        second_step_page,
        second_step
    ]
}

#[derive(FromForm)]
pub struct CodeForm<'r> {
    #[field(default = "")]
    code: &'r str,
}

#[derive(FromForm)]
pub struct DisableForm<'r> {
    #[field(default = "")]
    password: &'r str,
    #[field(default = "")]
    code: &'r str,
}

#[derive(FromForm)]
pub struct PasswordForm<'r> {
    #[field(default = "")]
    password: &'r str,
}

async fn render_overview(
    current: &CurrentUser,
    page: &Page<'_>,
    app: &AppState<'_>,
    errors: &FormErrors,
) -> Result<Rendered, AppError> {
    let enabled = current.user.has_two_factor();
    let codes_left = if enabled {
        count_unused(app.db, current.user.id).await?
    } else {
        0
    };
    Ok(page.render(
        "two_factor/overview",
        json!({
            "enabled": enabled,
            "codes_left": codes_left,
            "has_password": current.user.password_hash.is_some(),
            "errors": errors,
        }),
    ))
}

#[get("/account/2fa")]
async fn overview(
    current: CurrentUser,
    page: Page<'_>,
    app: AppState<'_>,
) -> Result<Rendered, AppError> {
    render_overview(&current, &page, &app, &FormErrors::default()).await
}

/// The QR code of `uri` as a `data:` SVG image (the page's CSP allows
/// `data:` images and nothing inline).
fn qr_data_uri(uri: &str) -> Result<String, AppError> {
    let svg = QrCode::new(uri.as_bytes())
        .map_err(|e| anyhow::anyhow!("QR code: {e}"))?
        .render::<svg::Color>()
        .min_dimensions(240, 240)
        .build();
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        STANDARD.encode(svg)
    ))
}

fn render_setup(
    page: &Page<'_>,
    app: &AppState<'_>,
    account: &user::Model,
    secret: &TotpSecret,
    errors: &FormErrors,
) -> Result<Rendered, AppError> {
    let uri = secret
        .uri(&app.config.site_name, &account.username)
        .ok_or_else(|| anyhow::anyhow!("building the otpauth URI failed"))?;
    Ok(page.render(
        "two_factor/setup",
        json!({
            "qr_code": qr_data_uri(&uri)?,
            "secret": secret.base32(),
            "uri": uri,
            "errors": errors,
        }),
    ))
}

#[get("/account/2fa/setup")]
async fn setup_page(
    current: CurrentUser,
    _recent: Recent,
    page: Page<'_>,
    app: AppState<'_>,
) -> Result<Either<Flash<Redirect>, Rendered>, AppError> {
    match service::pending_secret(app.config, &current.user) {
        Some(secret) if !current.user.has_two_factor() => Ok(Either::Right(render_setup(
            &page,
            &app,
            &current.user,
            &secret,
            &FormErrors::default(),
        )?)),
        _ => Ok(Either::Left(Flash::error(
            Redirect::to(uri!(overview)),
            "There is no setup in progress.",
        ))),
    }
}

#[post("/account/2fa/setup", data = "<_form>")]
async fn setup(
    current: CurrentUser,
    _recent: Recent,
    _form: CsrfForm<NoFields>,
    app: AppState<'_>,
) -> Result<Either<Flash<Redirect>, Redirect>, AppError> {
    if current.user.has_two_factor() {
        return Ok(Either::Left(Flash::error(
            Redirect::to(uri!(overview)),
            "Two-factor authentication is already on.",
        )));
    }
    service::begin_setup(app.db, app.config, current.user.id).await?;
    Ok(Either::Right(Redirect::to(uri!(setup_page))))
}

/// The handoff carrying new recovery codes to the page that shows them.
const CODES: &str = "recovery_codes";

#[derive(serde::Serialize, serde::Deserialize)]
struct NewCodes {
    codes: Vec<String>,
    fresh_setup: bool,
}

/// Hands `codes` to `GET /account/2fa/recovery-codes` and goes there.
fn show_codes(
    cookies: &CookieJar<'_>,
    app: &AppState<'_>,
    user_id: i32,
    codes: Vec<String>,
    fresh_setup: bool,
) -> Redirect {
    let made = NewCodes { codes, fresh_setup };
    handoff::put(cookies, app.config, app.clock.now(), user_id, CODES, made);
    Redirect::to(uri!(codes_page))
}

#[get("/account/2fa/recovery-codes")]
fn codes_page(
    current: CurrentUser,
    page: Page<'_>,
    app: AppState<'_>,
    cookies: &CookieJar<'_>,
) -> Either<Rendered, Flash<Redirect>> {
    let now = app.clock.now();
    match handoff::take::<NewCodes>(cookies, app.config, now, current.user.id, CODES) {
        Some(made) => Either::Left(page.render("two_factor/recovery_codes", made)),
        None => Either::Right(Flash::error(
            Redirect::to(uri!(overview)),
            "Recovery codes are shown only once. If you did not save them, make a new set.",
        )),
    }
}

#[post("/account/2fa/confirm", data = "<form>")]
async fn confirm(
    current: CurrentUser,
    _recent: Recent,
    form: CsrfForm<CodeForm<'_>>,
    page: Page<'_>,
    app: AppState<'_>,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
) -> Result<Either<Flash<Redirect>, FormResponse>, AppError> {
    let (now, code) = (app.clock.now(), form.0.code);
    match service::confirm(app.db, app.config, now, &client, &current.user, code).await? {
        Confirmation::Enabled(codes) => {
            let to = show_codes(cookies, &app, current.user.id, codes, true);
            Ok(Either::Right(FormResponse::Shown(to)))
        }
        Confirmation::WrongCode => {
            let secret = service::pending_secret(app.config, &current.user)
                .ok_or_else(|| anyhow::anyhow!("the pending secret vanished"))?;
            let mut errors = FormErrors::default();
            errors.add(
                "code",
                "That code is not right. Check the time on your device and try the newest code.",
            );
            Ok(Either::Right(FormResponse::Invalid(render_setup(
                &page,
                &app,
                &current.user,
                &secret,
                &errors,
            )?)))
        }
        Confirmation::NothingPending => Ok(Either::Left(Flash::error(
            Redirect::to(uri!(overview)),
            "There is no setup to confirm. Start again.",
        ))),
    }
}

#[post("/account/2fa/disable", data = "<form>")]
async fn disable(
    current: CurrentUser,
    form: CsrfForm<DisableForm<'_>>,
    page: Page<'_>,
    app: AppState<'_>,
    client: ClientInfo,
) -> Result<FormResponse, AppError> {
    let account = &current.user;
    let mut errors = FormErrors::default();
    if !account.has_two_factor() {
        errors.add("disable_code", "Two-factor authentication is not on.");
    } else if !confirm_password(&app, &client, &current, form.0.password).await? {
        errors.add("disable_password", "That password is not correct.");
    } else {
        let now = app.clock.now();
        match service::verify(app.db, app.config, now, &client, account, form.0.code).await? {
            Some(_) => {
                service::disable(app.db, app.config, now, &client, account).await?;
                return Ok(FormResponse::Redirect(Flash::success(
                    Redirect::to(uri!(overview)),
                    "Two-factor authentication is off.",
                )));
            }
            None => {
                count_sign_in_failure(&app, &client, account).await?;
                errors.add(
                    "disable_code",
                    "That code is not valid (or was already used).",
                );
            }
        }
    }
    Ok(FormResponse::Invalid(
        render_overview(&current, &page, &app, &errors).await?,
    ))
}

#[post("/account/2fa/recovery-codes", data = "<form>")]
async fn regenerate(
    current: CurrentUser,
    form: CsrfForm<PasswordForm<'_>>,
    page: Page<'_>,
    app: AppState<'_>,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
) -> Result<FormResponse, AppError> {
    let account = &current.user;
    let mut errors = FormErrors::default();
    if !account.has_two_factor() {
        errors.add("password", "Two-factor authentication is not on.");
    } else if !confirm_password(&app, &client, &current, form.0.password).await? {
        errors.add("password", "That password is not correct.");
    } else {
        let now = app.clock.now();
        let codes =
            service::regenerate_recovery_codes(app.db, app.config, now, &client, account.id)
                .await?;
        let to = show_codes(cookies, &app, account.id, codes, false);
        return Ok(FormResponse::Shown(to));
    }
    Ok(FormResponse::Invalid(
        render_overview(&current, &page, &app, &errors).await?,
    ))
}

fn start_again(message: &'static str) -> Flash<Redirect> {
    Flash::error(Redirect::to("/login"), message)
}

#[get("/login/2fa")]
fn second_step_page(
    page: Page<'_>,
    app: AppState<'_>,
    cookies: &CookieJar<'_>,
) -> Either<Flash<Redirect>, Rendered> {
    match pending::current(cookies, app.config, app.clock.now()) {
        Some(_) => Either::Right(page.render("two_factor/login", json!({ "errors": {} }))),
        None => Either::Left(start_again(
            "Your sign-in has expired. Please sign in again.",
        )),
    }
}

#[post("/login/2fa", data = "<form>")]
async fn second_step(
    form: CsrfForm<CodeForm<'_>>,
    page: Page<'_>,
    app: AppState<'_>,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
) -> Result<Either<Flash<Redirect>, FormResponse>, AppError> {
    let again = |message| Ok(Either::Left(start_again(message)));
    match sign_in::second_step(&app, &client, cookies, form.0.code).await? {
        Outcome::SignedIn(signed) => {
            let next = signed.next.as_deref().and_then(safe_next);
            let to = Redirect::to(next.unwrap_or("/account").to_owned());
            Ok(Either::Right(FormResponse::Redirect(Flash::success(
                to,
                signed.greeting,
            ))))
        }
        Outcome::Refused(Refusal::WrongCode) => {
            let errors =
                FormErrors::single("code", "That code is not valid (or was already used).");
            let page = page.render("two_factor/login", json!({ "errors": errors }));
            Ok(Either::Right(FormResponse::Refused(page)))
        }
        Outcome::Refused(Refusal::Limited { retry_after }) => {
            Err(AppError::TooManyRequests { retry_after })
        }
        Outcome::Refused(Refusal::TooManyCodes) => {
            again("Too many wrong codes. Please sign in again.")
        }
        Outcome::Refused(Refusal::Expired) => {
            again("Your sign-in has expired. Please sign in again.")
        }
        Outcome::NeedsSecondFactor | Outcome::Refused(_) => again("Please sign in again."),
    }
}
