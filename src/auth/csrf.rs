//! Cross-site request forgery protection for every browser POST.
//!
//! Each visitor holds a random token in a private (encrypted) cookie; every
//! form repeats it in the hidden `csrf_token` field, and [`CsrfForm`]
//! compares the two in constant time before the handler runs. The token is
//! replaced at sign-in and sign-out. As a second line, a POST whose
//! `Origin` names another site, or whose `Sec-Fetch-Site` is `cross-site`,
//! is refused whatever its token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rocket::data::{Data, FromData, Outcome as DataOutcome, ToByteUnit as _};
use rocket::form::{Form, FromForm, ValueField};
use rocket::http::{CookieJar, RawStr, Status};
use rocket::request::{FromRequest, Outcome, Request};

use super::cookies;
use super::refusal::explain;
use crate::config::AppConfig;
use crate::text;

/// The hidden form field that carries the token.
pub const FIELD: &str = "csrf_token";
const COOKIE: &str = "gatehouse_csrf";

const FORGED: &str =
    "This form has expired or did not come from this site. Go back, reload the page and try again.";

const CONTROL: &str =
    "The form contained a control character (such as NUL or a line break), which no field accepts.";

/// The visitor's token, for rendering into forms. Created on first use.
pub struct CsrfToken(String);

impl CsrfToken {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for CsrfToken {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let Some(config) = req.rocket().state::<AppConfig>() else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        Outcome::Success(CsrfToken::of(req.cookies(), config))
    }
}

impl CsrfToken {
    /// The visitor's token, issued now if they have none.
    pub fn of(cookies: &CookieJar<'_>, config: &AppConfig) -> CsrfToken {
        let name = cookies::name(config, COOKIE);
        CsrfToken(current(cookies, &name).unwrap_or_else(|| issue(cookies, config)))
    }
}

/// The token issued earlier in this request, else the one the cookie holds.
fn current(cookies: &CookieJar<'_>, name: &str) -> Option<String> {
    let value = cookies.get_pending(name)?.value().to_owned();
    // `get_pending` falls back to the raw cookie when it does not decrypt
    // (tampered, or sealed under an old `secret_key`): no token of ours,
    // and repeating it into forms would refuse every POST until it expired.
    let undecryptable = cookies.get(name).is_some_and(|raw| raw.value() == value)
        && cookies.get_private(name).is_none();
    (!undecryptable && !value.is_empty()).then_some(value)
}

/// Gives the visitor a fresh token (at sign-in and sign-out), so a token
/// seen before a privilege change is worthless after it.
pub fn rotate(cookies: &CookieJar<'_>, config: &AppConfig) {
    issue(cookies, config);
}

fn issue(cookies: &CookieJar<'_>, config: &AppConfig) -> String {
    let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let mut cookie = cookies::build(config, COOKIE, token.clone());
    // A browser-session cookie: Rocket would otherwise give it a week.
    cookie.set_expires(cookies::BROWSER_SESSION);
    cookies.add_private(cookie);
    token
}

/// A form body that passed the CSRF checks, parsed as `T`. Use it instead
/// of `Form<T>` on every browser POST. Bodies over the `form` limit get
/// 413, bodies that are not UTF-8 or not url-encoded get 400, and a field
/// holding a control character (NUL included) gets 422 before any handler
/// or database sees it.
pub struct CsrfForm<T>(pub T);

/// The decoded fields of the request body, kept for the request's life so
/// `T` may borrow from them.
struct DecodedFields(Vec<(String, String)>);

#[rocket::async_trait]
impl<'r, T: FromForm<'r>> FromData<'r> for CsrfForm<T> {
    type Error = ();

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> DataOutcome<'r, Self> {
        let Some(config) = req.rocket().state::<AppConfig>() else {
            return DataOutcome::Error((Status::InternalServerError, ()));
        };
        if is_cross_site(req, config) {
            explain(req, FORGED);
            return DataOutcome::Error((Status::Forbidden, ()));
        }
        if req.content_type().is_some_and(|ct| !ct.is_form()) {
            return DataOutcome::Error((Status::UnsupportedMediaType, ()));
        }
        let limit = req.limits().get("form").unwrap_or_else(|| 64.kibibytes());
        let body = match data.open(limit).into_string().await {
            Ok(body) if body.is_complete() => body.into_inner(),
            Ok(_) => return DataOutcome::Error((Status::PayloadTooLarge, ())),
            Err(_) => {
                explain(req, "The form data was not valid UTF-8.");
                return DataOutcome::Error((Status::BadRequest, ()));
            }
        };
        let Some(fields) = decode(&body) else {
            explain(req, "The form data was not valid UTF-8.");
            return DataOutcome::Error((Status::BadRequest, ()));
        };
        let fields = &req.local_cache(move || DecodedFields(fields)).0;

        let expected = req.cookies().get_private(&cookies::name(config, COOKIE));
        let submitted = fields.iter().find(|(name, _)| name == FIELD);
        let valid = match (expected, submitted) {
            (Some(cookie), Some((_, token))) if !token.is_empty() => {
                crate::crypto::constant_time_eq(cookie.value().as_bytes(), token.as_bytes())
            }
            _ => false,
        };
        if !valid {
            explain(req, FORGED);
            return DataOutcome::Error((Status::Forbidden, ()));
        }

        if fields
            .iter()
            .any(|(name, value)| text::has_control(name) || text::has_control(value))
        {
            explain(req, CONTROL);
            return DataOutcome::Error((Status::UnprocessableEntity, ()));
        }

        let values = fields
            .iter()
            .filter(|(name, _)| name != FIELD)
            .map(|(name, value)| ValueField::from((name.as_str(), value.as_str())));
        match Form::<T>::parse_iter(values) {
            Ok(value) => DataOutcome::Success(CsrfForm(value)),
            Err(errors) => DataOutcome::Error((errors.status(), ())),
        }
    }
}

/// The header that carries the token on JSON requests from `static/`
/// scripts, which read it from the page's `<meta name="csrf-token">`.
pub const HEADER: &str = "X-CSRF-Token";

/// A JSON body from this site's own scripts, parsed as `T`, for the
/// endpoints those scripts call. The CSRF token comes in the
/// `X-CSRF-Token` header and is compared with the cookie's in constant
/// time: missing or wrong is 403, as is a cross-site request. Another
/// content type gets 415, a body over the `json` limit (or 64 KiB) 413,
/// malformed JSON 400, and a string holding a control character, or a
/// body not of `T`'s shape, 422.
pub struct CsrfJson<T>(pub T);

#[rocket::async_trait]
impl<'r, T: serde::de::DeserializeOwned> FromData<'r> for CsrfJson<T> {
    type Error = ();

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> DataOutcome<'r, Self> {
        let Some(config) = req.rocket().state::<AppConfig>() else {
            return DataOutcome::Error((Status::InternalServerError, ()));
        };
        let expected = req.cookies().get_private(&cookies::name(config, COOKIE));
        let valid = match (expected, req.headers().get_one(HEADER)) {
            (Some(cookie), Some(token)) if !token.is_empty() => {
                crate::crypto::constant_time_eq(cookie.value().as_bytes(), token.as_bytes())
            }
            _ => false,
        };
        if is_cross_site(req, config) || !valid {
            explain(req, FORGED);
            return DataOutcome::Error((Status::Forbidden, ()));
        }
        if !req.content_type().is_some_and(|ct| ct.is_json()) {
            return DataOutcome::Error((Status::UnsupportedMediaType, ()));
        }
        let limit = req.limits().get("json").unwrap_or_else(|| 64.kibibytes());
        let body = match data.open(limit.min(64.kibibytes())).into_bytes().await {
            Ok(body) if body.is_complete() => body.into_inner(),
            Ok(_) => return DataOutcome::Error((Status::PayloadTooLarge, ())),
            Err(_) => return DataOutcome::Error((Status::BadRequest, ())),
        };
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
            return DataOutcome::Error((Status::BadRequest, ()));
        };
        if has_control_string(&value) {
            explain(req, CONTROL);
            return DataOutcome::Error((Status::UnprocessableEntity, ()));
        }
        match serde_json::from_value(value) {
            Ok(parsed) => DataOutcome::Success(CsrfJson(parsed)),
            Err(_) => DataOutcome::Error((Status::UnprocessableEntity, ())),
        }
    }
}

/// True when a string anywhere in `value` (keys included) holds a control
/// character.
fn has_control_string(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(text) => text::has_control(text),
        Value::Array(items) => items.iter().any(has_control_string),
        Value::Object(map) => map
            .iter()
            .any(|(key, item)| text::has_control(key) || has_control_string(item)),
        _ => false,
    }
}

/// Splits and percent-decodes an `application/x-www-form-urlencoded` body.
fn decode(body: &str) -> Option<Vec<(String, String)>> {
    Form::values(body)
        .map(|field| {
            let name = RawStr::new(field.name.source().as_str())
                .url_decode()
                .ok()?;
            let value = RawStr::new(field.value).url_decode().ok()?;
            Some((name.into_owned(), value.into_owned()))
        })
        .collect()
}

/// True when the browser says the POST comes from another site.
fn is_cross_site(req: &Request<'_>, config: &AppConfig) -> bool {
    let headers = req.headers();
    if headers.get_one("Sec-Fetch-Site") == Some("cross-site") {
        return true;
    }
    let Some(origin) = headers.get_one("Origin") else {
        return false;
    };
    let same_host = origin
        .split_once("://")
        .map(|(_, host)| host)
        .zip(headers.get_one("Host"))
        .is_some_and(|(origin_host, host)| origin_host.eq_ignore_ascii_case(host));
    !(same_host || origin.eq_ignore_ascii_case(&config.public_url))
}

/// A request no browser sent from another site: for the endpoints that
/// take credentials without a CSRF token (the token endpoint), so a page
/// elsewhere cannot spend an account's failed-sign-in budget. Clients
/// other than browsers send neither `Origin` nor `Sec-Fetch-Site` and pass.
pub struct SameSite;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for SameSite {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let Some(config) = req.rocket().state::<AppConfig>() else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        if is_cross_site(req, config) {
            super::refusal::explain_api(req, "cross_site", CROSS_SITE);
            return Outcome::Error((Status::Forbidden, ()));
        }
        Outcome::Success(SameSite)
    }
}

const CROSS_SITE: &str = "This endpoint does not take requests sent by pages of other sites.";

/// For POST routes whose form has no fields but the token.
pub struct NoFields;

#[rocket::async_trait]
impl<'r> FromForm<'r> for NoFields {
    type Context = ();

    fn init(_: rocket::form::Options) {}

    fn push_value(_: &mut (), _: ValueField<'r>) {}

    async fn push_data(_: &mut (), _: rocket::form::DataField<'r, '_>) {}

    fn finalize(_: ()) -> rocket::form::Result<'r, Self> {
        Ok(NoFields)
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn bodies_are_percent_decoded() {
        let fields = decode("a=1&b=x+y%21&&c=%C3%A9").unwrap();
        assert_eq!(
            fields,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y!".into()),
                ("c".into(), "é".into())
            ]
        );
    }

    #[test]
    fn invalid_utf8_escapes_are_rejected() {
        assert!(decode("a=%FF").is_none());
    }
}
