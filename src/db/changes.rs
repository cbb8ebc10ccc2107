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
//! memos are always on. Whatever the database, an answer is read afresh
//! after [`MAX_AGE`], which bounds how long a change nobody counted can go
//! unseen (another process writing a SQLite file); code in the same
//! process that writes these tables behind Gatehouse's back calls
//! [`changed`] after it commits.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::sqlx::{Connection as _, PgConnection, PgPool};
use sea_orm::{DatabaseTransaction, DbErr};

/// Changes counted so far in this process (see the module's rule).
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The PostgreSQL notification channel the triggers and heartbeats use.
pub const NOTICE_CHANNEL: &str = "gatehouse_changes";

/// How often each instance sends a heartbeat notice.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// A heartbeat's payload; a trigger's notice names its table.
const HEARTBEAT_PAYLOAD: &str = "heartbeat";

/// Memos stay on this long after the listener last heard anything.
pub const HEARTBEAT_GRACE: Duration = Duration::from_secs(3);

/// At most this many answers are remembered per memo; when full, the
/// stale ones go, or else all.
const CAPACITY: usize = 20_000;

/// A remembered answer is read again after this long whatever happened:
/// the bound on how long a change nobody counted (another process's write
/// to a SQLite file, say an operator's `sqlite3`) can go unseen.
pub const MAX_AGE: Duration = Duration::from_secs(1);

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
pub struct Ticket(u64, Instant);

/// Remembered answers of one lookup, by key (a hash of the client's
/// secret, or a public id): each with the count of changes when it was
/// read, and used only while that count stands.
pub struct Memo<V> {
    channel: Channel,
    entries: RwLock<HashMap<String, Entry<V>>>,
}

struct Entry<V> {
    /// The count of changes when the answer was read.
    generation: u64,
    read_at: Instant,
    value: V,
}

impl<V> Entry<V> {
    fn is_current(&self, generation: u64) -> bool {
        self.generation == generation && self.read_at.elapsed() < MAX_AGE
    }
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
            .then(|| Ticket(GENERATION.load(Ordering::SeqCst), Instant::now()))
    }

    /// The answer remembered for `key`, if no change was counted since it
    /// was read, less than [`MAX_AGE`] ago.
    pub fn get(&self, key: &str) -> Option<V> {
        if !self.channel.is_open() {
            return None;
        }
        let generation = GENERATION.load(Ordering::SeqCst);
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|entry| entry.is_current(generation))
            .map(|entry| entry.value.clone())
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
            entries.retain(|_, entry| entry.is_current(generation));
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        let entry = Entry {
            generation,
            read_at: ticket.1,
            value,
        };
        entries.insert(key, entry);
    }

    /// Replaces the answer remembered for `key` after a write that only
    /// recorded its use (which counts no change), keeping when it was read.
    pub fn replace(&self, key: &str, value: V) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = entries.get_mut(key) {
            entry.value = value;
        }
    }
}

/// Listens on [`NOTICE_CHANNEL`] of `pool`'s database until `shutdown`:
/// every notice counts as a change, and the heartbeats keep `channel`
/// open.
pub async fn listen(pool: PgPool, channel: Channel, shutdown: impl Future<Output = ()>) {
    rocket::tokio::select! {
        _ = hear(&pool, &channel) => {}
        _ = beat(&pool) => {}
        _ = shutdown => {}
    }
}

/// Hears notices for as long as it runs. A failed connection counts as a
/// change (notices may have been missed) and is made again after a pause.
async fn hear(pool: &PgPool, channel: &Channel) {
    loop {
        let Err(e) = hear_on_one_connection(pool, channel).await;
        changed();
        tracing::warn!(error = %e, "listening for database changes failed; lookups are not remembered until it works again");
        rocket::tokio::time::sleep(HEARTBEAT).await;
    }
}

async fn hear_on_one_connection(
    pool: &PgPool,
    channel: &Channel,
) -> Result<Infallible, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(NOTICE_CHANNEL).await?;
    // Notices sent before LISTEN took effect were missed.
    changed();
    loop {
        match listener.try_recv().await? {
            Some(notice) => {
                if notice.payload() != HEARTBEAT_PAYLOAD {
                    changed();
                }
                channel.heard();
            }
            // The connection was lost and made again.
            None => changed(),
        }
    }
}

/// Sends a heartbeat notice every [`HEARTBEAT`], on a connection of its
/// own so that a busy pool cannot hold it up.
async fn beat(pool: &PgPool) {
    let options = pool.connect_options();
    loop {
        if let Ok(mut connection) = PgConnection::connect_with(&options).await {
            while sea_orm::sqlx::query("SELECT pg_notify($1, $2)")
                .bind(NOTICE_CHANNEL)
                .bind(HEARTBEAT_PAYLOAD)
                .execute(&mut connection)
                .await
                .is_ok()
            {
                rocket::tokio::time::sleep(HEARTBEAT).await;
            }
        }
        rocket::tokio::time::sleep(HEARTBEAT).await;
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
    fn an_answer_is_read_again_after_its_max_age() {
        let memo: Memo<u32> = Memo::new(&Channel::always());
        let fresh = memo.ticket().unwrap();
        let old = Ticket(fresh.0, Instant::now() - MAX_AGE);
        memo.keep("c".into(), old, 3);
        assert_eq!(memo.get("c"), None);
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
