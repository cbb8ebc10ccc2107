//! `POST`/`DELETE /api/v1/session` (a same-site single-page app signs in
//! and out, its token in cookies) and `POST /api/v1/revoke` (RFC 7009).

use rocket::form::{Form, FromForm};
use rocket::http::{CookieJar, Status};
use rocket::serde::json::Json;
use rocket::{Responder, delete, post};
use serde::Deserialize;
use utoipa::ToSchema;

use super::json_body::JsonBody;
use super::responses::CallerRefusals;
use super::routes::{ApiError, Me, NOT_GRANTED, TokenError, token_error_body};
use crate::auth::csrf::SameSite;
use crate::auth::sign_in::{self, Holder, Outcome, Refusal};
use crate::auth::token_grants::{self, Hint};
use crate::auth::{AppState, ClientInfo, CurrentUser};
use crate::error::AppError;
use crate::text;

/// A single-page app's sign-in.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The username or email.
    #[schema(
        min_length = 1,
        max_length = 254,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*$"
    )]
    login: String,
    #[schema(
        min_length = 1,
        max_length = 1024,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*$"
    )]
    password: String,
    /// The current TOTP code (or a recovery code), for accounts with
    /// two-factor authentication.
    #[schema(max_length = 64, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    otp: Option<String>,
}

impl SessionRequest {
    /// Within the documented lengths, with no control character.
    fn is_acceptable(&self) -> bool {
        let fields = [
            (self.login.as_str(), 254),
            (self.password.as_str(), 1024),
            (self.otp.as_deref().unwrap_or_default(), 64),
        ];
        fields
            .iter()
            .all(|(value, max)| value.chars().count() <= *max && !text::has_control(value))
    }
}

/// Signs a same-site single-page app in: a server-side session whose
/// token the browser keeps in cookies.
#[utoipa::path(
    post,
    path = "/api/v1/session",
    tag = "auth",
    request_body(content = SessionRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Signed in. Sets `gatehouse_jwt` (the session's token: `HttpOnly`, `SameSite=Strict`, `Path=/api`, `Secure` on https) and `gatehouse_xsrf` (readable; repeat it in `X-CSRF-Token` on every request but GET/HEAD/OPTIONS)", body = Me,
            headers(("Set-Cookie" = String, description = "`gatehouse_jwt` and `gatehouse_xsrf`"))),
        (status = 400, description = "A body that is not the JSON object described, a field over its length or with a control character, or credentials that were not accepted (send `otp` when the account has two-factor authentication)", body = ApiError),
        (status = 403, description = "Sent by a page of another site (`cross_site`), or the account is deactivated", body = ApiError),
        (status = 413, description = "The body is over 64 KiB", body = ApiError),
        (status = 415, description = "The body is not `application/json`", body = ApiError),
        (status = 429, description = "Too many failed sign-ins", body = ApiError,
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
        (status = 503, description = "The password hashing queue is full", body = ApiError,
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
#[post("/v1/session", data = "<body>")]
pub async fn start_session(
    _same_site: SameSite,
    body: Result<JsonBody<SessionRequest>, AppError>,
    app: AppState<'_>,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
) -> Result<Json<Me>, AppError> {
    let request = body?.0;
    if !request.is_acceptable() {
        return Err(AppError::BadRequest(
            "`login` is at most 254 characters, `password` 1024 and `otp` 64, none with a control character.",
        ));
    }
    let otp = request.otp.as_deref().filter(|otp| !otp.trim().is_empty());
    let holder = Holder::App { cookies };
    let (login, password) = (request.login.as_str(), request.password.as_str());
    let outcome =
        sign_in::with_password(&app, &client, holder, login, password, otp, "app").await?;
    match outcome {
        Outcome::SignedIn(signed) => Ok(Json(signed.user.into())),
        Outcome::Refused(Refusal::Limited { retry_after }) => {
            Err(AppError::TooManyRequests { retry_after })
        }
        Outcome::Refused(Refusal::Inactive) => Err(AppError::Forbidden(sign_in::DEACTIVATED)),
        // As at the token endpoint: one answer, so a guesser learns
        // nothing about the password from the `otp` hint.
        Outcome::NeedsSecondFactor | Outcome::Refused(_) => Err(AppError::BadRequest(NOT_GRANTED)),
    }
}

/// Signs out: ends the caller's session (its tokens die with it) and
/// clears the app's cookies.
#[utoipa::path(
    delete,
    path = "/api/v1/session",
    tag = "auth",
    responses(
        (status = 204, description = "Signed out; both cookies cleared"),
        CallerRefusals,
    ),
    security(("cookie" = []), ("bearer" = []), ("api_key" = []), ("oauth2" = ["write"]))
)]
#[delete("/v1/session")]
pub async fn end_session(
    current: CurrentUser,
    app: AppState<'_>,
    client: ClientInfo,
    cookies: &CookieJar<'_>,
) -> Result<Status, AppError> {
    token_grants::sign_out(&app, cookies, &client, &current).await?;
    Ok(Status::NoContent)
}

/// The form of `POST /api/v1/revoke` (RFC 7009 §2.1).
#[derive(FromForm, ToSchema)]
pub struct RevokeRequest<'r> {
    /// An access token or a refresh token. A value no token could have
    /// (any length, within the 64 KiB body) is unknown: 200, as RFC 7009 asks.
    #[schema(required = true, value_type = String, min_length = 1, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    token: Option<&'r str>,
    /// `access_token` or `refresh_token`: where to look first. Any other
    /// value is ignored.
    #[schema(value_type = String, required = false, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    token_type_hint: Option<&'r str>,
}

#[derive(Responder)]
pub enum RevokeResponse {
    Done(()),
    #[response(status = 400)]
    Refused(Json<TokenError>),
}

/// Ends the session behind an access or refresh token (RFC 7009). No
/// client authentication: Gatehouse's clients are public, and holding the
/// token is what entitles one to revoke it. An unknown token gets 200 too.
#[utoipa::path(
    post,
    path = "/api/v1/revoke",
    tag = "auth",
    request_body(content = RevokeRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or the token was unknown or already void"),
        (status = 400, description = "RFC 6749 §5.2 error (`invalid_request`): no `token`, a control character, or not a url-encoded form", body = TokenError),
        (status = 403, description = "Sent by a page of another site", body = ApiError),
        (status = 413, description = "The body is over 64 KiB", body = ApiError),
        (status = 415, description = "The body is not `application/x-www-form-urlencoded`", body = ApiError),
    )
)]
#[post("/v1/revoke", data = "<form>")]
pub async fn revoke(
    _same_site: SameSite,
    form: Result<Form<RevokeRequest<'_>>, rocket::form::Errors<'_>>,
    app: AppState<'_>,
    client: ClientInfo,
) -> Result<RevokeResponse, AppError> {
    let form = match form {
        Ok(form) => form,
        Err(errors) if errors.status() == Status::PayloadTooLarge => {
            return Err(AppError::PayloadTooLarge);
        }
        Err(_) => {
            return Ok(refused(
                "Send the request as application/x-www-form-urlencoded.",
            ));
        }
    };
    let fields = [form.token, form.token_type_hint];
    if fields.into_iter().flatten().any(text::has_control) {
        return Ok(refused("No field may contain a control character."));
    }
    let Some(token) = form.token.filter(|token| !token.is_empty()) else {
        return Ok(refused("token is required."));
    };
    let hint = match form.token_type_hint {
        Some("access_token") => Hint::AccessToken,
        Some("refresh_token") => Hint::RefreshToken,
        _ => Hint::Unknown,
    };
    token_grants::revoke(&app, &client, token, hint).await?;
    Ok(RevokeResponse::Done(()))
}

fn refused(description: &'static str) -> RevokeResponse {
    RevokeResponse::Refused(token_error_body("invalid_request", description))
}
