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

#[rocket::async_test]
async fn the_migration_gives_existing_accounts_their_keys() {
    use migrations::MigratorTrait as _;
    use sea_orm::ConnectionTrait as _;

    let database = crate::helpers::TestDatabase::create().await;
    let db = sea_orm::Database::connect(&database.url).await.unwrap();
    let before_keys = migrations::Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m20261129_000021_email_key")
        .unwrap() as u32;
    migrations::Migrator::up(&db, Some(before_keys))
        .await
        .unwrap();
    for (name, email) in [
        ("older", "Cafe\u{301}@example.com"),
        ("newer", "caf\u{e9}@example.com"),
    ] {
        db.execute_unprepared(&format!(
            "INSERT INTO users (username, email, is_active, is_member, is_staff, is_superuser, created_at, updated_at) \
             VALUES ('{name}', '{email}', true, false, false, false, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        ))
        .await
        .unwrap();
    }

    migrations::Migrator::up(&db, None).await.unwrap();

    let older = gatehouse::accounts::entity::find_by_login(&db, "CAF\u{c9}@EXAMPLE.COM")
        .await
        .unwrap()
        .expect("the first account is found by any spelling");
    assert_eq!(older.username, "older");
    assert_eq!(older.email_key, "caf\u{e9}@example.com");
    // The newer spelling keeps a key of its own, and signs in by username.
    let newer = gatehouse::accounts::entity::find_by_login(&db, "newer")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        newer.email_key,
        format!("caf\u{e9}@example.com#{}", newer.id)
    );
    db.close().await.ok();
}
