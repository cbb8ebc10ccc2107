//! What people do, typed and clicked in Chromium.

use super::driver::Chrome;
use super::{browser_available, next_code, sign_in, sign_out, sign_up, turn_on_two_factor};
use crate::socket::Served;

#[rocket::async_test]
async fn sign_up_shows_every_problem_at_once_then_succeeds() {
    if !browser_available() {
        return;
    }
    let served = Served::start().await;
    let chrome = Chrome::start(390).await;
    chrome.goto(&served.url("/signup")).await;
    chrome.type_into("#username", "x").await;
    chrome.type_into("#email", "not-an-email").await;
    chrome.type_into("#password", "short").await;
    chrome
        .submit("form[action='/signup'] button[type=submit]")
        .await;
    let summary = chrome.text(".error-summary").await;
    for field in ["username", "email", "password"] {
        assert!(
            chrome
                .run(
                    "return document.querySelector('.error-summary a[href=\"#' + arguments[0] + '\"]') !== null \
                     && document.getElementById(arguments[0]).getAttribute('aria-invalid') === 'true';",
                    serde_json::json!([field]),
                )
                .await
                .as_bool()
                .unwrap_or(false),
            "{field} is named in the summary and marked invalid: {summary}"
        );
    }
    let problems = super::pages::check_here(&chrome, "visitor", "/signup errors").await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    sign_up(&chrome, &served, "alice").await;
    assert_eq!(chrome.text("h1").await, "Your account");
}

#[rocket::async_test]
async fn two_factor_sign_in_an_api_key_a_session_and_staff_deactivating_a_user() {
    if !browser_available() {
        return;
    }
    let served = Served::start().await;
    let chrome = Chrome::start(1280).await;

    // Bob exists and is signed in elsewhere.
    let bob = served.browser();
    served
        .submit(
            &bob,
            "/signup",
            "/signup",
            &[
                ("username", "bob"),
                ("email", "bob@example.com"),
                ("password", crate::helpers::PASSWORD),
            ],
        )
        .await;

    // Alice signs up, turns on 2FA, and signs in again with a code.
    sign_up(&chrome, &served, "alice").await;
    chrome.goto(&served.url("/account/linked")).await;
    assert!(chrome.text("main").await.contains("no sign-in providers"));
    let problems = super::pages::check_here(&chrome, "user", "/account/linked no providers").await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Alice is also signed in in a second browser.
    let other = served.browser();
    served
        .submit(
            &other,
            "/login",
            "/login",
            &[("login", "alice"), ("password", crate::helpers::PASSWORD)],
        )
        .await;
    let secret = turn_on_two_factor(&chrome, &served).await;
    chrome
        .goto(&served.url("/account/2fa/recovery-codes"))
        .await;
    assert!(
        chrome.url().await.ends_with("/account/2fa"),
        "recovery codes are shown once"
    );
    sign_out(&chrome).await;
    sign_in(&chrome, &served, "alice").await;
    assert!(chrome.url().await.ends_with("/login/2fa"));
    chrome.type_into("#code", &next_code(&secret)).await;
    chrome.submit("form[action='/login/2fa'] button").await;
    assert!(chrome.url().await.ends_with("/account"));

    // An API key: shown once after the redirect, then revoked.
    chrome.goto(&served.url("/account/api-keys")).await;
    chrome.type_into("#name", "backup").await;
    chrome.click("#scope-write").await;
    chrome
        .submit("form[action^='/account/api-keys#'] button[type=submit]")
        .await;
    let key = chrome.text("#new-api-key").await;
    assert!(key.starts_with("gk_"), "the new key is shown: {key:?}");
    assert!(
        chrome
            .run(
                "const r = document.getElementById('new-api-key').getBoundingClientRect(); \
                 return r.top >= 0 && r.bottom <= window.innerHeight;",
                serde_json::json!([]),
            )
            .await
            .as_bool()
            .unwrap_or(false),
        "the new key is in view after the redirect"
    );
    assert_eq!(
        chrome.text("[data-copy-from] button").await,
        "Copy the key",
        "the copy button's script runs under the CSP"
    );
    let api = reqwest::Client::new();
    let me = api
        .get(served.url("/api/v1/me"))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    chrome.goto(&served.url("/account/api-keys")).await;
    assert_eq!(chrome.text("#new-api-key").await, "", "shown only once");
    chrome.submit("form[action$='/revoke'] button").await;
    assert!(
        chrome.text(".flash").await.contains("revoked"),
        "{}",
        chrome.text("main").await
    );
    let me = api
        .get(served.url("/api/v1/me"))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);

    // Alice ends the session of the other browser.
    chrome.goto(&served.url("/account/sessions")).await;
    chrome
        .submit("tr:not([aria-current]) form[action$='/revoke'] button")
        .await;
    assert!(chrome.text(".flash").await.contains("ended"));
    let account = other.get(served.url("/account")).send().await.unwrap();
    assert_eq!(account.status(), 303, "the other browser is signed out");

    // Alice is made staff and deactivates Bob, confirming first.
    served
        .execute("UPDATE users SET is_staff = true WHERE username = 'alice'")
        .await;
    chrome.goto(&served.url("/admin/users?q=bob")).await;
    chrome.submit("td a").await;
    chrome.click_text("summary", "Deactivate").await;
    chrome
        .submit("form[action$='/active'] button[type=submit]")
        .await;
    assert_eq!(chrome.text("#admin-user-status").await, "Deactivated");
    let account = bob.get(served.url("/account")).send().await.unwrap();
    assert_eq!(account.status(), 303, "Bob is signed out");

    // Bob, with the right password, is told why he cannot sign in.
    let bob_chrome = Chrome::start(390).await;
    sign_in(&bob_chrome, &served, "bob").await;
    assert!(
        bob_chrome
            .text(".error-summary")
            .await
            .contains("deactivated")
    );
}
