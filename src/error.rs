//! The one error type, [`AppError`]: what went wrong, as a status and a
//! sentence a person may see. It knows nothing of pages or JSON; the web
//! layer renders it (`web::errors`). Errors a person can fix in a form are
//! not `AppError`s but [`FormErrors`], shown next to their fields.

use std::collections::BTreeMap;

use rocket::http::Status;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("authentication required")]
    Unauthorized,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    /// The path exists, with other methods (the API adds `Allow`).
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The body is over the 64 KiB limit.
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("too many requests")]
    TooManyRequests { retry_after: u64 },
    /// Gatehouse itself is at capacity (the password hashing queue is
    /// full); the client may try again after `retry_after` seconds.
    #[error("service unavailable")]
    ServiceUnavailable { retry_after: u64 },
    /// An upstream (an OAuth provider) failed; the message says what now.
    #[error("bad gateway: {0}")]
    BadGateway(&'static str),
    #[error("database error")]
    Db(#[from] sea_orm::DbErr),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn status(&self) -> Status {
        match self {
            AppError::BadRequest(_) => Status::BadRequest,
            AppError::Unauthorized => Status::Unauthorized,
            AppError::Forbidden(_) => Status::Forbidden,
            AppError::NotFound => Status::NotFound,
            AppError::MethodNotAllowed => Status::MethodNotAllowed,
            AppError::Conflict(_) => Status::Conflict,
            AppError::PayloadTooLarge => Status::PayloadTooLarge,
            AppError::TooManyRequests { .. } => Status::TooManyRequests,
            AppError::ServiceUnavailable { .. } => Status::ServiceUnavailable,
            AppError::BadGateway(_) => Status::BadGateway,
            AppError::Db(_) | AppError::Internal(_) => Status::InternalServerError,
        }
    }

    /// What the person is told; None means the status's stock sentence.
    pub fn public_message(&self) -> Option<&'static str> {
        match self {
            AppError::BadRequest(m)
            | AppError::Forbidden(m)
            | AppError::Conflict(m)
            | AppError::BadGateway(m) => Some(m),
            _ => None,
        }
    }
}

/// Field errors for re-rendering a form: what was wrong with each field,
/// shown next to it, with the entered values (never a password) kept.
#[derive(Debug, Default, Serialize)]
pub struct FormErrors(BTreeMap<&'static str, String>);

impl FormErrors {
    /// One field's error.
    pub fn single(field: &'static str, message: impl Into<String>) -> FormErrors {
        let mut errors = FormErrors::default();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.entry(field).or_insert_with(|| message.into());
    }

    /// Keeps the parsed value, or records why `field` was rejected.
    pub fn check<T, E: Into<String>>(
        &mut self,
        field: &'static str,
        parsed: Result<T, E>,
    ) -> Option<T> {
        parsed.map_err(|message| self.add(field, message)).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0
            .iter()
            .map(|(field, message)| (*field, message.as_str()))
    }
}
