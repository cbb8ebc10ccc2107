//! OAuth flows driven through a real provider on 127.0.0.1.

use rocket::http::Status;
use serde_json::json;

use crate::helpers::{Browser, PASSWORD, TestApp, TestResponse, app};
use crate::oauth_provider::{Failure, FakeProvider, ProviderUser};

pub(crate) async fn setup() -> (TestApp, FakeProvider) {
    setup_with(|builder| builder).await
}

pub(crate) async fn setup_with(
    configure: impl FnOnce(crate::helpers::AppBuilder) -> crate::helpers::AppBuilder,
) -> (TestApp, FakeProvider) {
    let provider = FakeProvider::start().await;
    let builder = app().config(
        "oauth",
        json!({ "fake": provider.config(), "gitlab": { "client_id": "", "client_secret": "" } }),
    );
    (configure(builder).spawn().await, provider)
}

fn octocat() -> ProviderUser {
    ProviderUser::new(42, "octocat", "octo@example.com")
}

/// Follows the app's redirect to the provider, lets the provider answer as
/// a browser would see it, and brings its redirect back to the app.
pub(crate) async fn via_provider(
    browser: &Browser<'_>,
    provider: &FakeProvider,
    start: TestResponse,
) -> TestResponse {
    start.assert_status(Status::SeeOther);
    let authorize = start.header("Location").unwrap().to_owned();
    assert!(authorize.starts_with(&provider.base), "{authorize}");
    let callback = provider_redirect(&authorize).await;
    browser.get(&callback).await
}

/// What the provider's authorize endpoint redirects to, as a local path.
async fn provider_redirect(authorize: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = http.get(authorize).send().await.unwrap();
    assert_eq!(response.status(), 303, "the provider redirects back");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    location
        .strip_prefix("http://127.0.0.1:8000")
        .expect("the redirect URI is public_url + /oauth/<name>/callback")
        .to_owned()
}

pub(crate) async fn login_with_provider(
    browser: &Browser<'_>,
    provider: &FakeProvider,
) -> TestResponse {
    let start = browser.get("/oauth/fake/login").await;
    via_provider(browser, provider, start).await
}

/// A browser signed in as octocat through the provider (a new account).
pub(crate) async fn octocat_signed_in<'a>(
    app: &'a TestApp,
    provider: &FakeProvider,
) -> Browser<'a> {
    provider.sign_in_as(octocat());
    let browser = app.browser();
    login_with_provider(&browser, provider)
        .await
        .assert_redirect("/account");
    browser
}

pub(crate) async fn link_provider(browser: &Browser<'_>, provider: &FakeProvider) -> TestResponse {
    let start = browser.submit("/oauth/fake/link", &[]).await;
    via_provider(browser, provider, start).await
}

#[rocket::async_test]
async fn a_new_identity_signs_up_and_is_signed_in() {
    let (app, provider) = setup().await;
    provider.sign_in_as(octocat());
    let browser = app.browser();

    let response = login_with_provider(&browser, &provider).await;

    response.assert_redirect("/account");
    let account = browser.get("/account").await;
    assert!(
        account
            .body
            .contains(r#"<dd id="account-username">octocat</dd>"#)
    );
    assert!(account.body.contains("octo@example.com"));
    assert!(account.body.contains("Set a password"), "no password yet");
    let linked = browser.get("/account/linked").await;
    assert!(linked.body.contains("Fake Hub") && linked.body.contains("octocat"));
    assert_eq!(app.count("linked_accounts").await, 1);
}

#[rocket::async_test]
async fn the_authorization_request_uses_pkce_state_and_the_exact_redirect_uri() {
    let (app, _provider) = setup().await;

    let start = app.browser().get("/oauth/fake/login").await;

    let location = start.header("Location").unwrap();
    assert!(location.contains("code_challenge_method=S256"));
    assert!(location.contains("state="));
    let redirect_uri = location
        .split('&')
        .find_map(|pair| pair.strip_prefix("redirect_uri="))
        .unwrap();
    assert_eq!(
        rocket::http::RawStr::new(redirect_uri)
            .url_decode()
            .unwrap(),
        "http://127.0.0.1:8000/oauth/fake/callback"
    );
    let cookie = start
        .headers_named("Set-Cookie")
        .into_iter()
        .find(|c| c.starts_with("gatehouse_oauth="))
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && cookie.contains("Max-Age=600")
    );
}

#[rocket::async_test]
async fn a_linked_identity_signs_its_user_in() {
    let (app, provider) = setup().await;
    let alice = app.signed_up("alice").await;
    provider.sign_in_as(ProviderUser::new(7, "alice-gh", "alice.gh@example.com"));

    link_provider(&alice, &provider)
        .await
        .assert_redirect("/account/linked");
    assert!(
        alice
            .get("/account/linked")
            .await
            .body
            .contains("is now linked")
    );
    assert!(
        alice
            .get("/account/security")
            .await
            .body
            .contains("data-event-kind=\"account_linked\"")
    );

    let elsewhere = app.browser();
    let response = login_with_provider(&elsewhere, &provider).await;
    response.assert_redirect("/account");
    assert!(
        elsewhere
            .get("/account")
            .await
            .body
            .contains(r#"<dd id="account-username">alice</dd>"#)
    );
    assert_eq!(app.count("users").await, 1);
}

#[rocket::async_test]
async fn next_survives_the_round_trip_when_it_is_local() {
    let (app, provider) = setup().await;
    provider.sign_in_as(octocat());
    let browser = app.browser();

    let start = browser
        .get("/oauth/fake/login?next=%2Faccount%2Flinked")
        .await;
    via_provider(&browser, &provider, start)
        .await
        .assert_redirect("/account/linked");

    let other = app.browser();
    let start = other.get("/oauth/fake/login?next=%2F%2Fevil.example").await;
    via_provider(&other, &provider, start)
        .await
        .assert_redirect("/account");

    for next in crate::hardening::UNCLEAN_NEXTS {
        let browser = app.browser();
        let query = rocket::http::RawStr::new(next).percent_encode();
        let start = browser
            .get(&format!("/oauth/fake/login?next={query}"))
            .await;
        via_provider(&browser, &provider, start)
            .await
            .assert_redirect("/account");
        assert!(browser.is_signed_in().await, "{next}");
    }
}

#[rocket::async_test]
async fn an_identity_whose_email_has_an_account_is_not_linked_automatically() {
    let (app, provider) = setup().await;
    app.signed_up("alice").await;
    provider.sign_in_as(ProviderUser::new(9, "mallory", "ALICE@example.com"));
    let browser = app.browser();

    let response = login_with_provider(&browser, &provider).await;

    response.assert_status(Status::Conflict);
    assert!(
        response
            .body
            .contains("Sign in with your password, then link")
    );
    assert!(!browser.is_signed_in().await);
    assert_eq!(app.count("users").await, 1);
    assert_eq!(app.count("linked_accounts").await, 0);
}

#[rocket::async_test]
async fn a_wrong_missing_or_replayed_state_changes_nothing() {
    let (app, provider) = setup().await;
    provider.sign_in_as(octocat());
    let browser = app.browser();
    let start = browser.get("/oauth/fake/login").await;
    let callback = provider_redirect(start.header("Location").unwrap()).await;

    let (path, query) = callback.split_once('?').unwrap();
    let forged: String = query
        .split('&')
        .map(|pair| {
            if pair.starts_with("state=") {
                "state=forged".to_owned()
            } else {
                pair.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("&");
    browser
        .get(&format!("{path}?{forged}"))
        .await
        .assert_status(Status::BadRequest);
    // The flow was used up by that attempt, so even the real state fails now.
    let replayed = browser.get(&callback).await;
    replayed.assert_status(Status::BadRequest);
    assert!(replayed.body.contains("expired or was already used"));

    let stranger = app.browser();
    stranger
        .get(&callback)
        .await
        .assert_status(Status::BadRequest);
    assert_eq!(app.count("users").await, 0);
    assert_eq!(provider.token_requests(), 0, "no code was exchanged");
}

#[rocket::async_test]
async fn a_completed_flow_cannot_be_replayed() {
    let (app, provider) = setup().await;
    provider.sign_in_as(octocat());
    let browser = app.browser();
    let start = browser.get("/oauth/fake/login").await;
    let callback = provider_redirect(start.header("Location").unwrap()).await;

    browser.get(&callback).await.assert_redirect("/account");
    browser
        .get(&callback)
        .await
        .assert_status(Status::BadRequest);
}

#[rocket::async_test]
async fn a_code_from_another_browsers_flow_fails_the_pkce_check() {
    let (app, provider) = setup().await;
    provider.sign_in_as(octocat());
    let victim = app.browser();
    let attacker = app.browser();
    let attacker_callback = provider_redirect(
        attacker
            .get("/oauth/fake/login")
            .await
            .header("Location")
            .unwrap(),
    )
    .await;
    let victim_callback = provider_redirect(
        victim
            .get("/oauth/fake/login")
            .await
            .header("Location")
            .unwrap(),
    )
    .await;
    let attacker_code = attacker_callback
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let victim_state = victim_callback.split("state=").nth(1).unwrap();

    let injected = victim
        .get(&format!(
            "/oauth/fake/callback?code={attacker_code}&state={victim_state}"
        ))
        .await;

    injected.assert_status(Status::BadGateway);
    assert!(!victim.is_signed_in().await);
}

#[rocket::async_test]
async fn an_error_from_the_provider_is_shown_and_changes_nothing() {
    let (app, _provider) = setup().await;
    let browser = app.browser();
    let start = browser.get("/oauth/fake/login").await;
    let state = start
        .header("Location")
        .unwrap()
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();

    let response = browser
        .get(&format!(
            "/oauth/fake/callback?error=access_denied&state={state}"
        ))
        .await;

    response.assert_status(Status::BadRequest);
    assert!(response.body.contains("did not authorize"));
    assert_eq!(app.count("users").await, 0);
}

#[rocket::async_test]
async fn a_failing_provider_gets_a_502_and_the_user_stays_signed_in() {
    for failure in [
        Failure::TokenEndpoint500,
        Failure::Userinfo401,
        Failure::UserinfoJunk,
    ] {
        let (app, provider) = setup().await;
        let alice = app.signed_up("alice").await;
        provider.sign_in_as(octocat());
        provider.fail_with(failure);

        let response = link_provider(&alice, &provider).await;

        response.assert_status(Status::BadGateway);
        assert!(response.body.contains("could not reach the provider"));
        assert!(alice.is_signed_in().await);
        assert_eq!(app.count("linked_accounts").await, 0);
    }
}

#[rocket::async_test]
async fn a_slow_provider_times_out_with_a_502() {
    let (app, provider) = setup_with(|builder| builder.config("oauth_timeout_seconds", 1)).await;
    provider.sign_in_as(octocat());
    provider.fail_with(Failure::SlowToken);
    let browser = app.browser();

    let started = std::time::Instant::now();
    let response = login_with_provider(&browser, &provider).await;

    response.assert_status(Status::BadGateway);
    assert!(started.elapsed() < std::time::Duration::from_millis(2500));
}

#[rocket::async_test]
async fn an_identity_linked_to_someone_else_is_refused() {
    let (app, provider) = setup().await;
    let bob = app.signed_up("bob").await;
    let alice = app.signed_up("alice").await;
    provider.sign_in_as(octocat());
    link_provider(&bob, &provider)
        .await
        .assert_redirect("/account/linked");

    let response = link_provider(&alice, &provider).await;

    response.assert_status(Status::Conflict);
    assert!(response.body.contains("already linked to another user"));
    let login = app.browser();
    login_with_provider(&login, &provider)
        .await
        .assert_redirect("/account");
    assert!(
        login
            .get("/account")
            .await
            .body
            .contains(r#"<dd id="account-username">bob</dd>"#)
    );
}

#[rocket::async_test]
async fn unlinking_the_only_way_in_is_refused() {
    let (app, provider) = setup().await;
    let browser = octocat_signed_in(&app, &provider).await;

    browser
        .submit("/oauth/fake/unlink", &[])
        .await
        .assert_redirect("/account/linked");
    let page = browser.get("/account/linked").await;
    assert!(page.body.contains("only way into your account"));
    assert_eq!(app.count("linked_accounts").await, 1);

    browser
        .submit("/account/password", &[("new_password", PASSWORD)])
        .await
        .assert_redirect("/account");
    browser
        .submit("/oauth/fake/unlink", &[])
        .await
        .assert_redirect("/account/linked");
    assert_eq!(app.count("linked_accounts").await, 0);
    app.browser()
        .login("octocat", PASSWORD)
        .await
        .assert_redirect("/account");
    let log = browser.get("/account/security").await.body;
    assert!(
        log.contains("data-event-kind=\"account_unlinked\"")
            && log.contains("Unlinked the Fake account")
    );
}

#[rocket::async_test]
async fn a_link_to_a_provider_no_longer_configured_is_no_way_in() {
    let (app, provider) = setup().await;
    let browser = octocat_signed_in(&app, &provider).await;
    app.execute(
        "INSERT INTO linked_accounts (user_id, provider, provider_user_id, linked_at) \
         SELECT id, 'retired', '42', created_at FROM users WHERE username = 'octocat'",
    )
    .await;

    browser
        .submit("/oauth/fake/unlink", &[])
        .await
        .assert_redirect("/account/linked");
    assert!(
        browser
            .get("/account/linked")
            .await
            .body
            .contains("only way into your account")
    );
    assert_eq!(app.count("linked_accounts").await, 2);
}

#[rocket::async_test]
async fn unlinking_something_not_linked_is_404_and_link_needs_csrf() {
    let (app, _provider) = setup().await;
    let alice = app.signed_up("alice").await;

    alice
        .submit("/oauth/fake/unlink", &[])
        .await
        .assert_status(Status::NotFound);
    alice
        .post_raw("/oauth/fake/link", &[])
        .await
        .assert_status(Status::Forbidden);
    // Anonymous: sent to sign in first.
    app.browser()
        .post_raw("/oauth/fake/link", &[])
        .await
        .assert_redirect("/login");
}

#[rocket::async_test]
async fn a_missing_profile_email_is_taken_from_the_primary_verified_address() {
    let (app, provider) = setup().await;
    provider.sign_in_as(ProviderUser {
        id: 5,
        login: "quiet".into(),
        email: None,
        emails: vec![
            ("old@example.com".into(), false, true),
            ("quiet@example.com".into(), true, true),
        ],
    });
    let browser = app.browser();

    login_with_provider(&browser, &provider)
        .await
        .assert_redirect("/account");

    assert!(
        browser
            .get("/account")
            .await
            .body
            .contains("quiet@example.com")
    );
}

#[rocket::async_test]
async fn no_verified_email_means_no_new_account() {
    let (app, provider) = setup().await;
    provider.sign_in_as(ProviderUser {
        id: 6,
        login: "ghost".into(),
        email: None,
        emails: vec![("ghost@example.com".into(), true, false)],
    });

    let response = login_with_provider(&app.browser(), &provider).await;

    response.assert_status(Status::BadRequest);
    assert!(response.body.contains("verified email"));
    assert_eq!(app.count("users").await, 0);
}

#[rocket::async_test]
async fn a_taken_username_gets_a_suffix() {
    let (app, provider) = setup().await;
    app.signed_up("octocat").await;
    provider.sign_in_as(ProviderUser::new(42, "octocat", "other-octo@example.com"));
    let browser = app.browser();

    login_with_provider(&browser, &provider)
        .await
        .assert_redirect("/account");

    assert!(
        browser
            .get("/account")
            .await
            .body
            .contains(r#"<dd id="account-username">octocat-2</dd>"#)
    );
}

#[rocket::async_test]
async fn providers_without_credentials_or_unknown_names_are_404_and_hidden() {
    let (app, provider) = setup().await;
    let browser = app.browser();

    browser
        .get("/oauth/gitlab/login")
        .await
        .assert_status(Status::NotFound);
    browser
        .get("/oauth/nope/login")
        .await
        .assert_status(Status::NotFound);
    let login = browser.get("/login").await;
    assert!(login.body.contains("Sign in with Fake Hub"));
    assert!(!login.body.contains("GitLab"));
    let csp = login.header("Content-Security-Policy").unwrap().to_owned();
    assert!(
        csp.contains(&format!("form-action 'self' {}", provider.base)),
        "{csp}"
    );
}

#[rocket::async_test]
async fn a_two_factor_user_signing_in_with_a_provider_still_needs_a_code() {
    let (app, provider) = setup().await;
    let alice = app.signed_up("alice").await;
    provider.sign_in_as(octocat());
    link_provider(&alice, &provider)
        .await
        .assert_redirect("/account/linked");
    let enabled = crate::two_factor::enable(&app, &alice).await;
    app.clock.advance(time::Duration::minutes(1));
    let browser = app.browser();

    let response = login_with_provider(&browser, &provider).await;

    response.assert_redirect("/login/2fa");
    assert!(!browser.is_signed_in().await);
    let code = crate::two_factor::code(&enabled.secret, crate::two_factor::now(&app));
    browser
        .submit("/login/2fa", &[("code", &code)])
        .await
        .assert_redirect("/account");
    let log = browser.get("/account/security").await.body;
    assert!(
        log.contains("Signed in with Fake and an authenticator app code"),
        "{log}"
    );
}

#[rocket::async_test]
async fn sign_ups_through_a_provider_count_against_the_address() {
    let (app, provider) =
        setup_with(|builder| builder.config("rate_limits.sign_up_per_ip", "2/1h")).await;
    app.signed_up("alice").await;
    provider.sign_in_as(octocat());
    login_with_provider(&app.browser(), &provider)
        .await
        .assert_redirect("/account");

    provider.sign_in_as(ProviderUser::new(43, "hubot", "hubot@example.com"));
    let refused = login_with_provider(&app.browser(), &provider).await;

    refused.assert_status(Status::TooManyRequests);
    assert!(refused.header("Retry-After").is_some());
    assert_eq!(app.count("users").await, 2);
    // Signing in to an account that exists is no sign-up.
    provider.sign_in_as(octocat());
    login_with_provider(&app.browser(), &provider)
        .await
        .assert_redirect("/account");
}

#[rocket::async_test]
async fn without_a_password_ending_other_sessions_says_to_set_one() {
    let (app, provider) = setup().await;
    let browser = octocat_signed_in(&app, &provider).await;
    let elsewhere = app.browser();
    login_with_provider(&elsewhere, &provider)
        .await
        .assert_redirect("/account");

    assert!(
        browser
            .get("/account/sessions")
            .await
            .body
            .contains("set one</a> first")
    );
    let refused = browser
        .submit("/account/sessions/revoke-others", &[("password", "")])
        .await;
    refused.assert_status(Status::UnprocessableEntity);
    assert!(refused.body.contains("no password yet"));
    assert!(elsewhere.is_signed_in().await);
    assert_eq!(
        app.count("security_events WHERE kind = 'sign_in_failed'")
            .await,
        0,
        "not a failed sign-in"
    );
}

#[rocket::async_test]
async fn a_callback_without_state_changes_nothing() {
    let (app, provider) = setup().await;
    provider.sign_in_as(octocat());
    let browser = app.browser();
    let start = browser.get("/oauth/fake/login").await;
    let callback = provider_redirect(start.header("Location").unwrap()).await;
    let (path, query) = callback.split_once('?').unwrap();
    let without_state: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.starts_with("state="))
        .collect();
    assert_eq!(without_state.len(), 1, "only the code is left");

    let refused = browser
        .get(&format!("{path}?{}", without_state.join("&")))
        .await;

    refused.assert_status(Status::BadRequest);
    assert_eq!(app.count("users").await, 0);
    assert_eq!(provider.token_requests(), 0, "no code was exchanged");
}

#[rocket::async_test]
async fn a_provider_that_refuses_connections_gives_a_502_and_keeps_you_signed_in() {
    let provider = FakeProvider::start().await;
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut config = provider.config();
    config["token_url"] = json!(format!("http://127.0.0.1:{closed_port}/token"));
    let app = app()
        .config("oauth", json!({ "fake": config }))
        .spawn()
        .await;
    provider.sign_in_as(octocat());
    let alice = app.signed_up("alice").await;

    let response = link_provider(&alice, &provider).await;

    response.assert_status(Status::BadGateway);
    assert!(response.body.contains("could not reach the provider"));
    assert!(alice.is_signed_in().await);
    assert_eq!(app.count("linked_accounts").await, 0);
}
