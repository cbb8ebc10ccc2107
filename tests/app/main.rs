//! Gatehouse driven through HTTP as people and scripts use it. Every test
//! gets a fresh database: a SQLite file, or its own PostgreSQL schema when
//! TEST_DATABASE_URL is set.

mod helpers;

mod accounts;
mod activity;
mod admin;
mod api;
mod api_keys;
mod audit;
mod browser;
mod cli;
mod credentials;
mod csrf;
mod deployment;
mod devices;
mod email;
mod email_keys;
mod guards;
mod hardening;
mod hashing;
mod hooks;
mod input;
mod lifecycle;
mod oauth;
mod oauth_provider;
mod operations;
mod passkeys;
mod rate_limits;
mod reauth;
mod recovery;
mod remembered;
mod sessions;
mod socket;
mod spa;
mod two_factor;

/// The example site of `examples/tenant_site`, exercised by `hooks`.
#[path = "../../examples/tenant_site/site.rs"]
mod tenant_site;
