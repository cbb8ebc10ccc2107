//! Over a real TCP socket, with a real HTTP client and cookie store: what a
//! person with a browser and a developer with curl see.

use std::time::Duration;

use reqwest::{Client, Response};
use rocket::tokio::task::JoinHandle;
use serde_json::Value;

use crate::helpers::{PASSWORD, TestDatabase, extract_csrf, random_secret_key};

/// Gatehouse listening on a loopback port, stopped when dropped.
pub(crate) struct Served {
    base: String,
    server: JoinHandle<Result<rocket::Rocket<rocket::Ignite>, rocket::Error>>,
    /// Held so the database lives exactly as long as the server.
    database: TestDatabase,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Served {
    pub(crate) async fn start() -> Served {
        Served::start_with(&[]).await
    }

    /// Started with `settings` on top of the test defaults.
    pub(crate) async fn start_with(settings: &[(&str, Value)]) -> Served {
        Served::start_at("127.0.0.1", settings).await
    }

    /// Served as `http://localhost:<port>`, its `public_url`: a domain, as
    /// passkeys need.
    pub(crate) async fn start_on_localhost(settings: &[(&str, Value)]) -> Served {
        Served::start_at("localhost", settings).await
    }

    async fn start_at(host: &str, settings: &[(&str, Value)]) -> Served {
        let database = TestDatabase::create().await;
        // Another test may take the free port between our look and Rocket's
        // bind; the site name tells our server from any other one there.
        let site_name = format!("Gatehouse {}", uuid::Uuid::new_v4());
        for _ in 0..5 {
            let port = {
                let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                listener.local_addr().unwrap().port()
            };
            let figment = gatehouse::config::bare_figment(rocket::Config::DEBUG_PROFILE)
                .merge(("log_level", "off"))
                .merge(("port", port))
                .merge(("site_name", site_name.clone()))
                .merge(("secret_key", random_secret_key()))
                .merge(("database_url", database.url.clone()));
            let base = format!("http://{host}:{port}");
            let figment = match host {
                "localhost" => figment.merge(("public_url", base.clone())),
                _ => figment,
            };
            let figment = settings.iter().fold(figment, |figment, (key, value)| {
                figment.merge((*key, value))
            });
            let server = rocket::tokio::spawn(gatehouse::rocket(figment).launch());
            let probe = Client::new();
            for _ in 0..100 {
                if server.is_finished() {
                    break;
                }
                if let Ok(home) = probe.get(format!("{base}/")).send().await
                    && home.text().await.unwrap_or_default().contains(&site_name)
                {
                    return Served {
                        base,
                        server,
                        database,
                    };
                }
                rocket::tokio::time::sleep(Duration::from_millis(50)).await;
            }
            server.abort();
        }
        panic!("the server did not come up");
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Runs `sql` on the server's database, as an operator would. The
    /// server runs in this process: the change is counted at once, as code
    /// writing behind Gatehouse's back must (an operator's own process is
    /// seen within `gatehouse::db::changes::MAX_AGE`).
    pub(crate) async fn execute(&self, sql: &str) {
        let db = sea_orm::Database::connect(&self.database.url)
            .await
            .unwrap();
        sea_orm::ConnectionTrait::execute_unprepared(&db, sql)
            .await
            .unwrap();
        db.close().await.ok();
        gatehouse::db::changes::changed();
    }

    /// A browser: keeps cookies, shows redirects instead of following them.
    pub(crate) fn browser(&self) -> Client {
        Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    pub(crate) async fn page(&self, http: &Client, path: &str) -> String {
        let response = http.get(self.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.unwrap()
    }

    /// Fills in the form on `page_path` and posts it to `action`.
    pub(crate) async fn submit(
        &self,
        http: &Client,
        page_path: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> Response {
        let token = extract_csrf(&self.page(http, page_path).await).expect("a CSRF token");
        let mut form = fields.to_vec();
        form.push(("csrf_token", &token));
        http.post(self.url(action))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    async fn signed_up(&self, username: &str) -> Client {
        let http = self.browser();
        let email = format!("{username}@example.com");
        let response = self
            .submit(
                &http,
                "/signup",
                "/signup",
                &[
                    ("username", username),
                    ("email", &email),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()["location"], "/account");
        http
    }
}

fn location(response: &Response) -> &str {
    response.headers()["location"].to_str().unwrap()
}

#[rocket::async_test]
async fn a_person_signs_up_out_and_in_over_http() {
    let served = Served::start().await;
    let http = served.signed_up("alice").await;

    let account = served.page(&http, "/account").await;
    assert!(account.contains(r#"<dd id="account-username">alice</dd>"#));

    let logout = served.submit(&http, "/account", "/logout", &[]).await;
    assert_eq!(logout.status(), 303);
    let after = http.get(served.url("/account")).send().await.unwrap();
    assert_eq!(after.status(), 303);
    assert_eq!(location(&after), "/login?next=%2Faccount");

    let login = served
        .submit(
            &http,
            "/login",
            "/login",
            &[("login", "alice@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(login.status(), 303);
    assert_eq!(location(&login), "/account");
    let again = http.get(served.url("/account")).send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["cache-control"], "no-store");
}

#[rocket::async_test]
async fn an_api_key_and_a_token_work_from_a_script_until_revoked() {
    let served = Served::start().await;
    let browser = served.signed_up("alice").await;
    let script = Client::new();

    // A key made on the settings page, used as curl would.
    let created = served
        .submit(
            &browser,
            "/account/api-keys",
            "/account/api-keys",
            &[("name", "laptop"), ("scopes", "read"), ("scopes", "write")],
        )
        .await;
    assert_eq!(created.status(), 303);
    assert_eq!(location(&created), "/account/api-keys");
    let page = served.page(&browser, "/account/api-keys").await;
    let start = page.find(r#"id="new-api-key" class="secret">"#).unwrap();
    let key: String = page[start..]
        .split_once('>')
        .unwrap()
        .1
        .chars()
        .take_while(|c| *c != '<')
        .collect();
    assert!(key.starts_with("gk_"));
    let me = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        (status, serde_json::from_str::<Value>(&body).unwrap())
    };
    let (status, body) = me(script
        .get(served.url("/api/v1/me"))
        .header("X-API-Key", &key))
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["username"], "alice");

    // A token from the password grant.
    let (status, grant) = me(script.post(served.url("/api/v1/token")).form(&[
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", PASSWORD),
    ]))
    .await;
    assert_eq!(status, 200, "{grant}");
    let token = grant["access_token"].as_str().unwrap().to_owned();
    let (status, sessions) = me(script
        .get(served.url("/api/v1/sessions"))
        .bearer_auth(&token))
    .await;
    assert_eq!(status, 200);
    let token_session = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|session| session["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Both end when revoked on the settings pages.
    let keys_page = served.page(&browser, "/account/api-keys").await;
    let action_start = keys_page.find(r#"action="/account/api-keys/"#).unwrap() + 8;
    let action: String = keys_page[action_start..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    let revoked = served
        .submit(&browser, "/account/api-keys", &action, &[])
        .await;
    assert_eq!(revoked.status(), 303);
    let (status, body) = me(script
        .get(served.url("/api/v1/me"))
        .header("X-API-Key", &key))
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_token");

    let revoked = served
        .submit(
            &browser,
            "/account/sessions",
            &format!("/account/sessions/{token_session}/revoke"),
            &[],
        )
        .await;
    assert_eq!(revoked.status(), 303);
    let response = script
        .get(served.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
}

#[rocket::async_test]
async fn the_peer_address_counts_and_big_bodies_are_refused_over_http() {
    let served = Served::start().await;
    let http = served.signed_up("alice").await;

    // No trusted proxies by default: a forwarded-for header is not believed.
    let spoofed = served.browser();
    let login = served
        .submit(
            &spoofed,
            "/login",
            "/login",
            &[("login", "alice"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(login.status(), 303);
    let page = spoofed
        .get(served.url("/account/sessions"))
        .header("X-Forwarded-For", "198.51.100.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("127.0.0.1"));
    assert!(!page.contains("198.51.100.9"));

    // A 100 KiB form is cut off at 64 KiB by the server, not buffered.
    let token = extract_csrf(&served.page(&http, "/account").await).unwrap();
    let huge = "x".repeat(100 * 1024);
    let response = http
        .post(served.url("/account/password"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("current_password", PASSWORD),
            ("new_password", &huge),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let headers = response.headers();
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    // The password did not change.
    assert_eq!(
        served
            .submit(
                &served.browser(),
                "/login",
                "/login",
                &[("login", "alice"), ("password", PASSWORD)],
            )
            .await
            .status(),
        303
    );
}

#[rocket::async_test]
async fn a_method_rocket_does_not_know_gets_405_on_an_api_path() {
    let served = Served::start().await;
    let client = Client::new();
    let query = reqwest::Method::from_bytes(b"QUERY").unwrap();

    let response = client
        .request(query.clone(), served.url("/api/v1/me"))
        .send()
        .await
        .unwrap();
    let elsewhere = client
        .request(query, served.url("/api/v1/nothing"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, HEAD");
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body["error"], "method_not_allowed");
    assert_eq!(elsewhere.status(), 400);
    assert!(elsewhere.headers().get("allow").is_none());
}
