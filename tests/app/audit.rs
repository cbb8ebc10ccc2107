//! What the security log must hold whichever way an action comes in: the
//! page or the API, a password or a recovery code.

use rocket::http::{Method, Status};
use time::Duration;

use crate::helpers::{PASSWORD, TestApp, app};

async fn last_login(app: &TestApp, username: &str) -> Option<time::OffsetDateTime> {
    gatehouse::accounts::entity::find_by_login(&app.db, username)
        .await
        .unwrap()
        .unwrap()
        .last_login_at
}

#[rocket::async_test]
async fn a_recovery_code_at_the_token_endpoint_is_logged_and_counts_as_a_sign_in() {
    let app = app().spawn().await;
    let browser = app.signed_up("alice").await;
    let enabled = crate::two_factor::enable(&app, &browser).await;
    app.clock.advance(Duration::hours(1));
    let recovery = enabled.codes[0].clone();

    let granted = crate::api::token_request(
        &app,
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", PASSWORD),
            ("otp", &recovery),
        ],
    )
    .await;

    granted.assert_status(Status::Ok);
    assert_eq!(last_login(&app, "alice").await, Some(app.now()));
    let log = browser.get("/account/security").await.body;
    assert_eq!(
        log.matches("data-event-kind=\"recovery_code_used\"")
            .count(),
        1,
        "{log}"
    );
    assert!(
        browser
            .get("/account")
            .await
            .body
            .contains("On (9 recovery codes left)")
    );
}

async fn superuser_and_target(app: &TestApp) -> (crate::helpers::Browser<'_>, i32) {
    let root = app.signed_up("root").await;
    app.execute("UPDATE users SET is_superuser = true WHERE username = 'root'")
        .await;
    app.signed_up("target").await;
    let target = gatehouse::accounts::entity::find_by_login(&app.db, "target")
        .await
        .unwrap()
        .unwrap()
        .id;
    (root, target)
}

fn deletion_rows(log: &str) -> Vec<&str> {
    log.split("<tr data-event-kind=\"account_deleted\">")
        .skip(1)
        .map(|row| &row[..row.find("</tr>").unwrap()])
        .collect()
}

#[rocket::async_test]
async fn a_deletion_through_the_api_is_in_the_superusers_log_naming_the_account() {
    let app = app().config("staff_require_2fa", false).spawn().await;
    let (root, target) = superuser_and_target(&app).await;
    let token = crate::api::token_for(&app, "root").await;

    crate::api::bearer(&app, &token)
        .request(
            Method::Delete,
            &format!("/api/v1/users/{target}"),
            None,
            None,
        )
        .await
        .assert_status(Status::NoContent);

    let log = root.get("/account/security").await.body;
    let rows = deletion_rows(&log);
    assert_eq!(rows.len(), 1, "{log}");
    assert!(
        rows[0].contains("Deleted the account target"),
        "{}",
        rows[0]
    );
}

#[rocket::async_test]
async fn a_deletion_from_the_admin_page_is_in_the_superusers_log_naming_the_account() {
    let app = app().config("staff_require_2fa", false).spawn().await;
    let (root, target) = superuser_and_target(&app).await;

    root.submit(
        &format!("/admin/users/{target}/delete"),
        &[("confirm", "target")],
    )
    .await
    .assert_redirect("/admin/users");

    let log = root.get("/account/security").await.body;
    let rows = deletion_rows(&log);
    assert_eq!(rows.len(), 1, "{log}");
    assert!(
        rows[0].contains("Deleted the account target"),
        "{}",
        rows[0]
    );
}

#[rocket::async_test]
async fn a_refused_deletion_records_nothing() {
    let app = app().config("staff_require_2fa", false).spawn().await;
    let (root, _) = superuser_and_target(&app).await;
    let token = crate::api::token_for(&app, "root").await;

    crate::api::bearer(&app, &token)
        .request(Method::Delete, "/api/v1/users/99999", None, None)
        .await
        .assert_status(Status::NotFound);

    let log = root.get("/account/security").await.body;
    assert!(deletion_rows(&log).is_empty(), "{log}");
}
