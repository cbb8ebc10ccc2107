//! Sign-up, sign-in, sign-out and password changes through the real forms.

use std::time::Instant;

use rocket::http::Status;

use crate::helpers::{PASSWORD, spawn_app};

#[rocket::async_test]
async fn signing_up_creates_the_account_signs_in_and_lands_on_the_account_page() {
    let app = spawn_app().await;
    let browser = app.browser();

    let response = browser.signup("alice", "alice@example.com", PASSWORD).await;

    response.assert_redirect("/account");
    let account = browser.get("/account").await;
    account.assert_status(Status::Ok);
    assert!(
        account
            .body
            .contains(r#"<dd id="account-username">alice</dd>"#)
    );
    assert!(account.body.contains("alice@example.com"));
    assert!(account.body.contains("Welcome, alice!"));
    assert_eq!(app.count("users").await, 1);
    assert_eq!(app.count("sessions").await, 1);
}

#[rocket::async_test]
async fn the_password_is_stored_only_as_an_argon2id_hash() {
    let app = crate::helpers::app().production_hashing().spawn().await;
    app.signed_up("alice").await;

    let user = gatehouse::accounts::entity::find_by_id(&app.db, 1)
        .await
        .unwrap()
        .unwrap();

    let hash = user.password_hash.unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(PASSWORD));
}

#[rocket::async_test]
async fn fields_the_form_does_not_offer_are_ignored() {
    let app = spawn_app().await;
    let browser = app.browser();

    let response = browser
        .submit(
            "/signup",
            &[
                ("username", "mallory"),
                ("email", "mallory@example.com"),
                ("password", PASSWORD),
                ("is_staff", "true"),
                ("is_superuser", "true"),
                ("is_member", "on"),
            ],
        )
        .await;

    response.assert_redirect("/account");
    let user = gatehouse::accounts::entity::find_by_id(&app.db, 1)
        .await
        .unwrap()
        .unwrap();
    assert!(!user.is_staff && !user.is_superuser && !user.is_member);
}

#[rocket::async_test]
async fn invalid_sign_up_fields_are_shown_with_the_entered_values_but_never_the_password() {
    let app = spawn_app().await;
    let browser = app.browser();

    let response = browser.signup("a b", "not-an-email", "short-pw").await;

    response.assert_status(Status::UnprocessableEntity);
    assert!(response.body.contains("Use 3 to 32 letters"));
    assert!(response.body.contains("Enter a valid email address."));
    assert!(response.body.contains(r#"value="not-an-email""#));
    assert!(!response.body.contains("short-pw"));
    assert_eq!(app.count("users").await, 0);
}

#[rocket::async_test]
async fn sign_up_reports_every_problem_at_once_with_a_linked_summary() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let browser = app.browser();

    // Bad name, bad email and a common password: three problems, one round.
    let bad = browser
        .signup("a b", "not-an-email", "passwordpassword")
        .await;
    bad.assert_status(Status::UnprocessableEntity);
    assert!(bad.body.contains("There are 3 problems"), "{}", bad.body);
    for field in ["username", "email", "password"] {
        assert!(
            bad.body.contains(&format!(r##"<a href="#{field}">"##)),
            "{field}"
        );
        assert!(
            bad.body
                .contains(&format!(r#"id="{field}" name="{field}""#)),
            "{field}"
        );
        assert!(
            bad.body.contains(&format!(
                r#"aria-invalid="true" aria-describedby="{field}-error"#
            )),
            "{field}: {}",
            bad.body
        );
    }
    assert!(bad.body.contains("too common"));

    // A taken username and a taken email are both named.
    let taken = browser
        .signup("Alice", "alice@example.com", "a fine long passphrase")
        .await;
    taken.assert_status(Status::Conflict);
    assert!(
        taken.body.contains("There are 2 problems"),
        "{}",
        taken.body
    );
    assert!(taken.body.contains("That username is taken."));
    assert!(
        taken
            .body
            .contains("An account with this email already exists.")
    );
    assert_eq!(app.count("users").await, 1);
}

#[rocket::async_test]
async fn weak_passwords_are_refused() {
    let app = spawn_app().await;
    let browser = app.browser();
    let too_long = "x".repeat(1025);

    for (password, message) in [
        ("passwordpassword", "too common"),
        ("qwertyuiopasdfgh", "too common"),
        ("1234567890123", "too common"),
        ("password1", "at least 12 characters"),
        ("Carol_Smith", "at least 12 characters"),
        (
            "carol_smith@example.com",
            "must not be your username or email",
        ),
        ("elevenchars", "at least 12 characters"),
        (too_long.as_str(), "at most 1024 characters"),
    ] {
        let response = browser
            .signup("Carol_Smith", "carol_smith@example.com", password)
            .await;
        response.assert_status(Status::UnprocessableEntity);
        assert!(
            response.body.contains(message),
            "{password}: {}",
            response.body
        );
    }
    assert_eq!(app.count("users").await, 0);
}

#[rocket::async_test]
async fn a_too_long_password_is_refused_before_hashing() {
    // An argon2 cost of about half a second per hash makes any hashing plain to see.
    let app = crate::helpers::app()
        .production_hashing()
        .config("argon2.iterations", 60)
        .spawn()
        .await;
    let huge = "correct horse ".repeat(3000); // 42,000 characters, under the body limit

    let started = Instant::now();
    let refused = app
        .browser()
        .signup("alice", "alice@example.com", &huge)
        .await;
    let refusal = started.elapsed();
    refused.assert_status(Status::UnprocessableEntity);
    assert!(refused.body.contains("at most 1024 characters"));

    let started = Instant::now();
    app.browser()
        .signup("bob", "bob@example.com", PASSWORD)
        .await
        .assert_redirect("/account");
    let sign_up_with_hashing = started.elapsed();

    assert_eq!(app.count("users").await, 1);
    assert!(
        refusal * 4 < sign_up_with_hashing,
        "refusal {refusal:?} vs a sign-up that hashes {sign_up_with_hashing:?}"
    );
}

#[rocket::async_test]
async fn usernames_and_emails_are_unique_whatever_their_case() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let other = app.browser();

    let same_name = other.signup("ALICE", "someone@example.com", PASSWORD).await;
    same_name.assert_status(Status::Conflict);
    assert!(same_name.body.contains("That username is taken."));
    assert!(same_name.body.contains(r#"value="someone@example.com""#));

    let same_email = other.signup("alice2", "Alice@EXAMPLE.com", PASSWORD).await;
    same_email.assert_status(Status::Conflict);
    assert!(
        same_email
            .body
            .contains("An account with this email already exists.")
    );

    assert_eq!(app.count("users").await, 1);
    assert!(!other.is_signed_in().await);
}

#[rocket::async_test]
async fn of_two_concurrent_sign_ups_with_one_name_one_wins_and_the_other_gets_the_form_error() {
    let app = spawn_app().await;
    let (first, second) = (app.browser(), app.browser());
    let (token1, token2) = (first.csrf_token().await, second.csrf_token().await);

    let form1 = [
        ("username", "racer"),
        ("email", "one@example.com"),
        ("password", PASSWORD),
        ("csrf_token", &token1),
    ];
    let form2 = [
        ("username", "RACER"),
        ("email", "two@example.com"),
        ("password", PASSWORD),
        ("csrf_token", &token2),
    ];

    let (a, b) = rocket::tokio::join!(
        first.post_raw("/signup", &form1),
        second.post_raw("/signup", &form2)
    );

    let mut statuses = [a.status.code, b.status.code];
    statuses.sort();
    assert_eq!(statuses, [303, 409], "{} / {}", a.body, b.body);
    assert_eq!(app.count("users").await, 1);
}

#[rocket::async_test]
async fn signing_in_works_with_the_username_or_the_email_in_any_case() {
    let app = spawn_app().await;
    app.signed_up("alice").await;

    for login in [
        "alice",
        "ALICE",
        "alice@example.com",
        "Alice@Example.COM",
        "  alice  ",
    ] {
        let browser = app.browser();
        let response = browser.login(login, PASSWORD).await;
        response.assert_redirect("/account");
        assert!(browser.is_signed_in().await, "{login}");
    }
}

#[rocket::async_test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    app.signed_up("alice").await;
    let browser = app.browser();

    let wrong_password = browser.login("alice", "not the password at all").await;
    let unknown_user = browser.login("nobody", "not the password at all").await;

    for response in [&wrong_password, &unknown_user] {
        response.assert_status(Status::Unauthorized);
        assert!(
            response
                .body
                .contains("Incorrect username, email or password.")
        );
        assert!(!response.body.contains("not the password at all"));
    }
    let strip = |body: &str| body.replace("nobody", "alice");
    let token_free = |body: String| {
        let start = body.find("csrf_token").unwrap();
        body[..start].to_owned()
    };
    assert_eq!(
        token_free(strip(&wrong_password.body)),
        token_free(strip(&unknown_user.body))
    );
    assert!(!browser.is_signed_in().await);
}

#[rocket::async_test]
async fn an_unknown_user_costs_about_as_much_time_as_a_wrong_password() {
    // Twelve failures would trip the limits, which answer without hashing.
    let app = crate::helpers::app()
        .production_hashing()
        .config("rate_limits.enabled", false)
        .spawn()
        .await;
    app.signed_up("alice").await;
    let browser = app.browser();
    let token = browser.csrf_token().await;
    let attempt = |login: &'static str| {
        let (browser, token) = (&browser, token.clone());
        async move {
            let started = Instant::now();
            browser
                .post_raw(
                    "/login",
                    &[
                        ("login", login),
                        ("password", "wrong password!"),
                        ("csrf_token", &token),
                    ],
                )
                .await
                .assert_status(Status::Unauthorized);
            started.elapsed().as_secs_f64()
        }
    };

    // Interleaved, and the fastest of each compared: load from other tests
    // only ever adds time, so the minimum is the cost of the work itself.
    let (mut known, mut unknown) = (f64::MAX, f64::MAX);
    for _ in 0..6 {
        known = known.min(attempt("alice").await);
        unknown = unknown.min(attempt("nobody").await);
    }

    let ratio = unknown / known;
    assert!(
        (0.5..2.0).contains(&ratio),
        "unknown {unknown:.3}s vs known {known:.3}s"
    );
}

#[rocket::async_test]
async fn sign_in_follows_next_only_to_a_local_path() {
    let app = spawn_app().await;
    app.signed_up("alice").await;

    for (next, expected) in [
        ("/account?tab=2", "/account?tab=2"),
        ("/", "/"),
        ("//evil.example/x", "/account"),
        ("/\\evil.example", "/account"),
        ("https://evil.example", "/account"),
        ("http:/evil.example", "/account"),
        ("javascript:alert(1)", "/account"),
        ("", "/account"),
    ] {
        let browser = app.browser();
        let token = browser.csrf_token_from("/login").await;
        let response = browser
            .post_raw(
                "/login",
                &[
                    ("login", "alice"),
                    ("password", PASSWORD),
                    ("next", next),
                    ("csrf_token", &token),
                ],
            )
            .await;
        response.assert_redirect(expected);
    }
    // A control character in `next` is refused with the whole form.
    let browser = app.browser();
    let token = browser.csrf_token_from("/login").await;
    let fields = [
        ("login", "alice"),
        ("password", PASSWORD),
        ("next", "/\t/evil.example"),
        ("csrf_token", &token),
    ];
    let response = browser.post_raw("/login", &fields).await;
    response.assert_status(Status::UnprocessableEntity);
    assert!(!browser.is_signed_in().await);
}

#[rocket::async_test]
async fn the_sign_in_page_carries_only_a_clean_next_into_its_form() {
    let app = spawn_app().await;
    let browser = app.browser();

    let page = browser.get("/login?next=%2Fmembers%3Fa%3D1").await;
    assert!(
        page.body
            .contains(r#"name="next" value="&#x2F;members?a=1""#)
    );

    let hostile = browser
        .get("/login?next=%2F%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        .await;
    hostile.assert_status(Status::Ok);
    assert!(!hostile.body.contains("<script>"));
    assert!(!hostile.body.contains("script&gt;"), "not carried at all");
    assert!(hostile.body.contains(r#"name="next" value="""#));

    let foreign = browser.get("/login?next=https%3A%2F%2Fevil.example").await;
    assert!(!foreign.body.contains("evil.example"));
}

#[rocket::async_test]
async fn a_deactivated_user_cannot_sign_in_and_is_signed_out_at_once() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;

    app.execute("UPDATE users SET is_active = false WHERE username = 'alice'")
        .await;

    assert!(!browser.is_signed_in().await);
    let guesser = app.browser();
    let wrong = guesser.login("alice", "not the password").await;
    wrong.assert_status(Status::Unauthorized);
    assert!(
        wrong
            .body
            .contains("Incorrect username, email or password.")
    );
    assert!(
        !wrong.body.contains("deactivated"),
        "only with the password"
    );

    // The right password is told why, and is not counted as a failure:
    // five of them do not lock the account.
    for _ in 0..6 {
        let again = app.browser().login("alice", PASSWORD).await;
        again.assert_status(Status::Unauthorized);
        assert!(again.body.contains("This account has been deactivated"));
    }
    let token = crate::api::token_request(
        &app,
        &[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", PASSWORD),
        ],
    )
    .await;
    token.assert_status(Status::BadRequest);
    assert_eq!(token.json()["error"], "invalid_grant");
    assert!(
        token.json()["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("deactivated"),
        "{}",
        token.body
    );
    app.execute("UPDATE users SET is_active = true WHERE username = 'alice'")
        .await;
    app.browser()
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
}

#[rocket::async_test]
async fn signing_out_ends_the_session_and_a_copied_cookie_stops_working() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let thief = app.browser();
    thief.copy_cookies_from(&browser);
    assert!(thief.is_signed_in().await);

    let response = browser.logout().await;

    response.assert_redirect("/");
    assert!(!browser.is_signed_in().await);
    assert!(!thief.is_signed_in().await);
    assert_eq!(app.count("sessions").await, 0);
    assert!(browser.get("/").await.body.contains("You are signed out."));
}

#[rocket::async_test]
async fn get_logout_changes_nothing() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;

    let response = browser.get("/logout").await;

    // No GET route signs out: the catcher's 404, the session row and the
    // log as they were.
    response.assert_status(Status::NotFound);
    assert!(browser.is_signed_in().await);
    assert_eq!(app.count("sessions").await, 1);
    let log = browser.get("/account/security").await.body;
    assert!(!log.contains("data-event-kind=\"sign_out\""), "{log}");
}

#[rocket::async_test]
async fn a_wrong_current_password_changes_nothing() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let new = "a brand new passphrase here";

    let response = browser
        .submit(
            "/account/password",
            &[
                ("current_password", "guess guess guess"),
                ("new_password", new),
            ],
        )
        .await;

    response.assert_status(Status::UnprocessableEntity);
    assert!(
        response
            .body
            .contains("Your current password is not correct.")
    );
    assert!(!response.body.contains(new));
    assert!(!response.body.contains("guess guess guess"));
    app.browser()
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
    app.browser()
        .login("alice", new)
        .await
        .assert_status(Status::Unauthorized);
}

#[rocket::async_test]
async fn a_new_password_must_pass_the_policy() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;

    for (new, message) in [
        ("passwordpassword", "too common"),
        ("password123", "at least 12"),
        ("alice@example.com", "must not be"),
    ] {
        let response = browser
            .submit(
                "/account/password",
                &[("current_password", PASSWORD), ("new_password", new)],
            )
            .await;
        response.assert_status(Status::UnprocessableEntity);
        assert!(response.body.contains(message), "{new}");
    }
    app.browser()
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
}

#[rocket::async_test]
async fn changing_the_password_ends_every_other_session_and_keeps_this_one() {
    let app = spawn_app().await;
    let laptop = app.signed_up("alice").await;
    let phone = app.browser();
    phone
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
    let new = "a brand new passphrase here";

    let response = laptop
        .submit(
            "/account/password",
            &[("current_password", PASSWORD), ("new_password", new)],
        )
        .await;

    response.assert_redirect("/account");
    assert!(
        laptop
            .get("/account")
            .await
            .body
            .contains("your other session was signed out")
    );
    assert!(laptop.is_signed_in().await);
    assert!(!phone.is_signed_in().await);
    app.browser()
        .login("alice", PASSWORD)
        .await
        .assert_status(Status::Unauthorized);
    app.browser()
        .login("alice", new)
        .await
        .assert_redirect("/account");
}

#[rocket::async_test]
async fn password_min_length_applies_to_sign_up_and_change() {
    let app = crate::helpers::app()
        .config("password_min_length", 30)
        .spawn()
        .await;
    let browser = app.browser();

    let short = browser
        .signup("alice", "alice@example.com", "correct horse battery stapl")
        .await;
    short.assert_status(Status::UnprocessableEntity);
    assert!(short.body.contains("at least 30 characters"));
    let long = "correct horse battery staple tree";
    browser
        .signup("alice", "alice@example.com", long)
        .await
        .assert_redirect("/account");
    let change = browser
        .submit(
            "/account/password",
            &[
                ("current_password", long),
                ("new_password", "a brand new passphrase"),
            ],
        )
        .await;
    change.assert_status(Status::UnprocessableEntity);
    assert!(change.body.contains("at least 30 characters"));
}

#[rocket::async_test]
async fn emails_are_stored_in_nfc_and_invisible_characters_are_refused() {
    let app = spawn_app().await;
    let composed = "caf\u{e9}@example.com";
    let decomposed = "cafe\u{301}@example.com";

    app.browser()
        .signup("first", decomposed, PASSWORD)
        .await
        .assert_redirect("/account");
    let again = app.browser().signup("second", composed, PASSWORD).await;
    again.assert_status(Status::Conflict);
    for invisible in ["\u{200B}", "\u{200D}", "\u{FEFF}", "\u{AD}", "\u{2060}"] {
        let email = format!("ca{invisible}fe@example.com");
        let refused = app.browser().signup("third", &email, PASSWORD).await;
        refused.assert_status(Status::UnprocessableEntity);
    }
    assert_eq!(app.count("users").await, 1);
    assert!(app.stored_text().await.contains(composed));
    // Either spelling signs in.
    for spelling in [composed, decomposed] {
        app.browser()
            .login(spelling, PASSWORD)
            .await
            .assert_redirect("/account");
    }
}

#[rocket::async_test]
async fn the_account_page_seen_again_shows_every_change_made_since() {
    let app = spawn_app().await;
    let alice = app.signed_up("alice").await;
    let bob = app.signed_up("bob").await;
    let welcome = alice.get("/account").await.body;
    assert!(welcome.contains("Welcome, alice!"), "{welcome}");
    let first = alice.get("/account").await.body;
    assert!(
        !first.contains("Welcome, alice!"),
        "the flash is shown once"
    );
    assert_eq!(alice.get("/account").await.body, first, "the same view");
    assert!(
        first.contains(r#"<dd id="account-roles">User</dd>"#),
        "{first}"
    );

    app.execute("UPDATE users SET is_member = true WHERE username = 'alice'")
        .await;
    let member = alice.get("/account").await.body;
    assert!(
        member.contains(r#"<dd id="account-roles">Member</dd>"#),
        "{member}"
    );

    // Another visitor's view of the same page is their own, with their
    // own CSRF token.
    let theirs = bob.get("/account").await.body;
    assert!(theirs.contains(r#"<dd id="account-username">bob</dd>"#));
    let token = |page: &str| crate::helpers::extract_csrf(page);
    assert_ne!(token(&theirs), token(&member));
}
