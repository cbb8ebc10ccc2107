//! The guards, as a site built on Gatehouse uses them on its own routes.

use gatehouse::{CurrentUser, Member, Staff, Superuser};
use rocket::http::Status;
use rocket::{get, routes};

use crate::helpers::{TestApp, app, spawn_app};

#[get("/dashboard")]
fn dashboard(user: CurrentUser) -> String {
    format!("hello {}", user.user.username)
}

#[get("/members-area")]
fn members_area(member: Member) -> String {
    format!("member {}", member.0.user.username)
}

#[get("/staff-area")]
fn staff_area(_staff: Staff) -> &'static str {
    "staff"
}

#[get("/super-area")]
fn super_area(_superuser: Superuser) -> &'static str {
    "superuser"
}

#[get("/v1/whoami")]
fn api_whoami(user: CurrentUser) -> String {
    user.user.username
}

/// Staff two-factor enforcement has its own tests (admin.rs); these are
/// about the roles alone.
async fn site() -> TestApp {
    app()
        .config("staff_require_2fa", false)
        .mount(
            "/site",
            routes![dashboard, members_area, staff_area, super_area],
        )
        .mount("/api", routes![api_whoami])
        .spawn()
        .await
}

#[rocket::async_test]
async fn an_anonymous_browser_is_sent_to_sign_in_and_back() {
    let app = site().await;
    let browser = app.browser();

    let response = browser.get("/site/dashboard?tab=keys").await;

    response.assert_redirect("/login?next=%2Fsite%2Fdashboard%3Ftab%3Dkeys");
    let token = browser
        .csrf_token_from("/login?next=%2Fsite%2Fdashboard%3Ftab%3Dkeys")
        .await;
    app.browser()
        .signup("alice", "alice@example.com", crate::helpers::PASSWORD)
        .await;
    browser
        .post_raw(
            "/login",
            &[
                ("login", "alice"),
                ("password", crate::helpers::PASSWORD),
                ("next", "/site/dashboard?tab=keys"),
                ("csrf_token", &token),
            ],
        )
        .await
        .assert_redirect("/site/dashboard?tab=keys");
    assert_eq!(
        browser.get("/site/dashboard?tab=keys").await.body,
        "hello alice"
    );
}

#[rocket::async_test]
async fn roles_open_their_pages_and_nothing_more() {
    let app = site().await;
    let plain = app.signed_up("plain").await;
    let member = app.signed_up("member").await;
    let staff = app.signed_up("staffer").await;
    let root = app.signed_up("root").await;
    app.execute("UPDATE users SET is_member = true WHERE username = 'member'")
        .await;
    app.execute("UPDATE users SET is_staff = true WHERE username = 'staffer'")
        .await;
    app.execute("UPDATE users SET is_superuser = true WHERE username = 'root'")
        .await;

    let expectations = [
        (&plain, [200, 403, 403, 403]),
        (&member, [200, 200, 403, 403]),
        (&staff, [200, 200, 200, 403]),
        // A superuser is staff (and a member) whatever the other flags say.
        (&root, [200, 200, 200, 200]),
    ];
    for (browser, codes) in expectations {
        for (path, code) in [
            "/site/dashboard",
            "/site/members-area",
            "/site/staff-area",
            "/site/super-area",
        ]
        .into_iter()
        .zip(codes)
        {
            let response = browser.get(path).await;
            assert_eq!(response.status.code, code, "{path}");
            if code == 403 {
                assert!(
                    response.body.contains("<h1>Not allowed</h1>"),
                    "a 403 page: {}",
                    response.body
                );
            }
        }
    }
}

#[rocket::async_test]
async fn under_api_a_missing_user_is_a_json_401_and_cookies_do_not_count() {
    let app = site().await;
    let browser = app.signed_up("alice").await;

    let response = browser.get("/api/v1/whoami").await;

    response.assert_status(Status::Unauthorized);
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert!(
        response
            .header("WWW-Authenticate")
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(response.json()["error"], "unauthorized");
}

#[rocket::async_test]
async fn errors_under_api_are_json_and_elsewhere_html() {
    let app = site().await;
    let browser = app.browser();

    let api = browser.get("/api/v1/nothing-here").await;
    api.assert_status(Status::NotFound);
    assert_eq!(api.json()["error"], "not_found");
    assert!(api.json()["message"].is_string());

    let page = browser.get("/nothing-here").await;
    page.assert_status(Status::NotFound);
    assert!(
        page.header("Content-Type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.body.contains("<h1>Page not found</h1>"));
    assert!(page.body.contains(r#"<a href="/login">Sign in</a>"#));
}

#[rocket::async_test]
async fn error_pages_show_the_signed_in_header_and_a_way_on() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;

    let missing = browser.get("/nothing-here").await;
    missing.assert_status(Status::NotFound);
    assert!(missing.body.contains(r#"<a href="/account">alice</a>"#));
    assert!(missing.body.contains(r#"action="/logout""#));
    assert!(
        missing
            .body
            .contains(r#"<li><a href="/account">Your account</a></li>"#)
    );

    let forbidden = browser.get("/admin").await;
    forbidden.assert_status(Status::Forbidden);
    assert!(forbidden.body.contains(r#"<a href="/account">alice</a>"#));

    let foreign = browser
        .post_raw("/account/api-keys", &[("name", "x")])
        .await;
    foreign.assert_status(Status::Forbidden);
    assert!(foreign.body.contains(r#"<a href="/account">alice</a>"#));
}
