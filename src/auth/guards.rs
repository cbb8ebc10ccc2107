//! Request guards: the one way a route gets the signed-in user. Put one in
//! a handler's arguments and the route is protected; the compiler checks
//! that a handler needing a user has one.
//!
//! A missing or dead session fails with 401, which the catcher turns into
//! `303 /login?next=..` for browsers and a JSON 401 under `/api`. A user
//! without the role fails with 403.

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};

use super::refusal;
use super::session::Credential;
use crate::accounts::entity as user;
use crate::config::AppConfig;
use crate::sessions::entity as session;

/// Any signed-in, active user: by session cookie in the browser, by bearer
/// token or API key under `/api`.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: user::Model,
    pub credential: Credential,
}

impl CurrentUser {
    /// The session this request came with; None for an API key.
    pub fn session(&self) -> Option<&session::Model> {
        match &self.credential {
            Credential::Session(session) => Some(session),
            Credential::ApiKey { .. } => None,
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for CurrentUser {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        match super::session::current(req).await {
            Ok(Some(auth)) => Outcome::Success(CurrentUser {
                user: auth.user.clone(),
                credential: auth.credential.clone(),
            }),
            Ok(None) => Outcome::Error((Status::Unauthorized, ())),
            Err(status) => Outcome::Error((status, ())),
        }
    }
}

async fn with_role<'r>(
    req: &'r Request<'_>,
    allowed: fn(&user::Model) -> bool,
    refusal: &'static str,
) -> Outcome<CurrentUser, ()> {
    match CurrentUser::from_request(req).await {
        Outcome::Success(current) if allowed(&current.user) => Outcome::Success(current),
        Outcome::Success(_) => {
            refusal::explain(req, refusal);
            Outcome::Error((Status::Forbidden, ()))
        }
        other => other,
    }
}

/// Members; staff and superusers count as members too.
#[derive(Debug, Clone)]
pub struct Member(pub CurrentUser);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Member {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        with_role(
            req,
            user::Model::counts_as_member,
            "This page is for members.",
        )
        .await
        .map(Member)
    }
}

/// With `staff_require_2fa` (the default), staff powers need two-factor
/// authentication: a browser is sent to set it up, the API answers 403.
fn staff_without_two_factor(req: &Request<'_>, current: &CurrentUser) -> bool {
    let required = req
        .rocket()
        .state::<AppConfig>()
        .is_none_or(|config| config.staff_require_2fa);
    if required && !current.user.has_two_factor() {
        refusal::explain_redirect(
            req,
            "/account/2fa",
            "two_factor_required",
            "Staff accounts must turn on two-factor authentication before using staff pages or staff API calls.",
        );
        return true;
    }
    false
}

async fn staff_role<'r>(
    req: &'r Request<'_>,
    allowed: fn(&user::Model) -> bool,
    refusal: &'static str,
) -> Outcome<CurrentUser, ()> {
    match with_role(req, allowed, refusal).await {
        Outcome::Success(current) if staff_without_two_factor(req, &current) => {
            Outcome::Error((Status::Forbidden, ()))
        }
        other => other,
    }
}

/// Staff; a superuser is staff too.
#[derive(Debug, Clone)]
pub struct Staff(pub CurrentUser);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Staff {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        staff_role(req, user::Model::counts_as_staff, "This page is for staff.")
            .await
            .map(Staff)
    }
}

#[derive(Debug, Clone)]
pub struct Superuser(pub CurrentUser);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Superuser {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        staff_role(req, |u| u.is_superuser, "Only a superuser can do that.")
            .await
            .map(Superuser)
    }
}
