//! Passkeys, driven by a software authenticator of our own (ES256, "none"
//! attestation, user verification) through the same JSON endpoints that
//! `static/passkeys.js` calls, with the page's CSRF token in
//! `X-CSRF-Token`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use rocket::http::{ContentType, Method, Status};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::helpers::{Browser, PASSWORD, TestApp, TestResponse, app};

/// The site as the tests serve it: passkeys need a domain, not an IP.
const ORIGIN: &str = "http://localhost:8000";

pub async fn spawn() -> TestApp {
    app().config("public_url", ORIGIN).spawn().await
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

/// A CBOR byte or text string header for `len` bytes (`major` 2 or 3).
fn cbor_head(major: u8, len: usize, out: &mut Vec<u8>) {
    let major = major << 5;
    match len {
        0..=23 => out.push(major | len as u8),
        24..=255 => out.extend([major | 24, len as u8]),
        _ => {
            out.push(major | 25);
            out.extend((len as u16).to_be_bytes());
        }
    }
}

fn cbor_text(text: &str, out: &mut Vec<u8>) {
    cbor_head(3, text.len(), out);
    out.extend(text.as_bytes());
}

fn cbor_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    cbor_head(2, bytes.len(), out);
    out.extend(bytes);
}

/// One passkey in a software authenticator: a P-256 key, its credential
/// id, and the user handle it was made for.
pub struct SoftPasskey {
    key: SigningKey,
    pub credential_id: Vec<u8>,
    pub user_handle: Vec<u8>,
    counter: u32,
    /// The origin the "browser" reports in `clientDataJSON`.
    pub origin: String,
}

impl SoftPasskey {
    /// Answers `navigator.credentials.create` with `options`.
    pub fn create(options: &Value) -> (SoftPasskey, Value) {
        let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>().into()).unwrap();
        let mut passkey = SoftPasskey {
            key,
            credential_id: rand::random::<[u8; 16]>().to_vec(),
            user_handle: unb64(options["user"]["id"].as_str().unwrap()),
            counter: 0,
            origin: ORIGIN.to_owned(),
        };
        let credential = passkey.attest(options);
        (passkey, credential)
    }

    fn client_data(&self, kind: &str, options: &Value) -> Vec<u8> {
        json!({
            "type": kind,
            "challenge": options["challenge"],
            "origin": self.origin,
            "crossOrigin": false,
        })
        .to_string()
        .into_bytes()
    }

    fn auth_data(&mut self, options: &Value, flags: u8) -> Vec<u8> {
        let rp_id = options["rp"]["id"]
            .as_str()
            .or(options["rpId"].as_str())
            .unwrap();
        self.counter += 1;
        let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend(self.counter.to_be_bytes());
        data
    }

    /// The attestation ("none") for `options`.
    pub fn attest(&mut self, options: &Value) -> Value {
        let client_data = self.client_data("webauthn.create", options);
        // User present, user verified, attested credential data.
        let mut auth_data = self.auth_data(options, 0x01 | 0x04 | 0x40);
        auth_data.extend([0u8; 16]);
        auth_data.extend((self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&self.credential_id);
        let point = self.key.verifying_key().to_encoded_point(false);
        // COSE_Key {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}
        auth_data.extend([0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21]);
        cbor_bytes(point.x().unwrap(), &mut auth_data);
        auth_data.push(0x22);
        cbor_bytes(point.y().unwrap(), &mut auth_data);
        let mut attestation = vec![0xa3];
        cbor_text("fmt", &mut attestation);
        cbor_text("none", &mut attestation);
        cbor_text("attStmt", &mut attestation);
        attestation.push(0xa0);
        cbor_text("authData", &mut attestation);
        cbor_bytes(&auth_data, &mut attestation);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&attestation),
                "clientDataJSON": b64(&client_data),
                "transports": ["internal"],
            },
            "extensions": {},
        })
    }

    /// Answers `navigator.credentials.get` with `options`.
    pub fn assert(&mut self, options: &Value) -> Value {
        let handle = self.user_handle.clone();
        self.assert_as(options, &handle)
    }

    /// An assertion that claims the user handle `handle`.
    pub fn assert_as(&mut self, options: &Value, handle: &[u8]) -> Value {
        let client_data = self.client_data("webauthn.get", options);
        let auth_data = self.auth_data(options, 0x01 | 0x04);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(signature.to_der().as_bytes()),
                "userHandle": b64(handle),
            },
            "extensions": {},
        })
    }
}

/// POSTs `body` as JSON with the page's CSRF token (`token`: None sends
/// no header).
pub async fn post_json(
    browser: &Browser<'_>,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> TestResponse {
    match token {
        Some(token) => browser.set_header("X-CSRF-Token", token),
        None => browser.set_header("X-CSRF-Token", ""),
    }
    let body = body.to_string().into_bytes();
    browser
        .request(Method::Post, path, Some(ContentType::JSON), Some(body))
        .await
}

/// The CSRF token of `page`'s `<meta name="csrf-token">`.
pub async fn meta_token(browser: &Browser<'_>, page: &str) -> String {
    let response = browser.get(page).await;
    let marker = r#"<meta name="csrf-token" content=""#;
    let start = response.body.find(marker).expect("a csrf-token meta") + marker.len();
    let end = response.body[start..].find('"').unwrap();
    response.body[start..start + end].to_owned()
}

async fn ok_json(browser: &Browser<'_>, path: &str, token: &str, body: &Value) -> Value {
    let response = post_json(browser, path, Some(token), body).await;
    response.assert_status(Status::Ok);
    response.json()
}

/// Adds a passkey named `name` from `/account/passkeys`.
pub async fn add_passkey(browser: &Browser<'_>, name: &str) -> SoftPasskey {
    let token = meta_token(browser, "/account/passkeys").await;
    let options = ok_json(browser, "/account/passkeys/options", &token, &json!({})).await;
    let (passkey, credential) = SoftPasskey::create(&options);
    let added = post_json(
        browser,
        "/account/passkeys",
        Some(&token),
        &json!({ "name": name, "credential": credential }),
    )
    .await;
    added.assert_status(Status::Ok);
    assert_eq!(added.json()["redirect"], "/account/passkeys");
    passkey
}

/// A sign-in answer from `/login` for `passkey`: the options it got and
/// the credential it sends.
async fn sign_in_answer(browser: &Browser<'_>, passkey: &mut SoftPasskey) -> (String, Value) {
    let token = meta_token(browser, "/login").await;
    let options = ok_json(browser, "/login/passkey/options", &token, &json!({})).await;
    (token, passkey.assert(&options))
}

async fn sign_in_with(browser: &Browser<'_>, passkey: &mut SoftPasskey) -> TestResponse {
    let (token, credential) = sign_in_answer(browser, passkey).await;
    post_json(
        browser,
        "/login/passkey",
        Some(&token),
        &json!({ "credential": credential, "next": null }),
    )
    .await
}

async fn last_event(app: &TestApp, kind: &str) -> Option<String> {
    use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _};
    gatehouse::security_log::entity::Entity::find()
        .filter(gatehouse::security_log::entity::Column::Kind.eq(kind))
        .order_by_desc(gatehouse::security_log::entity::Column::Id)
        .one(&app.db)
        .await
        .unwrap()
        .map(|event| event.detail.unwrap_or_default())
}

#[rocket::async_test]
async fn a_passkey_is_added_listed_logged_and_mailed() {
    let app = spawn().await;
    let browser = app.signed_up("alice").await;
    let mails = app.count("outbox").await;

    add_passkey(&browser, "Work laptop").await;

    let page = browser.get("/account/passkeys").await;
    page.assert_status(Status::Ok);
    assert!(page.body.contains("Work laptop"));
    assert!(page.body.contains("The passkey “Work laptop” was added."));
    assert_eq!(app.count("passkeys").await, 1);
    assert_eq!(
        app.count("passkey_challenges").await,
        0,
        "the challenge was used up"
    );
    let detail = last_event(&app, "passkey_added").await.unwrap();
    assert!(detail.contains("Work laptop"));
    assert_eq!(app.count("outbox").await, mails + 1);
}

#[rocket::async_test]
async fn a_passkey_signs_in_without_a_password() {
    let app = spawn().await;
    let owner = app.signed_up("alice").await;
    let mut passkey = add_passkey(&owner, "Phone").await;

    let browser = app.browser();
    let signed = sign_in_with(&browser, &mut passkey).await;

    signed.assert_status(Status::Ok);
    assert_eq!(signed.json()["redirect"], "/account");
    assert!(browser.is_signed_in().await);
    let detail = last_event(&app, "sign_in").await.unwrap();
    assert!(detail.contains(r#""method":"passkey""#), "{detail}");
    let page = owner.get("/account/passkeys").await;
    assert!(!page.body.contains("Never"), "last used is shown");
}

#[rocket::async_test]
async fn a_passkey_sign_in_goes_to_a_safe_next_only() {
    let app = spawn().await;
    let owner = app.signed_up("alice").await;
    let mut passkey = add_passkey(&owner, "Phone").await;

    for (next, to) in [
        ("/account/sessions", "/account/sessions"),
        ("//evil.example", "/account"),
    ] {
        let browser = app.browser();
        let (token, credential) = sign_in_answer(&browser, &mut passkey).await;
        let body = json!({ "credential": credential, "next": next });
        let signed = post_json(&browser, "/login/passkey", Some(&token), &body).await;
        signed.assert_status(Status::Ok);
        assert_eq!(signed.json()["redirect"], to);
    }
}

#[rocket::async_test]
async fn a_passkey_signs_in_an_account_with_totp_without_the_code_step() {
    let app = spawn().await;
    let owner = app.signed_up("alice").await;
    crate::two_factor::enable(&app, &owner).await;
    let mut passkey = add_passkey(&owner, "Phone").await;

    let browser = app.browser();
    let signed = sign_in_with(&browser, &mut passkey).await;

    signed.assert_status(Status::Ok);
    assert_eq!(signed.json()["redirect"], "/account");
    assert!(browser.is_signed_in().await);
}

#[rocket::async_test]
async fn a_passkey_is_accepted_as_the_second_factor() {
    let app = spawn().await;
    let owner = app.signed_up("alice").await;
    crate::two_factor::enable(&app, &owner).await;
    let mut passkey = add_passkey(&owner, "Key").await;

    let browser = app.browser();
    browser
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/login/2fa");
    let token = meta_token(&browser, "/login/2fa").await;
    let options = ok_json(&browser, "/login/2fa/passkey/options", &token, &json!({})).await;
    assert_eq!(
        options["allowCredentials"][0]["id"],
        b64(&passkey.credential_id)
    );
    let credential = passkey.assert(&options);
    let body = json!({ "credential": credential });
    let signed = post_json(&browser, "/login/2fa/passkey", Some(&token), &body).await;

    signed.assert_status(Status::Ok);
    assert_eq!(signed.json()["redirect"], "/account");
    assert!(browser.is_signed_in().await);
    let detail = last_event(&app, "sign_in").await.unwrap();
    assert!(detail.contains("password + passkey"), "{detail}");
}

#[rocket::async_test]
async fn the_second_factor_step_refuses_a_passkey_of_another_account() {
    let app = spawn().await;
    let alice = app.signed_up("alice").await;
    crate::two_factor::enable(&app, &alice).await;
    add_passkey(&alice, "Alice's").await;
    let mallory = app.signed_up("mallory").await;
    let mut mallorys = add_passkey(&mallory, "Mallory's").await;

    let browser = app.browser();
    browser
        .login("alice", PASSWORD)
        .await
        .assert_redirect("/login/2fa");
    let token = meta_token(&browser, "/login/2fa").await;
    let options = ok_json(&browser, "/login/2fa/passkey/options", &token, &json!({})).await;
    let body = json!({ "credential": mallorys.assert(&options) });
    let refused = post_json(&browser, "/login/2fa/passkey", Some(&token), &body).await;

    refused.assert_status(Status::BadRequest);
    assert!(!browser.is_signed_in().await);
}

#[rocket::async_test]
async fn a_replayed_assertion_is_refused() {
    let app = spawn().await;
    let owner = app.signed_up("alice").await;
    let mut passkey = add_passkey(&owner, "Phone").await;
    let first = app.browser();
    let (token, credential) = sign_in_answer(&first, &mut passkey).await;
    let body = json!({ "credential": credential });
    post_json(&first, "/login/passkey", Some(&token), &body)
        .await
        .assert_status(Status::Ok);

    let thief = app.browser();
    let token = meta_token(&thief, "/login").await;
    let replayed = post_json(&thief, "/login/passkey", Some(&token), &body).await;

    replayed.assert_status(Status::BadRequest);
    assert!(!thief.is_signed_in().await);
}

#[rocket::async_test]
async fn an_assertion_made_for_another_origin_is_refused() {
    let app = spawn().await;
    let owner = app.signed_up("alice").await;
    let mut passkey = add_passkey(&owner, "Phone").await;
    passkey.origin = "http://localhost.evil.example:8000".to_owned();

    let browser = app.browser();
    let refused = sign_in_with(&browser, &mut passkey).await;

    refused.assert_status(Status::BadRequest);
    assert!(!browser.is_signed_in().await);
}

#[rocket::async_test]
async fn a_registration_made_for_another_origin_is_refused() {
    let app = spawn().await;
    let browser = app.signed_up("alice").await;
    let token = meta_token(&browser, "/account/passkeys").await;
    let options = ok_json(&browser, "/account/passkeys/options", &token, &json!({})).await;
    let (mut passkey, _) = SoftPasskey::create(&options);
    passkey.origin = "https://evil.example".to_owned();
    let credential = passkey.attest(&options);

    let body = json!({ "name": "Phone", "credential": credential });
    let refused = post_json(&browser, "/account/passkeys", Some(&token), &body).await;

    refused.assert_status(Status::BadRequest);
    assert_eq!(app.count("passkeys").await, 0);
}

#[rocket::async_test]
async fn an_assertion_with_another_user_handle_is_refused() {
    let app = spawn().await;
    let alice = app.signed_up("alice").await;
    let mut passkey = add_passkey(&alice, "Phone").await;
    let bob = app.signed_up("bob").await;
    let bobs = add_passkey(&bob, "Bob's").await;

    let browser = app.browser();
    let token = meta_token(&browser, "/login").await;
    let options = ok_json(&browser, "/login/passkey/options", &token, &json!({})).await;
    let credential = passkey.assert_as(&options, &bobs.user_handle);
    let body = json!({ "credential": credential });
    let refused = post_json(&browser, "/login/passkey", Some(&token), &body).await;

    refused.assert_status(Status::BadRequest);
    assert!(!browser.is_signed_in().await);
}

#[rocket::async_test]
async fn a_removed_passkey_no_longer_signs_in() {
    let app = spawn().await;
    let owner = app.signed_up("alice").await;
    let mut passkey = add_passkey(&owner, "Old phone").await;
    let mails = app.count("outbox").await;
    let id = owner_passkey_id(&app).await;

    owner
        .submit(&format!("/account/passkeys/{id}/delete"), &[])
        .await
        .assert_redirect("/account/passkeys");

    assert_eq!(app.count("passkeys").await, 0);
    assert!(
        last_event(&app, "passkey_removed")
            .await
            .unwrap()
            .contains("Old phone")
    );
    assert_eq!(app.count("outbox").await, mails + 1);
    let browser = app.browser();
    sign_in_with(&browser, &mut passkey)
        .await
        .assert_status(Status::BadRequest);
    assert!(!browser.is_signed_in().await);
}

async fn stored_passkey(app: &TestApp) -> gatehouse::passkeys::entity::Model {
    use sea_orm::EntityTrait as _;
    gatehouse::passkeys::entity::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

async fn owner_passkey_id(app: &TestApp) -> i32 {
    stored_passkey(app).await.id
}

#[rocket::async_test]
async fn a_passkey_can_be_removed_through_the_json_endpoint() {
    let app = spawn().await;
    let owner = app.signed_up("alice").await;
    add_passkey(&owner, "Phone").await;
    let id = owner_passkey_id(&app).await;
    let token = meta_token(&owner, "/account/passkeys").await;
    let path = format!("/account/passkeys/{id}/delete");

    post_json(&owner, &path, None, &json!({}))
        .await
        .assert_status(Status::Forbidden);
    assert_eq!(app.count("passkeys").await, 1);
    let removed = post_json(&owner, &path, Some(&token), &json!({})).await;

    removed.assert_status(Status::Ok);
    assert_eq!(app.count("passkeys").await, 0);
}

#[rocket::async_test]
async fn an_expired_challenge_is_refused() {
    let app = spawn().await;
    let owner = app.signed_up("alice").await;
    let mut passkey = add_passkey(&owner, "Phone").await;
    let browser = app.browser();
    let (token, credential) = sign_in_answer(&browser, &mut passkey).await;

    app.clock
        .advance(time::Duration::minutes(5) + time::Duration::seconds(1));
    let body = json!({ "credential": credential });
    let refused = post_json(&browser, "/login/passkey", Some(&token), &body).await;

    refused.assert_status(Status::BadRequest);
    assert!(!browser.is_signed_in().await);
}

#[rocket::async_test]
async fn a_registration_challenge_is_used_once() {
    let app = spawn().await;
    let browser = app.signed_up("alice").await;
    let token = meta_token(&browser, "/account/passkeys").await;
    let options = ok_json(&browser, "/account/passkeys/options", &token, &json!({})).await;
    let (_, first) = SoftPasskey::create(&options);
    let (_, second) = SoftPasskey::create(&options);
    let add = |credential: Value| json!({ "name": "Phone", "credential": credential });

    post_json(&browser, "/account/passkeys", Some(&token), &add(first))
        .await
        .assert_status(Status::Ok);
    let reused = post_json(&browser, "/account/passkeys", Some(&token), &add(second)).await;

    reused.assert_status(Status::BadRequest);
    assert_eq!(app.count("passkeys").await, 1);
}

#[rocket::async_test]
async fn a_registration_challenge_is_bound_to_its_account() {
    let app = spawn().await;
    let alice = app.signed_up("alice").await;
    let token = meta_token(&alice, "/account/passkeys").await;
    let options = ok_json(&alice, "/account/passkeys/options", &token, &json!({})).await;
    let (_, credential) = SoftPasskey::create(&options);
    let mallory = app.signed_up("mallory").await;
    let token = meta_token(&mallory, "/account/passkeys").await;

    let body = json!({ "name": "Phone", "credential": credential });
    let refused = post_json(&mallory, "/account/passkeys", Some(&token), &body).await;

    refused.assert_status(Status::BadRequest);
    assert_eq!(app.count("passkeys").await, 0);
}

#[rocket::async_test]
async fn json_endpoints_refuse_a_missing_or_forged_csrf_header() {
    let app = spawn().await;
    let browser = app.signed_up("alice").await;
    let token = meta_token(&browser, "/account/passkeys").await;
    let forged = format!("{}x", &token[..token.len() - 1]);

    for path in [
        "/account/passkeys/options",
        "/account/passkeys",
        "/login/passkey/options",
        "/login/passkey",
        "/login/2fa/passkey/options",
        "/login/2fa/passkey",
    ] {
        for header in [None, Some(""), Some(forged.as_str())] {
            let body = json!({ "name": "x", "credential": {} });
            let refused = post_json(&browser, path, header, &body).await;
            assert_eq!(refused.status, Status::Forbidden, "{path} with {header:?}");
        }
    }
    browser.set_header("X-CSRF-Token", &token);
    browser.set_header("Sec-Fetch-Site", "cross-site");
    let cross_site = browser
        .request(
            Method::Post,
            "/login/passkey/options",
            Some(ContentType::JSON),
            Some(b"{}".to_vec()),
        )
        .await;
    cross_site.assert_status(Status::Forbidden);
    assert_eq!(app.count("passkey_challenges").await, 0);
}

#[rocket::async_test]
async fn another_users_passkey_is_a_404_and_stays() {
    let app = spawn().await;
    let alice = app.signed_up("alice").await;
    add_passkey(&alice, "Alice's").await;
    let id = owner_passkey_id(&app).await;
    let mallory = app.signed_up("mallory").await;
    let token = meta_token(&mallory, "/account/passkeys").await;

    let removed = mallory
        .submit(&format!("/account/passkeys/{id}/delete"), &[])
        .await;
    let removed_json = post_json(
        &mallory,
        &format!("/account/passkeys/{id}/delete"),
        Some(&token),
        &json!({}),
    )
    .await;
    let renamed = mallory
        .submit(
            &format!("/account/passkeys/{id}/rename"),
            &[("name", "mine")],
        )
        .await;

    removed.assert_status(Status::NotFound);
    removed_json.assert_status(Status::NotFound);
    renamed.assert_status(Status::NotFound);
    let page = alice.get("/account/passkeys").await;
    assert!(page.body.contains("Alice&#x27;s") || page.body.contains("Alice's"));
    assert_eq!(app.count("passkeys").await, 1);
    assert!(last_event(&app, "passkey_removed").await.is_none());
}

#[rocket::async_test]
async fn a_passkey_is_renamed_by_its_owner() {
    let app = spawn().await;
    let owner = app.signed_up("alice").await;
    add_passkey(&owner, "Phone").await;
    let id = owner_passkey_id(&app).await;

    owner
        .submit(
            &format!("/account/passkeys/{id}/rename"),
            &[("name", "Old phone")],
        )
        .await
        .assert_redirect("/account/passkeys");

    assert!(
        owner
            .get("/account/passkeys")
            .await
            .body
            .contains("Old phone")
    );
}

#[rocket::async_test]
async fn control_characters_in_a_name_are_422_and_nothing_is_stored() {
    let app = spawn().await;
    let browser = app.signed_up("alice").await;
    let token = meta_token(&browser, "/account/passkeys").await;
    let options = ok_json(&browser, "/account/passkeys/options", &token, &json!({})).await;
    let (_, credential) = SoftPasskey::create(&options);

    for name in ["Pho\u{0}ne", "Pho\nne", "\u{7f}"] {
        let body = json!({ "name": name, "credential": credential });
        let refused = post_json(&browser, "/account/passkeys", Some(&token), &body).await;
        refused.assert_status(Status::UnprocessableEntity);
    }
    add_passkey(&browser, "Phone").await;
    let id = owner_passkey_id(&app).await;
    let renamed = browser
        .submit(
            &format!("/account/passkeys/{id}/rename"),
            &[("name", "a\u{1b}b")],
        )
        .await;
    renamed.assert_status(Status::UnprocessableEntity);
    assert!(
        browser
            .get("/account/passkeys")
            .await
            .body
            .contains("Phone")
    );
}

#[rocket::async_test]
async fn an_empty_or_long_name_is_refused() {
    let app = spawn().await;
    let browser = app.signed_up("alice").await;
    let token = meta_token(&browser, "/account/passkeys").await;

    for name in ["", "   ", &"x".repeat(65)] {
        let options = ok_json(&browser, "/account/passkeys/options", &token, &json!({})).await;
        let (_, credential) = SoftPasskey::create(&options);
        let body = json!({ "name": name, "credential": credential });
        let refused = post_json(&browser, "/account/passkeys", Some(&token), &body).await;
        refused.assert_status(Status::UnprocessableEntity);
    }
    assert_eq!(app.count("passkeys").await, 0);
}

#[rocket::async_test]
async fn malformed_answers_are_4xx() {
    let app = spawn().await;
    let browser = app.browser();
    let token = meta_token(&browser, "/login").await;

    for body in [
        json!({ "credential": {} }),
        json!({ "credential": "x" }),
        json!({ "credential": { "id": "a", "rawId": "!!", "type": "public-key", "response": {} } }),
        json!({}),
    ] {
        let response = post_json(&browser, "/login/passkey", Some(&token), &body).await;
        assert!(
            response.status.code >= 400 && response.status.code < 500,
            "{body}: {}",
            response.status
        );
    }
    browser.set_header("X-CSRF-Token", &token);
    let not_json = browser
        .request(
            Method::Post,
            "/login/passkey",
            Some(ContentType::JSON),
            Some(b"{".to_vec()),
        )
        .await;
    not_json.assert_status(Status::BadRequest);
    let form = browser
        .request(
            Method::Post,
            "/login/passkey",
            Some(ContentType::Form),
            Some(b"a=b".to_vec()),
        )
        .await;
    form.assert_status(Status::UnsupportedMediaType);
}

#[rocket::async_test]
async fn a_deactivated_account_does_not_sign_in_with_its_passkey() {
    let app = spawn().await;
    let owner = app.signed_up("alice").await;
    let mut passkey = add_passkey(&owner, "Phone").await;
    app.execute("UPDATE users SET is_active = false WHERE username = 'alice'")
        .await;

    let browser = app.browser();
    let refused = sign_in_with(&browser, &mut passkey).await;

    refused.assert_status(Status::Forbidden);
    assert!(!browser.is_signed_in().await);
}

#[rocket::async_test]
async fn without_a_domain_passkeys_are_not_offered() {
    let app = crate::helpers::spawn_app().await;
    let browser = app.signed_up("alice").await;
    let token = meta_token(&browser, "/account/passkeys").await;

    let page = browser.get("/account/passkeys").await;
    let login = app.browser().get("/login").await;
    let options = post_json(
        &browser,
        "/account/passkeys/options",
        Some(&token),
        &json!({}),
    )
    .await;

    assert!(page.body.contains("Passkeys are not available"));
    assert!(!login.body.contains("Sign in with a passkey"));
    options.assert_status(Status::NotFound);
}

#[rocket::async_test]
async fn the_passkey_buttons_are_hidden_until_the_script_shows_them() {
    let app = spawn().await;
    let login = app.browser().get("/login").await;

    assert!(login.body.contains(r#"autocomplete="username webauthn""#));
    assert!(login.body.contains("data-passkey-sign-in"));
    let controls = &login.body[login.body.find("data-passkey-sign-in").unwrap()..];
    assert!(controls[..controls.find('>').unwrap()].contains("hidden"));
    assert!(login.body.contains("/static/passkeys."));
    assert!(!login.body.contains("<script>"), "no inline script");
}

#[rocket::async_test]
async fn the_sweeper_deletes_challenges_never_answered() {
    let app = spawn().await;
    let browser = app.browser();
    let token = meta_token(&browser, "/login").await;
    ok_json(&browser, "/login/passkey/options", &token, &json!({})).await;
    let state = app.client.rocket();
    let config = state.state::<gatehouse::config::AppConfig>().unwrap();
    let limiter = state.state::<gatehouse::rate_limit::RateLimiter>().unwrap();

    let kept = gatehouse::maintenance::sweep(&app.db, config, limiter, app.now())
        .await
        .unwrap();
    app.clock.advance(time::Duration::minutes(6));
    let swept = gatehouse::maintenance::sweep(&app.db, config, limiter, app.now())
        .await
        .unwrap();

    assert_eq!(kept.passkey_challenges, 0);
    assert_eq!(swept.passkey_challenges, 1);
    assert_eq!(app.count("passkey_challenges").await, 0);
}

#[rocket::async_test]
async fn refused_passkey_answers_count_against_the_address_limit() {
    let app = spawn().await;
    let owner = app.signed_up("alice").await;
    let mut passkey = add_passkey(&owner, "Phone").await;
    let browser = app.browser();
    let token = meta_token(&browser, "/login").await;
    let bogus = json!({ "credential": { "id": "AA", "rawId": "AA", "type": "public-key",
        "response": { "authenticatorData": "AA", "clientDataJSON": "AA", "signature": "AA" } } });

    for _ in 0..20 {
        post_json(&browser, "/login/passkey", Some(&token), &bogus)
            .await
            .assert_status(Status::BadRequest);
    }
    let limited = sign_in_with(&browser, &mut passkey).await;

    limited.assert_status(Status::TooManyRequests);
    assert!(!browser.is_signed_in().await);
}

#[rocket::async_test]
async fn staff_see_a_users_passkeys_and_remove_them_on_the_record() {
    let app = app()
        .config("public_url", ORIGIN)
        .config("staff_require_2fa", false)
        .spawn()
        .await;
    let alice = app.signed_up("alice").await;
    let mut passkey = add_passkey(&alice, "Alice's phone").await;
    let id = owner_passkey_id(&app).await;
    app.signed_up("bob").await;
    let staff = app.signed_up("sam").await;
    app.execute("UPDATE users SET is_staff = true WHERE username = 'sam'")
        .await;
    let alice_id = gatehouse::accounts::entity::find_by_login(&app.db, "alice")
        .await
        .unwrap()
        .unwrap()
        .id;
    let mails = app.count("outbox").await;
    let bob_id = alice_id + 1;

    let detail = staff.get(&format!("/admin/users/{alice_id}")).await;
    detail.assert_status(Status::Ok);
    assert!(detail.body.contains("Alice&#x27;s phone") || detail.body.contains("Alice's phone"));
    let wrong_user = staff
        .submit(&format!("/admin/users/{bob_id}/passkeys/{id}/delete"), &[])
        .await;
    wrong_user.assert_status(Status::NotFound);
    assert_eq!(app.count("passkeys").await, 1);
    let removed = staff
        .submit(
            &format!("/admin/users/{alice_id}/passkeys/{id}/delete"),
            &[],
        )
        .await;

    removed.assert_redirect(&format!("/admin/users/{alice_id}"));
    assert_eq!(app.count("passkeys").await, 0);
    let event = last_event(&app, "passkey_removed").await.unwrap();
    assert!(event.contains(r#""by":"sam""#), "{event}");
    assert_eq!(app.count("outbox").await, mails + 1);
    let member = app.browser();
    sign_in_with(&member, &mut passkey)
        .await
        .assert_status(Status::BadRequest);
    let not_staff = alice
        .submit(
            &format!("/admin/users/{alice_id}/passkeys/{id}/delete"),
            &[],
        )
        .await;
    assert!(not_staff.status.code >= 400 && not_staff.status.code < 500);
}

/// Past the reauthentication window (`reauth_minutes`, 10 by default).
fn go_stale(app: &TestApp) {
    app.clock.advance(time::Duration::minutes(11));
}

fn confirm_for(next: &str) -> String {
    format!(
        "/account/confirm?next={}",
        rocket::http::RawStr::new(next).percent_encode()
    )
}

#[rocket::async_test]
async fn adding_and_removing_need_a_recent_confirmation_and_change_nothing_without() {
    let app = spawn().await;
    let browser = app.signed_up("alice").await;
    add_passkey(&browser, "Phone").await;
    let id = owner_passkey_id(&app).await;
    let token = meta_token(&browser, "/account/passkeys").await;
    go_stale(&app);
    browser.set_header("Referer", &format!("{ORIGIN}/account/passkeys"));

    let options = post_json(
        &browser,
        "/account/passkeys/options",
        Some(&token),
        &json!({}),
    )
    .await;
    let body = json!({ "name": "x", "credential": {} });
    let added = post_json(&browser, "/account/passkeys", Some(&token), &body).await;
    let removed = browser
        .submit(&format!("/account/passkeys/{id}/delete"), &[])
        .await;
    let path = format!("/account/passkeys/{id}/delete");
    let removed_json = post_json(&browser, &path, Some(&token), &json!({})).await;

    for response in [options, added, removed, removed_json] {
        response.assert_redirect(&confirm_for("/account/passkeys"));
    }
    assert_eq!(app.count("passkeys").await, 1);
    assert_eq!(app.count("passkey_challenges").await, 0);
    // Renaming changes nothing about how the account is protected.
    browser
        .submit(
            &format!("/account/passkeys/{id}/rename"),
            &[("name", "Old phone")],
        )
        .await
        .assert_redirect("/account/passkeys");
}

/// A passkey check at `/account/confirm`, answered by `passkey`.
async fn confirm_with(
    browser: &Browser<'_>,
    passkey: &mut SoftPasskey,
    next: &str,
) -> TestResponse {
    let token = meta_token(browser, &confirm_for(next)).await;
    let options = ok_json(
        browser,
        "/account/confirm/passkey/options",
        &token,
        &json!({}),
    )
    .await;
    let body = json!({ "credential": passkey.assert(&options), "next": next });
    post_json(browser, "/account/confirm/passkey", Some(&token), &body).await
}

#[rocket::async_test]
async fn a_passkey_confirms_it_is_you() {
    let app = spawn().await;
    let browser = app.signed_up("alice").await;
    let mut passkey = add_passkey(&browser, "Phone").await;
    go_stale(&app);

    let page = browser.get(&confirm_for("/account/passkeys")).await;
    assert!(page.body.contains("Confirm with a passkey"));
    let confirmed = confirm_with(&browser, &mut passkey, "/account/passkeys").await;

    confirmed.assert_status(Status::Ok);
    assert_eq!(confirmed.json()["redirect"], "/account/passkeys");
    let detail = last_event(&app, "reauthenticated").await.unwrap();
    assert!(detail.contains("passkey"), "{detail}");
    add_passkey(&browser, "Laptop").await;
    assert_eq!(app.count("passkeys").await, 2);
}

#[rocket::async_test]
async fn another_users_passkey_does_not_confirm() {
    let app = spawn().await;
    let alice = app.signed_up("alice").await;
    add_passkey(&alice, "Alice's").await;
    let mallory = app.signed_up("mallory").await;
    let mut mallorys = add_passkey(&mallory, "Mallory's").await;
    go_stale(&app);

    let refused = confirm_with(&alice, &mut mallorys, "/account/passkeys").await;

    refused.assert_status(Status::BadRequest);
    assert!(last_event(&app, "reauthentication_failed").await.is_some());
    let token = meta_token(&alice, "/account/passkeys").await;
    alice.set_header("Referer", &format!("{ORIGIN}/account/passkeys"));
    post_json(
        &alice,
        "/account/passkeys/options",
        Some(&token),
        &json!({}),
    )
    .await
    .assert_redirect(&confirm_for("/account/passkeys"));
}

#[rocket::async_test]
async fn the_confirm_page_offers_no_passkey_to_an_account_without_one() {
    let app = spawn().await;
    let browser = app.signed_up("alice").await;
    go_stale(&app);
    let token = meta_token(&browser, "/account/confirm").await;

    let page = browser.get("/account/confirm").await;
    let options = post_json(
        &browser,
        "/account/confirm/passkey/options",
        Some(&token),
        &json!({}),
    )
    .await;

    assert!(!page.body.contains("Confirm with a passkey"));
    options.assert_status(Status::Conflict);
}

#[rocket::async_test]
async fn one_address_gets_a_bounded_number_of_sign_in_challenges() {
    let app = spawn().await;
    let browser = app.browser();
    let token = meta_token(&browser, "/login").await;

    for _ in 0..60 {
        ok_json(&browser, "/login/passkey/options", &token, &json!({})).await;
    }
    let refused = post_json(&browser, "/login/passkey/options", Some(&token), &json!({})).await;

    refused.assert_status(Status::TooManyRequests);
    assert_eq!(app.count("passkey_challenges").await, 60);
    let elsewhere = app.browser();
    elsewhere.set_remote("198.51.100.9:40000");
    let token = meta_token(&elsewhere, "/login").await;
    ok_json(&elsewhere, "/login/passkey/options", &token, &json!({})).await;
}
