//! The device cookie: a browser that signed in before is exempt from the
//! account's failure limit, so strangers' guesses cannot lock its owner
//! out; its own failures count against that browser alone.

use rocket::http::Status;

use crate::helpers::{PASSWORD, spawn_app};

#[rocket::async_test]
async fn strangers_failures_do_not_lock_out_the_owners_known_browser() {
    let app = spawn_app().await;
    let owner = app.signed_up("alice").await;
    owner.logout().await.assert_redirect("/");
    let attacker = app.browser();
    attacker.set_remote("198.51.100.23:4000");
    for _ in 0..8 {
        attacker.login("alice", "a wrong guess here").await;
    }
    attacker
        .login("alice", PASSWORD)
        .await
        .assert_status(Status::TooManyRequests);
    let stranger = app.browser();
    stranger
        .login("alice", PASSWORD)
        .await
        .assert_status(Status::TooManyRequests);

    owner
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
    assert!(owner.is_signed_in().await);
    attacker
        .login("alice", PASSWORD)
        .await
        .assert_status(Status::TooManyRequests);
}

#[rocket::async_test]
async fn a_known_browsers_own_failures_lock_only_that_browser() {
    let app = spawn_app().await;
    let owner = app.signed_up("alice").await;
    owner.logout().await.assert_redirect("/");
    for _ in 0..5 {
        owner
            .login("alice", "a wrong guess here")
            .await
            .assert_status(Status::Unauthorized);
    }
    owner
        .login("alice", PASSWORD)
        .await
        .assert_status(Status::TooManyRequests);

    // The account itself took none of them.
    let other = app.browser();
    other.set_remote("198.51.100.24:4000");
    other
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
}

#[rocket::async_test]
async fn another_accounts_device_cookie_does_not_exempt() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let mallory = app.signed_up("mallory").await;
    mallory.logout().await.assert_redirect("/");
    for _ in 0..5 {
        mallory.login("alice", "a wrong guess here").await;
    }
    let stranger = app.browser();
    stranger.set_remote("198.51.100.25:4000");
    stranger
        .login("alice", PASSWORD)
        .await
        .assert_status(Status::TooManyRequests);
}
