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
use rocket_dyn_templates::Template;
use serde_json::json;

use super::pending;
use super::service::{self, Confirmation, SecondFactor};
use super::totp::TotpSecret;
use crate::accounts::entity as user;
use crate::accounts::service::{
    confirm_password, count_sign_in_failure, finish_sign_in, second_factor_turn,
};
use crate::error::AppError;
use crate::security_log::{self, Event, EventKind};
use crate::sessions::guards::CurrentUser;
use crate::state::AppState;
use crate::web::client::ClientInfo;
use crate::web::csrf::{CsrfForm, NoFields};
use crate::web::forms::{FormErrors, FormResponse};
use crate::web::handoff;
use crate::web::page::Page;
use crate::web::safe_next;

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
) -> Result<Template, AppError> {
    let enabled = current.user.has_two_factor();
    let codes_left = if enabled {
        super::entity::count_unused(app.db, current.user.id).await?
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
) -> Result<Template, AppError> {
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
) -> Result<Template, AppError> {
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
    page: Page<'_>,
    app: AppState<'_>,
) -> Result<Either<Flash<Redirect>, Template>, AppError> {
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
    _form: CsrfForm<NoFields>,
    app: AppState<'_>,
) -> Result<Either<Flash<Redirect>, Redirect>, AppError> {
    if current.user.has_two_factor() {
        return Ok(Either::Left(Flash::error(
            Redirect::to(uri!(overview)),
            "Two-factor authentication is already on.",
        )));
    }
    service::begin_setup(&app, current.user.id).await?;
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
) -> Either<Template, Flash<Redirect>> {
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
    form: CsrfForm<CodeForm<'_>>,
    page: Page<'_>,
    app: AppState<'_>,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
) -> Result<Either<Flash<Redirect>, FormResponse>, AppError> {
    match service::confirm(&app, &current.user, form.0.code).await? {
        Confirmation::Enabled(codes) => {
            let event = Event::new(current.user.id, EventKind::TwoFactorEnabled, &client);
            security_log::record(app.db, app.clock.now(), event).await;
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
    } else if !confirm_password(&app, &client, account, form.0.password).await? {
        errors.add("disable_password", "That password is not correct.");
    } else {
        match service::verify(&app, account, form.0.code).await? {
            Some(factor) => {
                let now = app.clock.now();
                if factor == SecondFactor::RecoveryCode {
                    let event = Event::new(account.id, EventKind::RecoveryCodeUsed, &client);
                    security_log::record(app.db, now, event).await;
                }
                service::disable(&app, account.id).await?;
                let event = Event::new(account.id, EventKind::TwoFactorDisabled, &client);
                security_log::record(app.db, now, event).await;
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
    } else if !confirm_password(&app, &client, account, form.0.password).await? {
        errors.add("password", "That password is not correct.");
    } else {
        let codes = service::regenerate_recovery_codes(&app, account.id).await?;
        let event = Event::new(account.id, EventKind::RecoveryCodesRegenerated, &client);
        security_log::record(app.db, app.clock.now(), event).await;
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
) -> Either<Flash<Redirect>, Template> {
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
    let now = app.clock.now();
    let Some(waiting) = pending::current(cookies, app.config, now) else {
        return Ok(Either::Left(start_again(
            "Your sign-in has expired. Please sign in again.",
        )));
    };
    // Every code counts, before it is checked: parallel guesses each see
    // the ones before them, and a saved copy of the cookie brings no more.
    let attempts = [app.limiter.attempts(
        "two_factor:pending",
        &waiting.id,
        app.limiter.settings().two_factor_per_sign_in,
        waiting.started_at(),
        pending::LIFETIME.whole_seconds().unsigned_abs() as u32,
    )];
    let too_many = "Too many wrong codes. Please sign in again.";
    if app.limiter.count_and_check(now, &attempts).await?.is_some() {
        pending::clear(cookies, app.config);
        return Ok(Either::Left(start_again(too_many)));
    }
    let account = user::find_by_id(app.db, waiting.user_id)
        .await?
        .filter(|u| u.is_active && u.has_two_factor());
    let Some(account) = account else {
        pending::clear(cookies, app.config);
        return Ok(Either::Left(start_again("Please sign in again.")));
    };
    let _turn = second_factor_turn(&app, &client, &account).await?;
    let Some(factor) = service::verify(&app, &account, form.0.code).await? else {
        // Against the account's sign-in limit too, or each new pending
        // sign-in would bring five more.
        count_sign_in_failure(&app, &client, &account).await?;
        let event = Event::new(account.id, EventKind::SignInFailed, &client)
            .detail(json!({ "method": "second factor" }));
        security_log::record(app.db, now, event).await;
        if app.limiter.check(now, &attempts).await?.is_some() {
            pending::clear(cookies, app.config);
            return Ok(Either::Left(start_again(too_many)));
        }
        let mut errors = FormErrors::default();
        errors.add("code", "That code is not valid (or was already used).");
        return Ok(Either::Right(FormResponse::Refused(
            page.render("two_factor/login", json!({ "errors": errors })),
        )));
    };
    pending::clear(cookies, app.config);
    if factor == SecondFactor::RecoveryCode {
        let event = Event::new(account.id, EventKind::RecoveryCodeUsed, &client);
        security_log::record(app.db, now, event).await;
    }
    let method = format!("{} + {}", waiting.method, factor.describe());
    let greeting =
        finish_sign_in(&app, cookies, &client, &account, waiting.remember, &method).await?;
    let destination = waiting
        .next
        .as_deref()
        .and_then(safe_next)
        .unwrap_or("/account")
        .to_owned();
    Ok(Either::Right(FormResponse::Redirect(Flash::success(
        Redirect::to(destination),
        greeting,
    ))))
}
