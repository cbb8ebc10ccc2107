//! Gatehouse in a real browser: Debian's Chromium, driven through
//! chromedriver, against the app on a loopback port. People's flows are
//! typed and clicked; every page is checked at 390 px (no sideways
//! scrolling) and with axe-core, and photographed at 1280 px and 390 px
//! into `target/screenshots/` for a person to look at.
//!
//! Without chromium, chromium-driver or axe-core these tests say what is
//! missing and pass; with `CI=true` they fail instead.

mod driver;
mod flows;
mod pages;
mod passkeys;

use driver::Chrome;

use crate::socket::Served;

/// True when the browser tests can run; otherwise says why (and fails in
/// CI, where a skipped browser test would hide a broken page).
fn browser_available() -> bool {
    let Some(missing) = driver::missing() else {
        return true;
    };
    let message = format!("browser tests need {missing}");
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{message}; CI runs them, so they may not be skipped"
    );
    eprintln!("SKIPPED: {message}");
    false
}

/// Signs up in the browser by typing into the form; lands on `/account`.
async fn sign_up(chrome: &Chrome, served: &Served, username: &str) {
    chrome.goto(&served.url("/signup")).await;
    chrome.type_into("#username", username).await;
    chrome
        .type_into("#email", &format!("{username}@example.com"))
        .await;
    chrome
        .type_into("#password", crate::helpers::PASSWORD)
        .await;
    chrome
        .submit("form[action='/signup'] button[type=submit]")
        .await;
    assert!(
        chrome.url().await.ends_with("/account"),
        "sign-up lands on the account page"
    );
}

async fn sign_in(chrome: &Chrome, served: &Served, login: &str) {
    chrome.goto(&served.url("/login")).await;
    chrome.type_into("#login", login).await;
    chrome
        .type_into("#password", crate::helpers::PASSWORD)
        .await;
    chrome
        .submit("form[action='/login'] button[type=submit]")
        .await;
}

async fn sign_out(chrome: &Chrome) {
    chrome.submit("form[action='/logout'] button").await;
}

/// Turns on two-factor authentication from the settings pages; returns
/// the secret the authenticator app would hold.
async fn turn_on_two_factor(chrome: &Chrome, served: &Served) -> String {
    chrome.goto(&served.url("/account/2fa")).await;
    chrome
        .submit("form[action='/account/2fa/setup'] button")
        .await;
    assert!(chrome.url().await.ends_with("/account/2fa/setup"));
    let secret = chrome.text("#totp-secret").await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    chrome
        .type_into("#code", &crate::two_factor::code(&secret, now))
        .await;
    chrome
        .submit("form[action='/account/2fa/confirm'] button")
        .await;
    assert!(
        chrome.url().await.ends_with("/account/2fa/recovery-codes"),
        "the recovery codes are shown after a redirect"
    );
    assert_eq!(
        chrome
            .run(
                "return document.querySelectorAll('.recovery-code').length;",
                serde_json::json!([])
            )
            .await,
        10
    );
    secret
}

/// A code for the next 30-second step: the one used to turn 2FA on is
/// spent, and the server accepts one step of clock skew.
fn next_code(secret: &str) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    crate::two_factor::code(secret, now + 30)
}
