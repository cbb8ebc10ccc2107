//! Remembered lookups (`gatehouse::db::changes`): a session, token or API
//! key remembered from earlier requests is forgotten by every change that
//! could make it false, before the next request, whichever instance made
//! the change.

use rocket::http::{Method, Status};
use sea_orm::ConnectionTrait as _;

use crate::api::{bearer, client, token_for};
use crate::api_keys::create_key;
use crate::helpers::{Browser, PASSWORD, TestApp, app, spawn_app};

/// Sends `path` until a request costs no database query: the caller's
/// lookup is then remembered (and an API key from an address with no
/// failures skips the failure limit's read). Other tests count changes
/// too, so it may take a few tries.
async fn remembered(app: &TestApp, browser: &Browser<'_>, path: &str) {
    app.wait_for_remembered_lookups().await;
    for _ in 0..100 {
        app.take_query_count();
        let status = browser.get(path).await.status;
        assert_eq!(status, Status::Ok);
        if app.take_query_count() == 0 {
            return;
        }
    }
    panic!("{path} was never answered from a remembered lookup");
}

/// The ids of the sessions `browser`'s sessions page lists besides its own.
async fn other_session_ids(browser: &Browser<'_>) -> Vec<String> {
    let page = browser.get("/account/sessions").await.body;
    page.split("data-session-id=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .filter(|id| !page.contains(&format!("data-session-id=\"{id}\" class=\"current\"")))
        .collect()
}

/// Alice signed in on a laptop, whose session is remembered, and a phone.
async fn laptop_and_phone(app: &TestApp) -> (Browser<'_>, Browser<'_>) {
    let laptop = app.signed_up("alice").await;
    let phone = app.browser();
    phone
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
    remembered(app, &laptop, "/account").await;
    (laptop, phone)
}

#[rocket::async_test]
async fn a_session_ended_from_another_device_is_refused_on_its_next_request() {
    let app = spawn_app().await;
    let (laptop, phone) = laptop_and_phone(&app).await;

    let others = other_session_ids(&phone).await;
    phone
        .submit(&format!("/account/sessions/{}/revoke", others[0]), &[])
        .await
        .assert_redirect("/account/sessions");

    laptop
        .get("/account")
        .await
        .assert_redirect("/login?next=%2Faccount");
    assert!(phone.is_signed_in().await);
}

#[rocket::async_test]
async fn a_password_changed_elsewhere_ends_a_remembered_session() {
    let app = spawn_app().await;
    let (laptop, phone) = laptop_and_phone(&app).await;

    phone
        .submit(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "an entirely new passphrase"),
            ],
        )
        .await
        .assert_redirect("/account");

    assert!(!laptop.is_signed_in().await);
    assert!(phone.is_signed_in().await);
}

#[rocket::async_test]
async fn a_remembered_api_key_revoked_on_the_page_is_refused_at_once() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let key = create_key(&browser, "k", &["read"], "30").await;
    let caller = client(&app, "X-API-Key", &key);
    remembered(&app, &caller, "/api/v1/me").await;

    browser
        .submit("/account/api-keys/1/revoke", &[])
        .await
        .assert_redirect("/account/api-keys");

    caller
        .get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
}

#[rocket::async_test]
async fn a_remembered_tokens_session_revoked_through_the_api_is_refused_at_once() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let doomed = bearer(&app, &token_for(&app, "alice").await);
    let other = bearer(&app, &token_for(&app, "alice").await);
    remembered(&app, &doomed, "/api/v1/me").await;
    let sessions = doomed.get("/api/v1/sessions").await.json();
    let doomed_id = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    other
        .request(
            Method::Delete,
            &format!("/api/v1/sessions/{doomed_id}"),
            None,
            None,
        )
        .await
        .assert_status(Status::NoContent);

    doomed
        .get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
    other.get("/api/v1/me").await.assert_status(Status::Ok);
}

#[rocket::async_test]
async fn staff_deactivating_an_account_ends_its_remembered_session_key_and_token() {
    let app = app().config("staff_require_2fa", false).spawn().await;
    let staff = app.signed_up("staffer").await;
    app.execute("UPDATE users SET is_staff = true WHERE username = 'staffer'")
        .await;
    let target = app.signed_up("target").await;
    let key = client(
        &app,
        "X-API-Key",
        &create_key(&target, "k", &["read"], "30").await,
    );
    let token = bearer(&app, &token_for(&app, "target").await);
    remembered(&app, &target, "/account").await;
    remembered(&app, &key, "/api/v1/me").await;
    remembered(&app, &token, "/api/v1/me").await;
    let id = gatehouse::accounts::entity::find_by_login(&app.db, "target")
        .await
        .unwrap()
        .unwrap()
        .id;

    staff
        .submit(&format!("/admin/users/{id}/active"), &[("active", "false")])
        .await
        .assert_redirect(&format!("/admin/users/{id}"));

    assert!(!target.is_signed_in().await);
    key.get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
    token
        .get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
}

/// Another process (another instance, an operator's tool) changes the
/// database without telling this one. With PostgreSQL the triggers' notice
/// reaches every instance at once; otherwise the remembered answer is read
/// afresh once it is `MAX_AGE` old.
#[rocket::async_test]
async fn a_change_made_by_another_process_reaches_a_remembered_lookup() {
    use gatehouse::db::changes::MAX_AGE;
    use std::time::{Duration, Instant};

    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    remembered(&app, &browser, "/account").await;
    // Read afresh now: good for MAX_AGE unless a change is counted.
    gatehouse::db::changes::changed();
    browser.get("/account").await.assert_status(Status::Ok);
    let read_at = Instant::now();

    let elsewhere = sea_orm::Database::connect(app.database_url())
        .await
        .unwrap();
    elsewhere
        .execute_unprepared("UPDATE users SET is_active = false WHERE username = 'alice'")
        .await
        .unwrap();

    while browser.is_signed_in().await {
        assert!(
            read_at.elapsed() < MAX_AGE + Duration::from_secs(2),
            "the deactivation never reached the remembered session"
        );
        rocket::tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if app.db.get_database_backend() == sea_orm::DbBackend::Postgres {
        assert!(
            read_at.elapsed() < MAX_AGE / 2,
            "through the notice, not by age: {:?}",
            read_at.elapsed()
        );
    }
}
