//! Settings, read once from Rocket's figment (`Rocket.toml` profiles and
//! `ROCKET_*` env vars), validated, and kept in managed state as
//! [`AppConfig`]. A bad value is reported as one [`ConfigError`] naming its
//! key, so start-up fails with a line an operator can act on.

pub mod limit;
pub mod providers;
pub mod webauthn;

use std::collections::HashMap;
use std::fmt;
use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rocket::figment::providers::Serialized;
use rocket::figment::{Figment, Profile};
use serde::Deserialize;

/// Where the generated secret key lives when `secret_key` is not configured.
pub const SECRET_KEY_FILE: &str = "data/secret_key";

/// The validated settings Gatehouse itself reads (Rocket reads its own).
#[derive(Clone)]
pub struct AppConfig {
    pub database_url: String,
    /// Without a trailing slash, e.g. `https://id.example.com`.
    pub public_url: String,
    pub site_name: String,
    pub session_idle: time::Duration,
    pub session_max: time::Duration,
    pub remember_me: time::Duration,
    pub jwt_ttl_seconds: u32,
    /// The fewest characters a new password may have (ASVS 2.1.1: 12).
    pub password_min_length: usize,
    /// How long a password-reset link works (`password_reset_minutes`).
    pub password_reset: time::Duration,
    /// How long other emailed links work (`email_link_hours`).
    pub email_link: time::Duration,
    /// Whether addresses are verified, and whether it is required.
    pub email_verification: EmailVerification,
    /// How long a sign-in or confirmation lets a session take sensitive
    /// actions (`reauth_minutes`).
    pub reauth: time::Duration,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub staff_require_2fa: bool,
    pub argon2: Argon2Settings,
    /// Configured OAuth providers (those with credentials), by name.
    pub oauth: Vec<providers::Provider>,
    /// Total time allowed for one request to an OAuth provider.
    pub oauth_timeout: std::time::Duration,
    /// The Content-Security-Policy header, which must let forms lead to
    /// the OAuth providers' authorization pages.
    pub content_security_policy: String,
    pub rate_limits: limit::RateLimitSettings,
    /// How often the sweeper deletes expired sessions, events and counters.
    pub sweep_interval: std::time::Duration,
    /// Security events older than this are deleted.
    pub security_log_retention: time::Duration,
    /// When set, rate-limit counters live in Redis instead of the database.
    pub redis_url: Option<String>,
    /// Proxies whose `X-Forwarded-For` / `X-Real-IP` are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Clients that may read `GET /metrics`.
    pub metrics_allow: Vec<ipnet::IpNet>,
    /// The WebAuthn relying party (`webauthn.rp_id` / `rp_name`); None
    /// when `public_url`'s host is an IP address, where passkeys cannot
    /// work, and no `rp_id` is set.
    pub relying_party: Option<webauthn::RelyingParty>,
    /// The decoded `secret_key`: Rocket's cookie key, and the root of every
    /// other key Gatehouse derives.
    secret_key: Vec<u8>,
    /// Keys derived from `secret_key`, by label, each computed once: some
    /// are needed on every request (the token signing key).
    derived_keys: Arc<RwLock<HashMap<&'static str, [u8; 32]>>>,
}

/// The `email_verification` setting.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EmailVerification {
    /// A link is sent at sign-up; an unverified account can sign in.
    #[default]
    Optional,
    /// A link is sent at sign-up; an unverified account cannot sign in.
    Mandatory,
    /// No verification mail is sent.
    Off,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Argon2Settings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Hashes computed at once: each holds `memory_kib` and a core.
    pub max_concurrent: u32,
    /// Hashes that may wait for a worker; beyond them, 503 at once.
    pub queue: u32,
    /// How the hashing threads share the CPU with the rest of the process.
    pub priority: HashPriority,
}

/// The `argon2.priority` setting: the scheduling of the hashing threads.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum HashPriority {
    /// Linux's `SCHED_IDLE`: a hash runs only on a core nothing else
    /// wants, so a flood of sign-ins never delays a page. Other busy
    /// processes on the host delay sign-ins too; choose `low` there.
    #[default]
    Idle,
    /// nice 10: pages get about nine tenths of a contended core.
    Low,
    /// The same as every other thread.
    Normal,
}

/// Upper bounds that catch a typo before it starts a thousand threads.
const MAX_HASH_WORKERS: u32 = 1024;
const MAX_HASH_QUEUE: u32 = 1_000_000;

impl Default for Argon2Settings {
    /// OWASP's argon2id recommendation: m=19 MiB, t=2, p=1; one worker per
    /// core, and a queue of about a second's worth of sign-ins per worker.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        Argon2Settings {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            max_concurrent: cores,
            queue: 64 * cores,
            priority: HashPriority::Idle,
        }
    }
}

/// One bad setting: the key and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(key: &str, message: impl Into<String>) -> Self {
        ConfigError {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error: `{}`: {}", self.key, self.message)
    }
}

impl std::error::Error for ConfigError {}

impl From<rocket::figment::Error> for ConfigError {
    fn from(err: rocket::figment::Error) -> Self {
        let key = if err.path.is_empty() {
            "(root)".to_owned()
        } else {
            err.path.join(".")
        };
        ConfigError {
            key,
            message: err.kind.to_string(),
        }
    }
}

/// The keys as they appear in `Rocket.toml`; defaults are SPEC's.
#[derive(Deserialize)]
#[serde(default)]
struct RawConfig {
    database_url: String,
    public_url: String,
    site_name: String,
    session_idle_minutes: u32,
    session_max_days: u32,
    remember_me_days: u32,
    jwt_ttl_seconds: u32,
    password_min_length: u32,
    password_reset_minutes: u32,
    email_link_hours: u32,
    email_verification: EmailVerification,
    reauth_minutes: u32,
    jwt_issuer: Option<String>,
    jwt_audience: Option<String>,
    staff_require_2fa: bool,
    argon2: Argon2Settings,
    oauth: std::collections::BTreeMap<String, providers::ProviderTable>,
    oauth_timeout_seconds: u32,
    rate_limits: limit::RateLimitSettings,
    redis_url: Option<String>,
    trusted_proxies: Vec<String>,
    metrics_allow: Vec<String>,
    sweep_interval_seconds: u32,
    security_log_retention_days: u32,
    webauthn: webauthn::WebauthnTable,
}

impl Default for RawConfig {
    fn default() -> Self {
        RawConfig {
            database_url: "sqlite://data/gatehouse.db?mode=rwc".to_owned(),
            public_url: "http://127.0.0.1:8000".to_owned(),
            site_name: "Gatehouse".to_owned(),
            session_idle_minutes: 1440,
            session_max_days: 30,
            remember_me_days: 30,
            jwt_ttl_seconds: 900,
            password_min_length: 12,
            password_reset_minutes: 30,
            email_link_hours: 24,
            email_verification: EmailVerification::Optional,
            reauth_minutes: 10,
            jwt_issuer: None,
            jwt_audience: None,
            staff_require_2fa: true,
            argon2: Argon2Settings::default(),
            oauth: Default::default(),
            oauth_timeout_seconds: 10,
            rate_limits: Default::default(),
            redis_url: None,
            trusted_proxies: Vec::new(),
            metrics_allow: vec!["127.0.0.1/32".to_owned(), "::1/128".to_owned()],
            sweep_interval_seconds: 300,
            security_log_retention_days: 365,
            webauthn: Default::default(),
        }
    }
}

/// Everything but the secret key, which is never printed.
impl fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppConfig")
            .field("database_url", &self.database_url)
            .field("public_url", &self.public_url)
            .field("site_name", &self.site_name)
            .field("secret_key", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl AppConfig {
    /// Reads and validates every Gatehouse key (and Rocket's own, so that
    /// a bad `port` is reported the same way).
    pub fn from_figment(figment: &Figment) -> Result<AppConfig, ConfigError> {
        figment.extract::<rocket::Config>()?;
        let raw: RawConfig = figment.extract()?;

        validate_database_url(&raw.database_url)?;
        let public_url = validate_public_url(&raw.public_url)?;
        let site_name = raw.site_name.trim().to_owned();
        if site_name.is_empty() || site_name.len() > 64 || site_name.contains(':') {
            return Err(ConfigError::new(
                "site_name",
                "must be 1 to 64 characters without ':'",
            ));
        }
        let relying_party = webauthn::relying_party(raw.webauthn, &public_url, &site_name)?;
        let secret_key = match configured_secret_key(figment) {
            Some(value) => decode_secret_key(&value)?,
            None => {
                return Err(ConfigError::new(
                    "secret_key",
                    "missing (set it, or let `gatehouse serve` generate one)",
                ));
            }
        };
        let positive = |key: &str, value: u32| {
            if value == 0 {
                Err(ConfigError::new(key, "must be greater than 0"))
            } else {
                Ok(i64::from(value))
            }
        };
        let session_idle =
            time::Duration::minutes(positive("session_idle_minutes", raw.session_idle_minutes)?);
        let session_max = time::Duration::days(positive("session_max_days", raw.session_max_days)?);
        let remember_me = time::Duration::days(positive("remember_me_days", raw.remember_me_days)?);
        positive("jwt_ttl_seconds", raw.jwt_ttl_seconds)?;
        let reauth = time::Duration::minutes(positive("reauth_minutes", raw.reauth_minutes)?);
        if !(8..=128).contains(&raw.password_min_length) {
            return Err(ConfigError::new(
                "password_min_length",
                "must be from 8 to 128",
            ));
        }
        let password_reset = time::Duration::minutes(positive(
            "password_reset_minutes",
            raw.password_reset_minutes,
        )?);
        let email_link = time::Duration::hours(positive("email_link_hours", raw.email_link_hours)?);
        let oauth_timeout = std::time::Duration::from_secs(
            positive("oauth_timeout_seconds", raw.oauth_timeout_seconds)?.unsigned_abs(),
        );
        let oauth = providers::from_tables(raw.oauth)?;
        let sweep_interval = std::time::Duration::from_secs(
            positive("sweep_interval_seconds", raw.sweep_interval_seconds)?.unsigned_abs(),
        );
        let security_log_retention = time::Duration::days(positive(
            "security_log_retention_days",
            raw.security_log_retention_days,
        )?);
        let content_security_policy = content_security_policy(&oauth);
        if let Some(url) = &raw.redis_url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            return Err(ConfigError::new(
                "redis_url",
                "must start with redis:// or rediss://",
            ));
        }
        let trusted_proxies = networks("trusted_proxies", &raw.trusted_proxies)?;
        let metrics_allow = networks("metrics_allow", &raw.metrics_allow)?;
        argon2::Params::new(
            raw.argon2.memory_kib,
            raw.argon2.iterations,
            raw.argon2.parallelism,
            None,
        )
        .map_err(|e| ConfigError::new("argon2", e.to_string()))?;
        if !(1..=MAX_HASH_WORKERS).contains(&raw.argon2.max_concurrent) {
            return Err(ConfigError::new(
                "argon2.max_concurrent",
                format!("must be from 1 to {MAX_HASH_WORKERS}"),
            ));
        }
        if raw.argon2.queue > MAX_HASH_QUEUE {
            return Err(ConfigError::new(
                "argon2.queue",
                format!("must be at most {MAX_HASH_QUEUE}"),
            ));
        }

        Ok(AppConfig {
            database_url: raw.database_url,
            jwt_issuer: raw.jwt_issuer.unwrap_or_else(|| public_url.clone()),
            jwt_audience: raw.jwt_audience.unwrap_or_else(|| public_url.clone()),
            public_url,
            site_name,
            session_idle,
            session_max,
            remember_me,
            jwt_ttl_seconds: raw.jwt_ttl_seconds,
            password_min_length: raw.password_min_length as usize,
            password_reset,
            email_link,
            email_verification: raw.email_verification,
            reauth,
            staff_require_2fa: raw.staff_require_2fa,
            argon2: raw.argon2,
            oauth,
            oauth_timeout,
            content_security_policy,
            rate_limits: raw.rate_limits,
            sweep_interval,
            security_log_retention,
            redis_url: raw.redis_url.filter(|url| !url.is_empty()),
            trusted_proxies,
            metrics_allow,
            relying_party,
            secret_key,
            derived_keys: Arc::default(),
        })
    }

    /// True when the site is served over TLS: cookies get `Secure` and the
    /// `__Host-` prefix, and responses carry HSTS.
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// A 256-bit key for one purpose, derived from the master secret with
    /// HMAC-SHA256 over `label` (HKDF's expand step with a single block), so
    /// a key leaked from one use (say, JWT signing) reveals nothing about
    /// the cookie key or another feature's key.
    pub fn derive_key(&self, label: &'static str) -> [u8; 32] {
        let known = self
            .derived_keys
            .read()
            .ok()
            .and_then(|keys| keys.get(label).copied());
        known.unwrap_or_else(|| {
            let key = crate::crypto::hmac_sha256(&self.secret_key, &[label.as_bytes(), &[1]]);
            if let Ok(mut keys) = self.derived_keys.write() {
                keys.insert(label, key);
            }
            key
        })
    }
}

/// A list of addresses and CIDR networks; a bare address is a network of one.
fn networks(key: &str, list: &[String]) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    list.iter()
        .map(|text| {
            text.parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    ConfigError::new(
                        key,
                        format!("`{text}` is not an address or CIDR like 10.0.0.0/8"),
                    )
                })
        })
        .collect()
}

/// Pages load only this site's stylesheet, scripts and images (the QR
/// code is a `data:` image); scripts fetch only from this site (the
/// passkey ceremonies); nothing may frame them; forms post here, or lead
/// to an OAuth provider's authorization page.
fn content_security_policy(providers: &[providers::Provider]) -> String {
    let mut form_action = vec!["'self'"];
    for provider in providers {
        if !form_action.contains(&provider.auth_origin()) {
            form_action.push(provider.auth_origin());
        }
    }
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action {}; \
         frame-ancestors 'none'; base-uri 'none'",
        form_action.join(" ")
    )
}

/// Gatehouse's settings on top of `figment`: ten seconds for requests in
/// flight to finish after SIGTERM, and two rules that are not configurable because SPEC
/// fixes them: request bodies are limited to 64 KiB, and the client address
/// is the socket peer (Rocket's default would believe any `X-Real-IP`).
pub fn with_defaults(figment: Figment) -> Figment {
    const BODY_LIMIT: &str = "64 KiB";
    let rockets_own = |key: &str| {
        figment
            .find_metadata(key)
            .is_none_or(|source| source.name == "rocket::Config::default()")
    };
    let figment = if rockets_own("shutdown.grace") {
        figment.merge(Serialized::default("shutdown.grace", 10))
    } else {
        figment
    };
    figment
        .merge(Serialized::default("ip_header", false))
        .merge(Serialized::default("limits.form", BODY_LIMIT))
        .merge(Serialized::default("limits.data-form", BODY_LIMIT))
        .merge(Serialized::default("limits.json", BODY_LIMIT))
        .merge(Serialized::default("limits.string", BODY_LIMIT))
        .merge(Serialized::default("limits.bytes", BODY_LIMIT))
        .merge(Serialized::default("limits.file", BODY_LIMIT))
}

/// Makes sure the figment has a `secret_key`: when none is configured, the
/// one in `data/secret_key` is used, generated (mode 0600) on first start.
pub fn with_persistent_secret_key(figment: Figment) -> Result<Figment, ConfigError> {
    if configured_secret_key(&figment).is_some() {
        return Ok(figment);
    }
    let key = load_or_create_secret_key(Path::new(SECRET_KEY_FILE))
        .map_err(|e| ConfigError::new("secret_key", format!("{SECRET_KEY_FILE}: {e}")))?;
    Ok(figment.merge(Serialized::global("secret_key", key)))
}

/// The `secret_key` someone configured. Rocket's own defaults hold an
/// all-zero key as a byte sequence, which counts as not configured.
fn configured_secret_key(figment: &Figment) -> Option<String> {
    figment
        .find_value("secret_key")
        .ok()
        .and_then(|value| value.into_string())
}

fn load_or_create_secret_key(path: &Path) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(existing) => return Ok(existing.trim().to_owned()),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let bytes: [u8; 64] = rand::random();
    let key = STANDARD.encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(key.as_bytes())?;
    file.write_all(b"\n")?;
    tracing::warn!(
        "no secret_key configured: generated one and saved it in {} (mode 0600)",
        path.display()
    );
    Ok(key)
}

/// Accepts the forms Rocket accepts: 256 or 512 bits, base64 or hex.
fn decode_secret_key(value: &str) -> Result<Vec<u8>, ConfigError> {
    let value = value.trim();
    let decoded = if value.len().is_multiple_of(2) && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..value.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&value[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .ok()
    } else {
        STANDARD.decode(value).ok()
    };
    match decoded {
        Some(bytes) if bytes.len() == 32 || bytes.len() == 64 => Ok(bytes),
        _ => Err(ConfigError::new(
            "secret_key",
            "must be 32 or 64 bytes, base64 or hex (e.g. `openssl rand -base64 64`)",
        )),
    }
}

fn validate_database_url(url: &str) -> Result<(), ConfigError> {
    let bad = |why: &str| Err(ConfigError::new("database_url", why));
    if let Some(rest) = url.strip_prefix("sqlite:") {
        if rest
            .trim_start_matches('/')
            .split('?')
            .next()
            .unwrap_or("")
            .is_empty()
        {
            return bad("names no SQLite file (e.g. sqlite://data/gatehouse.db?mode=rwc)");
        }
        return Ok(());
    }
    let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    else {
        return bad("must start with sqlite: or postgres://");
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    if host.is_empty() || host.chars().any(char::is_whitespace) {
        return bad("names no PostgreSQL host (e.g. postgres://user@localhost/gatehouse)");
    }
    Ok(())
}

fn validate_public_url(url: &str) -> Result<String, ConfigError> {
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty()
                && !host.contains(['/', '?', '#', '@'])
                && !host.chars().any(char::is_whitespace) =>
        {
            Ok(trimmed.to_owned())
        }
        _ => Err(ConfigError::new(
            "public_url",
            "must be an http:// or https:// origin without a path, e.g. https://id.example.com",
        )),
    }
}

/// The figment a test or an embedding site starts from: Rocket's defaults
/// for `profile`, without Rocket.toml or the environment.
pub fn bare_figment(profile: Profile) -> Figment {
    Figment::from(rocket::Config::default()).select(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figment_with(key: &str, value: &str) -> Figment {
        bare_figment(Profile::Default)
            .merge(Serialized::global("secret_key", STANDARD.encode([7u8; 64])))
            .merge(Serialized::global(key, value))
    }

    #[test]
    fn defaults_are_valid_once_a_secret_key_is_set() {
        let config = AppConfig::from_figment(&figment_with("site_name", "Gatehouse")).unwrap();
        assert_eq!(config.public_url, "http://127.0.0.1:8000");
        assert_eq!(config.jwt_issuer, config.public_url);
        assert_eq!(config.session_idle, time::Duration::minutes(1440));
        assert!(!config.is_https());
    }

    #[test]
    fn a_malformed_database_url_names_the_key() {
        let err = AppConfig::from_figment(&figment_with("database_url", "mysql:/x")).unwrap_err();
        assert_eq!(err.key, "database_url");
        assert!(
            err.to_string()
                .starts_with("configuration error: `database_url`")
        );
    }

    #[test]
    fn a_wrongly_typed_number_names_the_key() {
        let err =
            AppConfig::from_figment(&figment_with("session_idle_minutes", "soon")).unwrap_err();
        assert_eq!(err.key, "session_idle_minutes");
    }

    #[test]
    fn email_verification_takes_three_modes_and_names_its_key_otherwise() {
        let mode = |value: &str| {
            AppConfig::from_figment(&figment_with("email_verification", value))
                .map(|config| config.email_verification)
        };
        assert_eq!(mode("optional"), Ok(EmailVerification::Optional));
        assert_eq!(mode("mandatory"), Ok(EmailVerification::Mandatory));
        assert_eq!(mode("off"), Ok(EmailVerification::Off));
        assert_eq!(mode("sometimes").unwrap_err().key, "email_verification");
        let default = AppConfig::from_figment(&figment_with("site_name", "x")).unwrap();
        assert_eq!(default.email_verification, EmailVerification::Optional);
    }

    #[test]
    fn rate_limits_and_proxies_are_validated_by_key() {
        let bad_limit = bare_figment(Profile::Default)
            .merge(Serialized::global("secret_key", STANDARD.encode([7u8; 64])))
            .merge(Serialized::global("rate_limits.sign_in_per_ip", "lots"));
        assert_eq!(
            AppConfig::from_figment(&bad_limit).unwrap_err().key,
            "rate_limits.sign_in_per_ip"
        );
        let bad_proxy = figment_with("site_name", "x")
            .merge(Serialized::global("trusted_proxies", ["10.0.0.0/33"]));
        assert_eq!(
            AppConfig::from_figment(&bad_proxy).unwrap_err().key,
            "trusted_proxies"
        );
        let good = figment_with("site_name", "x")
            .merge(Serialized::global("trusted_proxies", ["10.0.0.0/8", "::1"]));
        assert_eq!(
            AppConfig::from_figment(&good)
                .unwrap()
                .trusted_proxies
                .len(),
            2
        );
    }

    #[test]
    fn one_argon2_setting_keeps_the_other_defaults() {
        let config = AppConfig::from_figment(
            &figment_with("site_name", "x").merge(Serialized::global("argon2.iterations", 3)),
        )
        .unwrap();
        assert_eq!(config.argon2.iterations, 3);
        assert_eq!(config.argon2.memory_kib, 19_456);
        let too_little_memory =
            figment_with("site_name", "x").merge(Serialized::global("argon2.memory_kib", 1));
        assert_eq!(
            AppConfig::from_figment(&too_little_memory).unwrap_err().key,
            "argon2"
        );
    }

    #[test]
    fn the_hashing_pool_defaults_to_the_cores_and_refuses_nonsense() {
        let cores = std::thread::available_parallelism().unwrap().get() as u32;
        let config = AppConfig::from_figment(&figment_with("site_name", "x")).unwrap();
        assert_eq!(config.argon2.max_concurrent, cores);
        assert_eq!(config.argon2.queue, 64 * cores);
        for (key, value) in [
            ("argon2.max_concurrent", 0),
            ("argon2.max_concurrent", 5000),
            ("argon2.queue", 2_000_000),
        ] {
            let figment = figment_with("site_name", "x").merge(Serialized::global(key, value));
            assert_eq!(AppConfig::from_figment(&figment).unwrap_err().key, key);
        }
        let negative = figment_with("site_name", "x").merge(Serialized::global("argon2.queue", -1));
        assert!(AppConfig::from_figment(&negative).is_err());
    }

    #[test]
    fn the_hashing_priority_takes_three_values_and_names_its_key_otherwise() {
        let priority = |value: &str| {
            let figment =
                figment_with("site_name", "x").merge(Serialized::global("argon2.priority", value));
            AppConfig::from_figment(&figment).map(|config| config.argon2.priority)
        };
        assert_eq!(priority("idle"), Ok(HashPriority::Idle));
        assert_eq!(priority("low"), Ok(HashPriority::Low));
        assert_eq!(priority("normal"), Ok(HashPriority::Normal));
        assert_eq!(priority("high").unwrap_err().key, "argon2.priority");
        let default = AppConfig::from_figment(&figment_with("site_name", "x")).unwrap();
        assert_eq!(default.argon2.priority, HashPriority::Idle);
    }

    #[test]
    fn requests_in_flight_get_ten_seconds_after_sigterm_unless_configured() {
        let grace = |figment: Figment| {
            with_defaults(figment)
                .extract::<rocket::Config>()
                .unwrap()
                .shutdown
                .grace
        };
        assert_eq!(grace(bare_figment(Profile::Default)), 10);
        assert_eq!(
            grace(bare_figment(Profile::Default).merge(Serialized::global("shutdown.grace", 3))),
            3
        );
    }

    #[test]
    fn public_url_must_be_an_origin() {
        assert!(validate_public_url("https://id.example.com/").is_ok());
        assert!(validate_public_url("https://id.example.com/path").is_err());
        assert!(validate_public_url("ftp://x").is_err());
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_are_stable() {
        let config = AppConfig::from_figment(&figment_with("site_name", "Gatehouse")).unwrap();
        assert_eq!(config.derive_key("a"), config.derive_key("a"));
        assert_ne!(config.derive_key("a"), config.derive_key("b"));
        assert_ne!(&config.derive_key("a")[..], &config.secret_key[..32]);
    }

    #[test]
    fn secret_keys_are_decoded_like_rockets() {
        assert_eq!(decode_secret_key(&"ab".repeat(32)).unwrap().len(), 32);
        assert_eq!(
            decode_secret_key(&STANDARD.encode([1u8; 64]))
                .unwrap()
                .len(),
            64
        );
        assert!(decode_secret_key("short").is_err());
    }

    #[test]
    fn a_generated_secret_key_is_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("gatehouse-key-{}", uuid::Uuid::new_v4()));
        let path = dir.join("secret_key");
        let first = load_or_create_secret_key(&path).unwrap();
        assert_eq!(load_or_create_secret_key(&path).unwrap(), first);
        assert_eq!(decode_secret_key(&first).unwrap().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
