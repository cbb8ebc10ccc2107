//! Passkeys in Chromium with its virtual authenticator: added on the
//! passkeys page and used to sign in, clicked as a person would.

use serde_json::json;

use super::driver::Chrome;
use super::{browser_available, sign_out, sign_up};
use crate::socket::Served;

#[rocket::async_test]
async fn a_passkey_is_added_on_the_page_and_signs_in_alone() {
    if !browser_available() {
        return;
    }
    let served = Served::start_on_localhost(&[]).await;
    let chrome = Chrome::start(1280).await;
    let authenticator = chrome.add_virtual_authenticator().await;

    sign_up(&chrome, &served, "alice").await;
    chrome.goto(&served.url("/account/passkeys")).await;
    assert!(
        chrome
            .text("main")
            .await
            .contains("You have no passkeys yet.")
    );
    chrome.type_into("#passkey-name", "This laptop").await;
    chrome
        .submit("form[data-passkey-add] button[type=submit]")
        .await;

    assert!(chrome.url().await.ends_with("/account/passkeys"));
    let listed = chrome.text("main table").await;
    assert!(listed.contains("This laptop"), "{listed}");
    assert!(chrome.text(".flash").await.contains("was added"));
    assert_eq!(chrome.virtual_credentials(&authenticator).await, 1);
    let problems = super::pages::check_here(&chrome, "user", "/account/passkeys one").await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The button, in a browser that offers no passkeys in the username
    // field (so nothing but the click can sign in).
    let no_offer = chrome
        .cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": "PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);" }),
        )
        .await;
    sign_out(&chrome).await;
    chrome.goto(&served.url("/login")).await;
    chrome
        .wait_for("return !document.querySelector('[data-passkey-sign-in]').hidden;")
        .await;
    chrome.submit("#passkey-sign-in").await;

    assert!(
        chrome.url().await.ends_with("/account"),
        "{}",
        chrome.url().await
    );
    assert!(chrome.text(".flash").await.contains("Signed in as alice"));
    chrome.goto(&served.url("/account/security")).await;
    assert!(
        chrome
            .text("main")
            .await
            .contains("Signed in with a passkey")
    );

    // The browser's own offer in the username field (conditional
    // mediation), which Chromium's virtual authenticator accepts at once.
    chrome
        .cdp(
            "Page.removeScriptToEvaluateOnNewDocument",
            json!({ "identifier": no_offer["identifier"] }),
        )
        .await;
    sign_out(&chrome).await;
    chrome.goto(&served.url("/login")).await;
    chrome
        .wait_for("return location.pathname === '/account';")
        .await;
    assert!(chrome.text(".flash").await.contains("Signed in as alice"));
}

#[rocket::async_test]
async fn in_a_browser_without_webauthn_the_passkey_button_stays_hidden() {
    if !browser_available() {
        return;
    }
    let served = Served::start_on_localhost(&[]).await;
    let chrome = Chrome::start(390).await;

    chrome.goto(&served.url("/login")).await;
    // A browser without WebAuthn: the script finds no PublicKeyCredential.
    chrome
        .run(
            "delete window.PublicKeyCredential; document.querySelector('[data-passkey-sign-in]').hidden = true; \
             const s = document.createElement('script'); s.src = document.querySelector('script[src*=passkeys]').src; \
             document.body.appendChild(s); return true;",
            json!([]),
        )
        .await;
    chrome
        .wait_for("return document.readyState === 'complete';")
        .await;

    let hidden = chrome
        .run(
            "return document.querySelector('[data-passkey-sign-in]').hidden;",
            json!([]),
        )
        .await;
    assert_eq!(hidden.as_bool(), Some(true));
}
