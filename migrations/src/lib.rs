//! Gatehouse's schema, one file per change. Every migration runs on SQLite
//! and PostgreSQL alike, so only portable SQL appears here; each file says
//! why its tables look the way they do.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_create_users;
mod m20261122_000002_create_sessions;
mod m20261122_000003_two_factor;
mod m20261122_000004_security_events;
mod m20261122_000005_api_keys;
mod m20261122_000006_linked_accounts;
mod m20261122_000007_rate_limit_counters;
mod m20261129_000008_outbox;
mod m20261129_000020_credential_version;
mod m20261129_000021_email_key;
mod m20261129_000022_email_tokens;
mod m20261129_000023_email_verified;
mod m20261129_000024_session_confirmed_at;
mod m20261129_000025_email_key_case_folding;
mod m20261129_000030_refresh_tokens;
mod m20261129_000040_passkeys;
mod m20261129_000050_email_change;
mod m20261129_000060_change_notices;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_users::Migration),
            Box::new(m20261122_000002_create_sessions::Migration),
            Box::new(m20261122_000003_two_factor::Migration),
            Box::new(m20261122_000004_security_events::Migration),
            Box::new(m20261122_000005_api_keys::Migration),
            Box::new(m20261122_000006_linked_accounts::Migration),
            Box::new(m20261122_000007_rate_limit_counters::Migration),
            Box::new(m20261129_000008_outbox::Migration),
            Box::new(m20261129_000020_credential_version::Migration),
            Box::new(m20261129_000021_email_key::Migration),
            Box::new(m20261129_000022_email_tokens::Migration),
            Box::new(m20261129_000023_email_verified::Migration),
            Box::new(m20261129_000024_session_confirmed_at::Migration),
            Box::new(m20261129_000025_email_key_case_folding::Migration),
            Box::new(m20261129_000030_refresh_tokens::Migration),
            Box::new(m20261129_000040_passkeys::Migration),
            Box::new(m20261129_000050_email_change::Migration),
            Box::new(m20261129_000060_change_notices::Migration),
        ]
    }
}
