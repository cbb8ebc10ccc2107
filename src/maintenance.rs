//! Housekeeping in the background: a fairing that, once Rocket is up,
//! spawns a Tokio interval task deleting what has expired: sessions past
//! their end (or idle past `session_idle_minutes`), security events past
//! `security_log_retention_days`, rate-limit windows that no longer
//! count, and passkey challenges never answered. Every instance may run it; the deletes are idempotent.

use rocket::fairing::AdHoc;
use sea_orm::DatabaseConnection;
use time::OffsetDateTime;

use crate::clock::Clock;
use crate::config::AppConfig;
use crate::rate_limit::{LimiterError, RateLimiter};
use crate::sessions::store;

/// What one sweep deleted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub sessions: u64,
    pub security_events: u64,
    pub rate_limit_windows: u64,
    pub passkey_challenges: u64,
}

/// One sweep, as of `now`.
pub async fn sweep(
    db: &DatabaseConnection,
    config: &AppConfig,
    limiter: &RateLimiter,
    now: OffsetDateTime,
) -> Result<Swept, LimiterError> {
    let sessions = store::delete_dead(db, config, now).await?;
    let retention_cutoff = now - config.security_log_retention;
    let security_events =
        crate::security_log::entity::delete_older_than(db, retention_cutoff).await?;
    let rate_limit_windows = limiter.sweep(now).await?;
    let passkey_challenges = crate::passkeys::challenge::delete_expired(db, now).await?;
    Ok(Swept {
        sessions,
        security_events,
        rate_limit_windows,
        passkey_challenges,
    })
}

/// Starts the sweeper after launch; it stops when Rocket shuts down.
pub fn fairing() -> AdHoc {
    AdHoc::on_liftoff("Sweeper", |rocket| {
        Box::pin(async move {
            let (Some(config), Some(db), Some(limiter), Some(clock)) = (
                rocket.state::<AppConfig>().cloned(),
                rocket.state::<DatabaseConnection>().cloned(),
                rocket.state::<RateLimiter>().cloned(),
                rocket.state::<Clock>().cloned(),
            ) else {
                tracing::error!("the sweeper is missing application state and will not run");
                return;
            };
            let shutdown = rocket.shutdown();
            rocket::tokio::spawn(async move {
                let mut interval = rocket::tokio::time::interval(config.sweep_interval);
                interval.set_missed_tick_behavior(rocket::tokio::time::MissedTickBehavior::Delay);
                // The first tick is immediate; start one period after launch.
                interval.tick().await;
                rocket::tokio::pin!(shutdown);
                loop {
                    rocket::tokio::select! {
                        _ = &mut shutdown => break,
                        _ = interval.tick() => {
                            match sweep(&db, &config, &limiter, clock.now()).await {
                                Ok(swept) => tracing::debug!(?swept, "swept expired rows"),
                                Err(e) => tracing::error!(error = %e, "sweeping expired rows failed"),
                            }
                        }
                    }
                }
            });
        })
    })
}
