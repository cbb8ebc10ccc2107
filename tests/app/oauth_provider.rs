//! A small OAuth2 provider on 127.0.0.1 for the tests: authorize (a
//! redirect back with a code), token (checks client credentials, redirect
//! URI and the PKCE verifier, codes are single-use), userinfo and
//! GitHub-style `/user/emails`. Switches make it fail the ways real ones do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use rocket::form::{Form, FromForm};
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::Redirect;
use rocket::serde::json::{Json, Value, json};
use rocket::{State, get, post, routes};
use sha2::{Digest as _, Sha256};

pub const CLIENT_ID: &str = "gatehouse-test-client";
pub const CLIENT_SECRET: &str = "gatehouse-test-secret";

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    None,
    TokenEndpoint500,
    Userinfo401,
    UserinfoJunk,
    SlowToken,
}

/// The person signed in at the provider, as its userinfo shows them.
#[derive(Clone)]
pub struct ProviderUser {
    pub id: u64,
    pub login: String,
    /// On the profile; None makes the test use `/user/emails`.
    pub email: Option<String>,
    pub emails: Vec<(String, bool, bool)>,
}

impl ProviderUser {
    pub fn new(id: u64, login: &str, email: &str) -> ProviderUser {
        ProviderUser {
            id,
            login: login.to_owned(),
            email: Some(email.to_owned()),
            emails: Vec::new(),
        }
    }
}

struct Grant {
    redirect_uri: String,
    challenge: String,
    user: ProviderUser,
}

#[derive(Default)]
struct Inner {
    user: Option<ProviderUser>,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, ProviderUser>,
    failure: Option<Failure>,
    token_requests: usize,
}

#[derive(Clone, Default)]
pub struct FakeProvider {
    inner: Arc<Mutex<Inner>>,
    pub base: String,
}

impl FakeProvider {
    pub async fn start() -> FakeProvider {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let provider = FakeProvider {
            inner: Arc::new(Mutex::new(Inner::default())),
            base: format!("http://127.0.0.1:{port}"),
        };
        let figment = rocket::Config::figment()
            .merge(("port", port))
            .merge(("address", "127.0.0.1"))
            .merge(("log_level", "off"));
        let server = rocket::custom(figment)
            .manage(provider.clone())
            .mount("/", routes![authorize, token, userinfo, emails]);
        rocket::tokio::spawn(server.launch());
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http
                .get(format!("{}/user", provider.base))
                .send()
                .await
                .is_ok()
            {
                return provider;
            }
            rocket::tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the fake provider did not start");
    }

    /// Who is signed in at the provider when the browser arrives there.
    pub fn sign_in_as(&self, user: ProviderUser) {
        self.inner.lock().unwrap().user = Some(user);
    }

    pub fn fail_with(&self, failure: Failure) {
        self.inner.lock().unwrap().failure = Some(failure);
    }

    pub fn token_requests(&self) -> usize {
        self.inner.lock().unwrap().token_requests
    }

    /// The `oauth.<name>` config table pointing at this provider.
    pub fn config(&self) -> Value {
        json!({
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "auth_url": format!("{}/authorize", self.base),
            "token_url": format!("{}/token", self.base),
            "userinfo_url": format!("{}/user", self.base),
            "emails_url": format!("{}/user/emails", self.base),
            "display_name": "Fake Hub",
        })
    }

    fn failure(&self) -> Failure {
        self.inner.lock().unwrap().failure.unwrap_or(Failure::None)
    }
}

fn random_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>())
}

#[allow(clippy::too_many_arguments)]
#[get(
    "/authorize?<response_type>&<client_id>&<redirect_uri>&<state>&<code_challenge>&<code_challenge_method>"
)]
fn authorize(
    response_type: &str,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
    code_challenge: &str,
    code_challenge_method: &str,
    provider: &State<FakeProvider>,
) -> Result<Redirect, Status> {
    if response_type != "code" || client_id != CLIENT_ID || code_challenge_method != "S256" {
        return Err(Status::BadRequest);
    }
    let mut inner = provider.inner.lock().unwrap();
    let user = inner.user.clone().ok_or(Status::Unauthorized)?;
    let code = random_token();
    inner.codes.insert(
        code.clone(),
        Grant {
            redirect_uri: redirect_uri.to_owned(),
            challenge: code_challenge.to_owned(),
            user,
        },
    );
    let encode = |s: &str| rocket::http::RawStr::new(s).percent_encode().to_string();
    Ok(Redirect::to(format!(
        "{redirect_uri}?code={}&state={}",
        encode(&code),
        encode(state)
    )))
}

#[derive(FromForm)]
struct TokenForm<'r> {
    grant_type: &'r str,
    code: &'r str,
    redirect_uri: &'r str,
    client_id: &'r str,
    client_secret: &'r str,
    code_verifier: &'r str,
}

#[post("/token", data = "<form>")]
async fn token(form: Form<TokenForm<'_>>, provider: &State<FakeProvider>) -> (Status, Json<Value>) {
    provider.inner.lock().unwrap().token_requests += 1;
    match provider.failure() {
        Failure::TokenEndpoint500 => {
            return (
                Status::InternalServerError,
                Json(json!({"error": "server_error"})),
            );
        }
        Failure::SlowToken => rocket::tokio::time::sleep(Duration::from_secs(3)).await,
        _ => {}
    }
    let refuse = |why: &str| {
        (
            Status::BadRequest,
            Json(json!({"error": "invalid_grant", "error_description": why})),
        )
    };
    if form.client_id != CLIENT_ID || form.client_secret != CLIENT_SECRET {
        return (
            Status::Unauthorized,
            Json(json!({"error": "invalid_client"})),
        );
    }
    if form.grant_type != "authorization_code" {
        return refuse("grant type");
    }
    let mut inner = provider.inner.lock().unwrap();
    let Some(grant) = inner.codes.remove(form.code) else {
        return refuse("unknown or used code");
    };
    if grant.redirect_uri != form.redirect_uri {
        return refuse("redirect_uri mismatch");
    }
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(form.code_verifier.as_bytes()));
    if computed != grant.challenge {
        return refuse("PKCE verifier mismatch");
    }
    let access_token = random_token();
    inner.tokens.insert(access_token.clone(), grant.user);
    (
        Status::Ok,
        Json(json!({"access_token": access_token, "token_type": "bearer", "scope": "read:user"})),
    )
}

struct BearerToken(String);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for BearerToken {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        match req
            .headers()
            .get_one("Authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
        {
            Some(token) => Outcome::Success(BearerToken(token.to_owned())),
            None => Outcome::Error((Status::Unauthorized, ())),
        }
    }
}

fn user_for(provider: &FakeProvider, token: &BearerToken) -> Result<ProviderUser, Status> {
    if provider.failure() == Failure::Userinfo401 {
        return Err(Status::Unauthorized);
    }
    provider
        .inner
        .lock()
        .unwrap()
        .tokens
        .get(&token.0)
        .cloned()
        .ok_or(Status::Unauthorized)
}

#[get("/user")]
fn userinfo(
    token: Option<BearerToken>,
    provider: &State<FakeProvider>,
) -> Result<(rocket::http::ContentType, String), Status> {
    let Some(token) = token else {
        // The readiness probe.
        return Err(Status::Unauthorized);
    };
    let user = user_for(provider, &token)?;
    if provider.failure() == Failure::UserinfoJunk {
        return Ok((
            rocket::http::ContentType::JSON,
            "<html>surprise</html>".to_owned(),
        ));
    }
    let body =
        json!({"id": user.id, "login": user.login, "email": user.email, "name": "Test Person"});
    Ok((rocket::http::ContentType::JSON, body.to_string()))
}

#[get("/user/emails")]
fn emails(token: BearerToken, provider: &State<FakeProvider>) -> Result<Json<Value>, Status> {
    let user = user_for(provider, &token)?;
    Ok(Json(Value::Array(
        user.emails
            .iter()
            .map(|(email, primary, verified)| json!({"email": email, "primary": primary, "verified": verified}))
            .collect(),
    )))
}
