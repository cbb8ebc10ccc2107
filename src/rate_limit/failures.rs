//! The counters this instance has itself hit lately, so that a limit which
//! counts only failures is read from the shared store only for subjects
//! that have failed here (see [`RateLimiter::check_failures`]).
//!
//! On one instance this is exact: every hit of the subject passed through
//! here. Across instances, one that has not seen the subject fail lets it
//! through unchecked until its first failure there is counted, then checks
//! the subject from then on: a subject over its limit gains one attempt
//! per instance (and per restart) while its failures weigh, or one burst
//! of parallel attempts, which no turn holds back here (a turn would
//! queue every good key of an address behind the others).
//!
//! [`RateLimiter::check_failures`]: super::RateLimiter::check_failures

use std::collections::HashMap;
use std::sync::Mutex;

use super::Counter;

/// Past this many subjects, entries that no longer matter are swept out
/// (once the first of them expires, not on every note); while as many
/// still matter, every check goes to the store (an attacker with countless
/// addresses gains no unchecked attempts by filling the table).
const CAPACITY: usize = 65_536;

#[derive(Default)]
pub struct RecentFailures {
    seen: Mutex<Seen>,
}

struct Seen {
    /// Counter key -> unix second until which its hits still weigh.
    until: HashMap<String, i64>,
    /// Until when every counter is judged by the store.
    overflowed_until: i64,
    /// The earliest `until` in the table: no sweep frees anything before.
    sweep_after: i64,
}

impl Default for Seen {
    fn default() -> Seen {
        Seen {
            until: HashMap::new(),
            overflowed_until: 0,
            sweep_after: i64::MAX,
        }
    }
}

impl RecentFailures {
    /// Notes a hit of `counter` at `now` (unix seconds). A sliding window
    /// reads the current and the previous window, so the hit weighs until
    /// the end of the window after this one.
    pub fn note(&self, counter: &Counter, now: i64) {
        let until = counter.window_end(counter.window(now) + 1);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.until.len() >= CAPACITY && !seen.until.contains_key(&counter.key) {
            if now >= seen.sweep_after {
                seen.until.retain(|_, weighs_until| *weighs_until > now);
                seen.sweep_after = seen.until.values().copied().min().unwrap_or(i64::MAX);
            }
            if seen.until.len() >= CAPACITY {
                seen.overflowed_until = seen.overflowed_until.max(until);
                return;
            }
        }
        seen.sweep_after = seen.sweep_after.min(until);
        let entry = seen.until.entry(counter.key.clone()).or_default();
        *entry = (*entry).max(until);
    }

    /// Whether a hit of `counter` noted here may still weigh at `now`.
    pub fn may_weigh(&self, counter: &Counter, now: i64) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        now < seen.overflowed_until
            || seen
                .until
                .get(&counter.key)
                .is_some_and(|&until| now < until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::Limit;

    fn counter(key: &str) -> Counter {
        Counter {
            key: key.into(),
            limit: Limit::new(3, 60),
            always: false,
            origin: 0,
        }
    }

    #[test]
    fn a_hit_weighs_until_the_end_of_the_next_window() {
        let failures = RecentFailures::default();
        let (a, b) = (counter("a"), counter("b"));
        assert!(!failures.may_weigh(&a, 10));
        failures.note(&a, 10);
        assert!(failures.may_weigh(&a, 10));
        assert!(
            failures.may_weigh(&a, 119),
            "the previous window still counts"
        );
        assert!(!failures.may_weigh(&a, 120));
        assert!(!failures.may_weigh(&b, 10), "only the counter hit");
    }

    #[test]
    fn a_full_table_sends_every_check_to_the_store() {
        let failures = RecentFailures::default();
        for i in 0..CAPACITY {
            failures.note(&counter(&i.to_string()), 0);
        }
        let stranger = counter("stranger");
        assert!(!failures.may_weigh(&stranger, 0));
        failures.note(&stranger, 30);
        assert!(failures.may_weigh(&counter("anyone"), 30));
        assert!(failures.may_weigh(&stranger, 119));
        // Once the old entries no longer weigh, they make room.
        failures.note(&stranger, 200);
        assert!(failures.may_weigh(&stranger, 200));
        assert!(!failures.may_weigh(&counter("anyone"), 200));
    }
}
