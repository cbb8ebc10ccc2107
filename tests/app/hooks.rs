//! A site built on Gatehouse (`examples/tenant_site`): its own routes
//! behind `CurrentUser` and `Staff`, and its `tenant` claim, added to
//! every token and checked on every request.

use gatehouse::config::AppConfig;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use rocket::http::Status;
use serde_json::{Value, json};

use crate::api::{bearer, token_for};
use crate::helpers::{PASSWORD, TestApp, app};
use crate::tenant_site;

async fn tenant_app() -> TestApp {
    app()
        .config("staff_require_2fa", false)
        .customize(tenant_site::extend)
        .spawn()
        .await
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let payload =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload);
    serde_json::from_slice(&payload.unwrap()).unwrap()
}

#[rocket::async_test]
async fn the_sites_claim_is_in_every_token_and_its_routes_take_them() {
    let app = tenant_app().await;
    let browser = app.signed_up("alice").await;

    let token = token_for(&app, "alice").await;

    assert_eq!(claims_of(&token)["tenant"], "example.com");
    let response = bearer(&app, &token).get("/api/site/projects").await;
    response.assert_status(Status::Ok);
    assert_eq!(response.json()["tenant"], "example.com");
    let page = browser.get("/site").await;
    page.assert_status(Status::Ok);
    assert!(page.body.contains("Welcome to example.com, alice."));
    app.browser()
        .get("/api/site/projects")
        .await
        .assert_status(Status::Unauthorized);
}

#[rocket::async_test]
async fn the_sites_claim_survives_a_refresh_and_an_app_sign_in() {
    let app = tenant_app().await;
    app.signed_up("alice").await;
    let granted = crate::api::token_request(
        &app,
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", PASSWORD),
        ],
    )
    .await
    .json();

    let refreshed = crate::api::token_request(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", granted["refresh_token"].as_str().unwrap()),
        ],
    )
    .await
    .json();

    let token = refreshed["access_token"].as_str().unwrap();
    assert_eq!(claims_of(token)["tenant"], "example.com");
    let browser = app.browser();
    let body = serde_json::to_vec(&json!({ "login": "alice", "password": PASSWORD })).unwrap();
    browser
        .request(
            rocket::http::Method::Post,
            "/api/v1/session",
            Some(rocket::http::ContentType::JSON),
            Some(body),
        )
        .await
        .assert_status(Status::Ok);
    assert_eq!(
        claims_of(&browser.cookie("gatehouse_jwt").unwrap())["tenant"],
        "example.com"
    );
    browser
        .get("/api/site/projects")
        .await
        .assert_status(Status::Ok);
}

#[rocket::async_test]
async fn a_genuine_token_without_the_sites_claim_gets_401() {
    let app = tenant_app().await;
    app.signed_up("alice").await;
    let token = token_for(&app, "alice").await;
    let mut claims = claims_of(&token);
    let key =
        gatehouse::auth::tokens::signing_key(app.client.rocket().state::<AppConfig>().unwrap());
    let sign = |claims: &Value| {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(&key),
        )
        .unwrap()
    };

    claims.as_object_mut().unwrap().remove("tenant");
    let without = sign(&claims);
    claims["tenant"] = json!("other.example");
    let other_tenant = sign(&claims);

    for forged in [without, other_tenant] {
        for path in ["/api/site/projects", "/api/v1/me"] {
            let response = bearer(&app, &forged).get(path).await;
            response.assert_status(Status::Unauthorized);
            assert_eq!(response.json()["error"], "invalid_token");
        }
    }
    bearer(&app, &token)
        .get("/api/v1/me")
        .await
        .assert_status(Status::Ok);
}

#[rocket::async_test]
async fn the_sites_staff_route_needs_staff() {
    let app = tenant_app().await;
    app.signed_up("alice").await;
    app.signed_up("root").await;
    app.execute("UPDATE users SET is_staff = true WHERE username = 'root'")
        .await;

    let plain = token_for(&app, "alice").await;
    let staff = token_for(&app, "root").await;

    bearer(&app, &plain)
        .get("/api/site/report")
        .await
        .assert_status(Status::Forbidden);
    let response = bearer(&app, &staff).get("/api/site/report").await;
    response.assert_status(Status::Ok);
    assert_eq!(response.json()["by"], "root");
}
