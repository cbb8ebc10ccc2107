//! Password hashing under a flood: a bounded pool of hashing threads and a
//! bounded queue, so that sign-ins beyond it are refused at once with 503
//! and `Retry-After`, and cost no hashing.

use gatehouse::accounts::password::{HashCounts, PasswordHasher};
use rocket::http::Status;

use crate::helpers::{TestApp, TestResponse};

/// One hashing thread, one place in its queue, and a hash slow enough
/// (iterations × the default 19 MiB) that six requests arrive together.
async fn one_worker_app() -> TestApp {
    crate::helpers::app()
        .production_hashing()
        .config("argon2.max_concurrent", 1)
        .config("argon2.queue", 1)
        .config("argon2.iterations", 40)
        .spawn()
        .await
}

fn counts(app: &TestApp) -> HashCounts {
    app.client
        .rocket()
        .state::<PasswordHasher>()
        .expect("the hasher is managed")
        .counts()
}

/// Each status with how often it came.
fn tally(responses: &[TestResponse]) -> (usize, usize) {
    let busy = responses
        .iter()
        .filter(|r| r.status == Status::ServiceUnavailable)
        .count();
    (responses.len() - busy, busy)
}

#[rocket::async_test]
async fn sign_ins_beyond_the_queue_get_503_at_once_and_are_not_hashed() {
    let app = one_worker_app().await;
    // Unknown accounts hash a dummy, so an attacker needs no password; each
    // from its own address, so no rate-limit turn orders them.
    let browsers: Vec<_> = (0..6)
        .map(|i| {
            let browser = app.browser();
            browser.set_remote(&format!("198.51.100.{i}:4000"));
            browser
        })
        .collect();
    let mut forms = Vec::new();
    for (i, browser) in browsers.iter().enumerate() {
        let token = browser.csrf_token().await;
        forms.push([
            ("login".to_owned(), format!("nobody{i}")),
            ("password".to_owned(), "a wrong password".to_owned()),
            ("csrf_token".to_owned(), token),
        ]);
    }
    let before = counts(&app);

    let attempts = browsers.iter().zip(&forms).map(|(browser, form)| {
        let fields: Vec<(&str, &str)> =
            form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        async move { browser.post_raw("/login", &fields).await }
    });
    let responses = rocket::futures::future::join_all(attempts).await;

    let (checked, busy) = tally(&responses);
    assert!(
        busy >= 3,
        "one hashing, one waiting, the rest refused: {busy} refused"
    );
    for response in &responses {
        match response.status {
            Status::Unauthorized => assert!(response.body.contains("Incorrect")),
            Status::ServiceUnavailable => {
                assert_eq!(response.header("Retry-After"), Some("1"));
                assert!(
                    response
                        .header("Content-Type")
                        .unwrap()
                        .starts_with("text/html")
                );
                assert!(response.body.contains("Try again shortly"));
            }
            other => panic!("unexpected {other}"),
        }
    }
    let after = counts(&app);
    assert_eq!(
        after.ran - before.ran,
        checked as u64,
        "each checked sign-in hashed once"
    );
    assert_eq!(
        after.refused - before.refused,
        busy as u64,
        "no refused one hashed"
    );
    // Monitoring sees them (the registry is the process's: at least these).
    let monitor = app.browser();
    monitor.set_remote("127.0.0.1:9000");
    let metrics = monitor.get("/metrics").await.body;
    let refused: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("gatehouse_password_hashes_refused_total "))
        .and_then(|value| value.trim().parse().ok())
        .expect("the refusal counter");
    assert!(refused >= busy as u64, "{refused} counted");
    // The refusals are not failed attempts: nothing was counted for them.
    let retry = &browsers[5];
    let token = retry.csrf_token().await;
    retry
        .post_raw(
            "/login",
            &[
                ("login", "nobody5"),
                ("password", "x"),
                ("csrf_token", &token),
            ],
        )
        .await
        .assert_status(Status::Unauthorized);
}

#[rocket::async_test]
async fn the_token_endpoint_answers_json_503_when_the_queue_is_full() {
    let app = one_worker_app().await;
    let clients: Vec<_> = (0..6)
        .map(|i| {
            let client = app.browser();
            client.set_remote(&format!("198.51.100.{i}:4000"));
            client
        })
        .collect();
    let forms: Vec<[(&str, String); 3]> = (0..6)
        .map(|i| {
            [
                ("grant_type", "password".to_owned()),
                ("username", format!("nobody{i}")),
                ("password", "a wrong password".to_owned()),
            ]
        })
        .collect();
    let before = counts(&app);

    let attempts = clients.iter().zip(&forms).map(|(client, form)| {
        let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        async move { client.post_raw("/api/v1/token", &fields).await }
    });
    let responses = rocket::futures::future::join_all(attempts).await;

    let (checked, busy) = tally(&responses);
    assert!(busy >= 3, "{busy} refused");
    for response in responses
        .iter()
        .filter(|r| r.status == Status::ServiceUnavailable)
    {
        assert_eq!(response.header("Retry-After"), Some("1"));
        assert_eq!(response.json()["error"], "unavailable");
    }
    for response in responses
        .iter()
        .filter(|r| r.status != Status::ServiceUnavailable)
    {
        assert_eq!(response.status, Status::BadRequest);
        assert_eq!(response.json()["error"], "invalid_grant");
    }
    let after = counts(&app);
    assert_eq!(after.ran - before.ran, checked as u64);
    assert_eq!(after.refused - before.refused, busy as u64);
}
