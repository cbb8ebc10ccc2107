//! Server-side sessions: cookies, timeouts, fixation, and the cost of an
//! authenticated page.

use rocket::http::Status;
use time::Duration;

use crate::helpers::{PASSWORD, app, spawn_app};

fn session_cookie(set_cookies: &[&str]) -> String {
    set_cookies
        .iter()
        .find(|c| c.starts_with("gatehouse_session="))
        .expect("a session cookie")
        .to_string()
}

#[rocket::async_test]
async fn the_session_cookie_is_private_http_only_and_lax() {
    let app = spawn_app().await;
    let browser = app.browser();

    let response = browser.signup("alice", "alice@example.com", PASSWORD).await;

    let cookie = session_cookie(&response.headers_named("Set-Cookie"));
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    assert!(cookie.contains("Path=/"));
    assert!(!cookie.contains("Secure"));
    // Without "remember me" it ends with the browser.
    assert!(
        !cookie.contains("Expires") && !cookie.contains("Max-Age"),
        "{cookie}"
    );
    // The database holds a SHA-256, the browser an encrypted secret.
    let row = <gatehouse::sessions::entity::Entity as sea_orm::EntityTrait>::find_by_id(1)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(row.token_hash.len() == 64 && row.token_hash.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(
        !browser
            .cookie("gatehouse_session")
            .unwrap()
            .contains(&row.token_hash)
    );
}

#[rocket::async_test]
async fn remember_me_makes_the_cookie_outlive_the_browser() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let browser = app.browser();

    let response = browser
        .submit(
            "/login",
            &[
                ("login", "alice"),
                ("password", PASSWORD),
                ("remember", "true"),
            ],
        )
        .await;

    response.assert_redirect("/account");
    let cookie = session_cookie(&response.headers_named("Set-Cookie"));
    assert!(cookie.contains("Expires="), "{cookie}");
}

#[rocket::async_test]
async fn every_sign_in_gets_a_new_session() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let before = browser.cookie("gatehouse_session").unwrap();

    browser
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");

    let after = browser.cookie("gatehouse_session").unwrap();
    assert_ne!(before, after);
    // Signing in again ends the browser's previous session: a copy of
    // its old cookie is worth nothing.
    assert_eq!(app.count("sessions").await, 1);
    let planted = app.browser();
    planted.set_cookie("gatehouse_session", &before);
    assert!(!planted.is_signed_in().await);
    assert!(browser.is_signed_in().await);
}

#[rocket::async_test]
async fn a_session_ends_after_the_idle_timeout() {
    let app = app().config("session_idle_minutes", 30).spawn().await;
    let browser = app.signed_up("alice").await;

    app.clock.advance(Duration::minutes(29));
    assert!(browser.is_signed_in().await, "used within the idle time");
    app.clock.advance(Duration::minutes(29));
    assert!(
        browser.is_signed_in().await,
        "each use restarts the idle time"
    );
    app.clock.advance(Duration::minutes(31));

    let response = browser.get("/account").await;
    response.assert_redirect("/login?next=%2Faccount");
}

#[rocket::async_test]
async fn a_session_ends_at_its_absolute_limit_however_busy() {
    let app = app()
        .config("session_idle_minutes", 60)
        .config("session_max_days", 1)
        .spawn()
        .await;
    let browser = app.signed_up("alice").await;

    for _ in 0..24 {
        app.clock.advance(Duration::minutes(59));
        assert!(browser.is_signed_in().await);
    }
    app.clock.advance(Duration::minutes(59));

    assert!(!browser.is_signed_in().await);
}

#[rocket::async_test]
async fn a_remembered_session_survives_idle_time_until_remember_me_days() {
    let app = app()
        .config("session_idle_minutes", 30)
        .config("remember_me_days", 7)
        .spawn()
        .await;
    app.signed_up("alice").await;
    let browser = app.browser();
    browser
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

    app.clock.advance(Duration::days(6));
    assert!(browser.is_signed_in().await);
    app.clock.advance(Duration::days(1));
    assert!(!browser.is_signed_in().await);
}

#[rocket::async_test]
async fn an_authenticated_page_costs_one_database_round_trip_and_none_once_remembered() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    browser.get("/account").await.assert_status(Status::Ok);

    // Read afresh after a change: session and user in one query.
    gatehouse::db::changes::changed();
    app.take_query_count();
    browser.get("/account").await.assert_status(Status::Ok);
    assert_eq!(app.take_query_count(), 1, "session and user in one query");

    // Then remembered. Tests running beside this one count changes too
    // (and on PostgreSQL the memo waits for its listener): within a few
    // tries a page costs no query, and none ever costs more than one.
    app.wait_for_remembered_lookups().await;
    let mut free = 0;
    for _ in 0..50 {
        browser.get("/").await.assert_status(Status::Ok);
        let queries = app.take_query_count();
        assert!(queries <= 1, "{queries} queries");
        free += usize::from(queries == 0);
    }
    assert!(free > 0, "no page was served from the remembered lookup");
}

#[rocket::async_test]
async fn last_seen_is_written_at_most_once_a_minute() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let last_seen = || async {
        <gatehouse::sessions::entity::Entity as sea_orm::EntityTrait>::find_by_id(1)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .last_seen_at
    };
    let first = last_seen().await;

    app.clock.advance(Duration::seconds(30));
    browser.get("/account").await;
    assert_eq!(last_seen().await, first);

    app.clock.advance(Duration::seconds(31));
    app.take_query_count();
    browser.get("/account").await;
    let queries = app.take_query_count();
    assert!(
        (1..=2).contains(&queries),
        "the lookup (unless remembered) and one update: {queries}"
    );
    assert_eq!(last_seen().await, first + Duration::seconds(61));
}

#[rocket::async_test]
async fn a_tampered_or_unknown_session_cookie_means_anonymous() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let real = browser.cookie("gatehouse_session").unwrap();

    // A changed character in the middle: always different from the original, and
    // never only in the unused bits of the final base64 character.
    let mut tampered = real.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    for forged in [
        String::from_utf8(tampered).unwrap(),
        "not even base64 !!".to_owned(),
        String::new(),
        "A".repeat(4000),
    ] {
        let visitor = app.browser();
        visitor.set_cookie("gatehouse_session", &forged);
        visitor
            .get("/account")
            .await
            .assert_redirect("/login?next=%2Faccount");
        visitor.get("/").await.assert_status(Status::Ok);
    }
}

#[rocket::async_test]
async fn a_session_of_another_deployment_is_not_accepted() {
    let first = spawn_app().await;
    let second = spawn_app().await;
    let browser = first.signed_up("alice").await;
    second.signed_up("alice").await;

    let visitor = second.browser();
    visitor.copy_cookies_from(&browser);

    // The copied cookie is anonymous there (not an error, not alice of the
    // second deployment), though it still signs alice in where it was made.
    visitor
        .get("/account")
        .await
        .assert_redirect("/login?next=%2Faccount");
    visitor.get("/").await.assert_status(Status::Ok);
    let control = first.browser();
    control.copy_cookies_from(&browser);
    assert!(control.is_signed_in().await);
    assert_eq!(second.count("sessions").await, 1);
}

#[rocket::async_test]
async fn a_session_records_the_socket_address_not_a_claimed_one() {
    let app = spawn_app().await;
    let browser = app.browser();
    browser.set_remote("198.51.100.23:51000");
    browser.set_header("X-Real-IP", "10.9.9.9");
    browser.set_header("X-Forwarded-For", "10.8.8.8");

    browser
        .signup("alice", "alice@example.com", PASSWORD)
        .await
        .assert_redirect("/account");

    let row = <gatehouse::sessions::entity::Entity as sea_orm::EntityTrait>::find_by_id(1)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.ip.as_deref(), Some("198.51.100.23"));
    assert!(row.user_agent.unwrap().contains("Firefox/128.0"));
}

/// The sign-in page a signed-out browser is sent to, and what it says.
async fn sign_in_page(browser: &crate::helpers::Browser<'_>) -> String {
    let account = browser.get("/account").await;
    account.assert_redirect("/login?next=%2Faccount");
    browser.get("/login?next=%2Faccount").await.body
}

#[rocket::async_test]
async fn a_session_ended_by_someone_else_says_why_on_the_sign_in_page_once() {
    let app = app().config("staff_require_2fa", false).spawn().await;
    let staff = app.signed_up("staffer").await;
    app.execute("UPDATE users SET is_staff = true WHERE username = 'staffer'")
        .await;
    let alice = app.signed_up("alice").await;
    let phone = app.browser();
    phone
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
    let tablet = app.browser();
    tablet
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
    app.clock.advance(Duration::seconds(1));

    // Ended from another of her devices.
    let page = alice.get("/account/sessions").await.body;
    let tablet_id = page
        .split("data-session-id=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .find(|id| !page.contains(&format!("data-session-id=\"{id}\" class=\"current\"")))
        .unwrap()
        .to_owned();
    alice
        .submit(&format!("/account/sessions/{tablet_id}/revoke"), &[])
        .await;
    let phone_or_tablet = [&phone, &tablet];
    let mut told = 0;
    for browser in phone_or_tablet {
        if !browser.is_signed_in().await {
            let page = sign_in_page(browser).await;
            assert!(page.contains("You were signed out from another of your devices."));
            told += 1;
        }
    }
    assert_eq!(told, 1, "one of them was signed out");

    // By a password change made elsewhere; not in the browser that made it.
    let still = if phone.is_signed_in().await {
        &phone
    } else {
        &tablet
    };
    alice
        .submit(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "another long passphrase here"),
            ],
        )
        .await
        .assert_redirect("/account");
    let page = sign_in_page(still).await;
    assert!(page.contains("because the password of your account was changed"));
    let again = still.get("/login").await.body;
    assert!(!again.contains("id=\"session-ended\""), "said once");
    app.clock.advance(Duration::seconds(1));

    // By staff.
    let id: i32 = gatehouse::accounts::entity::find_by_login(&app.db, "alice")
        .await
        .unwrap()
        .unwrap()
        .id;
    staff
        .submit(&format!("/admin/users/{id}/sessions/revoke"), &[])
        .await;
    let page = sign_in_page(&alice).await;
    assert!(page.contains("staff ended your session"), "{page}");

    // Signing out oneself gives no such line.
    let fresh = app.browser();
    fresh
        .login("alice", "another long passphrase here")
        .await
        .assert_redirect("/account");
    fresh.logout().await;
    assert!(
        !fresh
            .get("/login")
            .await
            .body
            .contains("id=\"session-ended\"")
    );
}
