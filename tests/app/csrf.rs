//! Every browser POST needs the visitor's CSRF token and a same-site origin.

use rocket::http::Status;

use crate::helpers::{PASSWORD, spawn_app};

const SIGNUP: [(&str, &str); 3] = [
    ("username", "alice"),
    ("email", "alice@example.com"),
    ("password", PASSWORD),
];

#[rocket::async_test]
async fn a_post_without_a_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let browser = app.browser();
    browser.get("/signup").await;

    let response = browser.post_raw("/signup", &SIGNUP).await;

    response.assert_status(Status::Forbidden);
    assert!(response.body.contains("did not come from this site"));
    assert_eq!(app.count("users").await, 0);
}

#[rocket::async_test]
async fn a_wrong_or_foreign_token_is_refused() {
    let app = spawn_app().await;
    let victim = app.browser();
    victim.get("/signup").await;
    let attacker = app.browser();
    let attackers_token = attacker.csrf_token().await;

    for token in ["", "forged", attackers_token.as_str()] {
        let mut fields = SIGNUP.to_vec();
        fields.push(("csrf_token", token));
        victim
            .post_raw("/signup", &fields)
            .await
            .assert_status(Status::Forbidden);
    }
    assert_eq!(app.count("users").await, 0);
}

#[rocket::async_test]
async fn a_token_without_its_cookie_is_refused() {
    let app = spawn_app().await;
    let browser = app.browser();
    let token = browser.csrf_token().await;
    browser.clear_cookies();

    let mut fields = SIGNUP.to_vec();
    fields.push(("csrf_token", &token));
    browser
        .post_raw("/signup", &fields)
        .await
        .assert_status(Status::Forbidden);
}

#[rocket::async_test]
async fn sign_out_without_a_token_is_refused() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;

    browser
        .post_raw("/logout", &[])
        .await
        .assert_status(Status::Forbidden);

    assert!(browser.is_signed_in().await);
}

#[rocket::async_test]
async fn a_post_from_another_site_is_refused_even_with_a_valid_token() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;

    browser.set_header("Origin", "https://evil.example");
    browser.logout().await.assert_status(Status::Forbidden);
    browser.set_header("Origin", "null");
    browser.logout().await.assert_status(Status::Forbidden);
    browser.set_header("Origin", "http://127.0.0.1:8000");
    browser.set_header("Sec-Fetch-Site", "cross-site");
    browser.logout().await.assert_status(Status::Forbidden);
    assert!(browser.is_signed_in().await);

    browser.set_header("Sec-Fetch-Site", "same-origin");
    browser.logout().await.assert_redirect("/");
}

#[rocket::async_test]
async fn the_token_changes_at_sign_in_and_the_old_one_stops_working() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let browser = app.browser();
    let before = browser.csrf_token_from("/login").await;

    browser
        .post_raw(
            "/login",
            &[
                ("login", "alice"),
                ("password", PASSWORD),
                ("csrf_token", &before),
            ],
        )
        .await
        .assert_redirect("/account");

    let after = browser.csrf_token().await;
    assert_ne!(before, after);
    browser
        .post_raw("/logout", &[("csrf_token", &before)])
        .await
        .assert_status(Status::Forbidden);
}

#[rocket::async_test]
async fn a_password_change_needs_the_token() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;

    browser
        .post_raw(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a brand new passphrase"),
            ],
        )
        .await
        .assert_status(Status::Forbidden);

    app.browser()
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
}

#[rocket::async_test]
async fn a_cookie_that_does_not_decrypt_is_replaced_not_repeated() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    // A token cookie sealed under another key (an old `secret_key`), or
    // tampered with: the next page must hand out a fresh token that works.
    let other_deployment = crate::helpers::spawn_app().await;
    let stale = other_deployment.browser();
    stale.csrf_token().await;
    let sealed_elsewhere = stale.cookie("gatehouse_csrf").unwrap();
    for cookie in [sealed_elsewhere, "A".repeat(43)] {
        let browser = app.browser();
        browser.set_cookie("gatehouse_csrf", &cookie);

        let token = browser.csrf_token().await;
        assert_ne!(token, cookie);
        browser
            .submit("/login", &[("login", "alice"), ("password", PASSWORD)])
            .await
            .assert_redirect("/account");
    }
}
