//! Every page, as a visitor, a user and staff: it fits a 390 px phone
//! without sideways scrolling, axe-core finds nothing, and a screenshot
//! at each width lands in `target/screenshots/`.

use std::path::Path;

use super::driver::Chrome;
use super::{browser_available, next_code, sign_in, sign_out, sign_up, turn_on_two_factor};
use crate::socket::Served;

const NARROWEST: u32 = 320;
const PHONE: u32 = 390;
const DESKTOP: u32 = 1280;

/// The text fields and selects whose border has less than 3:1 contrast
/// with the background behind them.
const CONTROL_CONTRAST: &str = r#"
const rgb = c => (c.match(/[\d.]+/g) || []).map(Number);
const lum = ([r, g, b]) => [r, g, b].map(v => {
  v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
}).reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
const behind = e => {
  for (let p = e.parentElement; p; p = p.parentElement) {
    const c = rgb(getComputedStyle(p).backgroundColor);
    if (c.length === 3 || c[3] > 0) return c.slice(0, 3);
  }
  return [255, 255, 255];
};
return [...document.querySelectorAll('input:not([type=hidden]):not([type=checkbox]):not([type=radio]), select')]
  .filter(e => e.offsetParent !== null)
  .map(e => {
    const a = lum(rgb(getComputedStyle(e).borderTopColor)), b = lum(behind(e));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    return [e.id || e.name, Math.round(ratio * 100) / 100];
  })
  .filter(([, ratio]) => ratio < 3);
"#;

/// Checks the pages `paths` as whoever `chrome` is signed in as; returns
/// what is wrong with them.
async fn check(chrome: &Chrome, served: &Served, who: &str, paths: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    for path in paths {
        chrome.goto(&served.url(path)).await;
        problems.extend(check_here(chrome, who, path).await);
    }
    problems
}

/// Checks the page the browser is on (`path` names it in the report and
/// the screenshots' names).
pub(super) async fn check_here(chrome: &Chrome, who: &str, path: &str) -> Vec<String> {
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    let name = path.trim_matches('/').replace(['/', '?', '=', ' '], "-");
    let name = if name.is_empty() {
        "home".to_owned()
    } else {
        name
    };
    let mut problems = Vec::new();
    chrome.set_width(DESKTOP).await;
    chrome
        .screenshot(&shots.join(format!("{who}-{name}-{DESKTOP}.png")))
        .await;
    // SPEC asks for 320 px; the issue's phone is 390 px.
    for width in [NARROWEST, PHONE] {
        chrome.set_width(width).await;
        let overflow = chrome.overflow().await;
        if overflow > 0 {
            problems.push(format!(
                "{who} {path}: {overflow} px wider than a {width} px screen"
            ));
        }
    }
    chrome
        .screenshot(&shots.join(format!("{who}-{name}-{PHONE}.png")))
        .await;
    let duplicates = chrome
        .run(
            "const ids = [...document.querySelectorAll('[id]')].map(e => e.id); \
             return ids.filter((id, i) => ids.indexOf(id) !== i);",
            serde_json::json!([]),
        )
        .await;
    if duplicates.as_array().is_some_and(|d| !d.is_empty()) {
        problems.push(format!("{who} {path}: ids used twice: {duplicates}"));
    }
    // axe-core checks text contrast, not that of controls' borders (WCAG
    // 1.4.11 asks 3:1 of them against what is behind).
    let faint = chrome.run(CONTROL_CONTRAST, serde_json::json!([])).await;
    if faint.as_array().is_some_and(|f| !f.is_empty()) {
        problems.push(format!("{who} {path}: faint control borders: {faint}"));
    }
    for violation in chrome.axe_violations().await {
        problems.push(format!("{who} {path}: {violation}"));
    }
    problems
}

#[rocket::async_test]
async fn every_page_fits_a_phone_and_passes_axe_signed_out_signed_in_and_as_staff() {
    if !browser_available() {
        return;
    }
    // A provider configured (never contacted), so its buttons are shown;
    // served under a domain, so the passkey controls are too.
    let github = serde_json::json!({ "github": { "client_id": "id", "client_secret": "secret" } });
    let served = Served::start_on_localhost(&[("oauth", github)]).await;
    let chrome = Chrome::start(DESKTOP).await;
    // The checks themselves work: a page with faults is caught.
    chrome
        .goto("data:text/html,<html><body><img src='x'><div style='width:900px'>wide</div></body></html>")
        .await;
    chrome.set_width(PHONE).await;
    assert!(chrome.overflow().await > 0, "overflow is measured");
    let faults = chrome.axe_violations().await;
    assert!(
        faults.iter().any(|v| v.starts_with("image-alt")),
        "axe-core runs: {faults:?}"
    );
    let mut problems = check(
        &chrome,
        &served,
        "visitor",
        &["/", "/login", "/signup", "/no-such-page"],
    )
    .await;

    // The page of too many attempts.
    let http = served.browser();
    served
        .submit(
            &http,
            "/signup",
            "/signup",
            &[
                ("username", "locked"),
                ("email", "locked@example.com"),
                ("password", crate::helpers::PASSWORD),
            ],
        )
        .await;
    for _ in 0..5 {
        served
            .submit(
                &served.browser(),
                "/login",
                "/login",
                &[("login", "locked"), ("password", "a wrong guess")],
            )
            .await;
    }
    sign_in(&chrome, &served, "locked").await;
    assert!(
        chrome
            .text("#retry-after")
            .await
            .starts_with("You can try again in")
    );
    problems.extend(check_here(&chrome, "visitor", "/login too many").await);

    // A user with a long name, some history, a key and two sessions.
    let user = "a_rather_long_username_here";
    sign_up(&chrome, &served, user).await;
    let other = served.browser();
    let login = served
        .submit(
            &other,
            "/login",
            "/login",
            &[("login", user), ("password", "not the password")],
        )
        .await;
    assert_eq!(login.status(), 401);
    served
        .submit(
            &other,
            "/login",
            "/login",
            &[("login", user), ("password", crate::helpers::PASSWORD)],
        )
        .await;
    chrome.goto(&served.url("/account/api-keys")).await;
    chrome.type_into("#name", "nightly backup script").await;
    chrome.click("#scope-write").await;
    chrome
        .submit("form[action^='/account/api-keys#'] button[type=submit]")
        .await;
    problems.extend(
        check(
            &chrome,
            &served,
            "user",
            &[
                "/",
                "/account",
                "/account/2fa",
                "/account/sessions",
                "/account/api-keys",
                "/account/passkeys",
                "/account/security",
                "/account/linked",
                "/account/confirm?next=/account/api-keys",
                "/members",
                "/admin",
                "/no-such-page",
            ],
        )
        .await,
    );

    // Forms showing their errors.
    chrome.goto(&served.url("/account")).await;
    chrome
        .type_into("#current_password", "not my password")
        .await;
    chrome.type_into("#new_password", "short").await;
    chrome
        .submit("form[action='/account/password'] button")
        .await;
    problems.extend(check_here(&chrome, "user", "/account password errors").await);
    chrome.goto(&served.url("/account")).await;
    chrome.type_into("#email", "not an address").await;
    chrome.type_into("#password", "not my password").await;
    chrome.submit("form[action='/account/email'] button").await;
    problems.extend(check_here(&chrome, "user", "/account email errors").await);
    chrome.goto(&served.url("/account")).await;
    chrome.type_into("#confirm", "someone else").await;
    chrome
        .type_into("#delete_password", "not my password")
        .await;
    chrome.submit("form[action='/account/delete'] button").await;
    problems.extend(check_here(&chrome, "user", "/account delete errors").await);
    chrome.goto(&served.url("/account/api-keys")).await;
    chrome.click("#scope-read").await;
    chrome
        .submit("form[action^='/account/api-keys#'] button[type=submit]")
        .await;
    problems.extend(check_here(&chrome, "user", "/account/api-keys errors").await);
    chrome.goto(&served.url("/account/confirm")).await;
    chrome.type_into("#password", "not my password").await;
    chrome
        .submit("form[action='/account/confirm'] button")
        .await;
    problems.extend(check_here(&chrome, "user", "/account/confirm errors").await);

    // Setting up two-factor authentication, then staff with it, as staff
    // must have.
    chrome.goto(&served.url("/account/2fa")).await;
    chrome
        .submit("form[action='/account/2fa/setup'] button")
        .await;
    problems.extend(check_here(&chrome, "user", "/account/2fa/setup").await);
    let secret = turn_on_two_factor(&chrome, &served).await;
    problems.extend(check_here(&chrome, "user", "/account/2fa/recovery-codes").await);
    served
        .execute(&format!(
            "UPDATE users SET is_staff = true WHERE username = '{user}'"
        ))
        .await;
    sign_out(&chrome).await;
    sign_in(&chrome, &served, user).await;
    chrome.type_into("#code", &next_code(&secret)).await;
    chrome.submit("form[action='/login/2fa'] button").await;
    problems.extend(
        check(
            &chrome,
            &served,
            "staff",
            &["/account/confirm", "/account/2fa"],
        )
        .await,
    );
    chrome.type_into("#disable_password", "wrong").await;
    chrome.type_into("#disable_code", "000000").await;
    chrome
        .submit("form[action='/account/2fa/disable'] button")
        .await;
    problems.extend(check_here(&chrome, "staff", "/account/2fa errors").await);
    problems.extend(
        check(
            &chrome,
            &served,
            "staff",
            &[
                "/admin",
                "/admin/users",
                "/admin/users/1",
                "/admin/users?q=zzz",
            ],
        )
        .await,
    );
    // Another user's page, its second steps opened.
    served
        .submit(
            &served.browser(),
            "/signup",
            "/signup",
            &[
                ("username", "bob"),
                ("email", "bob@example.com"),
                ("password", crate::helpers::PASSWORD),
            ],
        )
        .await;
    chrome.goto(&served.url("/admin/users?q=bob")).await;
    chrome.submit("td a").await;
    problems.extend(check_here(&chrome, "staff", "/admin/users/bob").await);
    chrome.click_text("summary", "End all sessions").await;
    chrome.click_text("summary", "Deactivate").await;
    problems.extend(check_here(&chrome, "staff", "/admin/users/bob opened").await);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
