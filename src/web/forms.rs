//! What a form POST answers, and the field errors it re-renders with
//! ([`FormErrors`], plain data from `error`).

pub use crate::error::FormErrors;

/// What a form POST answers: a redirect on success (post/redirect/get),
/// or the form again with its errors and a 4xx status.
#[derive(rocket::Responder)]
pub enum FormResponse {
    Redirect(rocket::response::Flash<rocket::response::Redirect>),
    /// Something secret was made: the page this goes to shows it once
    /// (see `web::handoff`).
    Shown(rocket::response::Redirect),
    #[response(status = 401)]
    Refused(super::page::Rendered),
    #[response(status = 409)]
    Conflict(super::page::Rendered),
    #[response(status = 422)]
    Invalid(super::page::Rendered),
}
