//! A same-site single-page app: JSON sign-in to the `gatehouse_jwt` and
//! `gatehouse_xsrf` cookies, the API with the cookie, `X-CSRF-Token` on
//! unsafe methods, sign-out, sliding renewal; and the refresh and revoke
//! endpoints of API clients.

use rocket::http::{ContentType, Method, Status};
use serde_json::{Value, json};
use time::Duration;

use crate::api::{bearer, token_request};
use crate::helpers::{Browser, PASSWORD, TestApp, TestResponse, app, spawn_app};
use crate::two_factor;

const JWT: &str = "gatehouse_jwt";
const XSRF: &str = "gatehouse_xsrf";

async fn post_json(browser: &Browser<'_>, path: &str, body: &Value) -> TestResponse {
    let body = serde_json::to_vec(body).unwrap();
    browser
        .request(Method::Post, path, Some(ContentType::JSON), Some(body))
        .await
}

/// `POST /api/v1/session` from a fresh browser.
async fn app_sign_in<'a>(app: &'a TestApp, login: &str) -> (Browser<'a>, TestResponse) {
    let browser = app.browser();
    let response = post_json(
        &browser,
        "/api/v1/session",
        &json!({ "login": login, "password": PASSWORD }),
    )
    .await;
    (browser, response)
}

/// A browser whose app is signed in as `username` (signed up first).
async fn signed_in_app<'a>(app: &'a TestApp, username: &str) -> Browser<'a> {
    app.signed_up(username).await;
    let (browser, response) = app_sign_in(app, username).await;
    response.assert_status(Status::Ok);
    browser
}

/// The app's unsafe request, with `X-CSRF-Token` as given.
async fn unsafe_request(
    browser: &Browser<'_>,
    method: Method,
    path: &str,
    xsrf: Option<&str>,
) -> TestResponse {
    match xsrf {
        Some(value) => browser.set_header("X-CSRF-Token", value),
        None => browser.set_header("X-CSRF-Token", ""),
    }
    let response = browser.request(method, path, None, None).await;
    browser.set_header("X-CSRF-Token", "");
    response
}

fn set_cookie<'r>(response: &'r TestResponse, name: &str) -> &'r str {
    response
        .headers_named("Set-Cookie")
        .into_iter()
        .find(|cookie| cookie.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie set"))
}

async fn password_grant(app: &TestApp, username: &str, scope: &str) -> Value {
    let response = token_request(
        app,
        &[
            ("grant_type", "password"),
            ("username", username),
            ("password", PASSWORD),
            ("scope", scope),
        ],
    )
    .await;
    response.assert_status(Status::Ok);
    response.json()
}

async fn refresh(app: &TestApp, token: &str) -> TestResponse {
    token_request(
        app,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

async fn revoke(app: &TestApp, fields: &[(&str, &str)]) -> TestResponse {
    app.browser().post_raw("/api/v1/revoke", fields).await
}

fn text<'v>(body: &'v Value, key: &str) -> &'v str {
    body[key].as_str().unwrap()
}

#[rocket::async_test]
async fn the_app_sign_in_sets_both_cookies_with_their_flags() {
    let app = spawn_app().await;
    app.signed_up("alice").await;

    let (browser, response) = app_sign_in(&app, "alice").await;

    response.assert_status(Status::Ok);
    assert_eq!(response.json()["username"], "alice");
    let jwt = set_cookie(&response, JWT);
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/api"] {
        assert!(jwt.contains(flag), "{jwt}");
    }
    assert!(!jwt.contains("Secure"), "{jwt}");
    let xsrf = set_cookie(&response, XSRF);
    assert!(
        xsrf.contains("SameSite=Strict") && xsrf.contains("Path=/"),
        "{xsrf}"
    );
    assert!(!xsrf.contains("HttpOnly"), "script must read it: {xsrf}");
    assert!(browser.cookie(XSRF).is_some_and(|value| value.len() >= 32));
    let sessions = app.count("sessions WHERE kind = 'api'").await;
    assert_eq!(sessions, 1);
}

#[rocket::async_test]
async fn under_https_both_cookies_are_secure() {
    let app = app()
        .config("public_url", "https://gatehouse.example")
        .spawn()
        .await;
    app.signed_up("alice").await;

    let (_, response) = app_sign_in(&app, "alice").await;

    response.assert_status(Status::Ok);
    assert!(set_cookie(&response, JWT).contains("Secure"));
    assert!(set_cookie(&response, XSRF).contains("Secure"));
}

#[rocket::async_test]
async fn the_cookie_alone_calls_the_api_with_get() {
    let app = spawn_app().await;
    let browser = signed_in_app(&app, "alice").await;

    let response = browser.get("/api/v1/me").await;

    response.assert_status(Status::Ok);
    assert_eq!(response.json()["username"], "alice");
    let sessions = browser.get("/api/v1/sessions").await.json();
    assert_eq!(sessions[0]["current"], true);
}

#[rocket::async_test]
async fn unsafe_methods_with_the_cookie_need_the_matching_header_and_change_nothing_without() {
    let app = spawn_app().await;
    let browser = signed_in_app(&app, "alice").await;
    let other = password_grant(&app, "alice", "read write").await;
    let sessions = browser.get("/api/v1/sessions").await.json();
    let target = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/sessions/{target}");
    let genuine = browser.cookie(XSRF).unwrap();

    for (what, header) in [
        ("no header", None),
        (
            "a wrong header",
            Some("forged-value-forged-value-forged-value-xx"),
        ),
        ("the value with a character changed", Some(&genuine[1..])),
    ] {
        let response = unsafe_request(&browser, Method::Delete, &path, header).await;
        response.assert_status(Status::Forbidden);
        assert_eq!(response.json()["error"], "csrf", "{what}");
        let response = unsafe_request(&browser, Method::Delete, "/api/v1/session", header).await;
        response.assert_status(Status::Forbidden);
    }
    assert_eq!(app.count("sessions").await, 3, "nothing was ended");
    bearer(&app, text(&other, "access_token"))
        .get("/api/v1/me")
        .await
        .assert_status(Status::Ok);

    // A forged cookie and a header that match each other are not enough.
    browser.set_cookie(XSRF, "planted");
    unsafe_request(&browser, Method::Delete, &path, Some("planted"))
        .await
        .assert_status(Status::Forbidden);
    browser.set_cookie(XSRF, &genuine);

    unsafe_request(&browser, Method::Delete, &path, Some(&genuine))
        .await
        .assert_status(Status::NoContent);
    bearer(&app, text(&other, "access_token"))
        .get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
}

#[rocket::async_test]
async fn app_sign_out_ends_the_session_and_the_token_dies() {
    let app = spawn_app().await;
    let browser = signed_in_app(&app, "alice").await;
    let token = browser.cookie(JWT).unwrap();
    let xsrf = browser.cookie(XSRF).unwrap();

    let response = unsafe_request(&browser, Method::Delete, "/api/v1/session", Some(&xsrf)).await;

    response.assert_status(Status::NoContent);
    assert_eq!(browser.cookie(JWT), None);
    assert_eq!(browser.cookie(XSRF), None);
    assert_eq!(app.count("sessions WHERE kind = 'api'").await, 0);
    let thief = app.browser();
    thief.set_cookie(JWT, &token);
    thief
        .get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
    bearer(&app, &token)
        .get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
    assert_eq!(
        app.count("security_events WHERE kind = 'sign_out'").await,
        1
    );
}

#[rocket::async_test]
async fn the_cookie_token_is_renewed_while_the_session_lives_and_not_after() {
    let app = app().config("session_idle_minutes", 30).spawn().await;
    let browser = signed_in_app(&app, "alice").await;
    let first = browser.cookie(JWT).unwrap();

    app.clock.advance(Duration::seconds(300));
    browser.get("/api/v1/me").await.assert_status(Status::Ok);
    assert_eq!(browser.cookie(JWT).unwrap(), first, "young tokens are kept");

    app.clock.advance(Duration::seconds(200));
    browser.get("/api/v1/me").await.assert_status(Status::Ok);
    let second = browser.cookie(JWT).unwrap();
    assert_ne!(second, first, "past half its life, the token is replaced");

    // Longer than a token lives, shorter than the idle limit: still good.
    app.clock.advance(Duration::minutes(20));
    browser.get("/api/v1/me").await.assert_status(Status::Ok);
    assert_ne!(browser.cookie(JWT).unwrap(), second);

    app.clock.advance(Duration::minutes(31));
    browser
        .get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
}

#[rocket::async_test]
async fn a_new_app_sign_in_ends_the_app_session_this_browser_held() {
    let app = spawn_app().await;
    let browser = signed_in_app(&app, "alice").await;
    let first = browser.cookie(JWT).unwrap();

    let response = post_json(
        &browser,
        "/api/v1/session",
        &json!({ "login": "alice", "password": PASSWORD }),
    )
    .await;

    response.assert_status(Status::Ok);
    assert_eq!(app.count("sessions WHERE kind = 'api'").await, 1);
    bearer(&app, &first)
        .get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
}

#[rocket::async_test]
async fn the_app_sign_in_asks_for_the_second_factor() {
    let app = spawn_app().await;
    let page = app.signed_up("alice").await;
    let enabled = two_factor::enable(&app, &page).await;
    app.clock.advance(Duration::seconds(30));

    let (without, response) = app_sign_in(&app, "alice").await;
    response.assert_status(Status::BadRequest);
    assert!(text(&response.json(), "message").contains("otp"));
    assert_eq!(without.cookie(JWT), None);

    let browser = app.browser();
    let wrong = json!({ "login": "alice", "password": PASSWORD, "otp": "000000" });
    let response = post_json(&browser, "/api/v1/session", &wrong).await;
    response.assert_status(Status::BadRequest);
    assert_eq!(browser.cookie(JWT), None);

    let code = two_factor::code(&enabled.secret, two_factor::now(&app));
    let right = json!({ "login": "alice", "password": PASSWORD, "otp": code });
    let response = post_json(&browser, "/api/v1/session", &right).await;
    response.assert_status(Status::Ok);
    assert_eq!(response.json()["two_factor"], true);
    browser.get("/api/v1/me").await.assert_status(Status::Ok);
}

#[rocket::async_test]
async fn the_app_sign_in_has_the_forms_limits() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let browser = app.browser();
    let wrong = json!({ "login": "alice", "password": "not the password" });
    for _ in 0..5 {
        post_json(&browser, "/api/v1/session", &wrong)
            .await
            .assert_status(Status::BadRequest);
    }

    let (locked_out, response) = app_sign_in(&app, "alice").await;

    response.assert_status(Status::TooManyRequests);
    assert!(response.header("Retry-After").is_some());
    assert_eq!(locked_out.cookie(JWT), None);
    assert_eq!(app.count("sessions WHERE kind = 'api'").await, 0);
}

#[rocket::async_test]
async fn a_cross_site_app_sign_in_is_refused() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let browser = app.browser();
    browser.set_header("Origin", "https://evil.example");

    let response = post_json(
        &browser,
        "/api/v1/session",
        &json!({ "login": "alice", "password": PASSWORD }),
    )
    .await;

    response.assert_status(Status::Forbidden);
    assert_eq!(response.json()["error"], "cross_site");
    assert_eq!(browser.cookie(JWT), None);
    assert_eq!(app.count("sessions WHERE kind = 'api'").await, 0);
}

#[rocket::async_test]
async fn bad_app_sign_in_bodies_get_a_4xx_and_sign_nobody_in() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let browser = app.browser();
    let long = "a".repeat(300);
    let cases: Vec<(&str, Vec<u8>, ContentType, Status)> = vec![
        (
            "a NUL in the login",
            serde_json::to_vec(&json!({ "login": "ali\u{0}ce", "password": PASSWORD })).unwrap(),
            ContentType::JSON,
            Status::BadRequest,
        ),
        (
            "a line break in the password",
            serde_json::to_vec(&json!({ "login": "alice", "password": "a\nb" })).unwrap(),
            ContentType::JSON,
            Status::BadRequest,
        ),
        (
            "an overlong login",
            serde_json::to_vec(&json!({ "login": long, "password": PASSWORD })).unwrap(),
            ContentType::JSON,
            Status::BadRequest,
        ),
        (
            "a missing password",
            br#"{"login": "alice"}"#.to_vec(),
            ContentType::JSON,
            Status::BadRequest,
        ),
        (
            "an unknown field",
            br#"{"login": "alice", "password": "x", "admin": true}"#.to_vec(),
            ContentType::JSON,
            Status::BadRequest,
        ),
        (
            "not JSON",
            b"{login: alice".to_vec(),
            ContentType::JSON,
            Status::BadRequest,
        ),
        (
            "a JSON array",
            b"[1, 2]".to_vec(),
            ContentType::JSON,
            Status::BadRequest,
        ),
        (
            "a body over 64 KiB",
            format!(
                r#"{{"login": "alice", "password": "{}"}}"#,
                "x".repeat(70_000)
            )
            .into_bytes(),
            ContentType::JSON,
            Status::PayloadTooLarge,
        ),
        (
            "a form",
            b"login=alice&password=x".to_vec(),
            ContentType::Form,
            Status::UnsupportedMediaType,
        ),
    ];
    for (what, body, kind, status) in cases {
        let response = browser
            .request(Method::Post, "/api/v1/session", Some(kind), Some(body))
            .await;
        assert_eq!(response.status, status, "{what}: {}", response.body);
        assert!(response.json()["error"].is_string(), "{what}");
    }
    assert_eq!(browser.cookie(JWT), None);
    assert_eq!(app.count("sessions WHERE kind = 'api'").await, 0);
}

#[rocket::async_test]
async fn a_forged_or_foreign_cookie_token_is_refused() {
    let app = spawn_app().await;
    let other = spawn_app().await;
    other.signed_up("alice").await;
    let (foreign, _) = app_sign_in(&other, "alice").await;
    app.signed_up("alice").await;

    let browser = app.browser();
    browser.set_cookie(JWT, &foreign.cookie(JWT).unwrap());
    browser
        .get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
    browser.set_cookie(JWT, "not.a.token");
    browser
        .get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
}

#[rocket::async_test]
async fn the_password_grant_returns_a_refresh_token_that_rotates() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let granted = password_grant(&app, "alice", "read write").await;
    let first = text(&granted, "refresh_token");

    let response = refresh(&app, first).await;

    response.assert_status(Status::Ok);
    assert_eq!(response.header("Cache-Control"), Some("no-store"));
    let renewed = response.json();
    assert_eq!(renewed["token_type"], "Bearer");
    assert_eq!(renewed["scope"], "read write");
    let second = text(&renewed, "refresh_token");
    assert_ne!(second, first);
    bearer(&app, text(&renewed, "access_token"))
        .get("/api/v1/me")
        .await
        .assert_status(Status::Ok);
    let stored = app.stored_text().await;
    assert!(!stored.contains(first) && !stored.contains(second));
    let third = refresh(&app, second).await;
    third.assert_status(Status::Ok);
    let sessions = app.count("sessions WHERE kind = 'api'").await;
    assert_eq!(sessions, 1, "one session throughout");
}

#[rocket::async_test]
async fn a_reused_refresh_token_ends_the_whole_session() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let granted = password_grant(&app, "alice", "read write").await;
    let stolen = text(&granted, "refresh_token").to_owned();
    let renewed = refresh(&app, &stolen).await.json();

    let response = refresh(&app, &stolen).await;

    response.assert_status(Status::BadRequest);
    assert_eq!(response.json()["error"], "invalid_grant");
    for token in [
        text(&renewed, "access_token"),
        text(&granted, "access_token"),
    ] {
        bearer(&app, token)
            .get("/api/v1/me")
            .await
            .assert_status(Status::Unauthorized);
    }
    refresh(&app, text(&renewed, "refresh_token"))
        .await
        .assert_status(Status::BadRequest);
    assert_eq!(app.count("sessions WHERE kind = 'api'").await, 0);
    assert_eq!(app.count("refresh_tokens").await, 0);
    let reused = "security_events WHERE kind = 'session_revoked' AND detail LIKE '%reused%'";
    assert_eq!(app.count(reused).await, 1);
}

#[rocket::async_test]
async fn a_refresh_keeps_or_narrows_the_scopes_and_never_widens_them() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let read_only = password_grant(&app, "alice", "read").await;

    let widened = token_request(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", text(&read_only, "refresh_token")),
            ("scope", "read write"),
        ],
    )
    .await;

    widened.assert_status(Status::BadRequest);
    assert_eq!(widened.json()["error"], "invalid_scope");
    let kept = refresh(&app, text(&read_only, "refresh_token")).await;
    kept.assert_status(Status::Ok);
    assert_eq!(kept.json()["scope"], "read");
}

#[rocket::async_test]
async fn a_refresh_token_lives_only_as_long_as_its_session() {
    let app = app().config("session_idle_minutes", 30).spawn().await;
    let browser = app.signed_up("alice").await;
    let granted = password_grant(&app, "alice", "read write").await;
    browser
        .submit("/account/sessions/revoke-others", &[("password", PASSWORD)])
        .await;
    let response = refresh(&app, text(&granted, "refresh_token")).await;
    response.assert_status(Status::BadRequest);
    assert_eq!(response.json()["error"], "invalid_grant");

    let granted = password_grant(&app, "alice", "read write").await;
    app.clock.advance(Duration::minutes(31));
    refresh(&app, text(&granted, "refresh_token"))
        .await
        .assert_status(Status::BadRequest);
}

#[rocket::async_test]
async fn revoking_an_access_token_ends_its_session_and_its_refresh_token() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let granted = password_grant(&app, "alice", "read write").await;
    let access = text(&granted, "access_token");

    let response = revoke(
        &app,
        &[("token", access), ("token_type_hint", "access_token")],
    )
    .await;

    response.assert_status(Status::Ok);
    bearer(&app, access)
        .get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
    refresh(&app, text(&granted, "refresh_token"))
        .await
        .assert_status(Status::BadRequest);
}

#[rocket::async_test]
async fn revoking_a_refresh_token_ends_its_session_and_its_access_token() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let granted = password_grant(&app, "alice", "read write").await;

    // The wrong hint is only where to look first.
    let fields = [
        ("token", text(&granted, "refresh_token")),
        ("token_type_hint", "access_token"),
    ];
    revoke(&app, &fields).await.assert_status(Status::Ok);

    bearer(&app, text(&granted, "access_token"))
        .get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
    assert_eq!(app.count("sessions WHERE kind = 'api'").await, 0);
    let events = "security_events WHERE kind = 'session_revoked' AND detail LIKE '%revocation%'";
    assert_eq!(app.count(events).await, 1);
}

#[rocket::async_test]
async fn revoking_unknown_tokens_is_ok_and_bad_requests_are_4xx() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let granted = password_grant(&app, "alice", "read write").await;

    for token in ["unknown", "a.b.c", &"x".repeat(5000)] {
        revoke(&app, &[("token", token)])
            .await
            .assert_status(Status::Ok);
    }
    revoke(&app, &[("token", "x"), ("token_type_hint", "id_token")])
        .await
        .assert_status(Status::Ok);
    let missing = revoke(&app, &[]).await;
    missing.assert_status(Status::BadRequest);
    assert_eq!(missing.json()["error"], "invalid_request");
    revoke(&app, &[("token", "a\u{0}b")])
        .await
        .assert_status(Status::BadRequest);
    let cross = app.browser();
    cross.set_header("Origin", "https://evil.example");
    cross
        .post_raw(
            "/api/v1/revoke",
            &[("token", text(&granted, "access_token"))],
        )
        .await
        .assert_status(Status::Forbidden);
    bearer(&app, text(&granted, "access_token"))
        .get("/api/v1/me")
        .await
        .assert_status(Status::Ok);
}

#[rocket::async_test]
async fn refresh_grant_requests_with_bad_fields_are_refused() {
    let app = spawn_app().await;

    for fields in [
        vec![("grant_type", "refresh_token")],
        vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", "a\u{7f}b"),
        ],
        vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", "unknown"),
        ],
        vec![("grant_type", "client_credentials")],
    ] {
        let response = token_request(&app, &fields).await;
        response.assert_status(Status::BadRequest);
        assert!(response.json()["error"].is_string());
    }
}

#[rocket::async_test]
async fn a_password_change_ends_the_apps_cookie_and_the_clients_refresh_token() {
    let app = spawn_app().await;
    let page = app.signed_up("alice").await;
    let (spa, response) = app_sign_in(&app, "alice").await;
    response.assert_status(Status::Ok);
    let granted = password_grant(&app, "alice", "read write").await;

    page.submit(
        "/account/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", "an entirely new passphrase 42"),
        ],
    )
    .await
    .assert_redirect("/account");

    spa.get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
    let response = refresh(&app, text(&granted, "refresh_token")).await;
    response.assert_status(Status::BadRequest);
    assert_eq!(response.json()["error"], "invalid_grant");
    bearer(&app, text(&granted, "access_token"))
        .get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
}

#[rocket::async_test]
async fn staff_ending_all_sessions_ends_the_apps_cookie_and_refresh_tokens() {
    let app = app().config("staff_require_2fa", false).spawn().await;
    let admin = app.signed_up("root").await;
    app.execute("UPDATE users SET is_staff = true WHERE username = 'root'")
        .await;
    app.signed_up("alice").await;
    let (spa, _) = app_sign_in(&app, "alice").await;
    let granted = password_grant(&app, "alice", "read write").await;
    let staff_token = crate::api::token_for(&app, "root").await;
    let alice_id = bearer(&app, &staff_token)
        .get("/api/v1/users?q=alice")
        .await
        .json()["users"][0]["id"]
        .as_i64()
        .unwrap();

    let response = admin
        .submit(&format!("/admin/users/{alice_id}/sessions/revoke"), &[])
        .await;

    assert!(response.status.code < 400, "{}", response.status);
    spa.get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
    refresh(&app, text(&granted, "refresh_token"))
        .await
        .assert_status(Status::BadRequest);
}

#[rocket::async_test]
async fn a_sign_out_without_one_good_credential_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let granted = password_grant(&app, "alice", "read write").await;
    let token = text(&granted, "access_token");

    for key in ["", "gh_not_a_key"] {
        let both = bearer(&app, token);
        both.set_header("X-API-Key", key);
        let response = both
            .request(Method::Delete, "/api/v1/session", None, None)
            .await;
        response.assert_status(Status::Unauthorized);
        assert_eq!(response.json()["error"], "invalid_request");
    }
    let anonymous = app.browser();
    anonymous
        .request(Method::Delete, "/api/v1/session", None, None)
        .await
        .assert_status(Status::Unauthorized);
    bearer(&app, "not.a.token")
        .request(Method::Delete, "/api/v1/session", None, None)
        .await
        .assert_status(Status::Unauthorized);
    bearer(&app, token)
        .get("/api/v1/me")
        .await
        .assert_status(Status::Ok);
}
