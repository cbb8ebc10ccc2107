//! Emails are one account however they are cased or composed: the stored
//! `email_key` (Unicode full case folding, NFC) is unique, and sign-in looks it up.

use rocket::http::Status;

use crate::helpers::{PASSWORD, spawn_app};

#[rocket::async_test]
async fn unicode_case_and_composition_of_an_email_are_one_account() {
    let app = spawn_app().await;
    for (first, second) in [
        ("ü@bücher.de", "Ü@BÜCHER.DE"),
        ("caf\u{e9}@example.com", "cafe\u{301}@example.com"),
        ("cafe\u{301}2@example.com", "CAF\u{c9}2@EXAMPLE.COM"),
        ("straße@x.de", "STRASSE@x.de"),
        ("GROSS@x.de", "groß@x.de"),
        ("Ünal@x.de", "u\u{308}NAL@X.DE"),
    ] {
        // Each pair from its own address: sign-ups are limited per address.
        let remote = format!("203.0.113.{}:40000", app.count("users").await + 10);
        let browser = app.browser();
        browser.set_remote(&remote);
        browser
            .signup(
                &format!("first{}", app.count("users").await),
                first,
                PASSWORD,
            )
            .await
            .assert_redirect("/account");
        let again = app.browser();
        again.set_remote(&remote);
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
    assert_eq!(app.count("users").await, 6);
    // Sign-in by the first spelling works too.
    app.browser()
        .login("STRASSE@X.DE", PASSWORD)
        .await
        .assert_redirect("/account");
}

#[rocket::async_test]
async fn the_case_folding_migration_recomputes_keys_and_keeps_them_unique() {
    use migrations::MigratorTrait as _;
    use sea_orm::ConnectionTrait as _;

    let database = crate::helpers::TestDatabase::create().await;
    let db = sea_orm::Database::connect(&database.url).await.unwrap();
    let before_folding = migrations::Migrator::migrations()
        .iter()
        .position(|m| m.name() == "m20261129_000025_email_key_case_folding")
        .unwrap() as u32;
    migrations::Migrator::up(&db, Some(before_folding))
        .await
        .unwrap();
    // Keys as the lowercasing rule made them: `straße` apart from
    // `strasse`; the older account's folded key is the newer one's key.
    for (name, email, key) in [
        ("older", "Straße@x.de", "straße@x.de"),
        ("newer", "strasse@x.de", "strasse@x.de"),
        ("plain", "Plain@x.de", "plain@x.de"),
    ] {
        db.execute_unprepared(&format!(
            "INSERT INTO users (username, email, email_key, is_active, is_member, is_staff, is_superuser, created_at, updated_at) \
             VALUES ('{name}', '{email}', '{key}', true, false, false, false, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        ))
        .await
        .unwrap();
    }

    migrations::Migrator::up(&db, None).await.unwrap();

    let key_of = |name: &'static str| {
        let db = &db;
        async move {
            gatehouse::accounts::entity::find_by_login(db, name)
                .await
                .unwrap()
                .unwrap()
        }
    };
    // The account already holding the folded key keeps it.
    assert_eq!(key_of("newer").await.email_key, "strasse@x.de");
    let older = key_of("older").await;
    assert_eq!(older.email_key, format!("strasse@x.de#{}", older.id));
    assert_eq!(key_of("plain").await.email_key, "plain@x.de");
    let found = gatehouse::accounts::entity::find_by_login(&db, "STRASSE@X.DE")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.username, "newer");
    db.close().await.ok();
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
