//! Rate limits: failed sign-ins per account and per address, sign-ups,
//! the token endpoint, API-key failures; trusted proxies; counters shared
//! between instances. Runs on the database backend, or on Redis when
//! TEST_REDIS_URL is set.

use rocket::http::Status;
use time::Duration;

use crate::api::{client, token_request};
use crate::helpers::{Browser, PASSWORD, TestResponse, app, random_secret_key, spawn_app};

#[track_caller]
fn assert_limited(response: &TestResponse) -> i64 {
    response.assert_status(Status::TooManyRequests);
    let retry: i64 = response
        .header("Retry-After")
        .expect("a Retry-After header")
        .parse()
        .unwrap();
    assert!(retry > 0);
    retry
}

async fn wrong_login(browser: &Browser<'_>, login: &str) -> TestResponse {
    browser.login(login, "not the right password").await
}

#[rocket::async_test]
async fn five_failures_lock_an_account_even_for_the_right_password() {
    let app = spawn_app().await;
    app.signed_up("alice").await;

    for attempt in 0..5 {
        let browser = app.browser();
        browser.set_remote(&format!("198.51.100.{attempt}:5000"));
        wrong_login(&browser, "alice")
            .await
            .assert_status(Status::Unauthorized);
    }
    let browser = app.browser();
    browser.set_remote("198.51.100.99:5000");
    let locked = browser.login("alice", PASSWORD).await;

    let retry = assert_limited(&locked);
    assert!(locked.body.contains("<h1>Too many attempts</h1>"));
    let when = if retry <= 90 {
        format!("in {retry} seconds")
    } else {
        format!("in {} minutes", (retry + 59) / 60)
    };
    assert!(
        locked.body.contains(&format!("You can try again {when}.")),
        "the page tells when, from Retry-After {retry}: {}",
        locked.body
    );
    assert!(!browser.is_signed_in().await);

    app.clock.advance(Duration::seconds(retry));
    browser
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
}

#[rocket::async_test]
async fn other_spellings_of_the_login_count_against_the_same_account() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let browser = app.browser();

    for login in [
        "alice",
        "ALICE",
        "alice@example.com",
        "Alice@Example.com",
        "alice",
    ] {
        wrong_login(&browser, login)
            .await
            .assert_status(Status::Unauthorized);
    }

    assert_limited(&wrong_login(&browser, "ALICE@EXAMPLE.COM").await);
}

#[rocket::async_test]
async fn unknown_accounts_are_limited_like_known_ones() {
    let app = spawn_app().await;
    let browser = app.browser();

    for _ in 0..5 {
        wrong_login(&browser, "nobody")
            .await
            .assert_status(Status::Unauthorized);
    }

    assert_limited(&wrong_login(&browser, "nobody").await);
}

#[rocket::async_test]
async fn one_address_gets_twenty_failures_a_minute_across_accounts() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let attacker = app.browser();

    for i in 0..20 {
        wrong_login(&attacker, &format!("victim{i}"))
            .await
            .assert_status(Status::Unauthorized);
    }
    assert_limited(&wrong_login(&attacker, "someone-else").await);
    assert_limited(&attacker.login("alice", PASSWORD).await);

    let elsewhere = app.browser();
    elsewhere.set_remote("192.0.2.50:1000");
    elsewhere
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");

    app.clock.advance(Duration::minutes(2));
    attacker
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
}

#[rocket::async_test]
async fn the_token_endpoint_counts_as_sign_in() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let browser = app.browser();
    for _ in 0..3 {
        wrong_login(&browser, "alice")
            .await
            .assert_status(Status::Unauthorized);
    }
    let wrong = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", "wrong wrong"),
    ];
    for _ in 0..2 {
        token_request(&app, &wrong)
            .await
            .assert_status(Status::BadRequest);
    }

    let right = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", PASSWORD),
    ];
    let refused = token_request(&app, &right).await;

    let retry = assert_limited(&refused);
    assert_eq!(refused.json()["error"], "rate_limited");
    app.clock.advance(Duration::seconds(retry));
    token_request(&app, &right).await.assert_status(Status::Ok);
}

#[rocket::async_test]
async fn sign_ups_are_limited_per_address() {
    let app = app()
        .config("rate_limits.sign_up_per_ip", "3/1h")
        .spawn()
        .await;

    for i in 0..3 {
        app.browser()
            .signup(
                &format!("user{i}"),
                &format!("user{i}@example.com"),
                PASSWORD,
            )
            .await
            .assert_redirect("/account");
    }
    let refused = app
        .browser()
        .signup("user9", "user9@example.com", PASSWORD)
        .await;

    let retry = assert_limited(&refused);
    assert_eq!(app.count("users").await, 3);
    app.clock.advance(Duration::seconds(retry));
    app.browser()
        .signup("user9", "user9@example.com", PASSWORD)
        .await
        .assert_redirect("/account");
}

#[rocket::async_test]
async fn api_key_failures_are_limited_per_address() {
    let app = app()
        .config("rate_limits.api_key_failures_per_ip", "3/1m")
        .spawn()
        .await;
    let browser = app.signed_up("alice").await;
    browser
        .submit(
            "/account/api-keys",
            &[("name", "k"), ("scopes", "read"), ("expires_days", "30")],
        )
        .await
        .assert_redirect("/account/api-keys");
    let response = browser.get("/account/api-keys").await;
    let marker = r#"<code id="new-api-key" class="secret">"#;
    let start = response.body.find(marker).unwrap() + marker.len();
    let key = response.body[start..start + 52].to_owned();
    // Well-formed (valid checksum) but unknown keys: each costs a lookup.
    let strangers: Vec<String> = (0..3)
        .map(|_| gatehouse::api_keys::key::generate().key)
        .collect();

    for stranger in &strangers {
        client(&app, "X-API-Key", stranger)
            .get("/api/v1/me")
            .await
            .assert_status(Status::Unauthorized);
    }
    let refused = client(&app, "X-API-Key", &key).get("/api/v1/me").await;

    let retry = assert_limited(&refused);
    assert_eq!(refused.json()["error"], "rate_limited");
    let other_address = client(&app, "X-API-Key", &key);
    other_address.set_remote("192.0.2.9:4000");
    other_address
        .get("/api/v1/me")
        .await
        .assert_status(Status::Ok);
    app.clock.advance(Duration::seconds(retry));
    client(&app, "X-API-Key", &key)
        .get("/api/v1/me")
        .await
        .assert_status(Status::Ok);
}

#[rocket::async_test]
async fn an_instance_checks_the_shared_failure_count_of_an_address_once_it_fails_there() {
    let secret = random_secret_key();
    let first = app()
        .config("secret_key", secret.clone())
        .config("rate_limits.api_key_failures_per_ip", "3/1m")
        .spawn()
        .await;
    let second = app()
        .config("secret_key", secret)
        .config("rate_limits.api_key_failures_per_ip", "3/1m")
        .database(first.database_url().to_owned())
        .spawn()
        .await;
    let alice = first.signed_up("alice").await;
    let key = crate::api_keys::create_key(&alice, "k", &["read"], "30").await;
    let stranger = || gatehouse::api_keys::key::generate().key;
    for _ in 0..3 {
        client(&first, "X-API-Key", &stranger())
            .get("/api/v1/me")
            .await
            .assert_status(Status::Unauthorized);
    }
    assert_limited(&client(&first, "X-API-Key", &key).get("/api/v1/me").await);

    // The second instance has seen no failure from the address: a good
    // key passes without reading the shared count, and one bad key is
    // looked up and counted there...
    client(&second, "X-API-Key", &key)
        .get("/api/v1/me")
        .await
        .assert_status(Status::Ok);
    client(&second, "X-API-Key", &stranger())
        .get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
    // ...after which it reads the shared count and refuses the address.
    assert_limited(&client(&second, "X-API-Key", &key).get("/api/v1/me").await);
    assert_limited(
        &client(&second, "X-API-Key", &stranger())
            .get("/api/v1/me")
            .await,
    );
}

#[rocket::async_test]
async fn limits_can_be_turned_off() {
    let app = app().config("rate_limits.enabled", false).spawn().await;
    app.signed_up("alice").await;
    let browser = app.browser();

    for _ in 0..8 {
        wrong_login(&browser, "alice")
            .await
            .assert_status(Status::Unauthorized);
    }

    browser
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
}

#[rocket::async_test]
async fn a_spoofed_forwarded_for_is_ignored_by_default() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let attacker = app.browser();

    for i in 0..20 {
        attacker.set_header("X-Forwarded-For", &format!("10.0.0.{i}"));
        attacker.set_header("X-Real-IP", &format!("10.1.0.{i}"));
        wrong_login(&attacker, &format!("victim{i}"))
            .await
            .assert_status(Status::Unauthorized);
    }

    attacker.set_header("X-Forwarded-For", "10.9.9.9");
    assert_limited(&wrong_login(&attacker, "victim99").await);
}

#[rocket::async_test]
async fn a_trusted_proxy_passes_on_the_clients_address() {
    let app = app()
        .config("trusted_proxies", ["203.0.113.0/24"])
        .spawn()
        .await;
    app.signed_up("alice").await;
    let proxy = app.browser();

    // Twenty failures from twenty clients behind the proxy: none limited.
    for i in 0..20 {
        proxy.set_header("X-Forwarded-For", &format!("6.6.6.6, 198.51.100.{i}"));
        wrong_login(&proxy, &format!("victim{i}"))
            .await
            .assert_status(Status::Unauthorized);
    }
    // Then one client makes its twentieth failure and is limited; the
    // left-most entry is whatever the client sent, so it does not matter.
    let client_behind = app.browser();
    client_behind.set_header("X-Forwarded-For", "1.2.3.4, 198.51.100.200");
    for i in 0..20 {
        wrong_login(&client_behind, &format!("other{i}"))
            .await
            .assert_status(Status::Unauthorized);
    }
    assert_limited(&wrong_login(&client_behind, "other99").await);

    let signed_in = app.browser();
    signed_in.set_header("X-Forwarded-For", "198.51.100.77");
    signed_in
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
    let session = <gatehouse::sessions::entity::Entity as sea_orm::EntityTrait>::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .last()
        .unwrap();
    assert_eq!(session.ip.as_deref(), Some("198.51.100.77"));
}

#[rocket::async_test]
async fn two_instances_on_one_database_share_their_counters() {
    let secret = random_secret_key();
    let first = app().config("secret_key", secret.clone()).spawn().await;
    let second = app()
        .config("secret_key", secret)
        .database(first.database_url().to_owned())
        .spawn()
        .await;
    first.signed_up("alice").await;

    // Six wrong passwords in a row, from six addresses, alternating.
    for attempt in 0..5 {
        let instance = if attempt % 2 == 0 { &first } else { &second };
        let browser = instance.browser();
        browser.set_remote(&format!("198.51.100.{attempt}:5000"));
        wrong_login(&browser, "alice")
            .await
            .assert_status(Status::Unauthorized);
    }
    let browser = second.browser();
    browser.set_remote("198.51.100.5:5000");

    assert_limited(&wrong_login(&browser, "alice").await);
}

#[rocket::async_test]
async fn password_confirmations_count_like_sign_ins() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;

    for _ in 0..5 {
        browser
            .submit(
                "/account/sessions/revoke-others",
                &[("password", "guess guess")],
            )
            .await
            .assert_status(Status::UnprocessableEntity);
    }
    let limited = browser
        .submit(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a brand new passphrase"),
            ],
        )
        .await;

    assert_limited(&limited);
    // They counted against that session, not the account.
    app.browser()
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
}

#[rocket::async_test]
async fn parallel_wrong_passwords_cannot_outrun_the_account_limit() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    // Twelve browsers on twelve addresses, tokens in hand, all at once.
    let browsers: Vec<Browser<'_>> = (1..=12)
        .map(|i| {
            let browser = app.browser();
            browser.set_remote(&format!("198.51.100.{i}:4000"));
            browser
        })
        .collect();
    let mut tokens = Vec::new();
    for browser in &browsers {
        tokens.push(browser.csrf_token().await);
    }

    let forms: Vec<[(&str, &str); 3]> = tokens
        .iter()
        .map(|token| {
            [
                ("login", "alice"),
                ("password", "wrong password!"),
                ("csrf_token", token.as_str()),
            ]
        })
        .collect();
    let attempts = browsers
        .iter()
        .zip(&forms)
        .map(|(browser, form)| browser.post_raw("/login", form));
    let responses = rocket::futures::future::join_all(attempts).await;

    let count = |status| responses.iter().filter(|r| r.status == status).count();
    assert_eq!(
        (count(Status::Unauthorized), count(Status::TooManyRequests)),
        (5, 7),
        "five passwords checked, the rest refused unchecked"
    );
}

#[rocket::async_test]
async fn failures_from_others_do_not_lock_the_owner_out_of_recovering_in_their_session() {
    let app = spawn_app().await;
    let owner = app.signed_up("alice").await;
    let attacker = app.browser();
    attacker.set_remote("203.0.113.7:4000");
    for _ in 0..8 {
        attacker.login("alice", "a wrong guess here").await;
    }
    // The account is over its failure limit for sign-ins...
    let locked = attacker.login("alice", PASSWORD).await;
    locked.assert_status(Status::TooManyRequests);

    // ...but the owner's own session still confirms their password.
    owner
        .submit("/account/sessions/revoke-others", &[("password", PASSWORD)])
        .await
        .assert_redirect("/account/sessions");
    owner
        .submit(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a brand new passphrase"),
            ],
        )
        .await
        .assert_redirect("/account");
    assert!(owner.is_signed_in().await);
}

#[rocket::async_test]
async fn wrong_confirmations_in_a_session_lock_that_session_not_the_account() {
    let app = spawn_app().await;
    let stolen = app.signed_up("alice").await;
    for _ in 0..5 {
        stolen
            .submit(
                "/account/sessions/revoke-others",
                &[("password", "a wrong guess here")],
            )
            .await
            .assert_status(Status::UnprocessableEntity);
    }
    stolen
        .submit("/account/sessions/revoke-others", &[("password", PASSWORD)])
        .await
        .assert_status(Status::TooManyRequests);

    // The owner, elsewhere, signs in and confirms as usual.
    let owner = app.browser();
    owner.set_remote("192.0.2.44:4000");
    owner
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
    owner
        .submit("/account/sessions/revoke-others", &[("password", PASSWORD)])
        .await
        .assert_redirect("/account/sessions");
}
