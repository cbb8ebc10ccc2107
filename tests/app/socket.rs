//! Over a real TCP socket, with a real HTTP client and cookie store.

use std::time::Duration;

use crate::helpers::{PASSWORD, TestDatabase, extract_csrf, random_secret_key};

#[rocket::async_test]
async fn a_person_signs_up_out_and_in_over_http() {
    let database = TestDatabase::create().await;
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let figment = gatehouse::config::bare_figment(rocket::Config::DEBUG_PROFILE)
        .merge(("log_level", "off"))
        .merge(("port", port))
        .merge(("secret_key", random_secret_key()))
        .merge(("database_url", database.url.clone()));
    let server = rocket::tokio::spawn(gatehouse::rocket(figment).launch());
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut up = false;
    for _ in 0..100 {
        if http.get(format!("{base}/health")).send().await.is_ok() {
            up = true;
            break;
        }
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the server did not come up");
    let token = |html: String| extract_csrf(&html).expect("a CSRF token");

    let signup_page = http
        .get(format!("{base}/signup"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let signed_up = http
        .post(format!("{base}/signup"))
        .form(&[
            ("username", "alice"),
            ("email", "alice@example.com"),
            ("password", PASSWORD),
            ("csrf_token", &token(signup_page)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 303);
    assert_eq!(signed_up.headers()["location"], "/account");

    let account = http
        .get(format!("{base}/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(account.contains(r#"<dd id="account-username">alice</dd>"#));

    let logout = http
        .post(format!("{base}/logout"))
        .form(&[("csrf_token", token(account))])
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 303);
    let after = http.get(format!("{base}/account")).send().await.unwrap();
    assert_eq!(after.status(), 303);

    let login_page = http
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let login = http
        .post(format!("{base}/login"))
        .form(&[
            ("login", "alice@example.com"),
            ("password", PASSWORD),
            ("csrf_token", &token(login_page)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    assert_eq!(
        http.get(format!("{base}/account"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    server.abort();
}
