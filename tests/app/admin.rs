//! Staff pages, roles, the staff two-factor rule, and the members page.

use rocket::http::Status;
use std::process::Command;

use crate::helpers::{Browser, PASSWORD, TestApp, app};

async fn admin_app() -> TestApp {
    // The two-factor rule for staff has tests of its own below.
    app().config("staff_require_2fa", false).spawn().await
}

async fn with_role<'a>(app: &'a TestApp, name: &str, flags: &str) -> Browser<'a> {
    let browser = app.signed_up(name).await;
    if !flags.is_empty() {
        app.execute(&format!(
            "UPDATE users SET {flags} WHERE username = '{name}'"
        ))
        .await;
    }
    browser
}

async fn user_id(app: &TestApp, name: &str) -> i32 {
    gatehouse::accounts::entity::find_by_login(&app.db, name)
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn is_active(app: &TestApp, name: &str) -> bool {
    gatehouse::accounts::entity::find_by_login(&app.db, name)
        .await
        .unwrap()
        .unwrap()
        .is_active
}

#[rocket::async_test]
async fn each_role_gets_exactly_its_admin_pages_and_actions() {
    let app = admin_app().await;
    let plain = with_role(&app, "plain", "").await;
    let member = with_role(&app, "member", "is_member = true").await;
    let staff = with_role(&app, "staffer", "is_staff = true").await;
    let root = with_role(&app, "root", "is_superuser = true").await;
    with_role(&app, "target", "").await;
    let target = user_id(&app, "target").await;

    for browser in [&plain, &member] {
        for path in ["/admin", "/admin/users", &format!("/admin/users/{target}")] {
            browser.get(path).await.assert_status(Status::Forbidden);
        }
        browser
            .submit(
                &format!("/admin/users/{target}/active"),
                &[("active", "false")],
            )
            .await
            .assert_status(Status::Forbidden);
        browser
            .submit(&format!("/admin/users/{target}/sessions/revoke"), &[])
            .await
            .assert_status(Status::Forbidden);
        browser
            .submit(
                &format!("/admin/users/{target}/roles"),
                &[("is_staff", "true")],
            )
            .await
            .assert_status(Status::Forbidden);
        browser
            .submit(
                &format!("/admin/users/{target}/delete"),
                &[("confirm", "target")],
            )
            .await
            .assert_status(Status::Forbidden);
    }
    assert!(is_active(&app, "target").await);

    for path in ["/admin", "/admin/users", &format!("/admin/users/{target}")] {
        staff.get(path).await.assert_status(Status::Ok);
    }
    staff
        .submit(
            &format!("/admin/users/{target}/roles"),
            &[("is_staff", "true")],
        )
        .await
        .assert_status(Status::Forbidden);
    staff
        .submit(
            &format!("/admin/users/{target}/delete"),
            &[("confirm", "target")],
        )
        .await
        .assert_status(Status::Forbidden);
    staff
        .submit(
            &format!("/admin/users/{target}/active"),
            &[("active", "false")],
        )
        .await
        .assert_redirect(&format!("/admin/users/{target}"));
    assert!(!is_active(&app, "target").await);
    staff
        .submit(&format!("/admin/users/{target}/sessions/revoke"), &[])
        .await
        .assert_redirect(&format!("/admin/users/{target}"));

    root.submit(
        &format!("/admin/users/{target}/roles"),
        &[("is_member", "true"), ("is_staff", "true")],
    )
    .await
    .assert_redirect(&format!("/admin/users/{target}"));
    let promoted = gatehouse::accounts::entity::find_by_id(&app.db, target)
        .await
        .unwrap()
        .unwrap();
    assert!(promoted.is_member && promoted.is_staff);
    root.submit(
        &format!("/admin/users/{target}/delete"),
        &[("confirm", "target")],
    )
    .await
    .assert_redirect("/admin/users");
    assert!(
        gatehouse::accounts::entity::find_by_id(&app.db, target)
            .await
            .unwrap()
            .is_none()
    );

    let anonymous = app.browser();
    anonymous
        .get("/admin")
        .await
        .assert_redirect("/login?next=%2Fadmin");
}

#[rocket::async_test]
async fn staff_cannot_act_on_staff_and_nobody_on_themselves() {
    let app = admin_app().await;
    let staff = with_role(&app, "staffer", "is_staff = true").await;
    let root = with_role(&app, "root", "is_superuser = true").await;
    with_role(&app, "other_staff", "is_staff = true").await;
    let (staff_id, root_id, other) = (
        user_id(&app, "staffer").await,
        user_id(&app, "root").await,
        user_id(&app, "other_staff").await,
    );

    staff
        .submit(
            &format!("/admin/users/{other}/active"),
            &[("active", "false")],
        )
        .await
        .assert_status(Status::Forbidden);
    staff
        .submit(&format!("/admin/users/{root_id}/sessions/revoke"), &[])
        .await
        .assert_status(Status::Forbidden);
    staff
        .submit(
            &format!("/admin/users/{staff_id}/active"),
            &[("active", "false")],
        )
        .await
        .assert_status(Status::Conflict);

    for (path, fields) in [
        (
            format!("/admin/users/{root_id}/active"),
            vec![("active", "false")],
        ),
        (
            format!("/admin/users/{root_id}/roles"),
            vec![("is_member", "true")],
        ),
        (
            format!("/admin/users/{root_id}/delete"),
            vec![("confirm", "root")],
        ),
    ] {
        let refused = root.submit(&path, &fields).await;
        refused.assert_status(Status::Conflict);
        assert!(refused.body.contains("your own account"));
    }
    let refused = crate::api::bearer(&app, &crate::api::token_for(&app, "root").await)
        .request(
            rocket::http::Method::Delete,
            &format!("/api/v1/users/{root_id}"),
            None,
            None,
        )
        .await;
    refused.assert_status(Status::Conflict);

    let root_row = gatehouse::accounts::entity::find_by_id(&app.db, root_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        root_row.is_active && root_row.is_superuser,
        "the only superuser stays"
    );
    root.submit(
        &format!("/admin/users/{other}/active"),
        &[("active", "false")],
    )
    .await
    .assert_redirect(&format!("/admin/users/{other}"));
}

#[rocket::async_test]
async fn deactivation_ends_sessions_and_blocks_sign_in_and_api_keys() {
    let app = admin_app().await;
    let staff = with_role(&app, "staffer", "is_staff = true").await;
    let target = app.signed_up("target").await;
    target
        .submit(
            "/account/api-keys",
            &[("name", "k"), ("scopes", "read"), ("expires_days", "30")],
        )
        .await
        .assert_redirect("/account/api-keys");
    let response = target.get("/account/api-keys").await;
    let marker = r#"<code id="new-api-key" class="secret">"#;
    let start = response.body.find(marker).unwrap() + marker.len();
    let key = response.body[start..start + 52].to_owned();
    let token = crate::api::token_for(&app, "target").await;
    let id = user_id(&app, "target").await;

    staff
        .submit(&format!("/admin/users/{id}/active"), &[("active", "false")])
        .await
        .assert_redirect(&format!("/admin/users/{id}"));

    assert!(!target.is_signed_in().await);
    crate::api::client(&app, "X-API-Key", &key)
        .get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
    crate::api::bearer(&app, &token)
        .get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
    app.browser()
        .login("target", PASSWORD)
        .await
        .assert_status(Status::Unauthorized);
    let page = staff.get(&format!("/admin/users/{id}")).await.body;
    assert!(
        page.contains("Deactivated") && page.contains("data-event-kind=\"account_deactivated\"")
    );
    assert!(page.contains("Account deactivated by staffer"));

    staff
        .submit(&format!("/admin/users/{id}/active"), &[("active", "true")])
        .await
        .assert_redirect(&format!("/admin/users/{id}"));
    let back = app.browser();
    back.login("target", PASSWORD)
        .await
        .assert_redirect("/account");
    let log = back.get("/account/security").await.body;
    assert!(log.contains("Account deactivated") && log.contains("by staff"));
}

#[rocket::async_test]
async fn delete_needs_the_username_and_removes_every_dependent_row() {
    let app = admin_app().await;
    let root = with_role(&app, "root", "is_superuser = true").await;
    let target = app.signed_up("target").await;
    target
        .submit(
            "/account/api-keys",
            &[("name", "k"), ("scopes", "read"), ("expires_days", "30")],
        )
        .await;
    crate::two_factor::enable(&app, &target).await;
    let id = user_id(&app, "target").await;
    app.execute(&format!(
        "INSERT INTO linked_accounts (user_id, provider, provider_user_id, linked_at) VALUES ({id}, 'github', '99', '2026-01-01 00:00:00')"
    ))
    .await;
    let count_for = |table: &'static str| {
        let app = &app;
        async move {
            let row = sea_orm::ConnectionTrait::query_one_raw(
                &app.db,
                sea_orm::Statement::from_string(
                    sea_orm::ConnectionTrait::get_database_backend(&app.db),
                    format!("SELECT COUNT(*) AS n FROM {table} WHERE user_id = {id}"),
                ),
            )
            .await
            .unwrap()
            .unwrap();
            row.try_get::<i64>("", "n").unwrap()
        }
    };
    for table in [
        "sessions",
        "api_keys",
        "linked_accounts",
        "recovery_codes",
        "security_events",
    ] {
        assert!(count_for(table).await > 0, "{table} before");
    }

    for wrong in ["", "TARGET", "targetx"] {
        root.submit(&format!("/admin/users/{id}/delete"), &[("confirm", wrong)])
            .await
            .assert_redirect(&format!("/admin/users/{id}"));
        let page = root.get(&format!("/admin/users/{id}")).await.body;
        assert!(page.contains("Nothing was deleted"), "{page}");
    }
    assert!(target.is_signed_in().await);

    root.submit(
        &format!("/admin/users/{id}/delete"),
        &[("confirm", "target")],
    )
    .await
    .assert_redirect("/admin/users");

    for table in [
        "sessions",
        "api_keys",
        "linked_accounts",
        "recovery_codes",
        "security_events",
    ] {
        assert_eq!(count_for(table).await, 0, "{table} after");
    }
    assert!(!target.is_signed_in().await);
    root.get(&format!("/admin/users/{id}"))
        .await
        .assert_status(Status::NotFound);
}

#[rocket::async_test]
async fn users_are_found_by_part_of_their_email_and_paged() {
    let app = admin_app().await;
    let staff = with_role(&app, "staffer", "is_staff = true").await;
    let stamp = "2026-01-01 00:00:00";
    for i in 0..60 {
        let domain = if i % 2 == 0 {
            "even.example"
        } else {
            "odd.example"
        };
        app.execute(&format!(
            "INSERT INTO users (username, email, email_key, is_active, is_member, is_staff, is_superuser, created_at, updated_at) \
             VALUES ('person{i:02}', 'p{i:02}@{domain}', 'p{i:02}@{domain}', true, false, false, false, '{stamp}', '{stamp}')"
        ))
        .await;
    }
    let rows = |html: &str| html.matches("<tr data-user-id=").count();

    let first = staff.get("/admin/users?q=EVEN.EX").await;
    assert!(first.body.contains("30 users matching"));
    assert_eq!(rows(&first.body), 25);
    assert!(first.body.contains("page=2"));
    assert_eq!(
        rows(&staff.get("/admin/users?q=even.ex&page=2").await.body),
        5
    );

    let everyone = staff.get("/admin/users").await.body;
    assert!(everyone.contains("61 users"));
    assert_eq!(rows(&staff.get("/admin/users?page=3").await.body), 11);
    let past_the_end = staff.get("/admin/users?page=18446744073709551615").await;
    past_the_end.assert_status(Status::Ok);
    assert_eq!(rows(&past_the_end.body), 0);
    assert_eq!(
        rows(&staff.get("/admin/users?q=%25").await.body),
        0,
        "% is literal"
    );
    assert!(
        staff
            .get("/admin/users?q=p07%40")
            .await
            .body
            .contains("person07")
    );
}

#[rocket::async_test]
async fn the_dashboard_counts_with_aggregates() {
    let app = admin_app().await;
    let staff = with_role(&app, "staffer", "is_staff = true").await;
    with_role(&app, "member", "is_member = true").await;
    with_role(&app, "idle", "is_active = false").await;
    app.browser().login("member", "wrong wrong wrong").await;

    app.take_query_count();
    let page = staff.get("/admin").await;
    let queries = app.take_query_count();

    page.assert_status(Status::Ok);
    let stat = |id: &str| {
        let marker = format!("id=\"stat-{id}\">");
        let start = page.body.find(&marker).unwrap() + marker.len();
        page.body[start..start + page.body[start..].find('<').unwrap()].to_owned()
    };
    assert_eq!(stat("users"), "3");
    assert_eq!(stat("active-users"), "2");
    assert_eq!(stat("members"), "1");
    assert_eq!(stat("staff"), "1");
    assert_eq!(stat("live-sessions"), "3");
    assert_eq!(stat("sign-ins"), "3");
    assert_eq!(stat("failed-sign-ins"), "1");
    assert_eq!(stat("two-factor"), "0% (0)");
    assert!(queries <= 4, "{queries} queries");
}

#[rocket::async_test]
async fn staff_must_turn_on_two_factor_first() {
    let app = app().spawn().await;
    let staff = with_role(&app, "staffer", "is_staff = true").await;
    let token = crate::api::token_for(&app, "staffer").await;

    let page = staff.get("/admin").await;
    page.assert_redirect("/account/2fa");
    assert!(
        staff
            .get("/account/2fa")
            .await
            .body
            .contains("Staff accounts must turn on two-factor")
    );
    let api = crate::api::bearer(&app, &token).get("/api/v1/users").await;
    api.assert_status(Status::Forbidden);
    assert_eq!(api.json()["error"], "two_factor_required");

    let enabled = crate::two_factor::enable(&app, &staff).await;
    assert!(
        enabled
            .codes_page
            .contains(r#"href="/admin">I have saved them: continue to Admin"#),
        "staff are brought back to the admin pages"
    );

    staff.get("/admin").await.assert_status(Status::Ok);
    crate::api::bearer(&app, &token)
        .get("/api/v1/users")
        .await
        .assert_status(Status::Ok);
}

#[rocket::async_test]
async fn without_the_rule_staff_need_no_second_factor() {
    let app = admin_app().await;
    let staff = with_role(&app, "staffer", "is_staff = true").await;

    staff.get("/admin").await.assert_status(Status::Ok);
}

#[rocket::async_test]
async fn the_members_page_is_for_members() {
    let app = admin_app().await;
    let plain = with_role(&app, "plain", "").await;
    let member = with_role(&app, "member", "is_member = true").await;
    let staff = with_role(&app, "staffer", "is_staff = true").await;

    plain.get("/members").await.assert_status(Status::Forbidden);
    assert!(
        member
            .get("/members")
            .await
            .body
            .contains("This page is for members only.")
    );
    staff.get("/members").await.assert_status(Status::Ok);
    app.browser()
        .get("/members")
        .await
        .assert_redirect("/login?next=%2Fmembers");
}

#[rocket::async_test]
async fn a_new_superuser_promotes_someone_who_can_deactivate_but_not_delete() {
    let database = crate::helpers::TestDatabase::create().await;
    let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args([
            "createsuperuser",
            "--username",
            "root",
            "--email",
            "root@example.com",
        ])
        .env("GATEHOUSE_PASSWORD", PASSWORD)
        .env("ROCKET_DATABASE_URL", &database.url)
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let app = app().database(database.url.clone()).spawn().await;
    app.signed_up("helper").await;
    app.signed_up("victim").await;
    let root = app.browser();
    root.login("root", PASSWORD)
        .await
        .assert_redirect("/account");
    crate::two_factor::enable(&app, &root).await;

    let found = root.get("/admin/users?q=lper%40exam").await;
    assert!(found.body.contains("helper@example.com"));
    let helper = user_id(&app, "helper").await;
    root.submit(
        &format!("/admin/users/{helper}/roles"),
        &[("is_staff", "true")],
    )
    .await
    .assert_redirect(&format!("/admin/users/{helper}"));

    let staff = app.browser();
    staff
        .login("helper", PASSWORD)
        .await
        .assert_redirect("/account");
    crate::two_factor::enable(&app, &staff).await;
    let victim = user_id(&app, "victim").await;
    staff
        .submit(
            &format!("/admin/users/{victim}/active"),
            &[("active", "false")],
        )
        .await
        .assert_redirect(&format!("/admin/users/{victim}"));
    staff
        .submit(
            &format!("/admin/users/{victim}/delete"),
            &[("confirm", "victim")],
        )
        .await
        .assert_status(Status::Forbidden);
    assert!(!is_active(&app, "victim").await);
    assert!(
        gatehouse::accounts::entity::find_by_id(&app.db, victim)
            .await
            .unwrap()
            .is_some()
    );
}

#[rocket::async_test]
async fn the_last_active_superuser_cannot_be_removed_even_by_a_race() {
    use gatehouse::accounts::service::{self, AccountChangeError};
    let app = admin_app().await;
    with_role(&app, "root", "is_superuser = true").await;
    with_role(&app, "admin", "is_superuser = true").await;
    let (root, admin) = (user_id(&app, "root").await, user_id(&app, "admin").await);
    let now = app.now();

    // Two superusers deleting each other at the same moment.
    let root_api = crate::api::bearer(&app, &crate::api::token_for(&app, "root").await);
    let admin_api = crate::api::bearer(&app, &crate::api::token_for(&app, "admin").await);
    let (root_deletes, admin_deletes) = (
        format!("/api/v1/users/{admin}"),
        format!("/api/v1/users/{root}"),
    );
    let (first, second) = rocket::tokio::join!(
        root_api.request(rocket::http::Method::Delete, &root_deletes, None, None),
        admin_api.request(rocket::http::Method::Delete, &admin_deletes, None, None),
    );
    let statuses = [first.status, second.status];
    let mut codes = statuses.map(|s| s.code);
    codes.sort_unstable();
    // The loser is refused by the rule (409), or, when the winner's delete
    // landed before the loser's request was authenticated, is gone (401).
    assert!(
        codes == [204, 409] || codes == [204, 401],
        "one wins, the other is refused cleanly: {codes:?}"
    );
    assert_eq!(
        app.count("users WHERE is_superuser = true AND is_active = true")
            .await,
        1
    );

    // The one left can be neither deleted nor turned off.
    let last = if statuses[0] == Status::NoContent {
        root
    } else {
        admin
    };
    assert!(matches!(
        service::delete_user(&app.db, last).await,
        Err(AccountChangeError::LastSuperuser)
    ));
    assert!(matches!(
        service::set_active(&app.db, last, false, now).await,
        Err(AccountChangeError::LastSuperuser)
    ));
    assert!(is_active(&app, if last == root { "root" } else { "admin" }).await);
}

#[rocket::async_test]
async fn staff_can_end_every_session_of_an_active_user() {
    let app = admin_app().await;
    let staff = with_role(&app, "staffer", "is_staff = true").await;
    let target_browser = with_role(&app, "target", "").await;
    let target = user_id(&app, "target").await;
    let token = crate::api::token_for(&app, "target").await;
    let api = crate::api::bearer(&app, &token);
    api.get("/api/v1/me").await.assert_status(Status::Ok);

    staff
        .submit(&format!("/admin/users/{target}/sessions/revoke"), &[])
        .await
        .assert_redirect(&format!("/admin/users/{target}"));

    assert!(!target_browser.is_signed_in().await);
    api.get("/api/v1/me")
        .await
        .assert_status(Status::Unauthorized);
    assert_eq!(
        app.count(&format!("sessions WHERE user_id = {target}"))
            .await,
        0
    );
    assert!(
        is_active(&app, "target").await,
        "ending sessions is all it does"
    );
    let again = app.browser();
    again
        .login("target", PASSWORD)
        .await
        .assert_redirect("/account");
    let log = again.get("/account/security").await.body;
    assert!(
        log.contains("data-event-kind=\"all_sessions_revoked\""),
        "{log}"
    );
    assert!(log.contains("staffer"));
}

#[rocket::async_test]
async fn the_user_list_shows_when_each_user_was_last_seen() {
    use gatehouse::web::time::absolute;
    let app = admin_app().await;
    let staff = with_role(&app, "staffer", "is_staff = true").await;
    let alice = app.signed_up("alice").await;
    let signed_up_at = app.now();
    app.signed_up("bob").await;
    app.execute("UPDATE users SET last_login_at = NULL WHERE username = 'bob'")
        .await;
    app.execute(
        "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = 'bob')",
    )
    .await;

    app.clock.advance(time::Duration::hours(2));
    alice.get("/account").await.assert_status(Status::Ok);
    let seen_at = app.now();
    let row = |html: &str, name: &str| {
        let start = html.find(&format!(">{name}</a>")).unwrap();
        html[start..start + html[start..].find("</tr>").unwrap()].to_owned()
    };

    staff.get("/admin").await.assert_status(Status::Ok);
    app.take_query_count();
    let page = staff.get("/admin/users").await.body;
    let queries = app.take_query_count();
    for i in 0..10 {
        app.signed_up(&format!("user{i}")).await;
    }
    app.take_query_count();
    staff.get("/admin/users").await.assert_status(Status::Ok);
    // The caller's lookup may or may not have been remembered either time.
    let later = app.take_query_count();
    assert!(
        later <= queries + 1,
        "no query per user: {queries}, then {later}"
    );
    assert!(page.contains("<th scope=\"col\">Last seen</th>"));
    let alices = row(&page, "alice");
    assert!(alices.contains(&absolute(seen_at)), "{alices}");
    assert!(!alices.contains(&absolute(signed_up_at)));
    assert!(row(&page, "bob").contains("never"));
}
