//! Passwords: the [`Password`] secret type, the policy for new ones, and
//! argon2id hashing on a bounded pool of threads ([`PasswordHasher`]), so a
//! burst of sign-ins can neither stall the async workers nor take the
//! server's memory.

use std::fmt;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rocket::tokio::sync::oneshot;
use rocket::tokio::task::spawn_blocking;
use subtle::ConstantTimeEq;
use thread_priority::{ThreadPriority, ThreadPriorityValue, set_current_thread_priority};

use crate::config::{Argon2Settings, HashPriority};
use crate::error::AppError;

/// Longer input is refused before hashing: argon2 cost grows with it.
pub const MAX_LENGTH: usize = 1024;
/// zxcvbn's matching grows quickly with length; a long password's strength
/// is judged on its start, which is where weak patterns show.
const STRENGTH_PREFIX: usize = 64;

/// A password as typed. Never printed: its `Debug` says only that it is one.
#[derive(Clone)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

impl Password {
    /// A password offered to sign in: anything non-empty within the limit.
    pub fn for_sign_in(input: &str) -> Option<Password> {
        (!input.is_empty() && input.chars().count() <= MAX_LENGTH)
            .then(|| Password(input.to_owned()))
    }

    /// A new password: `min_length` (the `password_min_length` setting)
    /// to 1024 characters. The rest of the policy, which needs the username
    /// and email, is [`check_new_password`].
    pub fn parse_new(input: &str, min_length: usize) -> Result<Password, String> {
        let length = input.chars().count();
        if length < min_length {
            Err(format!("Use at least {min_length} characters."))
        } else if length > MAX_LENGTH {
            Err(format!("Use at most {MAX_LENGTH} characters."))
        } else {
            Ok(Password(input.to_owned()))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Refuses a new password that is the username or email, or one zxcvbn
/// rates as guessable in under a million tries: every entry of its common
/// password list (30,000 deep) and simple keyboard, date and repeat
/// patterns. CPU-bound, so it runs on a blocking thread.
pub async fn check_new_password(
    password: &Password,
    username: &str,
    email: &str,
) -> Result<(), String> {
    let (password, username, email) = (password.clone(), username.to_owned(), email.to_owned());
    spawn_blocking(move || policy(&password, &username, &email))
        .await
        .unwrap_or_else(|_| Err("The password could not be checked. Try again.".to_owned()))
}

fn policy(password: &Password, username: &str, email: &str) -> Result<(), String> {
    let lowered = password.0.to_lowercase();
    let email_name = email.split('@').next().unwrap_or(email);
    if [username, email, email_name]
        .iter()
        .any(|input| !input.is_empty() && lowered == input.to_lowercase())
    {
        return Err("The password must not be your username or email.".to_owned());
    }
    let prefix: String = password.0.chars().take(STRENGTH_PREFIX).collect();
    let entropy = zxcvbn::zxcvbn(&prefix, &[username, email, email_name]);
    if entropy.score() < zxcvbn::Score::Two {
        return Err(
            "This password is too common or too easy to guess. Try a longer phrase of unrelated words."
                .to_owned(),
        );
    }
    Ok(())
}

/// argon2id with the configured cost on a [`HashPool`], and a hash of a
/// random password to verify against when there is no user: an unknown
/// name then costs the same time as a wrong password.
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    dummy_hash: String,
    pool: HashPool,
}

impl PasswordHasher {
    /// Builds the hasher and its worker threads; computes one hash, so call
    /// it off the executor.
    pub fn new(settings: Argon2Settings) -> Result<PasswordHasher, argon2::Error> {
        let params = Params::new(
            settings.memory_kib,
            settings.iterations,
            settings.parallelism,
            None,
        )?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let random: [u8; 16] = rand::random();
        let dummy_hash = hash_into_phc(&argon2, &format!("{random:?}"), &mut Vec::new())
            .map_err(|_| argon2::Error::OutputTooShort)?;
        let pool = HashPool::start(settings.max_concurrent, settings.queue, settings.priority);
        Ok(PasswordHasher {
            argon2,
            dummy_hash,
            pool,
        })
    }

    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let (argon2, password) = (self.argon2.clone(), password.clone());
        self.pool
            .run(move |memory| hash_into_phc(&argon2, password.expose(), memory))
            .await?
            .map_err(|e| HashError::Failed(e.to_string()))
    }

    /// True when `password` matches `stored`. With no stored hash (no such
    /// user, or an OAuth-only account) the dummy is checked, and the
    /// answer is false either way.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&str>,
    ) -> Result<bool, HashError> {
        let password = password.clone();
        let (phc, real) = match stored {
            Some(hash) => (hash.to_owned(), true),
            None => (self.dummy_hash.clone(), false),
        };
        let matched = self
            .pool
            .run(move |memory| verify_phc(password.expose(), &phc, memory))
            .await?;
        Ok(matched && real)
    }

    /// How many hashes and verifications ran, and how many were refused
    /// because the queue was full.
    pub fn counts(&self) -> HashCounts {
        self.pool.counts()
    }

    /// True when `stored` was made with other parameters than the current
    /// ones, so it should be replaced after a successful sign-in.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return true;
        };
        match Params::try_from(&parsed) {
            Ok(params) => {
                let current = self.argon2.params();
                parsed.algorithm.as_str() != "argon2id"
                    || params.m_cost() != current.m_cost()
                    || params.t_cost() != current.t_cost()
                    || params.p_cost() != current.p_cost()
            }
            Err(_) => true,
        }
    }
}

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every worker is busy and the queue is full: the request is refused
    /// at once, without hashing, and may be tried again shortly.
    #[error("password hashing is at capacity")]
    Busy,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

impl From<HashError> for AppError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy => AppError::ServiceUnavailable {
                retry_after: BUSY_RETRY_AFTER_SECONDS,
            },
            HashError::Failed(message) => AppError::Internal(anyhow::anyhow!(message)),
        }
    }
}

/// The default queue holds about a second of work per worker, so a client
/// told to come back after this long usually finds room.
const BUSY_RETRY_AFTER_SECONDS: u64 = 1;

/// `argon2.priority = "low"` on the crate's scale of 0 (lowest) to 99; on
/// Linux, 22 is nice 10: a tenth of a page-serving thread's share when
/// both want the CPU, all of it when pages are idle.
const LOW_PRIORITY: u8 = 22;

/// Lowers the calling (hashing) thread's scheduling as `priority` asks.
/// Where the OS refuses `SCHED_IDLE`, nice 10; where it refuses that too,
/// hashing runs at normal priority.
fn lower_own_priority(priority: HashPriority) {
    let nice_10 = || {
        if let Ok(value) = ThreadPriorityValue::try_from(LOW_PRIORITY) {
            let _ = set_current_thread_priority(ThreadPriority::Crossplatform(value));
        }
    };
    match priority {
        HashPriority::Normal => {}
        HashPriority::Low => nice_10(),
        HashPriority::Idle => {
            #[cfg(target_os = "linux")]
            {
                use thread_priority::unix::{
                    NormalThreadSchedulePolicy, ThreadSchedulePolicy,
                    set_thread_priority_and_policy, thread_native_id,
                };
                let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
                if set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle)
                    .is_ok()
                {
                    return;
                }
            }
            nice_10();
        }
    }
}

/// A hash or verification waiting for a worker, given the worker's memory.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// argon2 on a fixed set of threads, one per core by default, each keeping
/// its working memory (19 MiB by default) from one hash to the next.
/// Unbounded blocking threads let a flood of sign-ins allocate that much per
/// request and keep it; here memory is bounded by the workers, and the CPU
/// by their count, so pages keep being served. Beyond the workers, at most
/// `queue` requests wait; the next one is refused with [`HashError::Busy`].
struct HashPool {
    jobs: SyncSender<Job>,
    counters: Arc<PoolCounters>,
}

#[derive(Default)]
struct PoolCounters {
    ran: AtomicU64,
    refused: AtomicU64,
}

/// What the pool has done since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCounts {
    pub ran: u64,
    pub refused: u64,
}

impl HashPool {
    fn start(workers: u32, queue: u32, priority: HashPriority) -> HashPool {
        let (jobs, waiting) = sync_channel::<Job>(queue as usize);
        let waiting = Arc::new(Mutex::new(waiting));
        let counters = Arc::new(PoolCounters::default());
        for number in 0..workers.max(1) {
            let (waiting, counters) = (waiting.clone(), counters.clone());
            std::thread::Builder::new()
                .name(format!("argon2-{number}"))
                .spawn(move || {
                    // Below the threads that serve pages, so that a flood of
                    // sign-ins slows sign-ins, not every signed-in page.
                    lower_own_priority(priority);
                    let mut memory = Vec::new();
                    // Ends when the pool (its sender) is dropped.
                    loop {
                        let next = waiting.lock().map(|jobs| jobs.recv());
                        let Ok(Ok(job)) = next else { break };
                        counters.ran.fetch_add(1, Ordering::Relaxed);
                        job(&mut memory);
                    }
                })
                .expect("the operating system starts a hashing thread");
        }
        HashPool { jobs, counters }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        self.submit(work)?
            .await
            .map_err(|_| HashError::Failed("a hashing thread stopped".to_owned()))
    }

    /// Hands `work` to a worker or the queue, or refuses it at once.
    fn submit<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<oneshot::Receiver<T>, HashError> {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            // The caller may have gone away; its answer is then not needed.
            let _ = answer.send(work(memory));
        });
        match self.jobs.try_send(job) {
            Ok(()) => Ok(answered),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                crate::telemetry::metrics::password_hash_refused();
                Err(HashError::Busy)
            }
        }
    }

    fn counts(&self) -> HashCounts {
        HashCounts {
            ran: self.counters.ran.load(Ordering::Relaxed),
            refused: self.counters.refused.load(Ordering::Relaxed),
        }
    }
}

/// `memory` grown to what `argon2`'s parameters need, and no larger.
fn blocks_for<'m>(argon2: &Argon2<'_>, memory: &'m mut Vec<Block>) -> &'m mut [Block] {
    let needed = argon2.params().block_count();
    if memory.len() != needed {
        memory.resize(needed, Block::default());
        memory.shrink_to_fit();
    }
    memory.as_mut_slice()
}

/// A new PHC string (`$argon2id$v=19$m=…$salt$hash`) for `password`.
fn hash_into_phc(
    argon2: &Argon2<'_>,
    password: &str,
    memory: &mut Vec<Block>,
) -> Result<String, argon2::password_hash::Error> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = Salt::new(&salt_bytes)?;
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2.hash_password_into_with_memory(
        password.as_bytes(),
        &salt,
        &mut output,
        blocks_for(argon2, memory),
    )?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params())?,
        salt: Some(salt),
        hash: Some(Output::new(&output)?),
    };
    Ok(phc.to_string())
}

/// True when `password` hashes to the output stored in `phc` under the
/// parameters stored there; compared in constant time.
fn verify_phc(password: &str, phc: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(parsed.algorithm.as_str()),
        Params::try_from(&parsed),
        parsed.salt.as_ref(),
        parsed.hash.as_ref(),
    ) else {
        return false;
    };
    let version = parsed
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or_default();
    let argon2 = Argon2::new(algorithm, version, params);
    let mut output = vec![0u8; expected.len()];
    argon2
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            &mut output,
            blocks_for(&argon2, memory),
        )
        .is_ok()
        && bool::from(output.as_slice().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast_hasher() -> PasswordHasher {
        PasswordHasher::new(Argon2Settings {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
            ..Argon2Settings::default()
        })
        .unwrap()
    }

    #[rocket::async_test]
    async fn a_full_pool_refuses_at_once_and_runs_nothing_for_it() {
        let pool = HashPool::start(1, 1, HashPriority::Normal);
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started, running) = std::sync::mpsc::channel::<()>();
        let first = pool
            .submit(move |_| started.send(()).is_ok() && held.recv().is_ok())
            .unwrap();
        running.recv().unwrap();
        // The worker holds the first, the queue takes the second, and a
        // third finds no room.
        let second = pool.submit(|_| true).unwrap();
        assert!(matches!(pool.submit(|_| true), Err(HashError::Busy)));
        release.send(()).unwrap();
        assert!(first.await.unwrap());
        assert!(second.await.unwrap());
        assert_eq!(pool.counts(), HashCounts { ran: 2, refused: 1 });
    }

    #[cfg(target_os = "linux")]
    #[rocket::async_test]
    async fn the_idle_priority_runs_hashes_under_sched_idle() {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, thread_schedule_policy,
        };
        let policy_of = |priority| async move {
            let pool = HashPool::start(1, 1, priority);
            let policy = pool.submit(|_| thread_schedule_policy()).unwrap();
            policy.await.unwrap().unwrap()
        };
        assert_eq!(
            policy_of(HashPriority::Idle).await,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle)
        );
        assert_eq!(
            policy_of(HashPriority::Normal).await,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other)
        );
    }

    #[rocket::async_test]
    async fn hashes_agree_with_the_argon2_crate_both_ways() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = fast_hasher();
        let password = Password::parse_new("correct horse battery staple", 12).unwrap();
        let ours = hasher.hash(&password).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            hasher
                .argon2
                .verify_password(b"correct horse battery staple", &parsed)
                .is_ok()
        );
        // A hash stored before the pool existed still verifies.
        let theirs = hasher
            .argon2
            .hash_password(b"correct horse battery staple")
            .unwrap()
            .to_string();
        assert!(hasher.verify(&password, Some(&theirs)).await.unwrap());
        let wrong = Password::for_sign_in("correct horse battery stapler").unwrap();
        assert!(!hasher.verify(&wrong, Some(&theirs)).await.unwrap());
        assert!(
            !hasher
                .verify(&password, Some("$argon2id$garbage"))
                .await
                .unwrap()
        );
    }

    #[test]
    fn length_limits_are_enforced_in_characters() {
        assert!(Password::parse_new("short", 12).is_err());
        assert!(Password::parse_new("ééééééééééé", 12).is_err());
        assert!(Password::parse_new(&"x".repeat(1024), 12).is_ok());
        assert!(Password::parse_new(&"x".repeat(1025), 12).is_err());
        assert!(Password::for_sign_in(&"x".repeat(1025)).is_none());
        assert!(Password::for_sign_in("").is_none());
    }

    #[test]
    fn debug_output_hides_the_password() {
        let password = Password::parse_new("hunter2hunter2", 12).unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }

    #[test]
    fn common_and_personal_passwords_are_refused() {
        for common in [
            "password",
            "password1",
            "12345678",
            "qwertyuiop",
            "iloveyou",
            "aaaaaaaa",
            "P@ssw0rd",
        ] {
            let password = Password::parse_new(common, 8).unwrap();
            assert!(
                policy(&password, "alice", "alice@example.com").is_err(),
                "{common}"
            );
        }
        let own_name = Password::parse_new("Alice_Wonder", 12).unwrap();
        assert!(policy(&own_name, "alice_wonder", "a@example.com").is_err());
        let own_email = Password::parse_new("alice@example.com", 12).unwrap();
        assert!(policy(&own_email, "bob", "alice@example.com").is_err());
    }

    #[test]
    fn a_passphrase_is_accepted() {
        let password = Password::parse_new("correct horse battery staple", 12).unwrap();
        assert!(policy(&password, "alice", "alice@example.com").is_ok());
        let long = Password::parse_new(&"Tr0ub4dor&3-".repeat(80), 12).unwrap();
        assert!(policy(&long, "alice", "alice@example.com").is_ok());
    }

    #[rocket::async_test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let hasher = fast_hasher();
        let password = Password::parse_new("correct horse battery staple", 12).unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher.verify(&password, Some(&hash)).await.unwrap());
        let wrong = Password::for_sign_in("correct horse battery stapler").unwrap();
        assert!(!hasher.verify(&wrong, Some(&hash)).await.unwrap());
        assert!(!hasher.verify(&password, None).await.unwrap());
        assert!(!hasher.needs_rehash(&hash));
    }

    #[rocket::async_test]
    async fn hashes_with_other_parameters_need_a_rehash() {
        let hash = fast_hasher()
            .hash(&Password::parse_new("correct horse battery staple", 12).unwrap())
            .await
            .unwrap();
        let default_hasher = PasswordHasher::new(Argon2Settings::default()).unwrap();
        assert!(default_hasher.needs_rehash(&hash));
    }
}
