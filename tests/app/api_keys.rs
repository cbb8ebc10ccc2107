//! API keys: made on the settings page, used in `X-API-Key`.

use rocket::http::{Method, Status};
use sea_orm::{ConnectionTrait, Statement};
use time::Duration;

use crate::api::client;
use crate::helpers::{Browser, PASSWORD, TestApp, spawn_app};

/// Creates a key through the settings page and returns its text.
pub async fn create_key(
    browser: &Browser<'_>,
    name: &str,
    scopes: &[&str],
    expires_days: &str,
) -> String {
    let mut fields = vec![("name", name), ("expires_days", expires_days)];
    fields.extend(scopes.iter().map(|scope| ("scopes", *scope)));
    browser
        .submit("/account/api-keys", &fields)
        .await
        .assert_redirect("/account/api-keys");
    let response = browser.get("/account/api-keys").await;
    let marker = r#"<code id="new-api-key" class="secret">"#;
    let start = response.body.find(marker).expect("the new key is shown") + marker.len();
    let end = response.body[start..].find('<').unwrap();
    response.body[start..start + end].to_owned()
}

fn with_key<'a>(app: &'a TestApp, key: &str) -> Browser<'a> {
    client(app, "X-API-Key", key)
}

#[rocket::async_test]
async fn a_key_made_on_the_settings_page_calls_the_api_and_is_shown_once() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;

    let key = create_key(&browser, "backup script", &["read"], "90").await;

    assert!(key.starts_with("gk_") && key.len() == 52, "{key}");
    let me = with_key(&app, &key).get("/api/v1/me").await;
    me.assert_status(Status::Ok);
    assert_eq!(me.json()["username"], "alice");
    let page = browser.get("/account/api-keys").await;
    assert!(!page.body.contains(&key), "never shown again");
    assert_eq!(app.count("api_keys").await, 1, "a reload makes nothing");
    assert!(page.body.contains(&key[..8]));
    assert!(page.body.contains("backup script"));
    assert!(page.body.contains("from 203.0.113.7"), "last used IP");
    assert!(page.body.contains("Using the API"));
}

#[rocket::async_test]
async fn the_key_appears_nowhere_in_the_database() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let key = create_key(&browser, "ci", &["read", "write"], "none").await;
    with_key(&app, &key)
        .get("/api/v1/me")
        .await
        .assert_status(Status::Ok);

    let stored = app.stored_text().await;
    assert!(stored.contains(&key[..8]), "the dump reads the keys' rows");
    assert!(!stored.contains(&key[3..]), "the database holds the key");
    let stored: String = app
        .db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT key_hash FROM api_keys",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "key_hash")
        .unwrap();
    assert_ne!(stored, key);
    assert_eq!(stored.len(), 64);
}

#[rocket::async_test]
async fn a_read_key_may_only_read() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let read = with_key(&app, &create_key(&browser, "reader", &["read"], "30").await);
    let write = with_key(
        &app,
        &create_key(&browser, "writer", &["read", "write"], "30").await,
    );

    read.get("/api/v1/sessions").await.assert_status(Status::Ok);
    let refused = read
        .request(Method::Delete, "/api/v1/sessions/whatever", None, None)
        .await;
    refused.assert_status(Status::Forbidden);
    assert_eq!(refused.json()["error"], "insufficient_scope");

    write
        .request(Method::Delete, "/api/v1/sessions/whatever", None, None)
        .await
        .assert_status(Status::NotFound);
}

#[rocket::async_test]
async fn revoked_and_expired_keys_get_401() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let short = create_key(&browser, "short", &["read"], "30").await;
    let revoked = create_key(&browser, "revoked", &["read"], "none").await;
    let lasting = create_key(&browser, "lasting", &["read"], "none").await;

    browser
        .submit("/account/api-keys/2/revoke", &[])
        .await
        .assert_redirect("/account/api-keys");
    let response = with_key(&app, &revoked).get("/api/v1/me").await;
    response.assert_status(Status::Unauthorized);
    assert_eq!(response.json()["error"], "invalid_token");

    app.clock.advance(Duration::days(30));
    with_key(&app, &short)
        .get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
    with_key(&app, &lasting)
        .get("/api/v1/me")
        .await
        .assert_status(Status::Ok);
    // Thirty days also ended the browser session.
    browser
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
    let page = browser.get("/account/api-keys").await;
    assert!(page.body.contains("Revoked") && page.body.contains("Expired"));
}

#[rocket::async_test]
async fn a_key_with_a_bad_checksum_is_refused_before_the_database() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let key = create_key(&browser, "k", &["read"], "30").await;
    let mut broken = key.clone().into_bytes();
    broken[10] = if broken[10] == b'x' { b'y' } else { b'x' };
    let broken = String::from_utf8(broken).unwrap();

    app.take_query_count();
    let response = with_key(&app, &broken).get("/api/v1/me").await;

    response.assert_status(Status::Unauthorized);
    assert_eq!(app.take_query_count(), 0);
    with_key(&app, "gk_short")
        .get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
}

#[rocket::async_test]
async fn last_use_is_written_at_most_once_a_minute() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let key = with_key(&app, &create_key(&browser, "k", &["read"], "30").await);
    key.get("/api/v1/me").await.assert_status(Status::Ok);

    // The key with its owner, read afresh after a change; an address
    // with no failures costs the failure limit no read.
    gatehouse::db::changes::changed();
    app.take_query_count();
    key.get("/api/v1/me").await;
    assert_eq!(app.take_query_count(), 1);

    // Once remembered, the key costs no query; its last use is written
    // once a minute all the same.
    app.clock.advance(Duration::seconds(61));
    key.get("/api/v1/me").await;
    let queries = app.take_query_count();
    assert!(
        (1..=2).contains(&queries),
        "one write of the last use: {queries}"
    );
    let last_used = || async {
        <gatehouse::api_keys::entity::Entity as sea_orm::EntityTrait>::find()
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .last_used_at
    };
    assert_eq!(last_used().await, Some(app.now()));
    app.clock.advance(Duration::seconds(30));
    key.get("/api/v1/me").await;
    assert_eq!(last_used().await, Some(app.now() - Duration::seconds(30)));
}

#[rocket::async_test]
async fn another_users_key_cannot_be_revoked() {
    let app = spawn_app().await;
    let alice = app.signed_up("alice").await;
    let bob = app.signed_up("bob").await;
    let key = create_key(&alice, "mine", &["read"], "30").await;

    bob.submit("/account/api-keys/1/revoke", &[])
        .await
        .assert_status(Status::NotFound);
    bob.submit("/account/api-keys/999/revoke", &[])
        .await
        .assert_status(Status::NotFound);

    with_key(&app, &key)
        .get("/api/v1/me")
        .await
        .assert_status(Status::Ok);
    assert!(!bob.get("/account/api-keys").await.body.contains("mine"));
}

#[rocket::async_test]
async fn the_key_form_validates_and_needs_its_csrf_token() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;

    let invalid = browser
        .submit(
            "/account/api-keys",
            &[("name", ""), ("expires_days", "7"), ("scopes", "admin")],
        )
        .await;
    invalid.assert_status(Status::UnprocessableEntity);
    assert!(invalid.body.contains("Give the key a name"));
    assert!(invalid.body.contains("Choose read, write or both."));
    assert!(invalid.body.contains("Choose 30, 90 or 365 days"));

    browser
        .post_raw("/account/api-keys", &[("name", "x"), ("scopes", "read")])
        .await
        .assert_status(Status::Forbidden);
    assert_eq!(app.count("api_keys").await, 0);
}

#[rocket::async_test]
async fn a_deactivated_users_keys_stop_working() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let key = create_key(&browser, "k", &["read"], "30").await;

    app.execute("UPDATE users SET is_active = false").await;

    with_key(&app, &key)
        .get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
}

#[rocket::async_test]
async fn a_new_key_is_handed_only_to_its_owner_and_only_for_a_minute() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    app.signed_up("bob").await;
    let fields = [("name", "k"), ("scopes", "read"), ("expires_days", "30")];

    // Made, then someone else signs in on this browser before the page loads.
    browser
        .submit("/account/api-keys", &fields)
        .await
        .assert_redirect("/account/api-keys");
    browser.logout().await;
    browser
        .login("bob", PASSWORD)
        .await
        .assert_redirect("/account");
    let page = browser.get("/account/api-keys").await;
    assert!(!page.body.contains("id=\"new-api-key\""), "not bob's key");

    // Made, then the page loads too late.
    browser.logout().await;
    browser
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
    browser
        .submit("/account/api-keys", &fields)
        .await
        .assert_redirect("/account/api-keys");
    app.clock.advance(Duration::minutes(2));
    let page = browser.get("/account/api-keys").await;
    assert!(!page.body.contains("id=\"new-api-key\""), "expired");
}

#[rocket::async_test]
async fn staff_ending_all_sessions_also_revokes_the_users_api_keys() {
    let app = crate::helpers::app()
        .config("staff_require_2fa", false)
        .spawn()
        .await;
    let root = app.signed_up("root").await;
    app.execute("UPDATE users SET is_superuser = true WHERE username = 'root'")
        .await;
    // An intruder in alice's session made a key to come back with.
    let alice = app.signed_up("alice").await;
    let key = create_key(&alice, "foothold", &["read", "write"], "none").await;
    with_key(&app, &key)
        .get("/api/v1/me")
        .await
        .assert_status(Status::Ok);
    let id = gatehouse::accounts::entity::find_by_login(&app.db, "alice")
        .await
        .unwrap()
        .unwrap()
        .id;

    root.submit(&format!("/admin/users/{id}/sessions/revoke"), &[])
        .await
        .assert_redirect(&format!("/admin/users/{id}"));

    with_key(&app, &key)
        .get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
    assert!(!alice.is_signed_in().await);
    let page = root.get(&format!("/admin/users/{id}")).await;
    assert!(page.body.contains("revoked 1 API key(s)"), "{}", page.body);
}

#[rocket::async_test]
async fn the_revoke_api_keys_checkbox_ends_keys_with_other_sessions_or_a_password_change() {
    let app = spawn_app().await;
    let alice = app.signed_up("alice").await;
    let first = create_key(&alice, "first", &["read"], "none").await;

    // Without the box, ending other sessions leaves the keys alone.
    alice
        .submit("/account/sessions/revoke-others", &[("password", PASSWORD)])
        .await
        .assert_redirect("/account/sessions");
    let alive = with_key(&app, &first).get("/api/v1/me").await;
    alive.assert_status(Status::Ok);
    alice
        .submit(
            "/account/sessions/revoke-others",
            &[("password", PASSWORD), ("revoke_api_keys", "true")],
        )
        .await
        .assert_redirect("/account/sessions");
    let revoked = with_key(&app, &first).get("/api/v1/me").await;
    revoked.assert_status(Status::Unauthorized);

    let second = create_key(&alice, "second", &["read"], "none").await;
    alice
        .submit(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a brand new passphrase"),
                ("revoke_api_keys", "true"),
            ],
        )
        .await
        .assert_redirect("/account");
    let revoked = with_key(&app, &second).get("/api/v1/me").await;
    revoked.assert_status(Status::Unauthorized);
    let page = alice.get("/account").await.body;
    assert!(page.contains(r#"name="revoke_api_keys""#));
    assert!(page.contains("At least 12 characters"));
}
