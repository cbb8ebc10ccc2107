//! Gatehouse: accounts and authentication as a Rocket application, and the
//! guards that let a site put its own routes behind it.
//!
//! [`rocket`] builds the whole app from a figment; `main.rs` only parses
//! the command line. The modules are listed below in layer order, from
//! the foundation up: each imports only the layers before it (see
//! `docs/ARCHITECTURE.md`). Read them in this order for a tour.

// Foundation: plain data and tools, no features.

/// Templates and static files compiled into the binary, `/static/…`.
pub mod assets;
/// Who is on the other end of a request (address, user agent), as data.
pub mod client;
/// The time source, swappable in tests.
pub mod clock;
/// Settings: `Rocket.toml` / `ROCKET_*`, validated into `AppConfig`, with
/// the OAuth provider tables and rate limits as plain data.
pub mod config;
/// HMAC-SHA256, SHA-256, hex and constant-time comparison.
pub mod crypto;
/// Database connection, migrations, constraint-error helper, and the
/// owner-scoped query builders every feature's queries start from.
pub mod db;
/// `AppError` (a status and a sentence, no rendering) and `FormErrors`.
pub mod error;
/// Request ids, request logs, Prometheus metrics, the log output.
pub mod telemetry;
/// The rule every text input passes first: no control characters.
pub mod text;

// Domain: one module per feature, entities, queries and services; no
// Rocket request types, no templates. Lower ones never import higher ones.

/// Users, passwords, registration, deleting and (de)activating.
pub mod accounts;
/// Staff actions on accounts, and the dashboard's numbers.
pub mod admin;
/// API keys: format, storage, scopes, creating and revoking.
pub mod api_keys;
/// The email outbox, its worker and the mailers (SMTP or files).
pub mod email;
/// The holder's data as one JSON download, without secrets.
pub mod export;
/// The background sweeper of expired rows.
pub mod maintenance;
/// OAuth providers, identities and linked accounts.
pub mod oauth;
/// Passkeys: WebAuthn credentials and the challenges of their ceremonies.
pub mod passkeys;
/// Shared rate limits (database or Redis).
pub mod rate_limit;
/// The security log: what happened to an account, recorded by services.
pub mod security_log;
/// Server-side sessions: the rows, their liveness, revoking them.
pub mod sessions;
/// Two-factor authentication: TOTP, recovery codes, on and off.
pub mod two_factor;

// Auth: the request-facing layer under the pages and the API.

/// Guards (`CurrentUser`, `Member`, `Staff`, `Superuser`, the API caller),
/// CSRF, cookies, managed state, and the one sign-in flow.
pub mod auth;

// Entry points: pages, JSON, command line.

/// The JSON API: token endpoint, JSON routes, OpenAPI.
pub mod api;
/// `serve`, `migrate`, `createsuperuser`.
pub mod cli;
/// The HTML site: pages, forms, templates, error pages, security headers.
pub mod web;

use rocket::{Build, Rocket};

pub use auth::guards::{CurrentUser, Member, Staff, Superuser};
pub use auth::hooks::TokenHooks;
pub use auth::tokens::Claims;

/// The whole application, configured by `figment` (see `config`). To use a
/// database you opened yourself, or a manual clock, `.manage()` it on the
/// result before launch; a site's own token claims and checks likewise, as
/// [`TokenHooks`] (see `examples/tenant_site`). Mount the site's routes
/// beside Gatehouse's and put them behind [`CurrentUser`], [`Staff`], ...
pub fn rocket(figment: rocket::figment::Figment) -> Rocket<Build> {
    rocket::custom(config::with_defaults(figment))
        .attach(auth::state::fairing())
        .attach(auth::state::change_listener())
        .attach(maintenance::fairing())
        .attach(email::worker::Worker)
        .attach(assets::fairing())
        .attach(web::headers::SecurityHeaders)
        // Rocket's default Shield would look up each of its headers on
        // every response only to find SecurityHeaders had set them.
        .attach(rocket::shield::Shield::new())
        .attach(telemetry::Telemetry)
        .register("/", web::errors::catchers())
        .register("/api", api::catchers())
        .mount("/", web::routes())
        .mount("/api", api::routes())
        .mount("/", assets::routes())
        .mount("/", web::metrics::routes())
}
