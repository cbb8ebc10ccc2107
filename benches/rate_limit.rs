//! What a rate-limit check costs on each backend: a sign-in's check (two
//! counters, one round trip) and a failure's hit, against SQLite, and
//! PostgreSQL and Redis when TEST_DATABASE_URL / TEST_REDIS_URL are set.
//! Reported per operation and as a ratio to one argon2id verification,
//! the rest of a sign-in's cost. `cargo bench --bench rate_limit`

use std::time::Instant;

use gatehouse::accounts::password::{Password, PasswordHasher};
use gatehouse::config::{AppConfig, Argon2Settings, bare_figment};
use gatehouse::rate_limit::{Counter, Limit, RateLimiter};
use time::OffsetDateTime;

const ROUNDS: u32 = 500;

fn main() {
    let runtime = rocket::tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run());
}

async fn mean_us<F, Fut>(rounds: u32, mut work: F) -> f64
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future,
{
    work(0).await;
    let started = Instant::now();
    for i in 0..rounds {
        work(i).await;
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds)
}

fn counters(limiter: &RateLimiter, i: u32) -> Vec<Counter> {
    // Many subjects, as under real traffic, and a limit never reached.
    vec![
        limiter.counter(
            "sign_in:account",
            &format!("user:{}", i % 50),
            Limit::new(1_000_000, 300),
        ),
        limiter.counter(
            "sign_in:ip",
            &format!("198.51.100.{}", i % 200),
            Limit::new(1_000_000, 60),
        ),
    ]
}

async fn measure(name: &str, limiter: RateLimiter, verify_us: f64) {
    let now = OffsetDateTime::now_utc();
    let check = mean_us(ROUNDS, |i| {
        let counters = counters(&limiter, i);
        let limiter = &limiter;
        async move { limiter.check(now, &counters).await.expect("check") }
    })
    .await;
    let hit = mean_us(ROUNDS, |i| {
        let counters = counters(&limiter, i);
        let limiter = &limiter;
        async move { limiter.hit(now, &counters).await.expect("hit") }
    })
    .await;
    println!(
        "{name:<11} check {check:8.1} µs ({:5.1}% of a verification)   hit {hit:8.1} µs",
        check / verify_us * 100.0
    );
}

async fn run() {
    let hasher = PasswordHasher::new(Argon2Settings::default()).expect("valid parameters");
    let password = Password::parse_new("correct horse battery staple", 12).unwrap();
    let hash = hasher.hash(&password).await.unwrap();
    let verify_us = mean_us(20, |_| hasher.verify(&password, Some(&hash))).await;
    println!("argon2id verification: {verify_us:.0} µs; {ROUNDS} rounds per row");

    let figment =
        bare_figment(rocket::Config::RELEASE_PROFILE).merge(("secret_key", "ab".repeat(32)));
    let config = AppConfig::from_figment(&figment).expect("a valid config");

    let dir = std::env::temp_dir().join(format!("gatehouse-bench-{}", std::process::id()));
    let sqlite_url = format!("sqlite://{}/bench.db?mode=rwc", dir.display());
    let sqlite = gatehouse::db::connect(&sqlite_url).await.expect("SQLite");
    gatehouse::db::migrate(&sqlite).await.expect("migrations");
    measure("SQLite", RateLimiter::database(&config, sqlite), verify_us).await;
    std::fs::remove_dir_all(&dir).ok();

    if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
        let db = gatehouse::db::connect(&url).await.expect("PostgreSQL");
        gatehouse::db::migrate(&db).await.expect("migrations");
        measure("PostgreSQL", RateLimiter::database(&config, db), verify_us).await;
    }
    if let Ok(url) = std::env::var("TEST_REDIS_URL") {
        let limiter = RateLimiter::redis(&config, &url).await.expect("Redis");
        measure("Redis", limiter, verify_us).await;
    }
}
