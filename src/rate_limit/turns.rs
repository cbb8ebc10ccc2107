//! One attempt at a time per counter, within this instance.
//!
//! A limit is checked before the guarded work (verifying a password takes
//! tens of milliseconds) and hit after it fails. Without turns, a burst of
//! parallel requests would all pass the check before the first failure was
//! counted. Holding a turn on each counter's key from the check to the hit
//! serialises them here; across instances a burst gains at most one
//! attempt per instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use rocket::tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// The keys with attempts in progress. Entries are weak, so a key lives
/// only while some request holds or waits for its turn.
#[derive(Default)]
pub struct Turns {
    waiting: Mutex<HashMap<String, Weak<AsyncMutex<()>>>>,
}

/// Turns on some keys, given back when dropped.
pub struct Turn {
    _held: Vec<OwnedMutexGuard<()>>,
}

/// Past this many entries, forgotten keys are swept out on the next take.
const SWEEP_AT: usize = 1024;

impl Turns {
    /// Waits for the turn on every one of `keys`. They are taken in sorted
    /// order, so two requests sharing keys cannot each hold what the other
    /// waits for.
    pub async fn take<'k>(&self, keys: impl IntoIterator<Item = &'k str>) -> Turn {
        let mut keys: Vec<&str> = keys.into_iter().collect();
        keys.sort_unstable();
        keys.dedup();
        let locks: Vec<Arc<AsyncMutex<()>>> = {
            let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
            if waiting.len() >= SWEEP_AT {
                waiting.retain(|_, lock| lock.strong_count() > 0);
            }
            keys.into_iter()
                .map(|key| match waiting.get(key).and_then(Weak::upgrade) {
                    Some(lock) => lock,
                    None => {
                        let lock = Arc::new(AsyncMutex::new(()));
                        waiting.insert(key.to_owned(), Arc::downgrade(&lock));
                        lock
                    }
                })
                .collect()
        };
        let mut held = Vec::with_capacity(locks.len());
        for lock in locks {
            held.push(lock.lock_owned().await);
        }
        Turn { _held: held }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[rocket::async_test]
    async fn attempts_on_one_key_take_turns_and_other_keys_do_not_wait() {
        let turns = Arc::new(Turns::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let attempts: Vec<_> = (0..8)
            .map(|i| {
                let (turns, inside, most) = (turns.clone(), inside.clone(), most.clone());
                rocket::tokio::spawn(async move {
                    // Every attempt shares "account"; the addresses differ.
                    let address = format!("ip{i}");
                    let _turn = turns.take(["account", address.as_str()]).await;
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    rocket::tokio::time::sleep(Duration::from_millis(5)).await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for attempt in attempts {
            attempt.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);

        let _held = turns.take(["account"]).await;
        let other = rocket::tokio::time::timeout(Duration::from_secs(1), turns.take(["ip0"]));
        assert!(other.await.is_ok(), "another key does not wait");
        assert!(
            turns
                .waiting
                .lock()
                .unwrap()
                .values()
                .filter(|w| w.strong_count() > 0)
                .count()
                <= 2
        );
    }
}
