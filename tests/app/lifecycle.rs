//! The account lifecycle over HTTP, reading the mail from the outbox:
//! verification modes, change of address, notices, deletion, export, and
//! a superuser's reset of someone's two-factor authentication.

use gatehouse::email::entity::{self, Entity as Outbox};
use rocket::http::Status;
use sea_orm::{EntityTrait, QueryOrder};
use time::Duration;

use crate::api_keys::create_key;
use crate::helpers::{Browser, OutboxDir, PASSWORD, TestApp, app, encode};
use crate::oauth_provider::ProviderUser;
use crate::two_factor::{code, enable, now};

async fn spawn_with(key: &str, value: &str) -> (TestApp, OutboxDir) {
    let dir = OutboxDir::new();
    let app = app()
        .config("email.outbox_dir", &dir.0)
        .config("staff_require_2fa", false)
        .config(key, value)
        .spawn()
        .await;
    (app, dir)
}

async fn spawn() -> (TestApp, OutboxDir) {
    spawn_with("site_name", "Gatehouse").await
}

async fn messages(app: &TestApp) -> Vec<entity::Model> {
    Outbox::find()
        .order_by_asc(entity::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

/// Messages queued since the first `before`.
async fn since(app: &TestApp, before: usize) -> Vec<entity::Model> {
    messages(app).await.split_off(before)
}

/// The path of the confirmation link in `text`.
fn confirm_path(text: &str) -> String {
    let start = text
        .find("http://127.0.0.1:8000/email/confirm/")
        .unwrap_or_else(|| panic!("no confirmation link in {text}"));
    let link = text[start..].split_whitespace().next().unwrap();
    link.trim_start_matches("http://127.0.0.1:8000").to_owned()
}

async fn press_confirm(browser: &Browser<'_>, path: &str) -> crate::helpers::TestResponse {
    let token = browser.csrf_token_from("/password/forgot").await;
    browser.post_raw(path, &[("csrf_token", &token)]).await
}

async fn email_of(app: &TestApp, username: &str) -> String {
    gatehouse::accounts::entity::find_by_login(&app.db, username)
        .await
        .unwrap()
        .unwrap()
        .email
}

async fn ask_change(
    browser: &Browser<'_>,
    email: &str,
    password: &str,
) -> crate::helpers::TestResponse {
    browser
        .submit(
            "/account/email",
            &[("email", email), ("password", password)],
        )
        .await
}

#[rocket::async_test]
async fn mandatory_verification_signs_up_without_signing_in_and_refuses_sign_in_until_confirmed() {
    let (app, _dir) = spawn_with("email_verification", "mandatory").await;
    let browser = app.browser();
    browser
        .signup("alice", "alice@example.com", PASSWORD)
        .await
        .assert_redirect("/login");
    assert!(!browser.is_signed_in().await);
    assert_eq!(app.count("sessions").await, 0);
    let sent = messages(&app).await;
    assert_eq!(sent.len(), 1, "the link, queued with the account");
    assert_eq!(sent[0].to_address, "alice@example.com");
    let link = confirm_path(&sent[0].body_text);

    // A wrong password learns nothing about verification.
    let wrong = browser.login("alice", "not the password at all").await;
    assert!(
        wrong
            .body
            .contains("Incorrect username, email or password.")
    );
    assert!(!wrong.body.contains("resend-verification"));

    let refused = browser.login("alice", PASSWORD).await;
    refused.assert_status(Status::Unauthorized);
    assert!(refused.body.contains("Confirm your email address first"));
    assert!(refused.body.contains(r#"id="resend-verification""#));
    assert_eq!(app.count("sessions").await, 0);

    // The button sends the link again; a stranger's browser sends nothing.
    browser
        .submit("/account/email/resend", &[])
        .await
        .assert_redirect("/login");
    assert_eq!(messages(&app).await.len(), 2);
    app.browser()
        .submit("/account/email/resend", &[])
        .await
        .assert_redirect("/login");
    assert_eq!(messages(&app).await.len(), 2);

    // The token endpoint refuses too, after the right password only.
    let api = app
        .client
        .post("/api/v1/token")
        .header(rocket::http::ContentType::Form)
        .body(encode(&[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", PASSWORD),
        ]))
        .dispatch()
        .await;
    assert_eq!(api.status(), Status::BadRequest);
    let body = api.into_string().await.unwrap();
    assert!(
        body.contains("invalid_grant") && body.contains("Confirm your email"),
        "{body}"
    );

    press_confirm(&app.browser(), &link)
        .await
        .assert_redirect("/account");
    browser
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
}

#[rocket::async_test]
async fn with_verification_off_sign_up_sends_no_mail_and_the_page_does_not_ask() {
    let (app, _dir) = spawn_with("email_verification", "off").await;
    let browser = app.signed_up("alice").await;
    assert!(messages(&app).await.is_empty());
    let page = browser.get("/account").await;
    assert!(
        !page.body.contains("account-email-verified"),
        "{}",
        page.body
    );
    browser
        .submit("/account/email/resend", &[])
        .await
        .assert_redirect("/account");
    assert!(messages(&app).await.is_empty());
}

#[rocket::async_test]
async fn a_change_of_address_needs_the_password_and_the_link_and_tells_the_old_address() {
    let (app, _dir) = spawn().await;
    let browser = app.signed_up("alice").await;
    let signup_link = confirm_path(&messages(&app).await[0].body_text);
    let before = messages(&app).await.len();

    // Wrong password, malformed or unchanged address, control characters,
    // a missing CSRF token: refused, nothing sent.
    let wrong = ask_change(&browser, "new@example.com", "not my password").await;
    wrong.assert_status(Status::UnprocessableEntity);
    assert!(wrong.body.contains("That password is not correct."));
    assert!(wrong.body.contains(r#"value="new@example.com""#));
    ask_change(&browser, "not an address", PASSWORD)
        .await
        .assert_status(Status::UnprocessableEntity);
    ask_change(&browser, "ALICE@example.com", PASSWORD)
        .await
        .assert_status(Status::UnprocessableEntity);
    let control = ask_change(&browser, "new\u{0}@example.com", PASSWORD).await;
    assert!(control.status.code >= 400 && control.status.code < 500);
    browser
        .post_raw(
            "/account/email",
            &[("email", "new@example.com"), ("password", PASSWORD)],
        )
        .await
        .assert_status(Status::Forbidden);
    assert_eq!(messages(&app).await.len(), before);

    ask_change(&browser, "new@example.com", PASSWORD)
        .await
        .assert_redirect("/account");
    let sent = since(&app, before).await;
    assert_eq!(sent.len(), 2);
    let link_mail = sent
        .iter()
        .find(|m| m.to_address == "new@example.com")
        .unwrap();
    let notice = sent
        .iter()
        .find(|m| m.to_address == "alice@example.com")
        .unwrap();
    assert_eq!(
        notice.subject,
        "Gatehouse: a change of email address was requested"
    );
    assert!(
        !notice.body_text.contains("/email/confirm/"),
        "no link to the old address"
    );
    let link = confirm_path(&link_mail.body_text);
    assert_eq!(email_of(&app, "alice").await, "alice@example.com");

    // The page shows the new address and changes nothing.
    let page = app.browser().get(&link).await;
    page.assert_status(Status::Ok);
    assert!(page.body.contains("new@example.com"));
    assert_eq!(email_of(&app, "alice").await, "alice@example.com");

    let before = messages(&app).await.len();
    press_confirm(&app.browser(), &link)
        .await
        .assert_redirect("/account");
    assert_eq!(email_of(&app, "alice").await, "new@example.com");
    assert_eq!(
        app.count("users WHERE email_verified_at IS NOT NULL").await,
        1
    );
    let told = since(&app, before).await;
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].to_address, "alice@example.com");
    assert_eq!(told[0].subject, "Gatehouse: your email address was changed");

    // Used once; the sign-up link sent to the old address is void.
    press_confirm(&app.browser(), &link)
        .await
        .assert_status(Status::BadRequest);
    press_confirm(&app.browser(), &signup_link)
        .await
        .assert_status(Status::BadRequest);
    assert_eq!(email_of(&app, "alice").await, "new@example.com");
    app.browser()
        .login("new@example.com", PASSWORD)
        .await
        .assert_redirect("/account");
    let log = browser.get("/account/security").await;
    assert!(
        log.body
            .contains("Email address changed from alice@example.com to new@example.com")
    );
}

#[rocket::async_test]
async fn a_change_link_dies_with_a_password_change_and_a_taken_address_is_not_revealed() {
    let (app, _dir) = spawn().await;
    let alice = app.signed_up("alice").await;
    app.signed_up("bob").await;

    // An address that belongs to bob: the same answer, no mail to bob.
    let before = messages(&app).await.len();
    let taken = ask_change(&alice, "bob@example.com", PASSWORD).await;
    let free = ask_change(&alice, "free@example.com", PASSWORD).await;
    taken.assert_redirect("/account");
    free.assert_redirect("/account");
    let sent = since(&app, before).await;
    assert!(sent.iter().all(|m| m.to_address != "bob@example.com"));
    assert_eq!(sent.len(), 3, "two notices, one link");
    let link = confirm_path(
        &sent
            .iter()
            .find(|m| m.to_address == "free@example.com")
            .unwrap()
            .body_text,
    );

    // Someone takes the address before alice confirms: nothing changes.
    app.signed_up("free").await;
    press_confirm(&app.browser(), &link)
        .await
        .assert_status(Status::BadRequest);
    assert_eq!(email_of(&app, "alice").await, "alice@example.com");

    // A link sent before the password changed is void.
    let before = messages(&app).await.len();
    ask_change(&alice, "other@example.com", PASSWORD)
        .await
        .assert_redirect("/account");
    let link = confirm_path(
        &since(&app, before)
            .await
            .iter()
            .find(|m| m.to_address == "other@example.com")
            .unwrap()
            .body_text,
    );
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
    press_confirm(&app.browser(), &link)
        .await
        .assert_status(Status::BadRequest);
    assert_eq!(email_of(&app, "alice").await, "alice@example.com");

    // A link older than `email_link_hours` is refused.
    let before = messages(&app).await.len();
    ask_change(&alice, "late@example.com", "another long passphrase here")
        .await
        .assert_redirect("/account");
    let late = confirm_path(
        &since(&app, before)
            .await
            .iter()
            .find(|m| m.to_address == "late@example.com")
            .unwrap()
            .body_text,
    );
    app.clock.advance(Duration::hours(25));
    app.browser()
        .get(&late)
        .await
        .assert_status(Status::BadRequest);
    press_confirm(&app.browser(), &late)
        .await
        .assert_status(Status::BadRequest);
    assert_eq!(email_of(&app, "alice").await, "alice@example.com");
    alice
        .login("alice", "another long passphrase here")
        .await
        .assert_redirect("/account");

    // At most three links an hour.
    for address in ["a1@example.com", "a2@example.com", "a3@example.com"] {
        ask_change(&alice, address, "another long passphrase here").await;
    }
    let before = messages(&app).await.len();
    let capped = ask_change(&alice, "a4@example.com", "another long passphrase here").await;
    capped.assert_redirect("/account");
    assert_eq!(messages(&app).await.len(), before, "capped: nothing sent");
}

#[rocket::async_test]
async fn notices_tell_the_holder_of_each_change_without_secrets() {
    let (app, _dir) = spawn().await;
    let browser = app.signed_up("alice").await;
    let mut seen = messages(&app).await.len();
    let mut next_notice = async |subject: &str| {
        let sent = since(&app, seen).await;
        seen += sent.len();
        assert_eq!(sent.len(), 1, "one notice for {subject}: {sent:?}");
        assert_eq!(sent[0].to_address, "alice@example.com");
        assert_eq!(sent[0].subject, format!("Gatehouse: {subject}"));
        sent[0].body_text.clone()
    };

    let key = create_key(&browser, "deploy bot", &["read"], "30").await;
    let body = next_notice("a new API key was created").await;
    assert!(body.contains("deploy bot") && !body.contains(&key));

    let enabled = enable(&app, &browser).await;
    let body = next_notice("two-factor authentication turned on").await;
    assert!(!body.contains(&enabled.secret));
    assert!(enabled.codes.iter().all(|c| !body.contains(c.as_str())));

    let other = app.browser();
    other
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/login/2fa");
    other
        .submit("/login/2fa", &[("code", &enabled.codes[0])])
        .await
        .assert_redirect("/account");
    let body = next_notice("a recovery code was used").await;
    assert!(body.contains("9 unused codes") && !body.contains(&enabled.codes[0]));

    app.clock.advance(Duration::seconds(31));
    browser
        .submit(
            "/account/2fa/disable",
            &[
                ("password", PASSWORD),
                ("code", &code(&enabled.secret, now(&app))),
            ],
        )
        .await
        .assert_redirect("/account/2fa");
    next_notice("two-factor authentication turned off").await;

    let new_password = "another long passphrase here";
    browser
        .submit(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", new_password),
            ],
        )
        .await
        .assert_redirect("/account");
    let body = next_notice("your password was changed").await;
    assert!(!body.contains(new_password));
    assert!(body.contains("http://127.0.0.1:8000/account/security"));
}

async fn delete(
    browser: &Browser<'_>,
    confirm: &str,
    password: &str,
) -> crate::helpers::TestResponse {
    browser
        .submit(
            "/account/delete",
            &[("confirm", confirm), ("password", password)],
        )
        .await
}

#[rocket::async_test]
async fn deleting_the_account_needs_the_typed_username_and_password_and_leaves_a_notice() {
    let (app, _dir) = spawn().await;
    let browser = app.signed_up("alice").await;
    let elsewhere = app.browser();
    elsewhere
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
    create_key(&browser, "ci", &["read"], "").await;
    app.signed_up("bob").await;
    let before = messages(&app).await.len();

    let both = delete(&browser, "alicia", "wrong password here").await;
    both.assert_status(Status::UnprocessableEntity);
    assert!(both.body.contains("Type your username exactly"));
    assert!(both.body.contains("That password is not correct."));
    delete(&browser, "alice", "wrong password here")
        .await
        .assert_status(Status::UnprocessableEntity);
    delete(&browser, "bob", PASSWORD)
        .await
        .assert_status(Status::UnprocessableEntity);
    delete(&browser, "alice\u{7}", PASSWORD)
        .await
        .assert_status(Status::UnprocessableEntity);
    browser
        .post_raw(
            "/account/delete",
            &[("confirm", "alice"), ("password", PASSWORD)],
        )
        .await
        .assert_status(Status::Forbidden);
    assert_eq!(app.count("users").await, 2);
    assert_eq!(messages(&app).await.len(), before);

    let done = delete(&browser, "alice", PASSWORD).await;
    done.assert_redirect("/");
    assert_eq!(app.count("users").await, 1, "bob stays");
    assert_eq!(app.count("api_keys").await, 0);
    assert_eq!(
        app.count("sessions WHERE user_id NOT IN (SELECT id FROM users)")
            .await,
        0
    );
    assert!(!browser.is_signed_in().await);
    assert!(!elsewhere.is_signed_in().await);
    let sent = since(&app, before).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to_address, "alice@example.com");
    assert_eq!(sent[0].subject, "Gatehouse: your account was deleted");
    let again = app.browser().login("alice", PASSWORD).await;
    assert!(
        again
            .body
            .contains("Incorrect username, email or password.")
    );
}

#[rocket::async_test]
async fn the_last_superuser_cannot_delete_their_own_account() {
    let (app, _dir) = spawn().await;
    let root = app.signed_up("root").await;
    app.execute("UPDATE users SET is_staff = true, is_superuser = true WHERE username = 'root'")
        .await;
    let refused = delete(&root, "root", PASSWORD).await;
    refused.assert_status(Status::Conflict);
    assert!(refused.body.contains("last active superuser"));
    assert_eq!(app.count("users").await, 1);

    app.signed_up("other").await;
    app.execute("UPDATE users SET is_staff = true, is_superuser = true WHERE username = 'other'")
        .await;
    delete(&root, "root", PASSWORD).await.assert_redirect("/");
    assert_eq!(app.count("users").await, 1);
}

#[rocket::async_test]
async fn the_export_is_a_json_download_without_secrets_behind_a_recent_sign_in() {
    let (app, _dir) = spawn().await;
    let browser = app.signed_up("alice").await;
    let key = create_key(&browser, "ci", &["read", "write"], "90").await;
    let enabled = enable(&app, &browser).await;

    let download = browser.get("/account/export").await;
    download.assert_status(Status::Ok);
    assert_eq!(
        download.header("Content-Disposition"),
        Some("attachment; filename=\"alice-data.json\"")
    );
    assert!(
        download
            .header("Content-Type")
            .unwrap()
            .starts_with("application/json")
    );
    let data = download.json();
    assert_eq!(data["profile"]["username"], "alice");
    assert_eq!(data["profile"]["email"], "alice@example.com");
    assert_eq!(data["two_factor"]["enabled"], true);
    assert_eq!(data["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(data["api_keys"][0]["name"], "ci");
    assert!(key.starts_with(data["api_keys"][0]["prefix"].as_str().unwrap()));
    assert!(!data["security_log"].as_array().unwrap().is_empty());
    for secret in [
        key.as_str(),
        enabled.secret.as_str(),
        "$argon2",
        "token_hash",
        "key_hash",
    ] {
        assert!(!download.body.contains(secret), "{secret} leaked");
    }
    assert!(
        enabled
            .codes
            .iter()
            .all(|c| !download.body.contains(c.as_str()))
    );

    // A session idle past the reauthentication window confirms first.
    app.clock.advance(Duration::minutes(11));
    let stale = browser.get("/account/export").await;
    assert_eq!(stale.status, Status::SeeOther);
    assert!(
        stale
            .header("Location")
            .unwrap()
            .starts_with("/account/confirm")
    );
    app.browser()
        .get("/account/export")
        .await
        .assert_status(Status::SeeOther);
}

async fn user_id(app: &TestApp, name: &str) -> i32 {
    gatehouse::accounts::entity::find_by_login(&app.db, name)
        .await
        .unwrap()
        .unwrap()
        .id
}

#[rocket::async_test]
async fn a_superuser_turns_off_someones_two_factor_ends_their_sessions_and_emails_them() {
    let (app, _dir) = spawn().await;
    let bob = app.signed_up("bob").await;
    enable(&app, &bob).await;
    let root = app.signed_up("root").await;
    app.execute("UPDATE users SET is_staff = true, is_superuser = true WHERE username = 'root'")
        .await;
    let staffer = app.signed_up("staffer").await;
    app.execute("UPDATE users SET is_staff = true WHERE username = 'staffer'")
        .await;
    let id = user_id(&app, "bob").await;
    let path = format!("/admin/users/{id}/2fa/reset");
    let before = messages(&app).await.len();

    staffer
        .submit(&path, &[])
        .await
        .assert_status(Status::Forbidden);
    root.post_raw(&path, &[])
        .await
        .assert_status(Status::Forbidden);
    root.submit("/admin/users/999999/2fa/reset", &[])
        .await
        .assert_status(Status::NotFound);
    assert_eq!(
        app.count("users WHERE totp_enabled_at IS NOT NULL").await,
        1
    );
    assert_eq!(messages(&app).await.len(), before);

    root.submit(&path, &[])
        .await
        .assert_redirect(&format!("/admin/users/{id}"));
    assert_eq!(
        app.count("users WHERE totp_enabled_at IS NOT NULL").await,
        0
    );
    assert_eq!(
        app.count(&format!("recovery_codes WHERE user_id = {id}"))
            .await,
        0
    );
    assert!(!bob.is_signed_in().await);
    let sent = since(&app, before).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to_address, "bob@example.com");
    assert_eq!(
        sent[0].subject,
        "Gatehouse: two-factor authentication turned off by staff"
    );
    let root_id = user_id(&app, "root").await;
    assert_eq!(
        app.count(&format!("security_events WHERE user_id = {id} AND kind = 'two_factor_reset' AND actor_id = {root_id}")).await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "security_events WHERE user_id = {root_id} AND kind = 'two_factor_reset_of_account'"
        ))
        .await,
        1
    );
    // Already off: a clear refusal, nothing sent.
    root.submit(&path, &[])
        .await
        .assert_status(Status::Conflict);
    assert_eq!(messages(&app).await.len(), before + 1);
    bob.login("bob", PASSWORD).await.assert_redirect("/account");
}

#[rocket::async_test]
async fn a_provider_verified_address_counts_as_verified_and_any_other_gets_a_link() {
    let (app, provider) =
        crate::oauth::setup_with(|builder| builder.config("email_verification", "mandatory")).await;
    // The profile's address, with no word on verification: a link, and in
    // mandatory mode no sign-in until it is confirmed.
    provider.sign_in_as(ProviderUser::new(1, "plain", "plain@example.com"));
    let browser = app.browser();
    crate::oauth::login_with_provider(&browser, &provider)
        .await
        .assert_redirect("/login");
    assert!(!browser.is_signed_in().await);
    let sent = messages(&app).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to_address, "plain@example.com");
    press_confirm(&app.browser(), &confirm_path(&sent[0].body_text))
        .await
        .assert_redirect("/account");
    crate::oauth::login_with_provider(&browser, &provider)
        .await
        .assert_redirect("/account");

    // GitHub's primary verified address: verified at once, no mail.
    provider.sign_in_as(ProviderUser {
        id: 2,
        login: "vouched".to_owned(),
        email: None,
        emails: vec![("vouched@example.com".to_owned(), true, true)],
    });
    let other = app.browser();
    crate::oauth::login_with_provider(&other, &provider)
        .await
        .assert_redirect("/account");
    assert_eq!(messages(&app).await.len(), 1);
    assert_eq!(
        app.count("users WHERE email_verified_at IS NOT NULL").await,
        2
    );
}
