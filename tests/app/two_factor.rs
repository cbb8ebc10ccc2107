//! Two-factor authentication through the real pages.

use base64::Engine as _;
use rocket::http::Status;
use time::Duration;
use totp_rs::{Builder, Secret};

use crate::helpers::{Browser, PASSWORD, TestApp, TestResponse, app, spawn_app};

/// What a page shows in `<code id="{id}" ...>`, unescaped.
fn code_text(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no #{id}"));
    let start = start + html[start..].find('>').unwrap() + 1;
    let end = start + html[start..].find('<').unwrap();
    unescape(&html[start..end])
}

fn unescape(text: &str) -> String {
    text.replace("&#x2F;", "/")
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

fn recovery_codes(html: &str) -> Vec<String> {
    html.split("<code class=\"recovery-code\">")
        .skip(1)
        .map(|rest| rest[..rest.find('<').unwrap()].to_owned())
        .collect()
}

/// The code an authenticator app shows for `secret` at unix time `at`.
pub fn code(secret: &str, at: i64) -> String {
    Builder::new()
        .with_secret(Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap()
        .generate(at as u64)
        .to_string()
}

pub fn now(app: &TestApp) -> i64 {
    app.now().unix_timestamp()
}

pub struct Enabled {
    pub secret: String,
    pub codes: Vec<String>,
    /// The page that showed the codes, once.
    pub codes_page: String,
}

/// `POST /account/2fa/setup`, then the page it sends to; the secret.
async fn begin_setup(browser: &Browser<'_>) -> String {
    browser
        .submit("/account/2fa/setup", &[])
        .await
        .assert_redirect("/account/2fa/setup");
    let setup = browser.get("/account/2fa/setup").await;
    setup.assert_status(Status::Ok);
    code_text(&setup.body, "totp-secret")
}

/// Follows the redirect after codes were made to the page showing them.
async fn shown_codes(browser: &Browser<'_>, made: TestResponse) -> TestResponse {
    made.assert_redirect("/account/2fa/recovery-codes");
    let page = browser.get("/account/2fa/recovery-codes").await;
    page.assert_status(Status::Ok);
    page
}

pub async fn enable(app: &TestApp, browser: &Browser<'_>) -> Enabled {
    let secret = begin_setup(browser).await;
    let confirmed = browser
        .submit(
            "/account/2fa/confirm",
            &[("code", &code(&secret, now(app)))],
        )
        .await;
    let confirmed = shown_codes(browser, confirmed).await;
    Enabled {
        secret,
        codes: recovery_codes(&confirmed.body),
        codes_page: confirmed.body,
    }
}

/// Signs `username` out and in with the password; returns the browser at
/// the second step.
async fn password_step<'a>(app: &'a TestApp, username: &str) -> Browser<'a> {
    let browser = app.browser();
    browser
        .login(username, PASSWORD)
        .await
        .assert_redirect("/login/2fa");
    browser
}

#[rocket::async_test]
async fn setup_enables_nothing_until_a_correct_code_is_confirmed() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;

    let setup = browser.submit("/account/2fa/setup", &[]).await;
    setup.assert_redirect("/account/2fa/setup");
    let setup = browser.get("/account/2fa/setup").await;
    setup.assert_status(Status::Ok);
    let secret = code_text(&setup.body, "totp-secret");
    assert_eq!(secret.len(), 32, "160 bits in base32");
    let again = browser.get("/account/2fa/setup").await;
    assert_eq!(
        code_text(&again.body, "totp-secret"),
        secret,
        "the same on reload"
    );
    let uri = code_text(&setup.body, "totp-uri");
    assert!(uri.starts_with("otpauth://totp/Gatehouse:alice?"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")) && uri.contains("issuer=Gatehouse"));
    assert!(
        browser
            .get("/account")
            .await
            .body
            .contains("id=\"account-two-factor\">Off")
    );

    let wrong = browser
        .submit("/account/2fa/confirm", &[("code", "000000")])
        .await;
    wrong.assert_status(Status::UnprocessableEntity);
    assert!(wrong.body.contains("That code is not right"));
    assert_eq!(
        code_text(&wrong.body, "totp-secret"),
        secret,
        "the same secret again"
    );
    assert!(
        browser
            .get("/account")
            .await
            .body
            .contains("id=\"account-two-factor\">Off")
    );

    let confirmed = browser
        .submit(
            "/account/2fa/confirm",
            &[("code", &code(&secret, now(&app)))],
        )
        .await;

    let confirmed = shown_codes(&browser, confirmed).await;
    let codes = recovery_codes(&confirmed.body);
    let reload = browser.get("/account/2fa/recovery-codes").await;
    reload.assert_redirect("/account/2fa");
    assert!(recovery_codes(&browser.get("/account/2fa").await.body).is_empty());
    assert_eq!(codes.len(), 10);
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 14 && c.matches('-').count() == 2)
    );
    let account = browser.get("/account").await;
    assert!(
        account.body.contains("On (10 recovery codes left)"),
        "{}",
        account.body
    );
    assert!(
        !browser.get("/account/2fa").await.body.contains(&codes[0]),
        "shown once"
    );
}

#[rocket::async_test]
async fn the_qr_code_decodes_to_the_otpauth_uri() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    begin_setup(&browser).await;
    let setup = browser.get("/account/2fa/setup").await;
    let uri = code_text(&setup.body, "totp-uri");
    let body = unescape(&setup.body);
    let marker = "id=\"totp-qr\" src=\"data:image/svg+xml;base64,";
    let start = body.find(marker).unwrap() + marker.len();
    let end = start + body[start..].find('"').unwrap();
    let svg = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(&body[start..end])
            .unwrap(),
    )
    .unwrap();

    let decoded = decode_svg_qr(&svg);

    assert_eq!(decoded, uri);
}

/// Rasterizes the SVG the qrcode crate draws (one `<path>` of
/// `M{x} {y}h{w}v{h}H{x}V{y}` rectangles) and reads it with rqrr.
fn decode_svg_qr(svg: &str) -> String {
    let attribute = |name: &str| -> usize {
        let start = svg.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        svg[start..start + svg[start..].find('"').unwrap()]
            .parse()
            .unwrap()
    };
    let (width, height) = (attribute("width"), attribute("height"));
    let mut dark = vec![false; width * height];
    let path_start = svg.find("<path").unwrap();
    let d_start = path_start + svg[path_start..].find(" d=\"").unwrap() + 4;
    let d = &svg[d_start..d_start + svg[d_start..].find('"').unwrap()];
    for rect in d.split('M').filter(|r| !r.is_empty()) {
        let numbers: Vec<usize> = rect
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
            .map(|n| n.parse().unwrap())
            .collect();
        let (x, y, w, h) = (numbers[0], numbers[1], numbers[2], numbers[3]);
        for row in y..y + h {
            for column in x..x + w {
                dark[row * width + column] = true;
            }
        }
    }
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
        if dark[y * width + x] { 0 } else { 255 }
    });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    grids[0].decode().unwrap().1
}

#[rocket::async_test]
async fn the_secret_is_not_stored_in_clear() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let enabled = enable(&app, &browser).await;

    let user = gatehouse::accounts::entity::find_by_id(&app.db, 1)
        .await
        .unwrap()
        .unwrap();

    let stored = user.totp_secret.unwrap();
    assert!(!stored.contains(&enabled.secret));
    let raw = Secret::try_from_base32(&enabled.secret)
        .unwrap()
        .as_ref()
        .to_vec();
    let stored_bytes = base64::engine::general_purpose::STANDARD
        .decode(&stored)
        .unwrap();
    assert!(!stored_bytes.windows(raw.len()).any(|w| w == raw.as_slice()));
    let dump = app.stored_text().await;
    assert!(dump.contains("alice@example.com"), "the dump reads values");
    for code in &enabled.codes {
        assert!(!dump.contains(code.as_str()) && !dump.contains(&code.replace('-', "")));
    }
    assert!(!dump.contains(&enabled.secret));
}

#[rocket::async_test]
async fn sign_in_takes_a_second_step_with_no_session_in_between() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let enabled = enable(&app, &browser).await;
    browser.logout().await;
    app.clock.advance(Duration::minutes(1));
    let sessions_before = app.count("sessions").await;

    let step = password_step(&app, "alice").await;

    assert_eq!(
        app.count("sessions").await,
        sessions_before,
        "no session yet"
    );
    step.get("/account")
        .await
        .assert_redirect("/login?next=%2Faccount");
    let page = step.get("/login/2fa").await;
    page.assert_status(Status::Ok);
    assert!(page.body.contains("autocomplete=\"one-time-code\""));
    step.submit("/login/2fa", &[("code", &code(&enabled.secret, now(&app)))])
        .await
        .assert_redirect("/account");
    assert!(step.is_signed_in().await);
    assert_eq!(app.count("sessions").await, sessions_before + 1);
}

#[rocket::async_test]
async fn the_second_step_keeps_next_and_remember_me() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let enabled = enable(&app, &browser).await;
    app.clock.advance(Duration::minutes(1));
    let other = app.browser();

    other
        .submit(
            "/login",
            &[
                ("login", "alice"),
                ("password", PASSWORD),
                ("remember", "on"),
                ("next", "/account/sessions"),
            ],
        )
        .await
        .assert_redirect("/login/2fa");
    let done = other
        .submit("/login/2fa", &[("code", &code(&enabled.secret, now(&app)))])
        .await;

    done.assert_redirect("/account/sessions");
    let cookie = done
        .headers_named("Set-Cookie")
        .into_iter()
        .find(|c| c.starts_with("gatehouse_session="))
        .unwrap()
        .to_owned();
    assert!(cookie.contains("Expires="), "remembered");
}

#[rocket::async_test]
async fn a_code_is_accepted_once() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let enabled = enable(&app, &browser).await;
    app.clock.advance(Duration::minutes(1));
    let current = code(&enabled.secret, now(&app));

    let first = password_step(&app, "alice").await;
    first
        .submit("/login/2fa", &[("code", &current)])
        .await
        .assert_redirect("/account");
    let second = password_step(&app, "alice").await;
    let replayed = second.submit("/login/2fa", &[("code", &current)]).await;

    replayed.assert_status(Status::Unauthorized);
    assert!(replayed.body.contains("not valid (or was already used)"));
    app.clock.advance(Duration::seconds(30));
    second
        .submit("/login/2fa", &[("code", &code(&enabled.secret, now(&app)))])
        .await
        .assert_redirect("/account");
}

#[rocket::async_test]
async fn one_step_of_clock_skew_is_accepted_and_two_are_not() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let enabled = enable(&app, &browser).await;
    app.clock.advance(Duration::minutes(5));
    let t = now(&app);

    let step = password_step(&app, "alice").await;
    for refused in [t - 60, t + 60] {
        step.submit("/login/2fa", &[("code", &code(&enabled.secret, refused))])
            .await
            .assert_status(Status::Unauthorized);
    }
    step.submit("/login/2fa", &[("code", &code(&enabled.secret, t - 30))])
        .await
        .assert_redirect("/account");
    let again = password_step(&app, "alice").await;
    again
        .submit("/login/2fa", &[("code", &code(&enabled.secret, t + 30))])
        .await
        .assert_redirect("/account");
}

#[rocket::async_test]
async fn a_recovery_code_signs_in_once() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let enabled = enable(&app, &browser).await;
    let recovery = enabled.codes[3].to_uppercase();

    let first = password_step(&app, "alice").await;
    first
        .submit("/login/2fa", &[("code", &recovery)])
        .await
        .assert_redirect("/account");
    assert!(
        first
            .get("/account")
            .await
            .body
            .contains("On (9 recovery codes left)")
    );
    let second = password_step(&app, "alice").await;

    second
        .submit("/login/2fa", &[("code", &recovery)])
        .await
        .assert_status(Status::Unauthorized);
    let log = first.get("/account/security").await.body;
    assert!(log.contains("data-event-kind=\"recovery_code_used\""));
}

#[rocket::async_test]
async fn new_recovery_codes_void_the_old_set_and_need_the_password() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let enabled = enable(&app, &browser).await;

    let refused = browser
        .submit(
            "/account/2fa/recovery-codes",
            &[("password", "wrong password")],
        )
        .await;
    refused.assert_status(Status::UnprocessableEntity);
    let renewed = browser
        .submit("/account/2fa/recovery-codes", &[("password", PASSWORD)])
        .await;
    let renewed = shown_codes(&browser, renewed).await;
    let new_codes = recovery_codes(&renewed.body);
    assert_eq!(new_codes.len(), 10);
    assert!(
        browser
            .get("/account/security")
            .await
            .body
            .contains("data-event-kind=\"recovery_codes_regenerated\"")
    );

    let step = password_step(&app, "alice").await;
    step.submit("/login/2fa", &[("code", &enabled.codes[0])])
        .await
        .assert_status(Status::Unauthorized);
    step.submit("/login/2fa", &[("code", &new_codes[0])])
        .await
        .assert_redirect("/account");
}

#[rocket::async_test]
async fn five_wrong_codes_drop_the_pending_sign_in_even_if_its_cookie_is_replayed() {
    let app = app().config("rate_limits.enabled", false).spawn().await;
    let browser = app.signed_up("alice").await;
    let enabled = enable(&app, &browser).await;
    app.clock.advance(Duration::minutes(1));
    let step = password_step(&app, "alice").await;
    let saved = app.browser();
    saved.copy_cookies_from(&step);

    for _ in 0..4 {
        step.submit("/login/2fa", &[("code", "000000")])
            .await
            .assert_status(Status::Unauthorized);
    }
    step.submit("/login/2fa", &[("code", "000000")])
        .await
        .assert_redirect("/login");
    assert!(
        step.get("/login")
            .await
            .body
            .contains("Too many wrong codes")
    );

    let right = code(&enabled.secret, now(&app));
    step.submit("/login/2fa", &[("code", &right)])
        .await
        .assert_redirect("/login");
    saved
        .submit("/login/2fa", &[("code", &right)])
        .await
        .assert_redirect("/login");
    assert!(!saved.is_signed_in().await);
}

#[rocket::async_test]
async fn the_pending_sign_in_expires_after_five_minutes() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let enabled = enable(&app, &browser).await;
    let step = password_step(&app, "alice").await;

    app.clock.advance(Duration::minutes(6));

    step.get("/login/2fa").await.assert_redirect("/login");
    step.submit("/login/2fa", &[("code", &code(&enabled.secret, now(&app)))])
        .await
        .assert_redirect("/login");
    assert!(!step.is_signed_in().await);
}

#[rocket::async_test]
async fn a_forged_pending_cookie_is_refused() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    enable(&app, &browser).await;
    let step = password_step(&app, "alice").await;
    let real = step.cookie("gatehouse_2fa").unwrap();
    // Change the first character to a different one: a fixed replacement would
    // leave the cookie intact whenever it already started with that character.
    let replacement = if real.starts_with('A') { 'B' } else { 'A' };
    step.set_cookie("gatehouse_2fa", &format!("{replacement}{}", &real[1..]));

    step.get("/login/2fa").await.assert_redirect("/login");
}

#[rocket::async_test]
async fn turning_it_off_needs_the_password_and_a_code() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let enabled = enable(&app, &browser).await;
    app.clock.advance(Duration::minutes(1));
    let current = code(&enabled.secret, now(&app));

    let wrong_password = browser
        .submit(
            "/account/2fa/disable",
            &[("password", "nope nope"), ("code", &current)],
        )
        .await;
    wrong_password.assert_status(Status::UnprocessableEntity);
    let wrong_code = browser
        .submit(
            "/account/2fa/disable",
            &[("password", PASSWORD), ("code", "123456")],
        )
        .await;
    wrong_code.assert_status(Status::UnprocessableEntity);
    assert!(
        browser
            .get("/account")
            .await
            .body
            .contains("id=\"account-two-factor\">On")
    );

    browser
        .submit(
            "/account/2fa/disable",
            &[("password", PASSWORD), ("code", &current)],
        )
        .await
        .assert_redirect("/account/2fa");

    assert!(
        browser
            .get("/account")
            .await
            .body
            .contains("id=\"account-two-factor\">Off")
    );
    assert_eq!(app.count("recovery_codes").await, 0);
    app.browser()
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/account");
    let log = browser.get("/account/security").await.body;
    assert!(log.contains("two_factor_enabled") && log.contains("two_factor_disabled"));
}

#[rocket::async_test]
async fn every_two_factor_form_needs_its_csrf_token() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;

    for (path, fields) in [
        ("/account/2fa/setup", vec![]),
        ("/account/2fa/confirm", vec![("code", "123456")]),
        (
            "/account/2fa/disable",
            vec![("password", PASSWORD), ("code", "123456")],
        ),
        ("/account/2fa/recovery-codes", vec![("password", PASSWORD)]),
        ("/login/2fa", vec![("code", "123456")]),
    ] {
        browser
            .post_raw(path, &fields)
            .await
            .assert_status(Status::Forbidden);
    }
    let user = gatehouse::accounts::entity::find_by_id(&app.db, 1)
        .await
        .unwrap()
        .unwrap();
    assert!(user.totp_pending_secret.is_none());
}

#[rocket::async_test]
async fn the_token_endpoint_needs_a_fresh_otp() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let enabled = enable(&app, &browser).await;
    app.clock.advance(Duration::minutes(1));
    let base = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", PASSWORD),
    ];
    let with_otp = |otp: &str| {
        let mut fields = base.to_vec();
        fields.push(("otp", otp));
        fields
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect::<Vec<_>>()
    };
    let send = |fields: Vec<(String, String)>| {
        let app = &app;
        async move {
            let borrowed: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            crate::api::token_request(app, &borrowed).await
        }
    };

    let missing = crate::api::token_request(&app, &base).await;
    missing.assert_status(Status::BadRequest);
    assert_eq!(missing.json()["error"], "invalid_grant");
    assert!(
        missing.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("otp")
    );
    send(with_otp("000000"))
        .await
        .assert_status(Status::BadRequest);

    let current = code(&enabled.secret, now(&app));
    let granted = send(with_otp(&current)).await;
    granted.assert_status(Status::Ok);
    let token = granted.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        crate::api::bearer(&app, &token)
            .get("/api/v1/me")
            .await
            .json()["two_factor"],
        true
    );
    send(with_otp(&current))
        .await
        .assert_status(Status::BadRequest);
}

#[rocket::async_test]
async fn new_pending_sign_ins_do_not_bring_new_guesses() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    enable(&app, &browser).await;

    let first = password_step(&app, "alice").await;
    for _ in 0..3 {
        first
            .submit("/login/2fa", &[("code", "000000")])
            .await
            .assert_status(Status::Unauthorized);
    }
    let second = password_step(&app, "alice").await;
    for _ in 0..2 {
        second
            .submit("/login/2fa", &[("code", "111111")])
            .await
            .assert_status(Status::Unauthorized);
    }

    let third = app.browser();
    third
        .login("alice", PASSWORD)
        .await
        .assert_status(Status::TooManyRequests);
}

#[rocket::async_test]
async fn pending_sign_ins_collected_early_bring_no_extra_guesses() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    let enabled = enable(&app, &browser).await;
    app.clock.advance(Duration::minutes(1));
    // Someone with the password starts three sign-ins before guessing.
    let first = password_step(&app, "alice").await;
    let second = password_step(&app, "alice").await;
    for _ in 0..4 {
        first
            .submit("/login/2fa", &[("code", "000000")])
            .await
            .assert_status(Status::Unauthorized);
    }
    first
        .submit("/login/2fa", &[("code", "000000")])
        .await
        .assert_redirect("/login");

    // The account is over its limit: the second one may not guess at all,
    // not even right.
    let refused = second
        .submit("/login/2fa", &[("code", &code(&enabled.secret, now(&app)))])
        .await;
    refused.assert_status(Status::TooManyRequests);
    assert!(refused.header("Retry-After").is_some());
    assert!(!second.is_signed_in().await);
}

#[rocket::async_test]
async fn parallel_guesses_share_the_five_tries() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    enable(&app, &browser).await;
    let step = password_step(&app, "alice").await;
    let token = step.csrf_token_from("/login/2fa").await;
    // Eight copies of the same pending sign-in, guessing at once.
    let copies: Vec<Browser<'_>> = (0..8)
        .map(|_| {
            let copy = app.browser();
            for name in ["gatehouse_2fa", "gatehouse_csrf"] {
                copy.set_cookie(name, &step.cookie(name).unwrap());
            }
            copy
        })
        .collect();

    let form = [("code", "000000"), ("csrf_token", token.as_str())];
    let guesses = copies.iter().map(|copy| copy.post_raw("/login/2fa", &form));
    let answers = rocket::futures::future::join_all(guesses).await;

    for answer in &answers {
        assert!(
            [Status::SeeOther, Status::Unauthorized].contains(&answer.status),
            "a wrong code or the way back to /login, not {}",
            answer.status
        );
    }
    // Each guess is counted before it is checked and sees every count made
    // so far, so a burst may check fewer than five (even none), never more.
    let checked = app
        .count("security_events WHERE kind = 'sign_in_failed'")
        .await;
    assert!(checked <= 5, "{checked} codes checked");
}

#[rocket::async_test]
async fn parallel_token_requests_share_the_accounts_guesses_at_otp() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    enable(&app, &browser).await;
    let form = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", PASSWORD),
        ("otp", "000000"),
    ];

    let requests = (0..8).map(|_| crate::api::token_request(&app, &form));
    let answers = rocket::futures::future::join_all(requests).await;

    let count = |status| answers.iter().filter(|a| a.status == status).count();
    assert_eq!(
        (count(Status::BadRequest), count(Status::TooManyRequests)),
        (5, 3),
        "five codes checked, the rest refused"
    );
}

#[rocket::async_test]
async fn turning_off_or_renewing_codes_when_two_factor_is_off_says_so() {
    let app = spawn_app().await;
    let browser = app.signed_up("alice").await;
    for (path, fields) in [
        (
            "/account/2fa/disable",
            vec![("password", PASSWORD), ("code", "123456")],
        ),
        ("/account/2fa/recovery-codes", vec![("password", PASSWORD)]),
    ] {
        let page = browser.submit(path, &fields).await;
        page.assert_status(Status::UnprocessableEntity);
        assert!(
            page.body.contains(
                r#"<p class="error" role="alert">Two-factor authentication is not on.</p>"#
            ),
            "{path}: {}",
            page.body
        );
    }
}
