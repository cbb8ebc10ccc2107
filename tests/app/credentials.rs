//! The credential version: a password change ends every session made
//! with the old password (even one whose sign-in raced the change) and
//! renews the session it was made from. (A browser that signs in again
//! ending its previous session is in sessions.rs.)

use crate::helpers::{PASSWORD, spawn_app};

const NEW: &str = "a brand new passphrase here";

#[rocket::async_test]
async fn sign_ins_racing_a_password_change_do_not_survive_it() {
    let app = spawn_app().await;
    let owner = app.signed_up("alice").await;
    let change_token = owner.csrf_token().await;
    let racers: Vec<_> = (0..6).map(|_| app.browser()).collect();
    let mut tokens = Vec::new();
    for racer in &racers {
        tokens.push(racer.csrf_token_from("/login").await);
    }

    let sign_ins = racers.iter().zip(&tokens).map(|(racer, token)| async move {
        racer
            .post_raw(
                "/login",
                &[
                    ("login", "alice"),
                    ("password", PASSWORD),
                    ("csrf_token", token),
                ],
            )
            .await
    });
    let change_form = [
        ("current_password", PASSWORD),
        ("new_password", NEW),
        ("csrf_token", change_token.as_str()),
    ];
    let change = owner.post_raw("/account/password", &change_form);
    let (mut first, mut second): (Vec<_>, Vec<_>) = sign_ins
        .enumerate()
        .map(|(i, sign_in)| (i, Box::pin(sign_in)))
        .partition(|(i, _)| i % 2 == 0);
    let first = rocket::futures::future::join_all(first.drain(..).map(|(_, f)| f));
    let second = rocket::futures::future::join_all(second.drain(..).map(|(_, f)| f));
    let (first, changed, second) = rocket::futures::future::join3(first, change, second).await;

    changed.assert_redirect("/account");
    let signed_in = first
        .iter()
        .chain(&second)
        .filter(|response| response.status == rocket::http::Status::SeeOther)
        .count();
    assert!(signed_in > 0, "the old password worked before the change");
    for racer in &racers {
        assert!(!racer.is_signed_in().await);
    }
    assert!(owner.is_signed_in().await);
    app.browser()
        .login("alice", PASSWORD)
        .await
        .assert_status(rocket::http::Status::Unauthorized);
}

#[rocket::async_test]
async fn a_password_change_gives_the_current_session_a_new_cookie() {
    let app = spawn_app().await;
    let owner = app.signed_up("alice").await;
    let thief = app.browser();
    thief.copy_cookies_from(&owner);
    assert!(thief.is_signed_in().await);
    let before = owner.cookie("gatehouse_session");

    owner
        .submit(
            "/account/password",
            &[("current_password", PASSWORD), ("new_password", NEW)],
        )
        .await
        .assert_redirect("/account");

    assert_ne!(owner.cookie("gatehouse_session"), before);
    assert!(owner.is_signed_in().await);
    assert!(!thief.is_signed_in().await, "the old cookie value is dead");
    assert_eq!(app.count("sessions").await, 1);
}
