//! Handlers for `/api/v1/*`.

use rocket::form::{Form, FromForm};
use rocket::http::{ContentType, Header, Status};
use rocket::serde::json::Json;
use rocket::{Responder, delete, get, post, routes};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

use super::responses::CallerRefusals;
use crate::accounts::entity as user;
use crate::admin::staff::{self, Acting};
use crate::api_keys::scope::Scopes;
use crate::auth::csrf::SameSite;
use crate::auth::sign_in::{self, Holder, Outcome, Refusal};
use crate::auth::token_grants::{self, Refreshed};
use crate::auth::tokens::IssuedToken;
use crate::auth::{AppState, ClientInfo, CurrentUser, Recent, Staff, Superuser};
use crate::error::AppError;
use crate::sessions::{self, Via, store};
use crate::text;

pub fn routes() -> Vec<rocket::Route> {
    routes![
        token,
        super::token_sessions::start_session,
        super::token_sessions::end_session,
        super::token_sessions::revoke,
        me,
        list_sessions,
        revoke_session,
        list_users,
        delete_user,
        openapi_json
    ]
}

/// Users per page of `/api/v1/users`.
const USERS_PER_PAGE: u64 = 25;

fn timestamp(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// The form of `POST /api/v1/token` (RFC 6749 §4.3.2 and §6). Every field
/// is optional here so that a missing one gets the RFC's error, not
/// Rocket's.
#[derive(FromForm, ToSchema)]
#[schema(
    description = "The OAuth2 password grant (RFC 6749 §4.3.2: `username`, `password`, `otp`) or the refresh grant (§6: `refresh_token`)."
)]
pub struct TokenRequest<'r> {
    /// `password` or `refresh_token`.
    #[schema(required = true, value_type = String, pattern = "^(password|refresh_token)$", example = "password")]
    grant_type: Option<&'r str>,
    /// The password grant: the username or email; no field may hold a
    /// control character.
    #[schema(value_type = String, required = false, min_length = 1, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    username: Option<&'r str>,
    /// The password grant: the password.
    #[schema(value_type = String, required = false, min_length = 1, max_length = 1024, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    password: Option<&'r str>,
    /// The refresh grant: the latest refresh token. Each is good once;
    /// presenting a used one ends its session.
    #[schema(value_type = String, required = false, min_length = 1, max_length = 256, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    refresh_token: Option<&'r str>,
    /// `read`, `write`, or both space-separated; both when left out (a
    /// refresh: the original grant's, and no more than those).
    #[schema(value_type = String, required = false, pattern = "^ *(read|write|read +write|write +read)? *$", example = "read write")]
    scope: Option<&'r str>,
    /// The current TOTP code (or a recovery code), for accounts with
    /// two-factor authentication.
    #[schema(value_type = String, required = false, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    otp: Option<&'r str>,
}

/// The successful token response (RFC 6749 §5.1).
#[derive(Serialize, ToSchema)]
pub struct TokenGranted {
    access_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until the token expires.
    expires_in: i64,
    /// The granted scopes, space-separated.
    scope: String,
    /// For the next `grant_type=refresh_token`; good once, and as long as
    /// the session lives (idle and absolute limits).
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

/// An error of the token endpoint (RFC 6749 §5.2). `message` repeats the
/// description, as every other API error carries one.
#[derive(Serialize, ToSchema)]
pub struct TokenError {
    /// `invalid_request`, `invalid_grant`, `unsupported_grant_type` or `invalid_scope`.
    error: &'static str,
    error_description: &'static str,
    message: &'static str,
}

#[derive(Responder)]
pub enum TokenResponse {
    Granted(Json<TokenGranted>, Header<'static>),
    #[response(status = 400)]
    Refused(Json<TokenError>),
}

/// The one answer to credentials that were not accepted, with the `otp`
/// hint whatever the account and whether or not the password was right.
pub(super) const NOT_GRANTED: &str = "The credentials were not accepted. If the account uses two-factor authentication, send its current code as `otp`.";

fn token_error(error: &'static str, description: &'static str) -> TokenResponse {
    TokenResponse::Refused(token_error_body(error, description))
}

pub(super) fn token_error_body(error: &'static str, description: &'static str) -> Json<TokenError> {
    Json(TokenError {
        error,
        error_description: description,
        message: description,
    })
}

/// Exchanges a username (or email) and password, or a refresh token, for
/// a bearer token and a refresh token.
#[utoipa::path(
    post,
    path = "/api/v1/token",
    tag = "auth",
    request_body(
        content = TokenRequest,
        content_type = "application/x-www-form-urlencoded",
        description = "The password grant (`otp` is needed when the account has two-factor authentication) or the refresh grant",
    ),
    responses(
        (status = 200, description = "An access token and a refresh token", body = TokenGranted),
        (status = 400, description = "RFC 6749 §5.2 error: a missing or unknown field value, a wrong username, password or `otp`, an unknown, spent or expired refresh token (`invalid_grant`; a spent one also ends its session), scopes beyond the grant's (`invalid_scope`), or a body that is not a valid url-encoded form (`invalid_request`)", body = TokenError),
        (status = 403, description = "Sent by a browser from another site (`Origin` or `Sec-Fetch-Site`)", body = ApiError),
        (status = 413, description = "The body is over 64 KiB", body = ApiError),
        (status = 415, description = "The body is not `application/x-www-form-urlencoded`", body = ApiError),
        (status = 429, description = "Too many failed sign-ins", body = ApiError,
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
        (status = 503, description = "The password hashing queue is full", body = ApiError,
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
#[post("/v1/token", data = "<form>")]
async fn token(
    _same_site: SameSite,
    form: Result<Form<TokenRequest<'_>>, rocket::form::Errors<'_>>,
    app: AppState<'_>,
    client: ClientInfo,
) -> Result<TokenResponse, AppError> {
    // Another content type forwards before this point, to the 415 catcher.
    let form = match form {
        Ok(form) => form,
        Err(errors) if errors.status() == Status::PayloadTooLarge => {
            return Err(AppError::PayloadTooLarge);
        }
        Err(_) => {
            return Ok(token_error(
                "invalid_request",
                "Send the request as application/x-www-form-urlencoded.",
            ));
        }
    };
    let (username, password, scopes) = match parse_grant(&form) {
        Ok(Grant::Password {
            username,
            password,
            scopes,
        }) => (username, password, scopes),
        Ok(Grant::Refresh { token, scopes }) => {
            let refreshed = token_grants::refresh(&app, &client, token, scopes).await?;
            return Ok(refresh_answer(refreshed));
        }
        Err((error, description)) => return Ok(token_error(error, description)),
    };
    let otp = form.otp.filter(|otp| !otp.trim().is_empty());
    let holder = Holder::Api { scopes };
    let method = "token endpoint";
    let outcome =
        sign_in::with_password(&app, &client, holder, username, password, otp, method).await?;
    token_answer(outcome, scopes)
}

fn granted(issued: IssuedToken, scopes: Scopes) -> TokenResponse {
    TokenResponse::Granted(
        Json(TokenGranted {
            access_token: issued.token,
            token_type: "Bearer",
            expires_in: issued.expires_in,
            scope: scopes.to_string(),
            refresh_token: issued.refresh_token,
        }),
        Header::new("Pragma", "no-cache"),
    )
}

/// A refresh grant's outcome as RFC 6749 §5.1 / §5.2 answers.
fn refresh_answer(refreshed: Refreshed) -> TokenResponse {
    match refreshed {
        Refreshed::Granted(issued, scopes) => granted(issued, scopes),
        Refreshed::Invalid => token_error(
            "invalid_grant",
            "The refresh token is invalid, spent, expired or revoked.",
        ),
        Refreshed::ScopeTooWide => token_error(
            "invalid_scope",
            "A refresh can keep or narrow the original grant's scopes, not add to them.",
        ),
    }
}

/// The sign-in flow's outcome as RFC 6749 §5.1 / §5.2 answers.
fn token_answer(outcome: Outcome, scopes: Scopes) -> Result<TokenResponse, AppError> {
    let signed = match outcome {
        Outcome::SignedIn(signed) => signed,
        Outcome::Refused(Refusal::Limited { retry_after }) => {
            return Err(AppError::TooManyRequests { retry_after });
        }
        Outcome::Refused(Refusal::Inactive) => {
            return Ok(token_error("invalid_grant", sign_in::DEACTIVATED));
        }
        // Like a deactivated account, told only after the right password.
        Outcome::Refused(Refusal::Unverified { .. }) => {
            return Ok(token_error("invalid_grant", sign_in::UNVERIFIED));
        }
        // A wrong password, a missing `otp` after a right one and a wrong
        // `otp` get the same answer: telling them apart would confirm the
        // password to whoever is guessing it.
        Outcome::NeedsSecondFactor | Outcome::Refused(_) => {
            return Ok(token_error("invalid_grant", NOT_GRANTED));
        }
    };
    let issued = signed
        .token
        .ok_or_else(|| anyhow::anyhow!("a token sign-in made no token"))?;
    Ok(granted(issued, scopes))
}

/// What a token request asks for.
enum Grant<'r> {
    Password {
        username: &'r str,
        password: &'r str,
        scopes: Scopes,
    },
    /// `scopes`: None keeps the original grant's.
    Refresh {
        token: &'r str,
        scopes: Option<Scopes>,
    },
}

/// An RFC 6749 §5.2 error code and its description.
type GrantRefusal = (&'static str, &'static str);

/// The grant a token request asks for, or the RFC 6749 error.
fn parse_grant<'r>(form: &TokenRequest<'r>) -> Result<Grant<'r>, GrantRefusal> {
    let fields = [
        form.grant_type,
        form.username,
        form.password,
        form.refresh_token,
        form.scope,
        form.otp,
    ];
    if fields.into_iter().flatten().any(text::has_control) {
        return Err((
            "invalid_request",
            "No field may contain a control character (such as NUL or a line break).",
        ));
    }
    let scopes = match form.scope.map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(Scopes::parse(text).ok_or((
            "invalid_scope",
            "Scopes are `read` and `write`, space-separated.",
        ))?),
    };
    match (
        form.grant_type,
        form.username,
        form.password,
        form.refresh_token,
    ) {
        (Some("password"), Some(username), Some(password), _) => Ok(Grant::Password {
            username,
            password,
            scopes: scopes.unwrap_or(Scopes::ALL),
        }),
        (Some("password"), ..) => Err(("invalid_request", "username and password are required.")),
        (Some("refresh_token"), _, _, Some(token)) => Ok(Grant::Refresh { token, scopes }),
        (Some("refresh_token"), ..) => Err(("invalid_request", "refresh_token is required.")),
        (Some(_), ..) => Err((
            "unsupported_grant_type",
            "grant_type is `password` or `refresh_token`.",
        )),
        (None, ..) => Err(("invalid_request", "grant_type is required.")),
    }
}

/// The caller.
#[derive(Serialize, ToSchema)]
pub struct Me {
    id: i32,
    username: String,
    email: String,
    is_member: bool,
    is_staff: bool,
    is_superuser: bool,
    /// Whether two-factor authentication is on.
    two_factor: bool,
}

impl From<user::Model> for Me {
    fn from(user: user::Model) -> Me {
        Me {
            id: user.id,
            is_member: user.is_member,
            is_staff: user.counts_as_staff(),
            is_superuser: user.is_superuser,
            two_factor: user.has_two_factor(),
            username: user.username,
            email: user.email,
        }
    }
}

/// The caller's profile.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "account",
    responses((status = 200, description = "The caller", body = Me), CallerRefusals),
    security(("bearer" = []), ("api_key" = []), ("cookie" = []), ("oauth2" = ["read"]))
)]
#[get("/v1/me")]
fn me(current: CurrentUser) -> Json<Me> {
    Json(current.user.into())
}

/// Any error other than the token endpoint's.
#[derive(Serialize, ToSchema)]
pub struct ApiError {
    /// A machine-readable code, e.g. `unauthorized`, `invalid_token`,
    /// `insufficient_scope`, `forbidden`, `not_found`.
    error: String,
    /// A sentence for people.
    message: String,
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    /// The session's public id, used to revoke it.
    id: String,
    /// `browser` or `api`.
    kind: String,
    ip: Option<String>,
    user_agent: Option<String>,
    created_at: String,
    last_seen_at: String,
    expires_at: String,
    /// True for the session this request came with.
    current: bool,
}

/// The caller's live sessions, browser and API, most recently used first.
#[utoipa::path(
    get,
    path = "/api/v1/sessions",
    tag = "account",
    responses(
        (status = 200, description = "The caller's live sessions", body = Vec<SessionView>,
            links(("EndSession" = (operation_id = "revoke_session",
                parameters(("id" = "$response.body#/0/id")),
                description = "A listed session's `id` ends it")))),
        CallerRefusals,
    ),
    security(("bearer" = []), ("api_key" = []), ("cookie" = []), ("oauth2" = ["read"]))
)]
#[get("/v1/sessions")]
async fn list_sessions(
    current: CurrentUser,
    app: AppState<'_>,
) -> Result<Json<Vec<SessionView>>, AppError> {
    let sessions =
        store::list_live_for_user(app.db, app.config, app.clock.now(), current.user.id).await?;
    let current_id = current.session().map(|s| s.id);
    Ok(Json(
        sessions
            .into_iter()
            .map(|s| SessionView {
                current: Some(s.id) == current_id,
                id: s.public_id,
                kind: s.kind,
                ip: s.ip,
                user_agent: s.user_agent,
                created_at: timestamp(s.created_at),
                last_seen_at: timestamp(s.last_seen_at),
                expires_at: timestamp(s.expires_at),
            })
            .collect(),
    ))
}

/// Ends one of the caller's sessions (a token's session revokes the token).
#[utoipa::path(
    delete,
    path = "/api/v1/sessions/{id}",
    tag = "account",
    params(("id" = String, Path, description = "The session's public id (from `GET /api/v1/sessions`)")),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, description = "No such live session of yours", body = ApiError),
        CallerRefusals,
    ),
    security(("bearer" = []), ("api_key" = []), ("cookie" = []), ("oauth2" = ["write"]))
)]
#[delete("/v1/sessions/<id>")]
async fn revoke_session(
    current: CurrentUser,
    id: &str,
    app: AppState<'_>,
    client: ClientInfo,
) -> Result<Status, AppError> {
    let now = app.clock.now();
    if sessions::revoke(app.db, now, &client, current.user.id, id, Via::Api).await? {
        Ok(Status::NoContent)
    } else {
        Err(AppError::NotFound)
    }
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    id: i32,
    username: String,
    email: String,
    is_active: bool,
    is_member: bool,
    is_staff: bool,
    is_superuser: bool,
    two_factor: bool,
    created_at: String,
    last_login_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UserPage {
    users: Vec<UserView>,
    /// 1-based.
    page: u64,
    per_page: u64,
    total: u64,
}

/// Staff: users whose username or email contains `q`, 25 a page.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "staff",
    params(
        ("q" = Option<String>, Query, max_length = 254, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$",
            description = "Part of a username or email: at most 254 characters, no control characters"),
        ("page" = Option<u64>, Query, minimum = 1, maximum = 1000000,
            description = "1-based page number, from 1 to 1000000; a page past the last is empty"),
    ),
    responses(
        (status = 200, description = "One page of users", body = UserPage),
        (status = 400, description = "`q` or `page` out of its documented range", body = ApiError),
        CallerRefusals,
    ),
    security(("bearer" = []), ("api_key" = []), ("cookie" = []), ("oauth2" = ["read"]))
)]
#[get("/v1/users?<q>&<page>")]
async fn list_users(
    _staff: Staff,
    q: Vec<&str>,
    page: Vec<&str>,
    app: AppState<'_>,
) -> Result<Json<UserPage>, AppError> {
    let query = optional(q, "`q` is given at most once.")?.unwrap_or("");
    if query.chars().count() > 254 || text::has_control(query) {
        return Err(AppError::BadRequest(
            "`q` is at most 254 characters, without control characters.",
        ));
    }
    let page = page_param(optional(page, "`page` is given at most once.")?)?;
    let (users, total) = user::search(app.db, query, page - 1, USERS_PER_PAGE).await?;
    Ok(Json(UserPage {
        users: users
            .into_iter()
            .map(|u| UserView {
                id: u.id,
                is_active: u.is_active,
                is_member: u.is_member,
                is_staff: u.counts_as_staff(),
                is_superuser: u.is_superuser,
                two_factor: u.has_two_factor(),
                created_at: timestamp(u.created_at),
                last_login_at: u.last_login_at.map(timestamp),
                username: u.username,
                email: u.email,
            })
            .collect(),
        page,
        per_page: USERS_PER_PAGE,
        total,
    }))
}

/// A query parameter that may be left out, but not repeated (Rocket
/// would quietly keep one of the values).
fn optional<'s>(values: Vec<&'s str>, refusal: &'static str) -> Result<Option<&'s str>, AppError> {
    match values.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        _ => Err(AppError::BadRequest(refusal)),
    }
}

/// `?page=`: absent is the first page; anything but a whole number from 1
/// to [`crate::db::LAST_PAGE`] is refused, never clamped.
fn page_param(page: Option<&str>) -> Result<u64, AppError> {
    let Some(text) = page else { return Ok(1) };
    text.parse::<u64>()
        .ok()
        .filter(|page| (1..=crate::db::LAST_PAGE).contains(page))
        .ok_or(AppError::BadRequest(
            "`page` is a whole number from 1 to 1000000.",
        ))
}

/// Superuser: deletes a user with everything they own.
///
/// Needs a bearer token whose password grant is within `reauth_minutes`;
/// an API key, or an older token, gets 403 `reauthentication_required`.
#[utoipa::path(
    delete,
    path = "/api/v1/users/{id}",
    tag = "staff",
    params(("id" = i32, Path, description = "The user's id (from `GET /api/v1/users`), a 32-bit integer")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such user", body = ApiError),
        (status = 409, description = "Yourself, or the last superuser", body = ApiError),
        (status = 422, description = "`id` is not a 32-bit integer", body = ApiError),
        CallerRefusals,
    ),
    security(("bearer" = []), ("api_key" = []), ("cookie" = []), ("oauth2" = ["write"]))
)]
#[delete("/v1/users/<id>")]
async fn delete_user(
    superuser: Superuser,
    _recent: Recent,
    id: i32,
    app: AppState<'_>,
    client: ClientInfo,
) -> Result<Status, AppError> {
    if superuser.0.user.id == id {
        return Err(AppError::Conflict(
            "You cannot delete your own account here.",
        ));
    }
    let acting = Acting {
        db: app.db,
        now: app.clock.now(),
        client: &client,
        actor: &superuser.0.user,
    };
    let account = user::find_by_id(app.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    staff::delete(&acting, &account).await?;
    Ok(Status::NoContent)
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "This document", content_type = "application/json")),
)]
#[get("/v1/openapi.json")]
fn openapi_json() -> (ContentType, &'static str) {
    (ContentType::JSON, super::openapi::document())
}
