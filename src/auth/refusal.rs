//! Why a guard refused: what it knew and the catcher cannot (a sentence
//! for the person, an error code for the JSON API, a `Retry-After`, a page
//! to go to instead), kept in the request's local cache for the error
//! renderer (`web::errors`).

use std::borrow::Cow;

use rocket::request::Request;

/// What a failing guard knew and the catcher cannot: a sentence for the
/// person and, for the JSON API, an error code. Put in the request's
/// local cache by [`explain`] or [`explain_api`].
#[derive(Default)]
pub struct ErrorDetail {
    pub code: Option<&'static str>,
    pub message: Option<&'static str>,
    pub retry_after: Option<u64>,
    /// For browsers: go here (with `message` as a flash) instead of an
    /// error page.
    pub redirect: Option<Cow<'static, str>>,
}

/// Lets a guard that fails with a bare status say why, for the error page.
pub fn explain(req: &Request<'_>, message: &'static str) {
    req.local_cache(|| ErrorDetail {
        message: Some(message),
        ..Default::default()
    });
}

/// Like [`explain`], with the `error` code the JSON answer carries.
pub fn explain_api(req: &Request<'_>, code: &'static str, message: &'static str) {
    req.local_cache(|| ErrorDetail {
        code: Some(code),
        message: Some(message),
        ..Default::default()
    });
}

/// For a guard that refuses because something must be done first: a
/// browser is sent to `to` with `message`; under `/api` it is a JSON error
/// with `code`.
pub fn explain_redirect(
    req: &Request<'_>,
    to: &'static str,
    code: &'static str,
    message: &'static str,
) {
    req.local_cache(|| ErrorDetail {
        code: Some(code),
        message: Some(message),
        redirect: Some(Cow::Borrowed(to)),
        ..Default::default()
    });
}

/// Like [`explain_redirect`], to a page made for this request (such as
/// the confirmation page with this request's `next`).
pub fn explain_redirect_to(
    req: &Request<'_>,
    to: String,
    code: &'static str,
    message: &'static str,
) {
    req.local_cache(|| ErrorDetail {
        code: Some(code),
        message: Some(message),
        redirect: Some(Cow::Owned(to)),
        ..Default::default()
    });
}

/// For a refusal with 429 or 503: how long the client should wait.
pub fn explain_retry_after(req: &Request<'_>, seconds: u64) {
    req.local_cache(|| ErrorDetail {
        retry_after: Some(seconds),
        ..Default::default()
    });
}

/// True for requests to the JSON API, which never gets HTML.
pub fn is_api(req: &Request<'_>) -> bool {
    let path = req.uri().path();
    path == "/api" || path.starts_with("/api/")
}

/// What the guards of this request said about a refusal, if anything.
pub fn detail<'r>(req: &'r Request<'_>) -> &'r ErrorDetail {
    req.local_cache(ErrorDetail::default)
}
