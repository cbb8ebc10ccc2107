//! Emails are one account however they are cased or composed: the stored
//! `email_key` (NFC, Unicode lowercase) is unique, and sign-in looks it up.

use rocket::http::Status;

use crate::helpers::{PASSWORD, spawn_app};

#[rocket::async_test]
async fn unicode_case_and_composition_of_an_email_are_one_account() {
    let app = spawn_app().await;
    for (first, second) in [
        ("ü@bücher.de", "Ü@BÜCHER.DE"),
        ("caf\u{e9}@example.com", "cafe\u{301}@example.com"),
        ("cafe\u{301}2@example.com", "CAF\u{c9}2@EXAMPLE.COM"),
    ] {
        let browser = app.browser();
        browser
            .signup(
                &format!("first{}", app.count("users").await),
                first,
                PASSWORD,
            )
            .await
            .assert_redirect("/account");
        let again = app.browser();
        let response = again
            .signup(
                &format!("second{}", app.count("users").await),
                second,
                PASSWORD,
            )
            .await;
        response.assert_status(Status::Conflict);
        assert!(
            response.body.contains("already"),
            "{second}: {}",
            response.body
        );
        app.browser()
            .login(second, PASSWORD)
            .await
            .assert_redirect("/account");
    }
    assert_eq!(app.count("users").await, 3);
}
