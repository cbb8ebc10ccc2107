//! Gatehouse: accounts and authentication as a Rocket application, and the
//! guards that let a site put its own routes behind it.
//!
//! [`rocket`] builds the whole app from a figment; `main.rs` only parses
//! the command line. Read the modules in this order for a tour.

/// Users, passwords, sign-up / sign-in / sign-out, the account page.
pub mod accounts;
/// Staff pages.
pub mod admin;
/// The JSON API: token endpoint, bearer/API-key authentication, OpenAPI.
pub mod api;
/// API keys and their settings page.
pub mod api_keys;
/// Templates and static files compiled into the binary, `/static/…`.
pub mod assets;
/// `serve`, `migrate`, `createsuperuser`.
pub mod cli;
/// The time source, swappable in tests.
pub mod clock;
/// Settings: `Rocket.toml` / `ROCKET_*`, validated into `AppConfig`.
pub mod config;
/// Database connection, migrations, constraint-error helper.
pub mod db;
/// `AppError` and the catchers: HTML pages, or JSON under `/api`.
pub mod error;
/// Home page, `/members` and `/health`.
mod home;
/// The background sweeper of expired rows.
pub mod maintenance;
/// OAuth providers, sign-in with them, linked accounts.
pub mod oauth;
/// Owner-scoped queries for everything a user owns.
pub mod ownership;
/// Shared rate limits (database or Redis).
pub mod rate_limit;
/// The security log and its page.
pub mod security_log;
/// Server-side sessions and the `CurrentUser`/`Member`/`Staff`/`Superuser` guards.
pub mod sessions;
/// Managed state built at ignite, and the `AppState` guard.
pub mod state;
/// Request ids, request logs, Prometheus metrics, the log output.
pub mod telemetry;
/// Two-factor authentication: TOTP, recovery codes, `/login/2fa`.
pub mod two_factor;
/// Cookies, CSRF, security headers, client info, page rendering.
pub mod web;

use rocket::{Build, Rocket};

pub use sessions::guards::{CurrentUser, Member, Staff, Superuser};

/// The whole application, configured by `figment` (see `config`). To use a
/// database you opened yourself, or a manual clock, `.manage()` it on the
/// result before launch.
pub fn rocket(figment: rocket::figment::Figment) -> Rocket<Build> {
    rocket::custom(config::with_defaults(figment))
        .attach(state::fairing())
        .attach(maintenance::fairing())
        .attach(assets::fairing())
        .attach(web::headers::SecurityHeaders)
        .attach(telemetry::Telemetry)
        .register("/", error::catchers())
        .mount("/", home::routes())
        .mount("/", accounts::routes())
        .mount("/", sessions::routes())
        .mount("/", two_factor::routes())
        .mount("/", admin::routes())
        .mount("/", security_log::routes())
        .mount("/", api_keys::routes())
        .mount("/api", api::routes())
        .mount("/", oauth::routes())
        .mount("/", assets::routes())
        .mount("/", web::metrics::routes())
}
