//! The sessions page, ending sessions, the sweeper, and the security log.

use rocket::http::Status;
use time::Duration;

use crate::helpers::{Browser, PASSWORD, TestApp, app, spawn_app};

const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";

/// The public ids on the sessions page, in order, and the current one.
fn session_ids(html: &str) -> (Vec<String>, Option<String>) {
    let mut ids = Vec::new();
    let mut current = None;
    for row in html.split("<tr data-session-id=\"").skip(1) {
        let id = row[..row.find('"').unwrap()].to_owned();
        let tag_end = row.find('>').unwrap();
        if row[..tag_end].contains("aria-current") {
            current = Some(id.clone());
        }
        ids.push(id);
    }
    (ids, current)
}

async fn second_browser<'a>(app: &'a TestApp) -> Browser<'a> {
    let browser = app.browser();
    browser.set_remote("198.51.100.20:6000");
    browser.set_header("User-Agent", CHROME_WINDOWS);
    browser
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
    browser
}

#[rocket::async_test]
async fn a_user_sees_both_browsers_and_signs_the_other_out() {
    let app = spawn_app().await;
    let laptop = app.signed_up("alice").await;
    let desktop = second_browser(&app).await;
    app.clock.advance(Duration::minutes(3));

    let page = laptop.get("/account/sessions").await;
    page.assert_status(Status::Ok);
    let (ids, current) = session_ids(&page.body);
    assert_eq!(ids.len(), 2);
    assert!(page.body.contains("Firefox on Linux") && page.body.contains("Chrome on Windows"));
    assert!(page.body.contains("198.51.100.20") && page.body.contains("203.0.113.7"));
    assert!(page.body.contains("This device"));
    assert!(page.body.contains("just now") && page.body.contains("3 minutes ago"));
    assert!(page.body.contains("<time datetime=\""));
    // Most recent activity first: the laptop, just now; the desktop after.
    assert_eq!(Some(&ids[0]), current.as_ref());
    let desktop_id = ids[1].clone();

    laptop
        .submit(&format!("/account/sessions/{desktop_id}/revoke"), &[])
        .await
        .assert_redirect("/account/sessions");

    assert!(
        !desktop.is_signed_in().await,
        "signed out on its next request"
    );
    assert!(laptop.is_signed_in().await);
    let (ids, _) = session_ids(&laptop.get("/account/sessions").await.body);
    assert_eq!(ids.len(), 1);
}

#[rocket::async_test]
async fn ending_the_current_session_is_signing_out() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let (_, current) = session_ids(&browser.get("/account/sessions").await.body);

    browser
        .submit(
            &format!("/account/sessions/{}/revoke", current.unwrap()),
            &[],
        )
        .await
        .assert_redirect("/");

    assert!(!browser.is_signed_in().await);
}

#[rocket::async_test]
async fn another_users_or_an_unknown_session_id_is_404_and_changes_nothing() {
    let app = spawn_app().await;
    let alice = app.signed_up("alice").await;
    let bob = app.signed_up("bob").await;
    let (_, bobs) = session_ids(&bob.get("/account/sessions").await.body);

    alice
        .submit(&format!("/account/sessions/{}/revoke", bobs.unwrap()), &[])
        .await
        .assert_status(Status::NotFound);
    alice
        .submit(
            "/account/sessions/00000000-0000-0000-0000-000000000000/revoke",
            &[],
        )
        .await
        .assert_status(Status::NotFound);

    assert!(bob.is_signed_in().await);
    assert_eq!(app.count("sessions").await, 2);
}

#[rocket::async_test]
async fn ending_a_session_needs_the_csrf_token() {
    let app = spawn_app().await;
    let laptop = app.signed_up("alice").await;
    let desktop = second_browser(&app).await;
    let (ids, _) = session_ids(&laptop.get("/account/sessions").await.body);

    laptop
        .post_raw(&format!("/account/sessions/{}/revoke", ids[0]), &[])
        .await
        .assert_status(Status::Forbidden);
    laptop
        .post_raw("/account/sessions/revoke-others", &[("password", PASSWORD)])
        .await
        .assert_status(Status::Forbidden);

    assert!(desktop.is_signed_in().await);
}

#[rocket::async_test]
async fn ending_every_other_session_needs_the_password_and_includes_api_tokens() {
    let app = spawn_app().await;
    let laptop = app.signed_up("alice").await;
    let desktop = second_browser(&app).await;
    let token = crate::api::token_for(&app, "alice").await;
    let api = crate::api::bearer(&app, &token);
    assert!(
        laptop
            .get("/account/sessions")
            .await
            .body
            .contains("API token")
    );

    let refused = laptop
        .submit(
            "/account/sessions/revoke-others",
            &[("password", "wrong password")],
        )
        .await;
    refused.assert_status(Status::UnprocessableEntity);
    assert!(refused.body.contains("That password is not correct."));
    assert!(desktop.is_signed_in().await);
    api.get("/api/v1/me").await.assert_status(Status::Ok);

    laptop
        .submit("/account/sessions/revoke-others", &[("password", PASSWORD)])
        .await
        .assert_redirect("/account/sessions");

    assert!(
        laptop
            .get("/account/sessions")
            .await
            .body
            .contains("Your 2 other sessions were ended.")
    );
    assert!(!desktop.is_signed_in().await);
    api.get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
    assert!(laptop.is_signed_in().await);
}

#[rocket::async_test]
async fn the_sweeper_deletes_expired_sessions_and_old_events_and_keeps_the_rest() {
    let app = app()
        .config("session_idle_minutes", 60)
        .config("security_log_retention_days", 30)
        .spawn()
        .await;
    let idle = app.signed_up("alice").await;
    let remembered = app.browser();
    remembered
        .submit(
            "/login",
            &[
                ("login", "alice"),
                ("password", PASSWORD),
                ("remember", "on"),
            ],
        )
        .await
        .assert_redirect("/account");
    let state = app.client.rocket();
    let (config, limiter) = (
        state.state::<gatehouse::config::AppConfig>().unwrap(),
        state.state::<gatehouse::rate_limit::RateLimiter>().unwrap(),
    );
    let events_before = app.count("security_events").await;
    assert!(events_before >= 2);

    app.clock.advance(Duration::minutes(61));
    let swept = gatehouse::maintenance::sweep(&app.db, config, limiter, app.now())
        .await
        .unwrap();
    assert_eq!(swept.sessions, 1, "the idle one");
    assert_eq!(swept.security_events, 0);
    assert!(!idle.is_signed_in().await);
    assert!(remembered.is_signed_in().await);

    app.clock.advance(Duration::days(30));
    let swept = gatehouse::maintenance::sweep(&app.db, config, limiter, app.now())
        .await
        .unwrap();
    assert_eq!(swept.sessions, 1, "the remembered one, past its 30 days");
    assert_eq!(swept.security_events as i64, events_before);
    assert_eq!(app.count("sessions").await, 0);
}

#[rocket::async_test]
async fn the_sweeper_runs_by_itself_every_period() {
    let app = app()
        .config("session_idle_minutes", 60)
        .config("sweep_interval_seconds", 1)
        .spawn()
        .await;
    let idle = app.signed_up("alice").await;
    app.clock.advance(Duration::minutes(61));

    let mut left = app.count("sessions").await;
    for _ in 0..50 {
        if left == 0 {
            break;
        }
        rocket::tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        left = app.count("sessions").await;
    }

    assert_eq!(left, 0, "the background task deleted the idle session");
    assert!(!idle.is_signed_in().await);
}

/// The event kinds on the security page, newest first.
fn logged_kinds(html: &str) -> Vec<String> {
    html.split("data-event-kind=\"")
        .skip(1)
        .map(|row| row[..row.find('"').unwrap()].to_owned())
        .collect()
}

/// The rows of the security page, newest first: kind and address.
fn logged_rows(html: &str) -> Vec<(String, String)> {
    html.split("data-event-kind=\"")
        .skip(1)
        .map(|row| {
            let kind = row[..row.find('"').unwrap()].to_owned();
            let row = &row[..row.find("</tr>").unwrap()];
            let cell = row.split("<td").nth(3).unwrap();
            let address = &cell[cell.find('>').unwrap() + 1..];
            (kind, address[..address.find("</td>").unwrap()].to_owned())
        })
        .collect()
}

#[rocket::async_test]
async fn each_action_appears_in_the_security_log_with_its_address() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    // Every action from an address of its own: 10.0.0.<n>.
    let from = |n: u8| browser.set_remote(&format!("10.0.0.{n}:5000"));
    let attacker = app.browser();
    attacker.set_remote("192.0.2.66:1234");
    attacker
        .login("alice", "guess guess guess")
        .await
        .assert_status(Status::Unauthorized);
    from(1);
    browser
        .submit(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a brand new passphrase"),
            ],
        )
        .await
        .assert_redirect("/account");
    let other = app.browser();
    other.set_remote("198.51.100.20:6000");
    other
        .login("alice", "a brand new passphrase")
        .await
        .assert_redirect("/account");
    let (ids, current) = session_ids(&browser.get("/account/sessions").await.body);
    let other_id = ids
        .iter()
        .find(|id| Some(*id) != current.as_ref())
        .unwrap()
        .clone();
    from(2);
    browser
        .submit(&format!("/account/sessions/{other_id}/revoke"), &[])
        .await
        .assert_redirect("/account/sessions");
    from(3);
    browser
        .submit(
            "/account/sessions/revoke-others",
            &[("password", "a brand new passphrase")],
        )
        .await
        .assert_redirect("/account/sessions");
    from(4);
    browser
        .submit(
            "/account/api-keys",
            &[("name", "ci"), ("scopes", "read"), ("expires_days", "30")],
        )
        .await
        .assert_redirect("/account/api-keys");
    from(5);
    browser
        .submit("/account/api-keys/1/revoke", &[])
        .await
        .assert_redirect("/account/api-keys");
    from(6);
    browser.logout().await.assert_redirect("/");
    from(7);
    browser
        .login("alice", "a brand new passphrase")
        .await
        .assert_redirect("/account");

    let page = browser.get("/account/security").await;

    page.assert_status(Status::Ok);
    let expected = [
        ("sign_in", "10.0.0.7"),
        ("sign_out", "10.0.0.6"),
        ("api_key_revoked", "10.0.0.5"),
        ("api_key_created", "10.0.0.4"),
        ("other_sessions_revoked", "10.0.0.3"),
        ("session_revoked", "10.0.0.2"),
        ("sign_in", "198.51.100.20"),
        ("password_changed", "10.0.0.1"),
        ("sign_in_failed", "192.0.2.66"),
        ("sign_in", "203.0.113.7"),
    ];
    assert_eq!(
        logged_rows(&page.body),
        expected.map(|(kind, ip)| (kind.to_owned(), ip.to_owned()))
    );
    assert!(page.body.contains("Firefox on Linux"));
    assert!(page.body.contains("Failed sign-in attempt"));
}

#[rocket::async_test]
async fn failed_attempts_are_told_at_the_next_sign_in() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    app.clock.advance(Duration::minutes(1));
    let attacker = app.browser();
    attacker.set_remote("192.0.2.66:1234");
    for _ in 0..3 {
        attacker
            .login("alice", "guess guess guess")
            .await
            .assert_status(Status::Unauthorized);
    }
    app.clock.advance(Duration::minutes(1));

    let browser = app.browser();
    browser
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");

    let account = browser.get("/account").await;
    assert!(
        account
            .body
            .contains("Since your last sign-in there were 3 failed attempts")
    );
    assert!(account.body.contains("192.0.2.66"));
    assert!(
        account
            .body
            .contains(r#"<a href="/account/security">Open your security log</a>"#),
        "the warning links to the log"
    );
    app.clock.advance(Duration::minutes(1));
    let again = app.browser();
    again.login("alice", PASSWORD).await;
    let body = again.get("/account").await.body;
    assert!(!body.contains("Since your last sign-in"), "told once");
}

#[rocket::async_test]
async fn an_unknown_users_failed_sign_in_records_nothing() {
    let app = spawn_app().await;

    app.browser()
        .login("nobody", "guess guess guess")
        .await
        .assert_status(Status::Unauthorized);

    assert_eq!(app.count("security_events").await, 0);
}

#[rocket::async_test]
async fn the_security_log_is_paged_by_25_and_private() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let bob = app.signed_up("bob").await;
    for _ in 0..29 {
        app.browser().login("alice", "guess guess guess").await;
        app.clock.advance(Duration::minutes(2));
    }

    let first = browser.get("/account/security").await;
    let second = browser.get("/account/security?page=2").await;

    assert_eq!(logged_kinds(&first.body).len(), 25);
    assert!(first.body.contains("Page 1 of 2") && first.body.contains("?page=2"));
    assert_eq!(logged_kinds(&second.body).len(), 5);
    assert!(
        logged_kinds(&bob.get("/account/security").await.body).len() == 1,
        "only bob's sign-up"
    );
    for huge in ["1000001", "18446744073709551615"] {
        let past_the_end = browser.get(&format!("/account/security?page={huge}")).await;
        past_the_end.assert_status(Status::Ok);
        assert!(logged_kinds(&past_the_end.body).is_empty());
    }
}
