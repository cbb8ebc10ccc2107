//! Headers, limits and malformed input: every bad request gets a clear
//! answer and changes nothing.

use rocket::http::{ContentType, Method, Status};

use crate::helpers::{PASSWORD, app, encode, spawn_app};

#[rocket::async_test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let browser = app.browser();

    for path in [
        "/",
        "/login",
        "/nothing-here",
        "/static/css/gatehouse.css",
        "/health",
        "/api/v1/x",
    ] {
        let response = browser.get(path).await;
        let csp = response
            .header("Content-Security-Policy")
            .unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert!(csp.contains("default-src 'none'"), "{path}");
        assert!(
            csp.contains("script-src 'self';") && !csp.contains("unsafe-inline"),
            "{path}"
        );
        assert_eq!(
            response.header("X-Content-Type-Options"),
            Some("nosniff"),
            "{path}"
        );
        assert!(response.header("Referrer-Policy").is_some(), "{path}");
        assert!(
            response.header("Strict-Transport-Security").is_none(),
            "plain http: {path}"
        );
    }
}

#[rocket::async_test]
async fn signed_in_pages_are_never_cached() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;

    assert_eq!(
        browser.get("/account").await.header("Cache-Control"),
        Some("no-store")
    );
    assert_eq!(
        browser.get("/").await.header("Cache-Control"),
        Some("no-store")
    );
}

#[rocket::async_test]
async fn over_https_cookies_are_secure_host_prefixed_and_hsts_is_sent() {
    let app = app()
        .config("public_url", "https://id.example.com")
        .spawn()
        .await;
    let browser = app.browser();

    let response = browser.signup("alice", "alice@example.com", PASSWORD).await;

    response.assert_redirect("/account");
    let cookies = response.headers_named("Set-Cookie");
    let session = cookies
        .iter()
        .find(|c| c.starts_with("__Host-gatehouse_session="))
        .expect("a __Host- session cookie");
    assert!(
        session.contains("Secure") && session.contains("Path=/") && !session.contains("Domain")
    );
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("__Host-gatehouse_csrf=") && c.contains("Secure"))
    );
    let flash = cookies
        .iter()
        .find(|c| c.starts_with("_flash="))
        .expect("the welcome message");
    assert!(
        flash.contains("; HttpOnly") && flash.contains("; Secure"),
        "{flash}"
    );
    assert!(
        response
            .header("Strict-Transport-Security")
            .unwrap()
            .starts_with("max-age=31536000")
    );
    assert!(browser.is_signed_in().await);
}

#[rocket::async_test]
async fn a_body_over_64_kib_gets_413_and_changes_nothing() {
    let app = spawn_app().await;
    let browser = app.browser();
    let token = browser.csrf_token().await;
    let padding = "x".repeat(70 * 1024);

    let response = browser
        .post_raw(
            "/signup",
            &[
                ("username", "alice"),
                ("email", "alice@example.com"),
                ("password", PASSWORD),
                ("csrf_token", &token),
                ("pad", &padding),
            ],
        )
        .await;

    response.assert_status(Status::PayloadTooLarge);
    assert!(response.body.contains("too large"));
    assert_eq!(app.count("users").await, 0);
}

#[rocket::async_test]
async fn a_body_that_is_not_utf8_gets_400() {
    let app = spawn_app().await;
    let browser = app.browser();
    let token = browser.csrf_token().await;

    let mut raw = format!("csrf_token={token}&username=al").into_bytes();
    raw.extend_from_slice(&[0xff, 0xfe]);
    raw.extend_from_slice(b"&email=a%40b.co&password=x");
    let response = browser
        .request(Method::Post, "/signup", Some(ContentType::Form), Some(raw))
        .await;
    response.assert_status(Status::BadRequest);

    let escaped = format!("csrf_token={token}&username=al%FF%FE&email=a%40b.co");
    let response = browser
        .request(
            Method::Post,
            "/signup",
            Some(ContentType::Form),
            Some(escaped.into_bytes()),
        )
        .await;
    response.assert_status(Status::BadRequest);
    assert_eq!(app.count("users").await, 0);
}

#[rocket::async_test]
async fn a_form_route_refuses_other_content_types() {
    let app = spawn_app().await;
    let browser = app.browser();
    let token = browser.csrf_token().await;

    let body = format!(
        r#"{{"username":"alice","email":"alice@example.com","password":"{PASSWORD}","csrf_token":"{token}"}}"#
    );
    let response = browser
        .request(
            Method::Post,
            "/signup",
            Some(ContentType::JSON),
            Some(body.into_bytes()),
        )
        .await;

    response.assert_status(Status::UnsupportedMediaType);
    assert_eq!(app.count("users").await, 0);
}

#[rocket::async_test]
async fn credentials_in_the_url_are_ignored() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let browser = app.browser();
    let token = browser.csrf_token().await;
    let query = encode(&[("login", "alice"), ("password", PASSWORD)]);

    let response = browser
        .post_raw(&format!("/login?{query}"), &[("csrf_token", &token)])
        .await;

    response.assert_status(Status::Unauthorized);
    assert!(!browser.is_signed_in().await);
}

#[rocket::async_test]
async fn malformed_field_values_are_a_clear_error() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let browser = app.browser();
    let token = browser.csrf_token().await;

    let response = browser
        .post_raw(
            "/login",
            &[
                ("login", "alice"),
                ("password", PASSWORD),
                ("remember", "maybe"),
                ("csrf_token", &token),
            ],
        )
        .await;

    response.assert_status(Status::UnprocessableEntity);
    assert!(!browser.is_signed_in().await);
}

#[rocket::async_test]
async fn health_reports_ok_after_a_database_round_trip_and_503_without_one() {
    let app = spawn_app().await;
    let browser = app.browser();

    let response = browser.get("/health").await;
    response.assert_status(Status::Ok);
    assert_eq!(response.json(), serde_json::json!({ "status": "ok" }));

    app.db.close_by_ref().await.unwrap();
    let response = browser.get("/health").await;
    response.assert_status(Status::ServiceUnavailable);
}

/// Values of `next` that once gave a 500 after the sign-in was recorded.
pub const UNCLEAN_NEXTS: [&str; 9] = [
    "/a<b", "/ü", "/a\"b", "/a{b", "/a^b", "/a`b", "/a|b", "/a#b#c", "/a%zz",
];

#[rocket::async_test]
async fn an_unclean_next_signs_in_to_the_account_page() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let page = app.browser().get("/login?next=/a%3Cb").await;
    page.assert_status(Status::Ok);
    assert!(
        !page.body.contains("a&lt;b"),
        "an unclean next is not carried"
    );

    for next in UNCLEAN_NEXTS {
        let browser = app.browser();
        browser
            .submit(
                "/login",
                &[("login", "alice"), ("password", PASSWORD), ("next", next)],
            )
            .await
            .assert_redirect("/account");
        assert!(browser.is_signed_in().await, "{next}");
    }
}

#[rocket::async_test]
async fn an_unclean_next_survives_the_second_step_as_the_account_page() {
    use crate::two_factor::{code, enable, now};
    let app = spawn_app().await;
    let owner = app.signed_up("alice").await;
    let enabled = enable(&app, &owner).await;

    for next in ["/ü", "/a<b", "/a#b#c"] {
        // Each sign-in needs a code from a step not used before.
        app.clock.advance(time::Duration::seconds(30));
        let browser = app.browser();
        browser
            .submit(
                "/login",
                &[("login", "alice"), ("password", PASSWORD), ("next", next)],
            )
            .await
            .assert_redirect("/login/2fa");
        browser
            .submit("/login/2fa", &[("code", &code(&enabled.secret, now(&app)))])
            .await
            .assert_redirect("/account");
        assert!(browser.is_signed_in().await, "{next}");
    }
}

#[rocket::async_test]
async fn flash_messages_are_out_of_reach_of_scripts() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    // A failed attempt from elsewhere is reported, with its address, at
    // the next sign-in: that message travels in the flash cookie.
    app.browser().login("alice", "wrong password!").await;

    let response = app.browser().login("alice", PASSWORD).await;

    response.assert_redirect("/account");
    let flash = response
        .headers_named("Set-Cookie")
        .into_iter()
        .find(|c| c.starts_with("_flash="))
        .expect("a flash message")
        .to_owned();
    assert!(flash.contains("; HttpOnly"), "{flash}");
    assert!(
        !flash.contains("; Secure"),
        "plain http keeps it usable: {flash}"
    );
}

#[rocket::async_test]
async fn the_token_endpoint_refuses_cross_site_requests_so_pages_elsewhere_cannot_lock_an_account()
{
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let wrong = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", "not the password at all"),
    ];
    let right = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", PASSWORD),
    ];

    for attempt in 0..8 {
        let attacker = app.browser();
        attacker.set_remote(&format!("203.0.113.{}:4000", attempt + 1));
        if attempt % 2 == 0 {
            attacker.set_header("Origin", "https://evil.example");
        } else {
            attacker.set_header("Sec-Fetch-Site", "cross-site");
        }
        let refused = attacker.post_raw("/api/v1/token", &wrong).await;
        refused.assert_status(Status::Forbidden);
        assert_eq!(refused.json()["error"], "cross_site");
        // Not even the right password passes from another site.
        attacker
            .post_raw("/api/v1/token", &right)
            .await
            .assert_status(Status::Forbidden);
    }

    crate::api::token_request(&app, &right)
        .await
        .assert_status(Status::Ok);
    let same_site = app.browser();
    same_site.set_header("Origin", "http://127.0.0.1:8000");
    same_site
        .post_raw("/api/v1/token", &right)
        .await
        .assert_status(Status::Ok);
}

#[rocket::async_test]
async fn the_token_endpoints_answer_without_otp_does_not_confirm_the_password() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    crate::two_factor::enable(&app, &browser).await;
    let answer = |password: &'static str, otp: Option<&'static str>| {
        let app = &app;
        async move {
            let mut fields = vec![
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", password),
            ];
            fields.extend(otp.map(|otp| ("otp", otp)));
            let response = crate::api::token_request(app, &fields).await;
            response.assert_status(Status::BadRequest);
            response.body
        }
    };

    let right_no_otp = answer(PASSWORD, None).await;
    let wrong_no_otp = answer("not the password at all", None).await;
    let right_wrong_otp = answer(PASSWORD, Some("000000")).await;

    assert_eq!(right_no_otp, wrong_no_otp);
    assert_eq!(right_no_otp, right_wrong_otp);
    let json: serde_json::Value = serde_json::from_str(&right_no_otp).unwrap();
    assert_eq!(json["error"], "invalid_grant");
    assert!(
        json["error_description"]
            .as_str()
            .unwrap()
            .contains("`otp`")
    );
}
