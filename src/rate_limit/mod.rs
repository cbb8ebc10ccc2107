//! Rate limits shared by every instance: counters in the database (an
//! atomic upsert per key and window) or in Redis when `redis_url` is set.
//!
//! Each limit is a sliding window estimated from two fixed windows (the
//! current count plus the previous one weighted by how much of it still
//! overlaps), so a burst at a window boundary does not double the limit.
//! Callers `check` before doing the guarded work (a password is not even
//! verified while its account or address is over the limit) and `hit`
//! after a failure, holding a `take_turn` from one to the other so that
//! parallel attempts are judged one at a time; where every attempt counts,
//! `count_and_check` counts first. Each call takes several counters and
//! costs one round trip.
//! Counter keys are an HMAC of the subject under a key derived from
//! `secret_key`: never an address or a login, not reversible by hashing all
//! IPv4 addresses, and shared exactly by the instances of one deployment.

pub mod entity;
mod failures;
mod turns;

use std::sync::Arc;

use crate::crypto;
use sea_orm::ExprTrait as _;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait as _, Condition, DatabaseConnection, DbErr, EntityTrait as _, QueryFilter as _,
};

use crate::config::AppConfig;
use time::OffsetDateTime;

pub use crate::config::limit::{Limit, RateLimitSettings};
pub use turns::Turn;

/// One thing being counted: a limit and the hashed subject it applies to.
#[derive(Clone, Debug)]
pub struct Counter {
    key: String,
    limit: Limit,
    /// Enforced even with `rate_limits.enabled = false`: a security
    /// property (wrong second-factor codes), not a tunable.
    always: bool,
    /// Where window 0 starts (unix seconds): 0 for windows on the clock,
    /// the start of the thing counted for [`RateLimiter::attempts`].
    origin: i64,
}

impl Counter {
    fn window(&self, now: i64) -> i64 {
        (now - self.origin).div_euclid(i64::from(self.limit.window_secs))
    }

    /// When `window` ends, in unix seconds.
    fn window_end(&self, window: i64) -> i64 {
        self.origin + (window + 1) * i64::from(self.limit.window_secs)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LimiterError {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

impl From<LimiterError> for crate::error::AppError {
    fn from(err: LimiterError) -> Self {
        crate::error::AppError::Internal(anyhow::anyhow!("rate limiter: {err}"))
    }
}

#[derive(Clone)]
enum Store {
    Database(DatabaseConnection),
    Redis(redis::aio::ConnectionManager),
}

#[derive(Clone)]
pub struct RateLimiter {
    settings: RateLimitSettings,
    store: Store,
    key: [u8; 32],
    turns: Arc<turns::Turns>,
    failures: Arc<failures::RecentFailures>,
}

const KEY_LABEL: &str = "gatehouse/rate-limit-keys/v1";

impl RateLimiter {
    pub fn database(config: &AppConfig, db: DatabaseConnection) -> RateLimiter {
        RateLimiter {
            settings: config.rate_limits.clone(),
            store: Store::Database(db),
            key: config.derive_key(KEY_LABEL),
            turns: Arc::default(),
            failures: Arc::default(),
        }
    }

    pub async fn redis(config: &AppConfig, url: &str) -> Result<RateLimiter, LimiterError> {
        let client = redis::Client::open(url)?;
        let manager = client.get_connection_manager().await?;
        Ok(RateLimiter {
            settings: config.rate_limits.clone(),
            store: Store::Redis(manager),
            key: config.derive_key(KEY_LABEL),
            turns: Arc::default(),
            failures: Arc::default(),
        })
    }

    pub fn settings(&self) -> &RateLimitSettings {
        &self.settings
    }

    /// A counter of `bucket` (what is counted, e.g. `sign_in:account`) for
    /// `subject` (who or what: a user id, a normalized login, an address).
    pub fn counter(&self, bucket: &str, subject: &str, limit: Limit) -> Counter {
        let digest =
            crypto::hmac_sha256(&self.key, &[bucket.as_bytes(), b"\n", subject.as_bytes()]);
        let key = crypto::hex(&digest[..24]);
        Counter {
            key,
            limit,
            always: false,
            origin: 0,
        }
    }

    /// Attempts at something short-lived (a pending sign-in) that began at
    /// `started` and lasts at most `lifetime_secs`: its one window opens
    /// with it, so the count is exact rather than a sliding estimate. It is
    /// enforced even when rate limits are turned off.
    pub fn attempts(
        &self,
        bucket: &str,
        subject: &str,
        max: u32,
        started: OffsetDateTime,
        lifetime_secs: u32,
    ) -> Counter {
        Counter {
            always: true,
            origin: started.unix_timestamp(),
            ..self.counter(bucket, subject, Limit::new(max, lifetime_secs))
        }
    }

    /// Waits for this instance's turn on each counter, held until the
    /// returned [`Turn`] drops: take it before [`check`](Self::check) and
    /// keep it past the [`hit`](Self::hit), so parallel attempts cannot all
    /// pass the check before the first failure counts.
    pub async fn take_turn(&self, counters: &[Counter]) -> Turn {
        let keys = self.enforced(counters).into_iter().map(|c| c.key.as_str());
        self.turns.take(keys).await
    }

    /// The counters that apply: all, or with limits off only the `always` ones.
    fn enforced<'c>(&self, counters: &'c [Counter]) -> Vec<&'c Counter> {
        counters
            .iter()
            .filter(|c| self.settings.enabled || c.always)
            .collect()
    }

    /// Seconds to wait when any counter is over its limit; None when all
    /// are under (or limits are off).
    pub async fn check(
        &self,
        now: OffsetDateTime,
        counters: &[Counter],
    ) -> Result<Option<u64>, LimiterError> {
        self.wait(now, counters, |counter, now, previous, current| {
            retry_after(counter, now, previous, current)
        })
        .await
    }

    /// [`check`](Self::check) for limits that count only failures, each
    /// counted with [`hit_failures`](Self::hit_failures): only the counters
    /// this instance has counted lately are read from the store (see
    /// `failures`), so a caller with a clean record costs no round trip.
    pub async fn check_failures(
        &self,
        now: OffsetDateTime,
        counters: &[Counter],
    ) -> Result<Option<u64>, LimiterError> {
        let at = now.unix_timestamp();
        let weighing: Vec<Counter> = counters
            .iter()
            .filter(|counter| self.failures.may_weigh(counter, at))
            .cloned()
            .collect();
        self.check(now, &weighing).await
    }

    /// [`hit`](Self::hit) for limits checked with
    /// [`check_failures`](Self::check_failures): this instance notes the
    /// counters, and reads them from the store until their hits no longer
    /// weigh.
    pub async fn hit_failures(
        &self,
        now: OffsetDateTime,
        counters: &[Counter],
    ) -> Result<(), LimiterError> {
        let at = now.unix_timestamp();
        for counter in self.enforced(counters) {
            self.failures.note(counter, at);
        }
        self.hit(now, counters).await
    }

    /// Counts this attempt against every counter first, then answers as
    /// [`check`](Self::check) would have just before it: for limits where
    /// every attempt counts (sign-ups, second-factor codes). Counting first
    /// means parallel attempts each see the ones before them.
    pub async fn count_and_check(
        &self,
        now: OffsetDateTime,
        counters: &[Counter],
    ) -> Result<Option<u64>, LimiterError> {
        self.hit(now, counters).await?;
        self.wait(now, counters, |counter, now, previous, current| {
            // Over if it was before this attempt; the wait counts this one
            // too, as the next attempt will.
            retry_after(counter, now, previous, current.saturating_sub(1))
                .and_then(|_| retry_after(counter, now, previous, current))
        })
        .await
    }

    /// Reads the enforced counters (one round trip) and gives the longest
    /// wait `judge` finds among them.
    async fn wait(
        &self,
        now: OffsetDateTime,
        counters: &[Counter],
        judge: impl Fn(&Counter, i64, u32, u32) -> Option<u64>,
    ) -> Result<Option<u64>, LimiterError> {
        let counters = self.enforced(counters);
        if counters.is_empty() {
            return Ok(None);
        }
        let now = now.unix_timestamp();
        let counts = match &self.store {
            Store::Database(db) => database_counts(db, now, &counters).await?,
            Store::Redis(redis) => redis_counts(redis.clone(), now, &counters).await?,
        };
        Ok(counters
            .into_iter()
            .zip(counts)
            .filter_map(|(counter, (previous, current))| judge(counter, now, previous, current))
            .max())
    }

    /// Counts one more event against every counter.
    pub async fn hit(&self, now: OffsetDateTime, counters: &[Counter]) -> Result<(), LimiterError> {
        let counters = self.enforced(counters);
        if counters.is_empty() {
            return Ok(());
        }
        let now = now.unix_timestamp();
        match &self.store {
            Store::Database(db) => database_hit(db, now, &counters).await?,
            Store::Redis(redis) => redis_hit(redis.clone(), now, &counters).await?,
        }
        Ok(())
    }

    /// Deletes counters of windows that no longer matter (database only;
    /// Redis expires its own keys).
    pub async fn sweep(&self, now: OffsetDateTime) -> Result<u64, LimiterError> {
        let Store::Database(db) = &self.store else {
            return Ok(0);
        };
        let deleted = entity::Entity::delete_many()
            .filter(entity::Column::ExpiresAt.lt(now.unix_timestamp()))
            .exec(db)
            .await?;
        Ok(deleted.rows_affected)
    }
}

/// The sliding-window estimate against the limit: None when under it, else
/// the seconds until one more event would be allowed.
fn retry_after(counter: &Counter, now: i64, previous: u32, current: u32) -> Option<u64> {
    let window = f64::from(counter.limit.window_secs);
    let max = f64::from(counter.limit.max);
    let remaining = (counter.window_end(counter.window(now)) - now) as f64;
    let (previous, current) = (f64::from(previous), f64::from(current));
    if previous * remaining / window + current < max {
        return None;
    }
    let wait = if current < max {
        // Under the limit once enough of the previous window slides away.
        remaining - (max - current) * window / previous
    } else {
        // Only after this window ends, once its own weight has decayed.
        remaining + window * (1.0 - max / current)
    };
    // At `wait` the estimate equals the limit; one more second is under it.
    Some(wait.max(0.0).floor() as u64 + 1)
}

async fn database_counts(
    db: &DatabaseConnection,
    now: i64,
    counters: &[&Counter],
) -> Result<Vec<(u32, u32)>, DbErr> {
    let mut condition = Condition::any();
    for counter in counters {
        let window = counter.window(now);
        condition = condition.add(
            Condition::all()
                .add(entity::Column::Key.eq(&counter.key))
                .add(entity::Column::WindowStart.is_in([window - 1, window])),
        );
    }
    let rows = entity::Entity::find().filter(condition).all(db).await?;
    let hits = |key: &str, window: i64| {
        rows.iter()
            .find(|row| row.key == key && row.window_start == window)
            .map_or(0, |row| u32::try_from(row.hits).unwrap_or(0))
    };
    Ok(counters
        .iter()
        .map(|counter| {
            let window = counter.window(now);
            (hits(&counter.key, window - 1), hits(&counter.key, window))
        })
        .collect())
}

async fn database_hit(
    db: &DatabaseConnection,
    now: i64,
    counters: &[&Counter],
) -> Result<(), DbErr> {
    let rows = counters.iter().map(|counter| {
        let window = counter.window(now);
        entity::ActiveModel {
            key: sea_orm::Set(counter.key.clone()),
            window_start: sea_orm::Set(window),
            hits: sea_orm::Set(1),
            // The window matters for itself and, weighted, the next one.
            expires_at: sea_orm::Set(counter.window_end(window + 1)),
        }
    });
    entity::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([entity::Column::Key, entity::Column::WindowStart])
                .value(
                    entity::Column::Hits,
                    Expr::col((entity::Entity, entity::Column::Hits)).add(1),
                )
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

fn redis_key(counter: &Counter, window: i64) -> String {
    format!("gatehouse:rl:{}:{window}", counter.key)
}

async fn redis_counts(
    mut redis: redis::aio::ConnectionManager,
    now: i64,
    counters: &[&Counter],
) -> Result<Vec<(u32, u32)>, redis::RedisError> {
    let keys: Vec<String> = counters
        .iter()
        .flat_map(|counter| {
            let window = counter.window(now);
            [redis_key(counter, window - 1), redis_key(counter, window)]
        })
        .collect();
    let values: Vec<Option<u32>> = redis::cmd("MGET")
        .arg(&keys)
        .query_async(&mut redis)
        .await?;
    Ok(values
        .chunks(2)
        .map(|pair| (pair[0].unwrap_or(0), pair[1].unwrap_or(0)))
        .collect())
}

async fn redis_hit(
    mut redis: redis::aio::ConnectionManager,
    now: i64,
    counters: &[&Counter],
) -> Result<(), redis::RedisError> {
    let mut pipe = redis::pipe();
    pipe.atomic();
    for counter in counters {
        let key = redis_key(counter, counter.window(now));
        pipe.cmd("INCR").arg(&key).ignore();
        pipe.cmd("EXPIRE")
            .arg(&key)
            .arg(2 * u64::from(counter.limit.window_secs))
            .ignore();
    }
    pipe.query_async::<()>(&mut redis).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(max: u32, window: u32) -> Counter {
        Counter {
            key: "k".into(),
            limit: Limit::new(max, window),
            always: false,
            origin: 0,
        }
    }

    #[test]
    fn an_attempts_window_opens_with_what_it_counts() {
        let started = 1_000_000_290; // ten seconds before a clock window ends
        let c = Counter {
            origin: started,
            ..counter(5, 300)
        };
        assert_eq!(c.window(started), 0);
        assert_eq!(c.window(started + 299), 0, "one window for the whole life");
        assert_eq!(c.window_end(0), started + 300);
        // Five in its only window: exact, with nothing to slide away.
        assert!(retry_after(&c, started + 11, 0, 5).is_some());
        assert_eq!(retry_after(&c, started + 11, 0, 4), None);
    }

    #[test]
    fn under_the_limit_nothing_waits() {
        let c = counter(5, 300);
        assert_eq!(retry_after(&c, 0, 0, 4), None);
        assert_eq!(retry_after(&c, 150, 4, 2), None, "half of 4 plus 2 is 4");
    }

    #[test]
    fn at_the_limit_the_wait_is_until_the_window_slides() {
        let c = counter(5, 300);
        // 5 in this window at its start: wait the whole window and more.
        assert_eq!(retry_after(&c, 0, 0, 5), Some(301));
        // 5 in the previous window, none now, 60 s in: 5 * 240/300 = 4 < 5.
        assert_eq!(retry_after(&c, 60, 5, 0), None);
        // 10 in the previous window, 60 s in: 8 >= 5; exactly 5 after 90 s
        // more, under it a second later.
        assert_eq!(retry_after(&c, 60, 10, 0), Some(91));
        assert_eq!(retry_after(&c, 151, 10, 0), None);
    }
}
