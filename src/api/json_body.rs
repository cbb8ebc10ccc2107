//! `JsonBody<T>`: a JSON request body, read within the `json` limit
//! (64 KiB) and parsed, whose failures are the API's own JSON errors:
//! another content type forwards to the 415 catcher, an oversize body is
//! 413, anything that does not parse as `T` is 400. Never a 5xx.

use rocket::data::{Data, FromData, Outcome, ToByteUnit as _};
use rocket::http::Status;
use rocket::request::Request;
use serde::de::DeserializeOwned;

use crate::error::AppError;

pub struct JsonBody<T>(pub T);

#[rocket::async_trait]
impl<'r, T: DeserializeOwned> FromData<'r> for JsonBody<T> {
    type Error = AppError;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> Outcome<'r, Self> {
        if !req.content_type().is_some_and(|kind| kind.is_json()) {
            return Outcome::Forward((data, Status::UnsupportedMediaType));
        }
        let limit = req.limits().get("json").unwrap_or(64.kibibytes());
        let read = match data.open(limit).into_bytes().await {
            Ok(read) if read.is_complete() => read.into_inner(),
            Ok(_) => return Outcome::Error((Status::PayloadTooLarge, AppError::PayloadTooLarge)),
            Err(_) => return Outcome::Error((Status::BadRequest, AppError::BadRequest(UNREAD))),
        };
        match serde_json::from_slice(&read) {
            Ok(value) => Outcome::Success(JsonBody(value)),
            Err(_) => Outcome::Error((Status::BadRequest, AppError::BadRequest(NOT_PARSED))),
        }
    }
}

const UNREAD: &str = "The request body could not be read.";
const NOT_PARSED: &str =
    "The body is not the JSON object this endpoint takes (see the OpenAPI document).";
