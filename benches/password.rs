//! What a sign-in costs: argon2id hashing and verification with the
//! default parameters, and the unknown-user path (a dummy verification),
//! reported as times and as ratios. `cargo bench --bench password`

use std::time::Instant;

use gatehouse::accounts::password::{Password, PasswordHasher, check_new_password};
use gatehouse::config::Argon2Settings;

const ROUNDS: u32 = 20;

fn main() {
    let runtime = rocket::tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run());
}

async fn mean_ms<F, Fut>(mut work: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future,
{
    work().await; // warm-up
    let started = Instant::now();
    for _ in 0..ROUNDS {
        work().await;
    }
    started.elapsed().as_secs_f64() * 1000.0 / f64::from(ROUNDS)
}

async fn run() {
    let hasher = PasswordHasher::new(Argon2Settings::default()).expect("valid parameters");
    let password = Password::parse_new("correct horse battery staple", 12).unwrap();
    let wrong = Password::for_sign_in("correct horse battery stapler").unwrap();
    let hash = hasher.hash(&password).await.unwrap();
    let long = Password::parse_new(&"Tr0ub4dor&3-".repeat(85), 12).unwrap();

    let hash_ms = mean_ms(|| hasher.hash(&password)).await;
    let verify_ms = mean_ms(|| hasher.verify(&password, Some(&hash))).await;
    let wrong_ms = mean_ms(|| hasher.verify(&wrong, Some(&hash))).await;
    let unknown_ms = mean_ms(|| hasher.verify(&wrong, None)).await;
    let policy_ms = mean_ms(|| check_new_password(&password, "alice", "alice@example.com")).await;
    let long_policy_ms = mean_ms(|| check_new_password(&long, "alice", "alice@example.com")).await;

    println!("argon2id m=19456 KiB t=2 p=1, {ROUNDS} rounds each");
    println!("hash a new password          {hash_ms:8.2} ms");
    println!("verify (right password)      {verify_ms:8.2} ms");
    println!("verify (wrong password)      {wrong_ms:8.2} ms");
    println!("verify (unknown user, dummy) {unknown_ms:8.2} ms");
    println!("password policy (28 chars)   {policy_ms:8.2} ms");
    println!("password policy (1020 chars) {long_policy_ms:8.2} ms");
    println!("ratio unknown/wrong          {:8.3}", unknown_ms / wrong_ms);
    println!("ratio policy/hash            {:8.3}", policy_ms / hash_ms);
}
