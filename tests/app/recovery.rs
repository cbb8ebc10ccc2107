//! Password reset by email, driven as a person and an attacker would:
//! the forgot form, the link read from the outbox (and from the delivered
//! file), and every way a link must fail.

use std::path::PathBuf;
use std::time::Duration as StdDuration;

use gatehouse::email::entity::{self, Entity as Outbox};
use rocket::http::Status;
use sea_orm::{EntityTrait, QueryOrder};
use time::Duration;

use crate::helpers::{Browser, OutboxDir, PASSWORD, TestApp, app};

const NEW_PASSWORD: &str = "a brand new and long passphrase";

/// An app whose file outbox is a fresh directory of its own.
async fn spawn() -> (TestApp, OutboxDir) {
    let dir = OutboxDir::new();
    let app = app().config("email.outbox_dir", &dir.0).spawn().await;
    (app, dir)
}

async fn messages(app: &TestApp) -> Vec<entity::Model> {
    Outbox::find()
        .order_by_asc(entity::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

/// The reset mails among `messages` (sign-up queues a verification mail).
async fn resets(app: &TestApp) -> Vec<entity::Model> {
    let mut all = messages(app).await;
    all.retain(|m| m.subject.ends_with("reset your password"));
    all
}

/// The path of the reset link in `text` (built from `public_url`).
fn reset_path(text: &str) -> String {
    let start = text
        .find("http://127.0.0.1:8000/password/reset/")
        .unwrap_or_else(|| panic!("no reset link in {text}"));
    let link = text[start..].split_whitespace().next().unwrap();
    link.trim_start_matches("http://127.0.0.1:8000").to_owned()
}

async fn ask_for_reset<'a>(browser: &Browser<'a>, email: &str) -> crate::helpers::TestResponse {
    let token = browser.csrf_token_from("/password/forgot").await;
    browser
        .post_raw(
            "/password/forgot",
            &[("email", email), ("csrf_token", &token)],
        )
        .await
}

/// Asks for a reset of `email` and returns the link's path from the mail.
async fn reset_link(app: &TestApp, email: &str) -> String {
    let before = messages(app).await.len();
    ask_for_reset(&app.browser(), email)
        .await
        .assert_status(Status::Ok);
    let all = messages(app).await;
    assert_eq!(all.len(), before + 1, "one message queued");
    reset_path(&all[before].body_text)
}

async fn use_link(
    browser: &Browser<'_>,
    path: &str,
    password: &str,
) -> crate::helpers::TestResponse {
    let token = browser.csrf_token_from("/password/forgot").await;
    browser
        .post_raw(path, &[("new_password", password), ("csrf_token", &token)])
        .await
}

#[rocket::async_test]
async fn known_and_unknown_addresses_get_the_same_page_and_only_the_known_one_gets_mail() {
    let (app, _dir) = spawn().await;
    app.signed_up("alice").await;
    let browser = app.browser();

    // Every answer takes at least the same floor, so its timing does not
    // tell a known address either.
    let started = std::time::Instant::now();
    let known = ask_for_reset(&browser, "alice@example.com").await;
    assert!(started.elapsed() >= StdDuration::from_millis(250));
    let started = std::time::Instant::now();
    let unknown = ask_for_reset(&browser, "nobody@example.com").await;
    assert!(started.elapsed() >= StdDuration::from_millis(250));
    let username = ask_for_reset(&browser, "alice").await;

    known.assert_status(Status::Ok);
    assert_eq!(unknown.status, known.status);
    assert_eq!(username.status, known.status);
    let without_token = |body: &str| {
        body.lines()
            .filter(|line| !line.contains("csrf_token"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(without_token(&unknown.body), without_token(&known.body));
    assert_eq!(without_token(&username.body), without_token(&known.body));
    assert!(known.body.contains("If an account uses that address"));
    let sent = resets(&app).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to_address, "alice@example.com");
    assert_eq!(sent[0].subject, "Gatehouse: reset your password");
    // Only an HMAC of the token is stored.
    let path = reset_path(&sent[0].body_text);
    let token = path.rsplit('/').next().unwrap();
    assert!(token.len() >= 43, "{token}");
    let stored = app.stored_text().await;
    assert!(!stored.replace(&sent[0].body_text, "").contains(token));
}

#[rocket::async_test]
async fn the_sign_in_page_links_to_the_forgot_form() {
    let (app, _dir) = spawn().await;
    let page = app.browser().get("/login").await;
    assert!(page.body.contains(r#"href="/password/forgot""#));
    app.browser()
        .get("/password/forgot")
        .await
        .assert_status(Status::Ok);
}

#[rocket::async_test]
async fn the_delivered_link_resets_the_password_once_and_never_signs_in() {
    let (app, dir) = spawn().await;
    app.signed_up("alice").await;
    ask_for_reset(&app.browser(), "alice@example.com")
        .await
        .assert_status(Status::Ok);
    // The worker writes the message to the file outbox.
    let start = std::time::Instant::now();
    let text = loop {
        let files: Vec<PathBuf> = std::fs::read_dir(&dir.0)
            .map(|entries| entries.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        // The body is quoted-printable: a long line (the link) is cut
        // with soft breaks, which a mail reader joins again.
        let mut texts = files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "eml"))
            .map(|f| std::fs::read_to_string(f).unwrap().replace("=\r\n", ""));
        if let Some(text) = texts.find(|t| t.contains("/password/reset/")) {
            break text;
        }
        assert!(start.elapsed() < StdDuration::from_secs(5), "no message");
        rocket::tokio::time::sleep(StdDuration::from_millis(20)).await;
    };
    assert!(
        text.contains("Subject: Gatehouse: reset your password"),
        "{text}"
    );
    let path = reset_path(&text);

    let browser = app.browser();
    let form = browser.get(&path).await;
    form.assert_status(Status::Ok);
    assert!(form.body.contains("new_password"));
    // A GET changes nothing: the link still works after it.
    browser.get(&path).await.assert_status(Status::Ok);
    use_link(&browser, &path, NEW_PASSWORD)
        .await
        .assert_redirect("/login");
    assert!(!browser.is_signed_in().await);
    let login = browser.get("/login").await;
    assert!(
        login.body.contains("Your password was reset"),
        "{}",
        login.body
    );

    // Used once: both the page and the form now refuse it.
    let again = browser.get(&path).await;
    again.assert_status(Status::BadRequest);
    assert!(again.body.contains(r#"href="/password/forgot""#));
    use_link(&browser, &path, "yet another long passphrase")
        .await
        .assert_status(Status::BadRequest);

    let old = app.browser();
    old.login("alice", PASSWORD)
        .await
        .assert_status(Status::Unauthorized);
    let new = app.browser();
    new.login("alice", NEW_PASSWORD)
        .await
        .assert_redirect("/account");
    let notice = messages(&app).await;
    let notice = notice.last().unwrap();
    assert_eq!(notice.subject, "Gatehouse: your password was reset");
    assert!(!notice.body_text.contains("/password/reset/"));
    assert_eq!(
        app.count("security_events WHERE kind = 'password_reset'")
            .await,
        1
    );
}

#[rocket::async_test]
async fn a_reset_ends_every_session_token_and_api_key_of_the_account() {
    let (app, _dir) = spawn().await;
    let browser = app.signed_up("alice").await;
    let key = crate::api_keys::create_key(&browser, "script", &["read"], "90").await;
    let token = crate::api::token_for(&app, "alice").await;
    crate::api::bearer(&app, &token)
        .get("/api/v1/me")
        .await
        .assert_status(Status::Ok);

    let path = reset_link(&app, "alice@example.com").await;
    use_link(&app.browser(), &path, NEW_PASSWORD)
        .await
        .assert_redirect("/login");

    assert!(!browser.is_signed_in().await);
    crate::api::bearer(&app, &token)
        .get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
    crate::api::client(&app, "X-API-Key", &key)
        .get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
    // A new credential version, so a sign-in that raced the reset with the
    // old password made a session that is already dead.
    assert_eq!(app.count("users WHERE credential_version = 0").await, 0);
}

#[rocket::async_test]
async fn two_factor_is_still_asked_after_a_reset() {
    let (app, _dir) = spawn().await;
    let browser = app.signed_up("alice").await;
    crate::two_factor::enable(&app, &browser).await;

    let path = reset_link(&app, "alice@example.com").await;
    let reset = app.browser();
    use_link(&reset, &path, NEW_PASSWORD)
        .await
        .assert_redirect("/login");
    assert!(!reset.is_signed_in().await);
    reset
        .login("alice", NEW_PASSWORD)
        .await
        .assert_redirect("/login/2fa");
}

#[rocket::async_test]
async fn an_expired_a_forged_and_a_malformed_link_get_400_and_change_nothing() {
    let (app, _dir) = spawn().await;
    app.signed_up("alice").await;
    let path = reset_link(&app, "alice@example.com").await;
    let browser = app.browser();

    let forged = format!("/password/reset/{}", "A".repeat(43));
    for bad in [
        forged.as_str(),
        "/password/reset/short",
        "/password/reset/%00%FF",
        "/password/reset/..%2F..%2Fetc",
    ] {
        browser.get(bad).await.assert_status(Status::BadRequest);
        use_link(&browser, bad, NEW_PASSWORD)
            .await
            .assert_status(Status::BadRequest);
    }

    app.clock.advance(Duration::minutes(31));
    browser.get(&path).await.assert_status(Status::BadRequest);
    use_link(&browser, &path, NEW_PASSWORD)
        .await
        .assert_status(Status::BadRequest);
    app.browser()
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
}

#[rocket::async_test]
async fn a_link_is_void_once_the_password_changes_and_a_reset_voids_the_others() {
    let (app, _dir) = spawn().await;
    let browser = app.signed_up("alice").await;
    let first = reset_link(&app, "alice@example.com").await;
    browser
        .submit(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
            ],
        )
        .await
        .assert_redirect("/account");
    use_link(&app.browser(), &first, "yet another long passphrase")
        .await
        .assert_status(Status::BadRequest);

    let second = reset_link(&app, "alice@example.com").await;
    let third = reset_link(&app, "alice@example.com").await;
    use_link(&app.browser(), &third, "yet another long passphrase")
        .await
        .assert_redirect("/login");
    app.browser()
        .get(&second)
        .await
        .assert_status(Status::BadRequest);
}

#[rocket::async_test]
async fn a_weak_new_password_is_refused_and_the_link_still_works() {
    let (app, _dir) = spawn().await;
    app.signed_up("alice").await;
    let path = reset_link(&app, "alice@example.com").await;
    let browser = app.browser();
    let weak = use_link(&browser, &path, "short").await;
    weak.assert_status(Status::UnprocessableEntity);
    assert!(weak.body.contains("aria-invalid"), "{}", weak.body);
    use_link(&browser, &path, NEW_PASSWORD)
        .await
        .assert_redirect("/login");
}

#[rocket::async_test]
async fn an_address_gets_at_most_three_reset_mails_an_hour_with_the_same_answer() {
    let (app, _dir) = spawn().await;
    app.signed_up("alice").await;
    let browser = app.browser();
    let first = ask_for_reset(&browser, "alice@example.com").await;
    for _ in 0..4 {
        let again = ask_for_reset(&browser, "ALICE@example.com").await;
        assert_eq!(again.status, first.status);
    }
    assert_eq!(resets(&app).await.len(), 3);
    app.clock.advance(Duration::minutes(61));
    ask_for_reset(&browser, "alice@example.com")
        .await
        .assert_status(Status::Ok);
    assert_eq!(resets(&app).await.len(), 4);
}

#[rocket::async_test]
async fn a_client_is_limited_to_password_reset_per_ip_requests() {
    let dir = OutboxDir::new();
    let app = app()
        .config("email.outbox_dir", &dir.0)
        .config("rate_limits.password_reset_per_ip", "2/1h")
        .spawn()
        .await;
    let browser = app.browser();
    for _ in 0..2 {
        ask_for_reset(&browser, "x@example.com")
            .await
            .assert_status(Status::Ok);
    }
    ask_for_reset(&browser, "x@example.com")
        .await
        .assert_status(Status::TooManyRequests);
}

#[rocket::async_test]
async fn staff_email_a_reset_link_that_works_and_is_audited_but_members_cannot() {
    let dir = OutboxDir::new();
    let app = app()
        .config("email.outbox_dir", &dir.0)
        .config("staff_require_2fa", false)
        .spawn()
        .await;
    let member = app.signed_up("alice").await;
    let staff = app.signed_up("staffer").await;
    app.execute("UPDATE users SET is_staff = true WHERE username = 'staffer'")
        .await;
    let alice = gatehouse::accounts::entity::find_by_login(&app.db, "alice")
        .await
        .unwrap()
        .unwrap();
    let action = format!("/admin/users/{}/password-reset", alice.id);

    member
        .submit(&action, &[])
        .await
        .assert_status(Status::Forbidden);
    assert!(resets(&app).await.is_empty());
    // Without the CSRF token, nothing is sent either.
    let forged = staff.post_raw(&action, &[]).await;
    assert!(forged.status.code >= 400 && forged.status.code < 500);
    assert!(resets(&app).await.is_empty());

    let sent = staff.submit(&action, &[]).await;
    sent.assert_redirect(&format!("/admin/users/{}", alice.id));
    let page = staff.get(&format!("/admin/users/{}", alice.id)).await;
    assert!(
        !page.body.contains("/password/reset/"),
        "staff never see the link"
    );
    let mail = resets(&app).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to_address, "alice@example.com");
    assert_eq!(
        app.count("security_events WHERE kind = 'password_reset_sent' AND actor_id IS NOT NULL")
            .await,
        1
    );
    let path = reset_path(&mail[0].body_text);
    use_link(&app.browser(), &path, NEW_PASSWORD)
        .await
        .assert_redirect("/login");
    app.browser()
        .login("alice", NEW_PASSWORD)
        .await
        .assert_redirect("/account");
}

/// The path of the verification link in `text`.
fn confirm_path(text: &str) -> String {
    let start = text
        .find("http://127.0.0.1:8000/email/confirm/")
        .unwrap_or_else(|| panic!("no confirmation link in {text}"));
    let link = text[start..].split_whitespace().next().unwrap();
    link.trim_start_matches("http://127.0.0.1:8000").to_owned()
}

async fn confirm(browser: &Browser<'_>, path: &str) -> crate::helpers::TestResponse {
    let token = browser.csrf_token_from("/password/forgot").await;
    browser.post_raw(path, &[("csrf_token", &token)]).await
}

#[rocket::async_test]
async fn sign_up_sends_a_link_whose_page_changes_nothing_and_whose_button_verifies_once() {
    let (app, _dir) = spawn().await;
    let browser = app.signed_up("alice").await;
    let account = browser.get("/account").await;
    assert!(account.body.contains("Not yet"), "{}", account.body);
    let sent = messages(&app).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to_address, "alice@example.com");
    assert_eq!(sent[0].subject, "Gatehouse: confirm your email address");
    let path = confirm_path(&sent[0].body_text);

    // A mail scanner opening the link verifies nothing.
    let scanner = app.browser();
    let page = scanner.get(&path).await;
    page.assert_status(Status::Ok);
    assert!(page.body.contains("Confirm my address"));
    assert_eq!(
        app.count("users WHERE email_verified_at IS NOT NULL").await,
        0
    );

    // Any browser may press the button: the link is the proof.
    let other = app.browser();
    confirm(&other, &path).await.assert_redirect("/account");
    assert_eq!(
        app.count("users WHERE email_verified_at IS NOT NULL").await,
        1
    );
    let account = browser.get("/account").await;
    assert!(
        account.body.contains(r#"id="account-email-verified">Yes"#),
        "{}",
        account.body
    );

    confirm(&other, &path)
        .await
        .assert_status(Status::BadRequest);
    other.get(&path).await.assert_status(Status::BadRequest);
    let reset_link = format!("/email/confirm/{}", "A".repeat(43));
    other
        .get(&reset_link)
        .await
        .assert_status(Status::BadRequest);
}

#[rocket::async_test]
async fn a_reset_link_does_not_verify_and_a_verification_link_does_not_reset() {
    let (app, _dir) = spawn().await;
    app.signed_up("alice").await;
    let verify = confirm_path(&messages(&app).await[0].body_text);
    let reset = reset_link(&app, "alice@example.com").await;
    let verify_token = verify.rsplit('/').next().unwrap();
    let reset_token = reset.rsplit('/').next().unwrap();
    let browser = app.browser();
    browser
        .get(&format!("/password/reset/{verify_token}"))
        .await
        .assert_status(Status::BadRequest);
    confirm(&browser, &format!("/email/confirm/{reset_token}"))
        .await
        .assert_status(Status::BadRequest);
    assert_eq!(
        app.count("users WHERE email_verified_at IS NOT NULL").await,
        0
    );
}

#[rocket::async_test]
async fn the_link_can_be_sent_again_at_most_three_times_an_hour_and_expires() {
    let (app, _dir) = spawn().await;
    let browser = app.signed_up("alice").await;
    let first = confirm_path(&messages(&app).await[0].body_text);
    for _ in 0..3 {
        browser
            .submit("/account/email/resend", &[])
            .await
            .assert_redirect("/account");
    }
    assert_eq!(messages(&app).await.len(), 3, "sign-up's and two more");
    // Without a session there is nothing to resend.
    let stranger = app.browser();
    let refused = stranger.submit("/account/email/resend", &[]).await;
    assert_ne!(refused.status, Status::Ok);
    assert_eq!(messages(&app).await.len(), 3);

    app.clock.advance(Duration::hours(25));
    confirm(&app.browser(), &first)
        .await
        .assert_status(Status::BadRequest);
    // The session has idled out by now too: sign in again.
    browser
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
    browser
        .submit("/account/email/resend", &[])
        .await
        .assert_redirect("/account");
    let all = messages(&app).await;
    assert_eq!(all.len(), 4);
    let fresh = confirm_path(&all[3].body_text);
    confirm(&app.browser(), &fresh)
        .await
        .assert_redirect("/account");
}
