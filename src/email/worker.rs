//! The outbox worker: a fairing that checks the `email.*` settings when
//! Rocket ignites (a bad `smtp_url` or `from` stops the start) and, once
//! Rocket is up, polls the outbox twice a second. Each due message is
//! claimed with a lease (see `entity::claim`), so any number of instances
//! can run the worker and none sends a message another holds; a message
//! whose server refused or was unreachable is tried again after a backoff,
//! and one claimed by an instance that died is taken up when its lease
//! ends. On start every unsent due message is taken up at once; on
//! shutdown one last round runs, for a few seconds at most. Each round
//! also counts the unsent messages into the `outbox_backlog` metric.

use std::sync::Arc;

use lettre::message::Mailbox;
use rocket::fairing::{Fairing, Info, Kind};
use rocket::{Build, Orbit, Rocket};
use sea_orm::{DatabaseConnection, DbErr};
use time::Duration;

use super::entity;
use super::mailer::{EmailSettings, Mailer, build};
use crate::clock::Clock;
use crate::config::AppConfig;

/// How long a claim hides a message from other instances: far longer than
/// an SMTP attempt can take (its timeouts are seconds).
pub const LEASE: Duration = Duration::minutes(5);
const POLL: std::time::Duration = std::time::Duration::from_millis(500);
const BATCH: u64 = 50;
const LAST_ROUND: std::time::Duration = std::time::Duration::from_secs(5);

/// The wait after a message's `attempts`-th failure: 15 s, doubling, at
/// most an hour; ten tries take about two hours, and the worker never
/// gives up on a message.
pub fn retry_delay(attempts: i32) -> Duration {
    let doublings = attempts.clamp(1, 12) - 1;
    Duration::seconds((15_i64 << doublings).min(3600))
}

/// What the worker needs to deliver messages.
#[derive(Clone)]
pub struct Delivery {
    pub mailer: Arc<dyn Mailer>,
    pub from: Mailbox,
}

/// What one round did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub sent: usize,
    pub failed: usize,
}

/// Claims and sends every message due by the clock's `now`.
pub async fn deliver_due(
    db: &DatabaseConnection,
    delivery: &Delivery,
    clock: &Clock,
) -> Result<Round, DbErr> {
    let mut round = Round::default();
    for id in entity::due_ids(db, clock.now(), BATCH).await? {
        let Some(row) = entity::claim(db, id, clock.now(), LEASE).await? else {
            continue;
        };
        let sent = match build(&delivery.from, &row) {
            Ok(message) => delivery.mailer.send(&message, row.id).await,
            Err(e) => Err(e),
        };
        match sent {
            Ok(()) => {
                entity::mark_sent(db, row.id, clock.now()).await?;
                tracing::info!(outbox_id = row.id, "email sent");
                round.sent += 1;
            }
            Err(e) => {
                let next = clock.now() + retry_delay(row.attempts + 1);
                entity::mark_failed(db, row.id, next, &e.to_string()).await?;
                tracing::warn!(outbox_id = row.id, attempts = row.attempts + 1, error = %e, "email not sent; will retry");
                round.failed += 1;
            }
        }
    }
    Ok(round)
}

/// The outbox worker's fairing.
pub struct Worker;

#[rocket::async_trait]
impl Fairing for Worker {
    fn info(&self) -> Info {
        Info {
            name: "Outbox worker",
            kind: Kind::Ignite | Kind::Liftoff,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> rocket::fairing::Result {
        let settings: EmailSettings = match rocket.figment().find_value("email") {
            Ok(_) => match rocket.figment().extract_inner("email") {
                Ok(settings) => settings,
                Err(e) => {
                    tracing::error!(error = %e, "the email settings are invalid");
                    return Err(rocket);
                }
            },
            Err(_) => EmailSettings::default(),
        };
        let Some(config) = rocket.state::<AppConfig>() else {
            tracing::error!("the outbox worker needs the configuration first");
            return Err(rocket);
        };
        let delivery = settings
            .from_mailbox(config)
            .and_then(|from| Ok((from, settings.mailer()?)));
        match delivery {
            Ok((from, mailer)) => Ok(rocket.manage(Delivery {
                mailer: Arc::from(mailer),
                from,
            })),
            Err(e) => {
                tracing::error!(error = %e, "the email settings are invalid");
                Err(rocket)
            }
        }
    }

    async fn on_liftoff(&self, rocket: &Rocket<Orbit>) {
        let (Some(config), Some(db), Some(delivery), Some(clock)) = (
            rocket.state::<AppConfig>(),
            rocket.state::<DatabaseConnection>().cloned(),
            rocket.state::<Delivery>().cloned(),
            rocket.state::<Clock>().cloned(),
        ) else {
            tracing::error!("the outbox worker is missing application state and will not run");
            return;
        };
        // A pool of its own, so that polling never waits behind requests
        // for a connection (an in-memory SQLite database has only one).
        let db = if config.database_url.contains(":memory:") {
            db
        } else {
            match crate::db::connect(&config.database_url).await {
                Ok(own) => own,
                Err(e) => {
                    tracing::error!(error = %e, "the outbox worker could not connect and will not run");
                    return;
                }
            }
        };
        let shutdown = rocket.shutdown();
        rocket::tokio::spawn(async move {
            let mut interval = rocket::tokio::time::interval(POLL);
            interval.set_missed_tick_behavior(rocket::tokio::time::MissedTickBehavior::Delay);
            rocket::tokio::pin!(shutdown);
            loop {
                rocket::tokio::select! {
                    _ = &mut shutdown => break,
                    _ = interval.tick() => run_round(&db, &delivery, &clock).await,
                }
            }
            let last = rocket::tokio::time::timeout(LAST_ROUND, run_round(&db, &delivery, &clock));
            if last.await.is_err() {
                tracing::warn!(
                    "the outbox worker's last round was cut short; unsent messages wait for the next start"
                );
            }
        });
    }
}

async fn run_round(db: &DatabaseConnection, delivery: &Delivery, clock: &Clock) {
    if let Err(e) = deliver_due(db, delivery, clock).await {
        tracing::error!(error = %e, "reading the outbox failed");
    }
    match entity::count_unsent(db).await {
        Ok(unsent) => crate::telemetry::metrics::outbox_backlog(unsent),
        Err(e) => tracing::error!(error = %e, "counting the outbox failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_an_hour_and_ten_fit_in_a_day() {
        assert_eq!(retry_delay(1), Duration::seconds(15));
        assert_eq!(retry_delay(2), Duration::seconds(30));
        assert_eq!(retry_delay(40), Duration::hours(1));
        let ten: Duration = (1..10).map(retry_delay).sum();
        assert!(ten < Duration::days(1));
    }

    #[test]
    fn a_claim_outlasts_an_attempt() {
        assert!(LEASE > Duration::minutes(1));
    }
}
