//! The JSON API: tokens from the password grant, bearer and API-key
//! authentication, scopes, the endpoints, and the OpenAPI document.

use gatehouse::config::AppConfig;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use rocket::http::{ContentType, Method, Status};
use serde_json::{Value, json};
use time::Duration;

use crate::helpers::{Browser, PASSWORD, TestApp, TestResponse, encode as form_encode, spawn_app};

pub async fn token_request(app: &TestApp, fields: &[(&str, &str)]) -> TestResponse {
    app.browser().post_raw("/api/v1/token", fields).await
}

/// A bearer token for `username`, from the token endpoint.
pub async fn token_for(app: &TestApp, username: &str) -> String {
    let response = token_request(
        app,
        &[
            ("grant_type", "password"),
            ("username", username),
            ("password", PASSWORD),
        ],
    )
    .await;
    response.assert_status(Status::Ok);
    response.json()["access_token"].as_str().unwrap().to_owned()
}

/// An API client: no cookies, one credential header.
pub fn client<'a>(app: &'a TestApp, header: &str, value: &str) -> Browser<'a> {
    let client = app.browser();
    client.set_header(header, value);
    client
}

pub fn bearer<'a>(app: &'a TestApp, token: &str) -> Browser<'a> {
    client(app, "Authorization", &format!("Bearer {token}"))
}

fn config(app: &TestApp) -> &AppConfig {
    app.client.rocket().state::<AppConfig>().unwrap()
}

#[track_caller]
fn assert_unauthorized(response: &TestResponse) {
    response.assert_status(Status::Unauthorized);
    assert!(
        response
            .header("WWW-Authenticate")
            .unwrap()
            .starts_with("Bearer realm=\"gatehouse\"")
    );
    assert!(response.json()["error"].is_string());
}

#[rocket::async_test]
async fn the_password_grant_issues_a_token_that_calls_the_api() {
    let app = spawn_app().await;
    app.signed_up("alice").await;

    let response = token_request(
        &app,
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", PASSWORD),
            ("scope", "read write"),
        ],
    )
    .await;

    response.assert_status(Status::Ok);
    assert_eq!(response.header("Cache-Control"), Some("no-store"));
    let body = response.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "read write");
    let token = body["access_token"].as_str().unwrap();
    let me = bearer(&app, token).get("/api/v1/me").await;
    me.assert_status(Status::Ok);
    assert_eq!(
        me.json(),
        json!({
            "id": 1, "username": "alice", "email": "alice@example.com",
            "is_member": false, "is_staff": false, "is_superuser": false, "two_factor": false
        })
    );
}

#[rocket::async_test]
async fn a_token_carries_the_claims_of_spec() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let token = token_for(&app, "alice").await;

    let payload = token.split('.').nth(1).unwrap();
    use base64::Engine as _;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();

    for claim in ["sub", "iat", "exp", "iss", "aud", "jti", "sid", "scope"] {
        assert!(!claims[claim].is_null(), "{claim}");
    }
    assert_eq!(claims["sub"], "1");
    assert_eq!(claims["iss"], "http://127.0.0.1:8000");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "HS256");
}

#[rocket::async_test]
async fn wrong_and_unknown_credentials_get_the_same_invalid_grant() {
    let app = spawn_app().await;
    app.signed_up("alice").await;

    let wrong = token_request(
        &app,
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "nope nope nope"),
        ],
    )
    .await;
    let unknown = token_request(
        &app,
        &[
            ("grant_type", "password"),
            ("username", "nobody"),
            ("password", "nope nope nope"),
        ],
    )
    .await;

    for response in [&wrong, &unknown] {
        response.assert_status(Status::BadRequest);
        assert_eq!(response.json()["error"], "invalid_grant");
    }
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(
        app.count("sessions").await,
        1,
        "only the sign-up's browser session"
    );
}

#[rocket::async_test]
async fn malformed_token_requests_get_rfc_6749_errors() {
    let app = spawn_app().await;
    app.signed_up("alice").await;

    let cases: [(&[(&str, &str)], &str); 6] = [
        (
            &[
                ("grant_type", "client_credentials"),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
            "unsupported_grant_type",
        ),
        (
            &[("username", "alice"), ("password", PASSWORD)],
            "invalid_request",
        ),
        (
            &[("grant_type", "password"), ("password", PASSWORD)],
            "invalid_request",
        ),
        (
            &[("grant_type", "password"), ("username", "alice")],
            "invalid_request",
        ),
        (
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", PASSWORD),
                ("scope", "admin"),
            ],
            "invalid_scope",
        ),
        (
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", PASSWORD),
                ("scope", "read read"),
            ],
            "invalid_scope",
        ),
    ];
    for (fields, error) in cases {
        let response = token_request(&app, fields).await;
        response.assert_status(Status::BadRequest);
        assert_eq!(response.json()["error"], error, "{fields:?}");
        assert!(response.json()["error_description"].is_string());
    }
    // A body in another format is refused as such: see
    // the_token_endpoint_answers_413_for_a_huge_body_and_415_for_json.
    assert_eq!(app.count("sessions").await, 1);
}

#[rocket::async_test]
async fn credentials_in_the_token_url_query_are_ignored() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let query = form_encode(&[
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", PASSWORD),
    ]);

    let response = app
        .browser()
        .post_raw(&format!("/api/v1/token?{query}"), &[])
        .await;

    response.assert_status(Status::BadRequest);
    assert_eq!(response.json()["error"], "invalid_request");
}

#[rocket::async_test]
async fn forged_and_expired_tokens_are_refused() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let genuine = token_for(&app, "alice").await;
    let claims = |overrides: Value| {
        let payload = genuine.split('.').nth(1).unwrap();
        use base64::Engine as _;
        let mut claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        for (key, value) in overrides.as_object().unwrap() {
            claims[key] = value.clone();
        }
        claims
    };
    let key = gatehouse::auth::tokens::signing_key(config(&app));
    let sign = |claims: &Value, key: &[u8]| {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(key),
        )
        .unwrap()
    };
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let parts: Vec<&str> = genuine.split('.').collect();

    let mut flipped = parts[2].to_owned().into_bytes();
    flipped[5] = if flipped[5] == b'A' { b'B' } else { b'A' };
    let forged = [
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                parts[1]
            ),
        ),
        ("guessed key", sign(&claims(json!({})), b"secret")),
        (
            "flipped signature",
            format!(
                "{}.{}.{}",
                parts[0],
                parts[1],
                String::from_utf8(flipped).unwrap()
            ),
        ),
        (
            "changed payload",
            format!(
                "{}.{}.{}",
                parts[0],
                b64(&claims(json!({"sub": "2"}))),
                parts[2]
            ),
        ),
        (
            "wrong audience",
            sign(&claims(json!({"aud": "https://elsewhere.example"})), &key),
        ),
        (
            "wrong issuer",
            sign(&claims(json!({"iss": "https://elsewhere.example"})), &key),
        ),
        (
            "HS512",
            encode(
                &Header::new(Algorithm::HS512),
                &claims(json!({})),
                &EncodingKey::from_secret(&key),
            )
            .unwrap(),
        ),
        (
            "other user, real key",
            sign(&claims(json!({"sub": "2"})), &key),
        ),
        (
            "unknown session",
            sign(
                &claims(json!({"sid": "00000000-0000-0000-0000-000000000000"})),
                &key,
            ),
        ),
        ("garbage", "not.a.token".to_owned()),
        ("huge", "a".repeat(10_000)),
    ];
    for (what, token) in forged {
        let response = bearer(&app, &token).get("/api/v1/me").await;
        assert_eq!(
            response.status,
            Status::Unauthorized,
            "{what}: {}",
            response.body
        );
        assert_eq!(response.json()["error"], "invalid_token", "{what}");
    }

    bearer(&app, &genuine)
        .get("/api/v1/me")
        .await
        .assert_status(Status::Ok);
    app.clock.advance(Duration::seconds(901));
    assert_unauthorized(&bearer(&app, &genuine).get("/api/v1/me").await);
}

#[rocket::async_test]
async fn a_token_from_another_deployment_is_refused() {
    let first = spawn_app().await;
    let second = spawn_app().await;
    first.signed_up("alice").await;
    second.signed_up("alice").await;
    let token = token_for(&first, "alice").await;
    // The second deployment even holds an API session with the token's
    // `sid` for its own alice: only the signature tells them apart.
    token_for(&second, "alice").await;
    let claims = token.split('.').nth(1).unwrap();
    let claims = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims);
    let claims: Value = serde_json::from_slice(&claims.unwrap()).unwrap();
    let sid = claims["sid"].as_str().unwrap();
    second
        .execute(&format!(
            "UPDATE sessions SET public_id = '{sid}' WHERE kind = 'api'"
        ))
        .await;

    assert_unauthorized(&bearer(&second, &token).get("/api/v1/me").await);
    bearer(&first, &token)
        .get("/api/v1/me")
        .await
        .assert_status(Status::Ok);
}

#[rocket::async_test]
async fn revoking_a_tokens_session_revokes_the_token() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let token = token_for(&app, "alice").await;
    let api = bearer(&app, &token);
    let sessions = api.get("/api/v1/sessions").await.json();
    let token_session = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap();
    assert_eq!(token_session["kind"], "api");
    assert_eq!(sessions.as_array().unwrap().len(), 2);

    // A password change ends every other session, tokens included.
    browser
        .submit(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a brand new passphrase"),
            ],
        )
        .await
        .assert_redirect("/account");

    assert_unauthorized(&api.get("/api/v1/me").await);
}

#[rocket::async_test]
async fn a_token_can_end_its_own_and_other_sessions_but_not_another_users() {
    let app = spawn_app().await;
    let alice_browser = app.signed_up("alice").await;
    let bob_browser = app.signed_up("bob").await;
    let alice = bearer(&app, &token_for(&app, "alice").await);
    let bob_session_id = bearer(&app, &token_for(&app, "bob").await)
        .get("/api/v1/sessions")
        .await
        .json()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let theirs = alice
        .request(
            Method::Delete,
            &format!("/api/v1/sessions/{bob_session_id}"),
            None,
            None,
        )
        .await;
    theirs.assert_status(Status::NotFound);
    assert_eq!(theirs.json()["error"], "not_found");
    let nothing = alice
        .request(Method::Delete, "/api/v1/sessions/no-such-id", None, None)
        .await;
    nothing.assert_status(Status::NotFound);
    assert!(bob_browser.is_signed_in().await);

    let sessions = alice.get("/api/v1/sessions").await.json();
    let browser_id = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "browser")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    alice
        .request(
            Method::Delete,
            &format!("/api/v1/sessions/{browser_id}"),
            None,
            None,
        )
        .await
        .assert_status(Status::NoContent);
    assert!(!alice_browser.is_signed_in().await);
}

#[rocket::async_test]
async fn cookies_are_not_accepted_under_api() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;

    let response = browser.get("/api/v1/me").await;

    assert_unauthorized(&response);
    assert_eq!(response.json()["error"], "unauthorized");
}

#[rocket::async_test]
async fn a_malformed_authorization_header_is_refused_not_ignored() {
    let app = spawn_app().await;

    for value in ["Basic YWxpY2U6cHc=", "Bearer", "Token abc"] {
        let response = client(&app, "Authorization", value).get("/api/v1/me").await;
        assert_unauthorized(&response);
    }
}

#[rocket::async_test]
async fn staff_endpoints_need_staff_and_deleting_needs_a_superuser() {
    let app = crate::helpers::app()
        .config("staff_require_2fa", false)
        .spawn()
        .await;
    for name in ["plain", "staffer", "root", "carol"] {
        app.signed_up(name).await;
    }
    app.execute("UPDATE users SET is_staff = true WHERE username = 'staffer'")
        .await;
    app.execute("UPDATE users SET is_superuser = true WHERE username = 'root'")
        .await;
    let plain = bearer(&app, &token_for(&app, "plain").await);
    let staff = bearer(&app, &token_for(&app, "staffer").await);
    let root = bearer(&app, &token_for(&app, "root").await);

    let refused = plain.get("/api/v1/users").await;
    refused.assert_status(Status::Forbidden);
    assert_eq!(refused.json()["error"], "forbidden");

    let found = staff.get("/api/v1/users?q=CAR").await;
    found.assert_status(Status::Ok);
    let body = found.json();
    assert_eq!(body["total"], 1);
    assert_eq!(body["users"][0]["username"], "carol");
    assert_eq!(
        staff.get("/api/v1/users?q=%25").await.json()["total"],
        0,
        "% is literal"
    );
    assert_eq!(staff.get("/api/v1/users").await.json()["total"], 4);

    staff
        .request(Method::Delete, "/api/v1/users/4", None, None)
        .await
        .assert_status(Status::Forbidden);
    root.request(Method::Delete, "/api/v1/users/3", None, None)
        .await
        .assert_status(Status::Conflict);
    root.request(Method::Delete, "/api/v1/users/99", None, None)
        .await
        .assert_status(Status::NotFound);
    root.request(Method::Delete, "/api/v1/users/4", None, None)
        .await
        .assert_status(Status::NoContent);
    assert_eq!(app.count("users").await, 3);
    assert_eq!(staff.get("/api/v1/users?q=carol").await.json()["total"], 0);
}

#[rocket::async_test]
async fn users_are_paged_25_at_a_time() {
    let app = crate::helpers::app()
        .config("staff_require_2fa", false)
        .spawn()
        .await;
    app.signed_up("staffer").await;
    app.execute("UPDATE users SET is_staff = true").await;
    let now = "2026-01-01 00:00:00";
    for i in 0..30 {
        app.execute(&format!(
            "INSERT INTO users (username, email, email_key, is_active, is_member, is_staff, is_superuser, created_at, updated_at) \
             VALUES ('user{i:02}', 'user{i:02}@example.com', 'user{i:02}@example.com', true, false, false, false, '{now}', '{now}')"
        ))
        .await;
    }
    let staff = bearer(&app, &token_for(&app, "staffer").await);

    let first = staff.get("/api/v1/users?q=user&page=1").await.json();
    let second = staff.get("/api/v1/users?q=user&page=2").await.json();

    assert_eq!(first["total"], 30);
    assert_eq!(first["users"].as_array().unwrap().len(), 25);
    assert_eq!(second["users"].as_array().unwrap().len(), 5);
    assert_eq!(second["page"], 2);
    let last = staff.get("/api/v1/users?page=1000000").await.json();
    assert_eq!(last["users"].as_array().unwrap().len(), 0);
}

#[rocket::async_test]
async fn a_page_out_of_the_documented_range_is_refused_not_clamped() {
    let app = crate::helpers::app()
        .config("staff_require_2fa", false)
        .spawn()
        .await;
    app.signed_up("staffer").await;
    app.execute("UPDATE users SET is_staff = true").await;
    let staff = bearer(&app, &token_for(&app, "staffer").await);

    for page in [
        "0",
        "1000001",
        "9223372036854775808",
        "-1",
        "1.5",
        "two",
        "",
    ] {
        let response = staff.get(&format!("/api/v1/users?page={page}")).await;
        response.assert_status(Status::BadRequest);
        assert_eq!(response.json()["error"], "invalid_request", "page={page}");
    }
    let long = "a".repeat(255);
    for q in [long.as_str(), "a%00b", "%0A", "%C2%84", "a&q=b"] {
        let response = staff.get(&format!("/api/v1/users?q={q}")).await;
        assert_eq!(response.status, Status::BadRequest, "q={q}");
    }
    let many_bytes = "%C3%A9".repeat(254);
    staff
        .get(&format!("/api/v1/users?q={many_bytes}"))
        .await
        .assert_status(Status::Ok);

    let doc = app.browser().get("/api/v1/openapi.json").await.json();
    let params = &doc["paths"]["/api/v1/users"]["get"]["parameters"];
    let page = params
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "page")
        .unwrap();
    assert_eq!(page["schema"]["minimum"], 1);
    assert_eq!(page["schema"]["maximum"], gatehouse::db::LAST_PAGE);
}

#[rocket::async_test]
async fn a_method_an_api_path_does_not_serve_gets_405_with_allow() {
    let app = spawn_app().await;
    let client = app.browser();

    for (method, path, allow) in [
        (Method::Trace, "/api/v1/me", "GET, HEAD"),
        (Method::Put, "/api/v1/sessions", "GET, HEAD"),
        (Method::Get, "/api/v1/token", "POST"),
        (Method::Post, "/api/v1/sessions/abc", "DELETE"),
        (Method::Patch, "/api/v1/users/1", "DELETE"),
        (Method::Options, "/api/v1/users", "GET, HEAD"),
    ] {
        let response = client.request(method, path, None, None).await;
        response.assert_status(Status::MethodNotAllowed);
        assert_eq!(response.header("Allow"), Some(allow), "{method} {path}");
        let body = response.json();
        assert_eq!(body["error"], "method_not_allowed");
        assert!(body["message"].is_string());
    }
    let missing = client
        .request(Method::Get, "/api/v1/nothing", None, None)
        .await;
    missing.assert_status(Status::NotFound);
    assert_eq!(missing.header("Allow"), None);
    assert_eq!(missing.json()["error"], "not_found");
}

#[rocket::async_test]
async fn the_openapi_document_lists_every_api_route_and_the_four_schemes() {
    let app = spawn_app().await;

    let response = app.browser().get("/api/v1/openapi.json").await;

    response.assert_status(Status::Ok);
    let doc = response.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["api_key"]["in"], "header");
    assert_eq!(schemes["api_key"]["name"], "X-API-Key");
    assert_eq!(
        schemes["oauth2"]["flows"]["password"]["tokenUrl"],
        "/api/v1/token"
    );
    assert_eq!(
        schemes["oauth2"]["flows"]["password"]["refreshUrl"],
        "/api/v1/token"
    );
    assert_eq!(schemes["cookie"]["in"], "cookie");
    assert_eq!(schemes["cookie"]["name"], "gatehouse_jwt");
    let mut checked = 0;
    for route in app.client.rocket().routes() {
        let path = route.uri.path().to_string();
        if !path.starts_with("/api/") {
            continue;
        }
        let templated = path.replace('<', "{").replace('>', "}");
        let method = route.method.as_str().to_lowercase();
        assert!(
            doc["paths"][&templated][&method].is_object(),
            "{method} {templated} is missing from the OpenAPI document"
        );
        checked += 1;
    }
    assert!(checked >= 10);
    let token_form = &doc["paths"]["/api/v1/token"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
        ["schema"]["$ref"];
    assert_eq!(token_form, "#/components/schemas/TokenRequest");
    let fields = &doc["components"]["schemas"]["TokenRequest"];
    for field in [
        "grant_type",
        "username",
        "password",
        "refresh_token",
        "scope",
        "otp",
    ] {
        assert!(fields["properties"][field].is_object(), "{field}");
    }
    // The password grant needs `username` and `password`, the refresh
    // grant `refresh_token`: only `grant_type` is needed by both.
    assert_eq!(fields["required"], serde_json::json!(["grant_type"]));
}

#[rocket::async_test]
async fn the_token_endpoint_answers_413_for_a_huge_body_and_415_for_json() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let client = app.browser();
    let padding = "x".repeat(70 * 1024);
    let huge = form_encode(&[
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", PASSWORD),
        ("pad", &padding),
    ]);

    let too_large = client
        .request(
            Method::Post,
            "/api/v1/token",
            Some(ContentType::Form),
            Some(huge.into_bytes()),
        )
        .await;
    too_large.assert_status(Status::PayloadTooLarge);
    assert_eq!(too_large.json()["error"], "payload_too_large");

    let json_body = json!({ "grant_type": "password", "username": "alice", "password": PASSWORD });
    let wrong_type = client
        .request(
            Method::Post,
            "/api/v1/token",
            Some(ContentType::JSON),
            Some(json_body.to_string().into_bytes()),
        )
        .await;
    wrong_type.assert_status(Status::UnsupportedMediaType);
    assert_eq!(wrong_type.json()["error"], "unsupported_media_type");
    assert_eq!(
        app.count("sessions").await,
        1,
        "only alice's browser session"
    );
}
