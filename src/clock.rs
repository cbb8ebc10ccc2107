//! The time source. Handlers ask the managed [`Clock`] rather than the
//! system, so tests can move time forward to expire sessions and windows.
//! Times are whole seconds in UTC: SQLite compares timestamps as text, and
//! a fixed format keeps that comparison right.

use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

#[derive(Clone)]
pub struct Clock(Source);

#[derive(Clone)]
enum Source {
    System,
    Manual(Arc<Mutex<OffsetDateTime>>),
}

impl Clock {
    pub fn system() -> Clock {
        Clock(Source::System)
    }

    /// A clock that stands still until [`ManualClock::advance`] moves it.
    pub fn manual(start: OffsetDateTime) -> (Clock, ManualClock) {
        let now = Arc::new(Mutex::new(start));
        (Clock(Source::Manual(now.clone())), ManualClock(now))
    }

    pub fn now(&self) -> OffsetDateTime {
        let now = match &self.0 {
            Source::System => OffsetDateTime::now_utc(),
            Source::Manual(now) => *now.lock().unwrap_or_else(|e| e.into_inner()),
        };
        now.replace_nanosecond(0).unwrap_or(now)
    }
}

/// The handle a test keeps to move a manual clock.
#[derive(Clone)]
pub struct ManualClock(Arc<Mutex<OffsetDateTime>>);

impl ManualClock {
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let start = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let (clock, handle) = Clock::manual(start);
        assert_eq!(clock.now(), start);
        handle.advance(Duration::minutes(5));
        assert_eq!(clock.now(), start + Duration::minutes(5));
    }

    #[test]
    fn the_system_clock_has_whole_seconds() {
        assert_eq!(Clock::system().now().nanosecond(), 0);
    }
}
