//! Field errors for re-rendering a form: what was wrong with each field,
//! shown next to it, with the entered values (never a password) kept.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Default, Serialize)]
pub struct FormErrors(BTreeMap<&'static str, String>);

impl FormErrors {
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
}

/// What a form POST answers: a redirect on success (post/redirect/get),
/// or the form again with its errors and a 4xx status.
#[derive(rocket::Responder)]
pub enum FormResponse {
    Redirect(rocket::response::Flash<rocket::response::Redirect>),
    /// Something secret was made: the page this goes to shows it once
    /// (see `web::handoff`).
    Shown(rocket::response::Redirect),
    #[response(status = 401)]
    Refused(rocket_dyn_templates::Template),
    #[response(status = 409)]
    Conflict(rocket_dyn_templates::Template),
    #[response(status = 422)]
    Invalid(rocket_dyn_templates::Template),
}

impl FormErrors {
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0
            .iter()
            .map(|(field, message)| (*field, message.as_str()))
    }
}
