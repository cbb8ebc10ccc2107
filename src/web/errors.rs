//! Rendering [`AppError`] and the catchers. Every failure ends here and is
//! answered the way its caller understands: an HTML page for a
//! browser, `{"error", "message"}` JSON under `/api`. Causes of 5xx errors
//! are logged with their chain and never shown.

use std::io::Cursor;

use rocket::http::{ContentType, Header, Status};
use rocket::request::Request;
use rocket::response::{self, Flash, Redirect, Responder, Response};
use rocket::{Catcher, catcher};
use rocket_dyn_templates::tera;

use super::page::Rendered;
use crate::assets::Templates;

use crate::auth::refusal::{self, ErrorDetail, explain_retry_after, is_api};
use crate::config::AppConfig;
use crate::error::AppError;

impl<'r> Responder<'r, 'static> for AppError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        match &self {
            AppError::Db(e) => tracing::error!(error = %e, "database error"),
            AppError::Internal(e) => tracing::error!(error = ?e, "internal error"),
            _ => {}
        }
        if let AppError::TooManyRequests { retry_after }
        | AppError::ServiceUnavailable { retry_after } = self
        {
            explain_retry_after(req, retry_after);
        }
        error_response(req, self.status(), self.public_message())
    }
}

/// The response for an error status: JSON under `/api`, a redirect to the
/// sign-in page for an anonymous browser, otherwise the error page.
pub fn error_response(
    req: &Request<'_>,
    status: Status,
    message: Option<&str>,
) -> response::Result<'static> {
    let detail = refusal::detail(req);
    let message = message
        .or(detail.message)
        .unwrap_or_else(|| stock_message(status));
    let mut response = render_error(req, status, message, detail)?;
    if let Some(seconds) = detail
        .retry_after
        .filter(|_| matches!(status.code, 429 | 503))
    {
        response.set_header(Header::new("Retry-After", seconds.to_string()));
    }
    Ok(response)
}

fn render_error(
    req: &Request<'_>,
    status: Status,
    message: &str,
    detail: &ErrorDetail,
) -> response::Result<'static> {
    if is_api(req) {
        let code = detail.code.unwrap_or_else(|| api_error_code(status));
        let body = serde_json::json!({ "error": code, "message": message });
        let mut response = Response::build()
            .status(status)
            .header(ContentType::JSON)
            .sized_body(None, Cursor::new(body.to_string()))
            .finalize();
        if status == Status::Unauthorized {
            // RFC 6750 §3: name the error only when a token was presented.
            let challenge = match detail.code {
                Some(code) => format!(r#"Bearer realm="gatehouse", error="{code}""#),
                None => r#"Bearer realm="gatehouse""#.to_owned(),
            };
            response.set_header(Header::new("WWW-Authenticate", challenge));
        }
        return Ok(response);
    }
    if status == Status::Unauthorized {
        return Redirect::to(super::login_uri_for(req)).respond_to(req);
    }
    if let Some(to) = &detail.redirect {
        return Flash::error(Redirect::to(to.clone().into_owned()), message.to_owned())
            .respond_to(req);
    }
    // The site's layout with the signed-in header: whoever `handle` (or a
    // guard of the failed route) found signed in.
    let mut context = serde_json::Map::new();
    if let Some(config) = req.rocket().state::<AppConfig>() {
        super::page::layout_context(req, config, &mut context);
    }
    let retry_after = detail
        .retry_after
        .filter(|_| matches!(status.code, 429 | 503));
    context.insert(
        "error".into(),
        serde_json::json!({
            "status": status.code,
            "title": title(status),
            "message": message,
            "retry_after": retry_after.map(wait_text),
        }),
    );
    let page = match req.rocket().state::<Templates>() {
        Some(templates) => templates.render("errors/error", serde_json::Value::Object(context)),
        None => Err(tera::Error::msg("no templates")),
    };
    match Rendered::from(page).respond_to(req) {
        Ok(mut response) => {
            response.set_status(status);
            Ok(response)
        }
        // Templates are unavailable: a plain page still says what happened.
        Err(_) => Response::build()
            .status(status)
            .header(ContentType::Plain)
            .sized_body(None, Cursor::new(format!("{status}: {message}")))
            .ok(),
    }
}

/// The page's heading: what happened, in a few plain words.
fn title(status: Status) -> &'static str {
    match status.code {
        400 => "That request did not make sense",
        403 => "Not allowed",
        404 => "Page not found",
        405 => "Not allowed here",
        409 => "That clashes with something",
        413 => "Too much at once",
        415 => "Not a form this page takes",
        422 => "That could not be used",
        429 => "Too many attempts",
        502 => "A service we rely on failed",
        503 => "Unavailable for a moment",
        _ => "Something went wrong",
    }
}

/// `Retry-After` seconds as a person reads them.
fn wait_text(seconds: u64) -> String {
    match seconds {
        0..=1 => "in a second".to_owned(),
        2..=90 => format!("in {seconds} seconds"),
        91..=5399 => format!("in {} minutes", seconds.div_ceil(60)),
        _ => format!("in {} hours", seconds.div_ceil(3600)),
    }
}

fn stock_message(status: Status) -> &'static str {
    match status.code {
        400 => "The request could not be understood.",
        401 => "You need to sign in first.",
        403 => "You do not have permission to do that.",
        404 => "There is nothing here.",
        405 => "That method is not allowed here.",
        413 => "The request is too large.",
        415 => "That content type is not supported here.",
        422 => "The submitted data could not be processed.",
        429 => "Too many attempts in a short time.",
        502 => "An upstream service failed. Try again later.",
        503 => "The service is unavailable right now. Try again shortly.",
        _ => "Something went wrong on our side. Try again later.",
    }
}

fn api_error_code(status: Status) -> &'static str {
    match status.code {
        400 => "invalid_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "unprocessable_entity",
        429 => "rate_limited",
        502 => "bad_gateway",
        503 => "unavailable",
        _ => "internal_error",
    }
}

fn handle<'r>(status: Status, req: &'r Request<'_>) -> catcher::BoxFuture<'r> {
    Box::pin(async move {
        if !is_api(req) {
            // Who is signed in, for the page's header; a failed lookup
            // leaves the visitor anonymous here.
            let _ = crate::auth::session::current(req).await;
        }
        if matches!(status.code, 401 | 403) {
            log_refusal(req, status);
        }
        error_response(req, status, None)
    })
}

/// A guard's refusal (CSRF, role, scope, credentials) as one warning that
/// says who, from where and what, where Rocket alone says only that a
/// guard failed.
fn log_refusal(req: &Request<'_>, status: Status) {
    let address = crate::auth::ClientInfo::of(req)
        .ip_string()
        .unwrap_or_default();
    let method = req.method().as_str();
    // A `<token>` segment is an emailed link's secret: log the route's
    // template instead, since links are never logged.
    let path = match req.route() {
        Some(route) if route.uri.path().contains("<token>") => route.uri.path(),
        _ => req.uri().path().as_str(),
    };
    let reason = refusal::detail(req).message.unwrap_or("");
    let status = status.code;
    match crate::telemetry::noted_user(req) {
        Some(user_id) => {
            tracing::warn!(status, method, path, %address, user_id, reason, "refused")
        }
        None => tracing::warn!(status, method, path, %address, reason, "refused"),
    }
}

/// One catcher for every status, registered at `/`.
pub fn catchers() -> Vec<Catcher> {
    vec![Catcher::new(None, handle)]
}
