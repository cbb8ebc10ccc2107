//! The application's managed state, built once at ignite: validated config,
//! database (connected and migrated), password hasher, clock, rate limiter
//! the HTTP client for OAuth providers, and the site's token hooks. A
//! failure here stops the launch with one clear log line.

use rocket::fairing::AdHoc;
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::{Build, Rocket};
use sea_orm::{DatabaseConnection, DbBackend};

use super::hooks::TokenHooks;
use crate::accounts::password::PasswordHasher;
use crate::api_keys::entity::KnownKeys;
use crate::clock::Clock;
use crate::config::AppConfig;
use crate::db::changes::{self, Channel};
use crate::oauth::client::ProviderHttp;
use crate::rate_limit::RateLimiter;
use crate::sessions::store::LiveSessions;

/// What most handlers need, as one guard instead of five `&State<_>`s.
pub struct AppState<'r> {
    pub config: &'r AppConfig,
    pub db: &'r DatabaseConnection,
    pub clock: &'r Clock,
    pub hasher: &'r PasswordHasher,
    pub limiter: &'r RateLimiter,
    pub hooks: &'r TokenHooks,
    pub lookups: &'r Lookups,
}

/// Who was found calling, remembered between requests until something
/// changes (see `db::changes`).
pub struct Lookups {
    pub sessions: LiveSessions,
    pub api_keys: KnownKeys,
    channel: Channel,
}

impl Lookups {
    fn new(channel: Channel) -> Lookups {
        Lookups {
            sessions: LiveSessions::new(&channel),
            api_keys: KnownKeys::new(&channel),
            channel,
        }
    }

    /// Whether lookups are remembered now (with PostgreSQL, while the
    /// change listener hears from the database).
    pub fn remembering(&self) -> bool {
        self.channel.is_open()
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AppState<'r> {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let rocket = req.rocket();
        match (
            rocket.state::<AppConfig>(),
            rocket.state::<DatabaseConnection>(),
            rocket.state::<Clock>(),
            rocket.state::<PasswordHasher>(),
            rocket.state::<RateLimiter>(),
            rocket.state::<TokenHooks>(),
            rocket.state::<Lookups>(),
        ) {
            (
                Some(config),
                Some(db),
                Some(clock),
                Some(hasher),
                Some(limiter),
                Some(hooks),
                Some(lookups),
            ) => Outcome::Success(AppState {
                config,
                db,
                clock,
                hasher,
                limiter,
                hooks,
                lookups,
            }),
            _ => Outcome::Error((Status::InternalServerError, ())),
        }
    }
}

struct Built {
    config: AppConfig,
    db: DatabaseConnection,
    hasher: PasswordHasher,
    limiter: RateLimiter,
    http: ProviderHttp,
}

/// Reads the config, connects and migrates the database (unless one was
/// given with `manage`), and builds the rest. A `Clock` given with
/// `manage` (a test's manual clock) is kept, and so are the `TokenHooks`
/// of a site built on the library.
pub fn fairing() -> AdHoc {
    AdHoc::try_on_ignite("Gatehouse state", |rocket| async move {
        match build(&rocket).await {
            Ok(built) => {
                let lookups = Lookups::new(match built.db.get_database_backend() {
                    // The file belongs to this process.
                    DbBackend::Sqlite => Channel::always(),
                    _ => Channel::listened(),
                });
                let mut rocket = rocket;
                if rocket.state::<DatabaseConnection>().is_none() {
                    rocket = rocket.manage(built.db);
                }
                if rocket.state::<Clock>().is_none() {
                    rocket = rocket.manage(Clock::system());
                }
                if rocket.state::<TokenHooks>().is_none() {
                    rocket = rocket.manage(TokenHooks::default());
                }
                Ok(rocket
                    .manage(lookups)
                    .manage(built.config)
                    .manage(built.hasher)
                    .manage(built.limiter)
                    .manage(built.http))
            }
            Err(message) => {
                tracing::error!("{message}");
                Err(rocket)
            }
        }
    })
}

async fn build(rocket: &Rocket<Build>) -> Result<Built, String> {
    let config = AppConfig::from_figment(rocket.figment()).map_err(|e| e.to_string())?;
    let db = match rocket.state::<DatabaseConnection>() {
        Some(db) => db.clone(),
        None => crate::db::connect(&config.database_url)
            .await
            .map_err(|e| format!("cannot connect to `database_url`: {e}"))?,
    };
    crate::db::migrate(&db)
        .await
        .map_err(|e| format!("database migration failed: {e}"))?;
    let settings = config.argon2;
    let hasher = rocket::tokio::task::spawn_blocking(move || PasswordHasher::new(settings))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("configuration error: `argon2`: {e}"))?;
    let limiter = match &config.redis_url {
        Some(url) => RateLimiter::redis(&config, url)
            .await
            .map_err(|e| format!("cannot connect to `redis_url`: {e}"))?,
        None => RateLimiter::database(&config, db.clone()),
    };
    let http = ProviderHttp::new(config.oauth_timeout)
        .map_err(|e| format!("cannot build the OAuth HTTP client: {e}"))?;
    Ok(Built {
        config,
        db,
        hasher,
        limiter,
        http,
    })
}

/// With PostgreSQL, listens for other instances' changes from liftoff to
/// shutdown, so that remembered lookups stay true (see `db::changes`).
pub fn change_listener() -> AdHoc {
    AdHoc::on_liftoff("Gatehouse change listener", |rocket| {
        Box::pin(async move {
            let (Some(db), Some(lookups)) = (
                rocket.state::<DatabaseConnection>(),
                rocket.state::<Lookups>(),
            ) else {
                return;
            };
            if db.get_database_backend() != DbBackend::Postgres {
                return;
            }
            let pool = db.get_postgres_connection_pool().clone();
            let channel = lookups.channel.clone();
            let shutdown = rocket.shutdown();
            rocket::tokio::spawn(changes::listen(pool, channel, shutdown));
        })
    })
}
