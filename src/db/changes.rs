//! Lookups remembered between requests, and the changes that make them
//! forgotten.
//!
//! Every signed-in request reads its session (or API key) with its user.
//! Handing that query to the database was most of a request's cost, so
//! the answer is remembered in the process ([`Memo`]) and used again
//! until anything changes in `users`, `sessions` or `api_keys`.
//!
//! The rule that keeps a remembered answer true: the modules that write
//! those tables call [`changed`] after each statement that commits on its
//! own, and every transaction is committed through [`commit`], which
//! counts a change after the commit. A lookup takes a [`Ticket`] before
//! it reads the database and is remembered only if no change was counted
//! in between; a remembered answer is used only while no change has been
//! counted since. So an answer read before a change committed is never
//! used after it. Inserts need no call: a new row cannot make a
//! remembered answer false. Nor do the writes that only record when a
//! session or key was last used: the memo holds those itself.
//!
//! Other processes change the tables too. With PostgreSQL, triggers
//! (migration `m20261129_000060_change_notices`) send a notice on the
//! [`NOTICE_CHANNEL`] for every such change, and [`listen`] counts each as
//! a change here; memos are used only while the listener has heard from
//! the database within the last [`HEARTBEAT_GRACE`], so a lost connection
//! turns them off. With SQLite the file belongs to one process, and the
//! memos are always on. A program that writes these tables itself, behind
//! Gatehouse's back, calls [`changed`] after it commits.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sea_orm::sqlx::PgPool;
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{DatabaseTransaction, DbErr};

/// Changes counted so far in this process (see the module's rule).
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The PostgreSQL notification channel the triggers and heartbeats use.
pub const NOTICE_CHANNEL: &str = "gatehouse_changes";

/// How often a listener sends itself a heartbeat through the database.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// Memos stay on this long after the listener last heard anything.
pub const HEARTBEAT_GRACE: Duration = Duration::from_secs(3);

/// At most this many answers are remembered per memo; when full, the
/// stale ones go, or else all.
const CAPACITY: usize = 20_000;

/// Counts a change to `users`, `sessions` or `api_keys` that has
/// committed: every remembered lookup is forgotten.
pub fn changed() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// Commits `txn`, then counts a change: a transaction may have written the
/// tables whose lookups are remembered, and its statements' own
/// [`changed`] calls came before the commit.
#[allow(clippy::disallowed_methods)]
pub async fn commit(txn: DatabaseTransaction) -> Result<(), DbErr> {
    let committed = txn.commit().await;
    changed();
    committed
}

/// Whether an app's memos may be used: always, or while a listener keeps
/// hearing from the database.
#[derive(Clone)]
pub struct Channel(Arc<ChannelState>);

struct ChannelState {
    always: bool,
    started: Instant,
    /// Milliseconds after `started` when the listener last heard anything;
    /// zero before it first did.
    last_heard: AtomicU64,
}

impl Channel {
    /// For a database no other process writes (SQLite).
    pub fn always() -> Channel {
        Channel::new(true)
    }

    /// For a shared database: closed until [`listen`] hears from it.
    pub fn listened() -> Channel {
        Channel::new(false)
    }

    fn new(always: bool) -> Channel {
        Channel(Arc::new(ChannelState {
            always,
            started: Instant::now(),
            last_heard: AtomicU64::new(0),
        }))
    }

    pub fn is_open(&self) -> bool {
        let state = &self.0;
        if state.always {
            return true;
        }
        let heard = state.last_heard.load(Ordering::SeqCst);
        heard != 0
            && (state.started.elapsed().as_millis() as u64).saturating_sub(heard)
                < HEARTBEAT_GRACE.as_millis() as u64
    }

    fn heard(&self) {
        let now = (self.0.started.elapsed().as_millis() as u64).max(1);
        self.0.last_heard.store(now, Ordering::SeqCst);
    }
}

/// Taken before a lookup reads the database: its answer may be
/// remembered only if no change was counted since.
#[derive(Clone, Copy)]
pub struct Ticket(u64);

/// Remembered answers of one lookup, by key (a hash of the client's
/// secret, or a public id): each with the count of changes when it was
/// read, and used only while that count stands.
pub struct Memo<V> {
    channel: Channel,
    entries: RwLock<HashMap<String, (u64, V)>>,
}

impl<V: Clone> Memo<V> {
    pub fn new(channel: &Channel) -> Memo<V> {
        Memo {
            channel: channel.clone(),
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// A ticket for a lookup about to read the database; None while
    /// memos are off.
    pub fn ticket(&self) -> Option<Ticket> {
        self.channel
            .is_open()
            .then(|| Ticket(GENERATION.load(Ordering::SeqCst)))
    }

    /// The answer remembered for `key`, if no change was counted since it
    /// was read.
    pub fn get(&self, key: &str) -> Option<V> {
        if !self.channel.is_open() {
            return None;
        }
        let generation = GENERATION.load(Ordering::SeqCst);
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        match entries.get(key) {
            Some((read_at, value)) if *read_at == generation => Some(value.clone()),
            _ => None,
        }
    }

    /// Remembers `value`, read with `ticket`, unless a change was counted
    /// since the ticket was taken.
    pub fn keep(&self, key: String, ticket: Ticket, value: V) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let generation = GENERATION.load(Ordering::SeqCst);
        if ticket.0 != generation {
            return;
        }
        if entries.len() >= CAPACITY {
            entries.retain(|_, (read_at, _)| *read_at == generation);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, (generation, value));
    }

    /// Replaces the answer remembered for `key` after a write that only
    /// recorded its use (which counts no change), keeping when it was read.
    pub fn replace(&self, key: &str, value: V) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = entries.get_mut(key) {
            entry.1 = value;
        }
    }
}

/// Listens on [`NOTICE_CHANNEL`] of `pool`'s database until `shutdown`:
/// every notice counts as a change, and a heartbeat sent each second
/// keeps `channel` open. A lost connection counts as a change (notices
/// may have been missed) and is made again after a second.
pub async fn listen(pool: PgPool, channel: Channel, shutdown: impl Future<Output = ()>) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let listened = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(NOTICE_CHANNEL).await?;
            // Notices sent before LISTEN took effect were missed.
            changed();
            let mut beat = rocket::tokio::time::interval(HEARTBEAT);
            loop {
                rocket::tokio::select! {
                    notice = listener.try_recv() => match notice? {
                        Some(notice) => {
                            if notice.payload() != "heartbeat" {
                                changed();
                            }
                            channel.heard();
                        }
                        None => changed(),
                    },
                    _ = beat.tick() => {
                        sea_orm::sqlx::query("SELECT pg_notify($1, 'heartbeat')")
                            .bind(NOTICE_CHANNEL)
                            .execute(&pool)
                            .await?;
                    }
                }
            }
            #[allow(unreachable_code)]
            Ok::<(), sea_orm::sqlx::Error>(())
        };
        rocket::tokio::select! {
            ended = listened => {
                changed();
                if let Err(e) = ended {
                    tracing::warn!(error = %e, "listening for database changes failed; lookups are not remembered until it works again");
                }
            }
            _ = &mut shutdown => return,
        }
        rocket::tokio::select! {
            _ = rocket::tokio::time::sleep(HEARTBEAT) => {}
            _ = &mut shutdown => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_used_again_until_a_change() {
        let memo: Memo<u32> = Memo::new(&Channel::always());
        // Other tests count changes too: one of these tries sees none.
        let remembered = (0..100).any(|_| {
            let ticket = memo.ticket().unwrap();
            memo.keep("a".into(), ticket, 1);
            memo.get("a") == Some(1)
        });
        assert!(remembered);
        changed();
        assert_eq!(memo.get("a"), None);
    }

    #[test]
    fn an_answer_read_before_a_change_is_not_remembered() {
        let memo: Memo<u32> = Memo::new(&Channel::always());
        let ticket = memo.ticket().unwrap();
        changed();
        memo.keep("b".into(), ticket, 2);
        assert_eq!(memo.get("b"), None);
    }

    #[test]
    fn a_listened_channel_is_open_only_within_the_grace_after_hearing() {
        let channel = Channel::listened();
        let memo: Memo<u32> = Memo::new(&channel);
        assert!(memo.ticket().is_none(), "closed before the first notice");
        channel.heard();
        assert!(memo.ticket().is_some());
        let quiet = Channel(Arc::new(ChannelState {
            always: false,
            started: Instant::now() - HEARTBEAT_GRACE - Duration::from_secs(1),
            last_heard: AtomicU64::new(1),
        }));
        assert!(
            Memo::<u32>::new(&quiet).ticket().is_none(),
            "closed after the grace"
        );
    }
}
