//! The reauthentication window: sensitive actions from a session that has
//! not signed in or confirmed within `reauth_minutes` go to
//! `/account/confirm` first and change nothing.

use rocket::http::Status;
use serde_json::json;
use time::Duration;

use crate::helpers::{Browser, PASSWORD, TestApp, app};
use crate::oauth::{link_provider, octocat_signed_in, setup_with, via_provider};
use crate::two_factor::{self, code};

const SITE: &str = "http://127.0.0.1:8000";

async fn short_window() -> TestApp {
    app()
        .config("reauth_minutes", 1)
        .config("staff_require_2fa", false)
        .spawn()
        .await
}

/// Moves the app's clock past the one-minute window.
fn go_stale(app: &TestApp) {
    app.clock.advance(Duration::minutes(2));
}

/// Submits a form as the browser would from `page` (its `Referer`).
async fn submit_from(
    browser: &Browser<'_>,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> crate::helpers::TestResponse {
    browser.set_header("Referer", &format!("{SITE}{page}"));
    browser.submit(action, fields).await
}

fn confirm_for(next: &str) -> String {
    format!(
        "/account/confirm?next={}",
        rocket::http::RawStr::new(next).percent_encode()
    )
}

async fn confirm(browser: &Browser<'_>, fields: &[(&str, &str)]) -> crate::helpers::TestResponse {
    browser.submit("/account/confirm", fields).await
}

async fn user_id(app: &TestApp, name: &str) -> i32 {
    gatehouse::accounts::entity::find_by_login(&app.db, name)
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn create_key(browser: &Browser<'_>) -> crate::helpers::TestResponse {
    submit_from(
        browser,
        "/account/api-keys",
        "/account/api-keys",
        &[("name", "ci"), ("scopes", "read")],
    )
    .await
}

#[rocket::async_test]
async fn a_stale_session_is_sent_to_confirm_and_nothing_changes() {
    let app = short_window().await;
    let browser = app.signed_up("alice").await;
    go_stale(&app);

    create_key(&browser)
        .await
        .assert_redirect(&confirm_for("/account/api-keys"));
    submit_from(&browser, "/account/2fa", "/account/2fa/setup", &[])
        .await
        .assert_redirect(&confirm_for("/account/2fa"));
    browser
        .get("/account/2fa/setup")
        .await
        .assert_redirect(&confirm_for("/account/2fa/setup"));
    // Without a page of this site to return to, the confirmation leads
    // back to the account page.
    browser.set_header("Referer", "https://evil.example/account/api-keys");
    browser
        .submit("/account/api-keys", &[("name", "x"), ("scopes", "read")])
        .await
        .assert_redirect("/account/confirm");

    assert_eq!(app.count("api_keys").await, 0);
    assert_eq!(
        app.count("users WHERE totp_secret IS NOT NULL OR totp_pending_secret IS NOT NULL")
            .await,
        0
    );
}

#[rocket::async_test]
async fn confirming_with_the_password_lands_on_next_and_the_action_works() {
    let app = short_window().await;
    let browser = app.signed_up("alice").await;
    go_stale(&app);

    let page = browser.get(&confirm_for("/account/api-keys")).await;
    page.assert_status(Status::Ok);
    assert!(page.body.contains(r#"name="password""#), "{}", page.body);
    assert!(page.body.contains(r#"value="&#x2F;account&#x2F;api-keys""#));
    confirm(
        &browser,
        &[("password", PASSWORD), ("next", "/account/api-keys")],
    )
    .await
    .assert_redirect("/account/api-keys");

    create_key(&browser)
        .await
        .assert_redirect("/account/api-keys");
    assert_eq!(app.count("api_keys").await, 1);
    assert_eq!(
        app.count("security_events WHERE kind = 'reauthenticated'")
            .await,
        1
    );
}

#[rocket::async_test]
async fn a_wrong_password_is_refused_and_counts_against_the_session_not_the_account() {
    let app = short_window().await;
    let browser = app.signed_up("alice").await;
    go_stale(&app);

    for _ in 0..5 {
        let refused = confirm(
            &browser,
            &[
                ("password", "wrong password!"),
                ("next", "/account/api-keys"),
            ],
        )
        .await;
        refused.assert_status(Status::Unauthorized);
        assert!(refused.body.contains("That password is not right."));
        assert!(!refused.body.contains("wrong password!"));
    }
    confirm(&browser, &[("password", PASSWORD), ("next", "/account")])
        .await
        .assert_status(Status::TooManyRequests);
    create_key(&browser)
        .await
        .assert_redirect(&confirm_for("/account/api-keys"));
    assert_eq!(app.count("api_keys").await, 0);
    assert_eq!(
        app.count("security_events WHERE kind = 'reauthentication_failed'")
            .await,
        5
    );

    // The owner, in another browser, is not locked out.
    let owner = app.browser();
    owner
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
    create_key(&owner)
        .await
        .assert_redirect("/account/api-keys");
}

#[rocket::async_test]
async fn a_two_factor_account_confirms_with_a_code() {
    let app = short_window().await;
    let browser = app.signed_up("alice").await;
    let enabled = two_factor::enable(&app, &browser).await;
    go_stale(&app);

    let page = browser.get(&confirm_for("/account/api-keys")).await;
    assert!(page.body.contains(r#"name="code""#), "{}", page.body);
    let wrong = confirm(&browser, &[("code", "000000"), ("next", "/account")]).await;
    wrong.assert_status(Status::Unauthorized);
    // A password is not what a two-factor account confirms with here.
    confirm(&browser, &[("password", PASSWORD), ("next", "/account")])
        .await
        .assert_status(Status::Unauthorized);
    create_key(&browser)
        .await
        .assert_redirect(&confirm_for("/account/api-keys"));

    let right = code(&enabled.secret, two_factor::now(&app));
    confirm(&browser, &[("code", &right), ("next", "/account/api-keys")])
        .await
        .assert_redirect("/account/api-keys");
    create_key(&browser)
        .await
        .assert_redirect("/account/api-keys");
    // The same code cannot confirm twice.
    go_stale(&app);
    confirm(&browser, &[("code", &right), ("next", "/account")])
        .await
        .assert_status(Status::Unauthorized);
    // A recovery code confirms too.
    confirm(
        &browser,
        &[("code", &enabled.codes[0]), ("next", "/account")],
    )
    .await
    .assert_redirect("/account");
}

#[rocket::async_test]
async fn next_forged_to_another_site_lands_on_the_account_page() {
    let app = short_window().await;
    let browser = app.signed_up("alice").await;
    go_stale(&app);

    for forged in ["https://evil.example/", "//evil.example", "/\\evil.example"] {
        let page = browser.get(&confirm_for(forged)).await;
        page.assert_status(Status::Ok);
        assert!(!page.body.contains("evil.example"));
        go_stale(&app);
        confirm(&browser, &[("password", PASSWORD), ("next", forged)])
            .await
            .assert_redirect("/account");
    }
}

#[rocket::async_test]
async fn the_confirm_form_checks_csrf_and_refuses_control_characters() {
    let app = short_window().await;
    let browser = app.signed_up("alice").await;
    go_stale(&app);

    browser
        .post_raw(
            "/account/confirm",
            &[("password", PASSWORD), ("next", "/account")],
        )
        .await
        .assert_status(Status::Forbidden);
    confirm(
        &browser,
        &[("password", "correct\0horse"), ("next", "/account")],
    )
    .await
    .assert_status(Status::UnprocessableEntity);
    confirm(&browser, &[("password", PASSWORD), ("next", "/acc\nount")])
        .await
        .assert_status(Status::UnprocessableEntity);
    create_key(&browser)
        .await
        .assert_redirect(&confirm_for("/account/api-keys"));
    assert_eq!(
        app.count("security_events WHERE kind = 'reauthenticated'")
            .await,
        0
    );
}

#[rocket::async_test]
async fn an_anonymous_visitor_is_sent_to_sign_in() {
    let app = short_window().await;
    let browser = app.browser();
    let response = browser.get("/account/confirm?next=/account").await;
    response.assert_status(Status::SeeOther);
    assert!(response.header("Location").unwrap().starts_with("/login"));
}

#[rocket::async_test]
async fn a_fresh_sign_in_and_a_right_password_elsewhere_count_as_confirmation() {
    let app = short_window().await;
    let browser = app.signed_up("alice").await;
    go_stale(&app);
    browser.logout().await;
    browser
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
    create_key(&browser)
        .await
        .assert_redirect("/account/api-keys");

    go_stale(&app);
    browser
        .submit("/account/sessions/revoke-others", &[("password", PASSWORD)])
        .await
        .assert_status(Status::SeeOther);
    create_key(&browser)
        .await
        .assert_redirect("/account/api-keys");
    assert_eq!(app.count("api_keys").await, 2);
}

#[rocket::async_test]
async fn staff_actions_on_users_need_a_recent_confirmation() {
    let app = short_window().await;
    let root = app.signed_up("root").await;
    app.execute("UPDATE users SET is_superuser = true WHERE username = 'root'")
        .await;
    app.signed_up("target").await;
    let target = user_id(&app, "target").await;
    let sessions_before = app.count("sessions").await;
    let messages_before = app.count("outbox").await;
    go_stale(&app);

    let page = format!("/admin/users/{target}");
    let actions: [(String, Vec<(&str, &str)>); 5] = [
        (format!("{page}/active"), vec![("active", "false")]),
        (format!("{page}/sessions/revoke"), vec![]),
        (format!("{page}/password-reset"), vec![]),
        (format!("{page}/roles"), vec![("is_staff", "true")]),
        (format!("{page}/delete"), vec![("confirm", "target")]),
    ];
    for (action, fields) in &actions {
        submit_from(&root, &page, action, fields)
            .await
            .assert_redirect(&confirm_for(&page));
    }
    let unchanged = app
        .count("users WHERE username = 'target' AND is_active = true AND is_staff = false")
        .await;
    assert_eq!(unchanged, 1);
    assert_eq!(app.count("sessions").await, sessions_before);
    assert_eq!(app.count("outbox").await, messages_before);

    confirm(&root, &[("password", PASSWORD), ("next", &page)])
        .await
        .assert_redirect(&page);
    submit_from(&root, &page, &actions[0].0, &actions[0].1)
        .await
        .assert_redirect(&page);
    assert_eq!(
        app.count("users WHERE username = 'target' AND is_active = false")
            .await,
        1
    );
}

#[rocket::async_test]
async fn an_api_key_cannot_take_a_staff_action_that_needs_a_recent_confirmation() {
    let app = short_window().await;
    let root = app.signed_up("root").await;
    app.execute("UPDATE users SET is_superuser = true WHERE username = 'root'")
        .await;
    app.signed_up("target").await;
    let target = user_id(&app, "target").await;
    let made = submit_from(
        &root,
        "/account/api-keys",
        "/account/api-keys",
        &[("name", "ops"), ("scopes", "read"), ("scopes", "write")],
    )
    .await;
    made.assert_redirect("/account/api-keys");
    let shown = root.get("/account/api-keys").await.body;
    let start = shown.find(r#"id="new-api-key""#).unwrap();
    let start = start + shown[start..].find('>').unwrap() + 1;
    let key = &shown[start..start + shown[start..].find('<').unwrap()];

    let caller = app.browser();
    caller.set_header("X-API-Key", key);
    let refused = caller
        .request(
            rocket::http::Method::Delete,
            &format!("/api/v1/users/{target}"),
            None,
            None,
        )
        .await;
    refused.assert_status(Status::Forbidden);
    assert_eq!(refused.json()["error"], json!("reauthentication_required"));
    assert_eq!(app.count("users WHERE username = 'target'").await, 1);
}

#[rocket::async_test]
async fn a_bearer_token_deletes_a_user_only_within_the_window_of_its_password_grant() {
    let app = short_window().await;
    app.signed_up("root").await;
    app.execute("UPDATE users SET is_superuser = true WHERE username = 'root'")
        .await;
    app.signed_up("first").await;
    app.signed_up("second").await;
    let (first, second) = (user_id(&app, "first").await, user_id(&app, "second").await);
    let token = crate::api::token_for(&app, "root").await;
    let caller = crate::api::client(&app, "Authorization", &format!("Bearer {token}"));
    let delete = |id: i32| {
        let caller = &caller;
        async move {
            caller
                .request(
                    rocket::http::Method::Delete,
                    &format!("/api/v1/users/{id}"),
                    None,
                    None,
                )
                .await
        }
    };

    delete(first).await.assert_status(Status::NoContent);
    assert_eq!(app.count("users WHERE username = 'first'").await, 0);

    // The token itself lives longer than the window; its grant is now stale.
    go_stale(&app);
    let refused = delete(second).await;
    refused.assert_status(Status::Forbidden);
    assert_eq!(refused.json()["error"], json!("reauthentication_required"));
    assert_eq!(app.count("users WHERE username = 'second'").await, 1);
    caller.get("/api/v1/me").await.assert_status(Status::Ok);
}

#[rocket::async_test]
async fn linking_and_unlinking_a_provider_need_a_recent_confirmation() {
    let (app, provider) = setup_with(|builder| builder.config("reauth_minutes", 1)).await;
    let browser = app.signed_up("alice").await;
    go_stale(&app);

    submit_from(&browser, "/account/linked", "/oauth/fake/link", &[])
        .await
        .assert_redirect(&confirm_for("/account/linked"));
    submit_from(&browser, "/account/linked", "/oauth/fake/unlink", &[])
        .await
        .assert_redirect(&confirm_for("/account/linked"));
    assert_eq!(app.count("linked_accounts").await, 0);

    confirm(
        &browser,
        &[("password", PASSWORD), ("next", "/account/linked")],
    )
    .await
    .assert_redirect("/account/linked");
    provider.sign_in_as(crate::oauth_provider::ProviderUser::new(
        7,
        "alice-gh",
        "alice@example.com",
    ));
    let linked = link_provider(&browser, &provider).await;
    linked.assert_status(Status::SeeOther);
    assert_eq!(app.count("linked_accounts").await, 1);
}

#[rocket::async_test]
async fn an_oauth_only_account_sets_a_first_password_only_after_its_provider_vouched_lately() {
    let (app, provider) = setup_with(|builder| builder.config("reauth_minutes", 1)).await;
    let browser = octocat_signed_in(&app, &provider).await;
    go_stale(&app);

    let set = browser
        .submit(
            "/account/password",
            &[
                ("current_password", ""),
                ("new_password", "a brand new password"),
            ],
        )
        .await;
    set.assert_redirect(&confirm_for("/account"));
    assert_eq!(app.count("users WHERE password_hash IS NOT NULL").await, 0);

    // The confirm page offers the provider, and signing in with it again
    // is the confirmation.
    let page = browser.get(&confirm_for("/account")).await;
    assert!(
        page.body.contains("/oauth/fake/login?next=%2Faccount"),
        "{}",
        page.body
    );
    let start = browser.get("/oauth/fake/login?next=/account").await;
    via_provider(&browser, &provider, start)
        .await
        .assert_redirect("/account");
    browser
        .submit(
            "/account/password",
            &[
                ("current_password", ""),
                ("new_password", "a brand new password"),
            ],
        )
        .await
        .assert_redirect("/account");
    assert_eq!(app.count("users WHERE password_hash IS NOT NULL").await, 1);
}
