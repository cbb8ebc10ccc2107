//! Control characters (NUL first: PostgreSQL's text type refuses it) at
//! every text input: refused with 400 or 422, never stored, never a 5xx.
//! The suite runs these on SQLite, and on PostgreSQL with TEST_DATABASE_URL.

use rocket::http::Status;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, app, spawn_app};
use crate::oauth_provider::{FakeProvider, ProviderUser};

const CONTROLS: [&str; 4] = ["\0", "\n", "\u{1b}[0m", "\u{85}"];

fn with_control(base: &str, control: &str) -> String {
    format!("{}{control}{}", &base[..2], &base[2..])
}

async fn assert_nothing_stored(app: &TestApp) {
    let stored = app.stored_text().await;
    for control in ["\0", "\u{1b}", "\u{85}"] {
        assert!(!stored.contains(control), "{control:?} was stored");
    }
}

#[rocket::async_test]
async fn every_browser_form_refuses_control_characters_with_422() {
    let app = spawn_app().await;
    let alice = app.signed_up("alice").await;
    let key_form = || vec![("name", "laptop".to_owned()), ("scopes", "read".to_owned())];
    let password_form = || {
        vec![
            ("current_password", PASSWORD.to_owned()),
            ("new_password", "another long passphrase".to_owned()),
        ]
    };
    for control in CONTROLS {
        let visitor = app.browser();
        let signup = [
            ("username", "bobby"),
            ("email", "bob@example.com"),
            ("password", PASSWORD),
        ];
        for field in 0..signup.len() {
            let mut fields: Vec<(&str, String)> =
                signup.iter().map(|(k, v)| (*k, v.to_string())).collect();
            fields[field].1 = with_control(&fields[field].1, control);
            let borrowed: Vec<(&str, &str)> =
                fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let response = visitor.submit("/signup", &borrowed).await;
            response.assert_status(Status::UnprocessableEntity);
            assert!(
                response.body.contains("control character"),
                "{}",
                response.body
            );
        }
        for (login, password) in [
            (with_control("alice", control), PASSWORD.to_owned()),
            ("alice".to_owned(), with_control(PASSWORD, control)),
        ] {
            visitor
                .submit("/login", &[("login", &login), ("password", &password)])
                .await
                .assert_status(Status::UnprocessableEntity);
        }
        for (action, mut fields) in [
            ("/account/api-keys", key_form()),
            ("/account/password", password_form()),
        ] {
            fields[0].1 = with_control(&fields[0].1, control);
            let borrowed: Vec<(&str, &str)> =
                fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            alice
                .submit(action, &borrowed)
                .await
                .assert_status(Status::UnprocessableEntity);
        }
        // A field's name is text too.
        let name = format!("na{control}me");
        alice
            .submit("/account/api-keys", &[(&name, "x"), ("scopes", "read")])
            .await
            .assert_status(Status::UnprocessableEntity);
    }
    assert_eq!(app.count("users").await, 1);
    assert_eq!(app.count("api_keys").await, 0);
    assert!(alice.is_signed_in().await, "the password was not changed");
    assert_nothing_stored(&app).await;
}

#[rocket::async_test]
async fn the_token_endpoint_refuses_control_characters_in_every_field() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let base = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", PASSWORD),
        ("scope", "read"),
        ("otp", "123456"),
    ];
    for control in CONTROLS {
        for field in 0..base.len() {
            let mut fields: Vec<(&str, String)> =
                base.iter().map(|(k, v)| (*k, v.to_string())).collect();
            fields[field].1 = with_control(&fields[field].1, control);
            let borrowed: Vec<(&str, &str)> =
                fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let response = crate::api::token_request(&app, &borrowed).await;
            response.assert_status(Status::BadRequest);
            assert_eq!(
                response.json()["error"],
                "invalid_request",
                "{}",
                base[field].0
            );
        }
    }
    let pg_user = crate::api::token_request(
        &app,
        &[
            ("grant_type", "password"),
            ("username", "pg\0user"),
            ("password", PASSWORD),
        ],
    )
    .await;
    pg_user.assert_status(Status::BadRequest);
    assert_nothing_stored(&app).await;
}

#[rocket::async_test]
async fn searches_refuse_control_characters_on_the_page_and_the_api() {
    let app = app().config("staff_require_2fa", false).spawn().await;
    let root = app.signed_up("root").await;
    app.execute("UPDATE users SET is_superuser = true WHERE username = 'root'")
        .await;
    let token = crate::api::token_for(&app, "root").await;
    let api = crate::api::bearer(&app, &token);

    for q in ["a%00b", "%00", "x%0Ay", "%1B", "%C2%85"] {
        let page = root.get(&format!("/admin/users?q={q}")).await;
        page.assert_status(Status::BadRequest);
        assert!(page.body.contains("control character"), "{q}");
        api.get(&format!("/api/v1/users?q={q}"))
            .await
            .assert_status(Status::BadRequest);
    }
    root.get("/admin/users?q=roo")
        .await
        .assert_status(Status::Ok);
    api.get("/api/v1/users?q=roo")
        .await
        .assert_status(Status::Ok);
}

#[rocket::async_test]
async fn control_characters_in_a_providers_profile_are_never_stored() {
    let provider = FakeProvider::start().await;
    let app = app()
        .config("oauth", json!({ "fake": provider.config() }))
        .spawn()
        .await;
    let mut evil = ProviderUser::new(43, "evil\0lo\u{1b}gin", "unused@example.com");
    evil.email = None;
    evil.emails = vec![
        ("ev\u{1b}il\0@example.com".to_owned(), true, true),
        ("evil@example.com".to_owned(), false, true),
    ];
    provider.sign_in_as(evil);
    let browser = app.browser();

    let start = browser.get("/oauth/fake/login").await;
    let authorize = start.header("Location").unwrap().to_owned();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let back = http.get(&authorize).send().await.unwrap();
    let callback = back.headers()["location"].to_str().unwrap();
    let callback = callback.strip_prefix("http://127.0.0.1:8000").unwrap();
    let response = browser.get(callback).await;

    assert!(response.status.code < 500, "{}", response.status);
    assert_nothing_stored(&app).await;

    // With a clean primary address, the account is made without the login.
    let mut evil = ProviderUser::new(44, "evil\0lo\u{1b}gin", "evil@example.com");
    evil.email = None;
    evil.emails = vec![("evil@example.com".to_owned(), true, true)];
    provider.sign_in_as(evil);
    let other = app.browser();
    let start = other.get("/oauth/fake/login").await;
    let authorize = start.header("Location").unwrap().to_owned();
    let back = http.get(&authorize).send().await.unwrap();
    let callback = back.headers()["location"].to_str().unwrap();
    let callback = callback.strip_prefix("http://127.0.0.1:8000").unwrap();
    other.get(callback).await.assert_redirect("/account");
    assert_eq!(app.count("linked_accounts").await, 1);
    assert_nothing_stored(&app).await;
}
