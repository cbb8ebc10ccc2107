//! What operators rely on, in process: `GET /metrics` for allowed
//! addresses only, `X-Request-Id` on every response (a trusted proxy's
//! own id kept), static files at content-hashed URLs with a long cache.

use std::collections::BTreeMap;

use rocket::http::Status;

use crate::helpers::{TestResponse, app, spawn_app};

/// The samples of a Prometheus / OpenMetrics text exposition, by series
/// (`name{labels}`); panics on a line that is neither a comment nor a sample.
fn parse_exposition(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line.rsplit_once(' ').expect("`series value`");
        let value: f64 = value.parse().expect("a number");
        let name_end = series.find('{').unwrap_or(series.len());
        assert!(
            series[..name_end]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "metric name in {line}"
        );
        samples.insert(series.to_owned(), value);
    }
    samples
}

fn sample(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no {series} in {samples:#?}"))
}

#[rocket::async_test]
async fn metrics_count_requests_sign_ins_failures_refusals_and_the_pool() {
    let app = app()
        .config("rate_limits.sign_in_per_ip", "1/1m")
        .spawn()
        .await;
    let visitor = app.signed_up("metered").await;
    visitor.logout().await;
    visitor.login("metered", "a wrong password here").await;
    visitor
        .login("metered", "a wrong password here")
        .await
        .assert_status(Status::TooManyRequests);
    let prometheus = app.browser();
    prometheus.set_remote("127.0.0.1:9090");

    let response = prometheus.get("/metrics").await;

    response.assert_status(Status::Ok);
    assert!(
        response
            .header("Content-Type")
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    assert!(response.body.ends_with("# EOF\n"));
    let samples = parse_exposition(&response.body);
    let at_least_one = |series: &str| assert!(sample(&samples, series) >= 1.0, "{series}");
    at_least_one(r#"gatehouse_http_requests_total{method="GET",route="/login",status="200"}"#);
    at_least_one(r#"gatehouse_http_requests_total{method="POST",route="/login",status="429"}"#);
    at_least_one(r#"gatehouse_http_request_duration_seconds_count{route="/signup"}"#);
    at_least_one(r#"gatehouse_http_request_duration_seconds_bucket{le="+Inf",route="/signup"}"#);
    at_least_one(r#"gatehouse_sign_ins_total{method="sign-up"}"#);
    at_least_one(r#"gatehouse_sign_in_failures_total{method="password"}"#);
    at_least_one(r#"gatehouse_rate_limit_refusals_total{route="/login"}"#);
    at_least_one(r#"gatehouse_sessions_created_total{kind="browser"}"#);
    at_least_one(r#"gatehouse_sessions_ended_total{kind="sign_out"}"#);
    at_least_one("gatehouse_db_pool_max_connections");
    sample(&samples, r#"gatehouse_db_pool_connections{state="idle"}"#);
    sample(&samples, r#"gatehouse_db_pool_connections{state="in_use"}"#);
    sample(&samples, "gatehouse_db_pool_slow_acquires_total");
    assert!(
        !response.body.contains("metered"),
        "no user names in metrics"
    );
}

#[rocket::async_test]
async fn metrics_are_a_404_page_for_any_other_address() {
    let direct = spawn_app().await;
    let outsider = direct.browser();

    let response = outsider.get("/metrics").await;

    response.assert_status(Status::NotFound);
    assert!(!response.body.contains("gatehouse_http_requests_total"));
    // Behind a trusted proxy on this host, the client is who the proxy says.
    let proxied = app().config("trusted_proxies", ["127.0.0.1"]).spawn().await;
    let through_proxy = proxied.browser();
    through_proxy.set_remote("127.0.0.1:50000");
    through_proxy.set_header("X-Forwarded-For", "198.51.100.20");
    through_proxy
        .get("/metrics")
        .await
        .assert_status(Status::NotFound);
}

#[rocket::async_test]
async fn metrics_allow_can_name_a_monitoring_network() {
    let app = app().config("metrics_allow", ["10.1.0.0/16"]).spawn().await;
    let prometheus = app.browser();
    prometheus.set_remote("10.1.2.3:9090");
    prometheus.get("/metrics").await.assert_status(Status::Ok);
    prometheus.set_remote("127.0.0.1:9090");
    prometheus
        .get("/metrics")
        .await
        .assert_status(Status::NotFound);
}

fn request_id(response: &TestResponse) -> &str {
    response.header("X-Request-Id").expect("an X-Request-Id")
}

#[rocket::async_test]
async fn every_response_carries_a_fresh_request_id_unless_a_trusted_proxy_gave_one() {
    let app = app().config("trusted_proxies", ["10.0.0.1"]).spawn().await;
    let browser = app.browser();
    browser.set_header("X-Request-Id", "chosen-by-the-client");

    let first = browser.get("/").await;
    let second = browser.get("/no-such-page").await;

    assert_eq!(request_id(&first).len(), 32);
    assert_ne!(request_id(&first), request_id(&second));
    assert_ne!(request_id(&first), "chosen-by-the-client");
    second.assert_status(Status::NotFound);
    browser.set_remote("10.0.0.1:443");
    browser.set_header("X-Request-Id", "proxy-id-42");
    assert_eq!(request_id(&browser.get("/login").await), "proxy-id-42");
    browser.set_header("X-Request-Id", "not a plain id");
    let refused = browser.get("/login").await;
    assert_eq!(request_id(&refused).len(), 32);
}

#[rocket::async_test]
async fn the_stylesheet_is_linked_by_its_content_hash_and_cached_for_a_year() {
    let app = spawn_app().await;
    let browser = app.browser();
    let home = browser.get("/").await;
    let href = home
        .body
        .split("rel=\"stylesheet\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a stylesheet link")
        .to_owned();
    assert!(href.starts_with("/static/css/gatehouse."), "{href}");

    let hashed = browser.get(&href).await;
    let plain = browser.get("/static/css/gatehouse.css").await;
    let stale = browser
        .get("/static/css/gatehouse.0000000000000000.css")
        .await;

    hashed.assert_status(Status::Ok);
    assert_eq!(
        hashed.header("Content-Type"),
        Some("text/css; charset=utf-8")
    );
    assert_eq!(
        hashed.header("Cache-Control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(plain.body, hashed.body);
    assert_eq!(plain.header("Cache-Control"), Some("public, max-age=3600"));
    assert_eq!(stale.header("Cache-Control"), Some("public, max-age=3600"));
    assert_eq!(home.header("Cache-Control"), Some("no-store"));
    assert_eq!(
        home.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let missing = browser.get("/static/css/nothing.css").await;
    missing.assert_status(Status::NotFound);
    assert_eq!(missing.header("Cache-Control"), Some("no-store"));
}

#[rocket::async_test]
async fn template_and_static_dirs_replace_the_embedded_files_of_the_same_name() {
    let dir = std::env::temp_dir().join(format!("gatehouse-restyle-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::create_dir_all(dir.join("static/css")).unwrap();
    std::fs::write(
        dir.join("templates/home.html.tera"),
        "{% extends \"base.html\" %}{% block title %}Home{% endblock title %}\
         {% block content %}<h1>Welcome to the restyled site</h1>{% endblock content %}",
    )
    .unwrap();
    std::fs::write(dir.join("static/css/gatehouse.css"), "body { color: teal }").unwrap();
    let app = app()
        .config("template_dir", dir.join("templates"))
        .config("static_dir", dir.join("static"))
        .spawn()
        .await;
    let browser = app.browser();

    let home = browser.get("/").await;
    let login = browser.get("/login").await;
    let css = browser.get("/static/css/gatehouse.css").await;

    home.assert_status(Status::Ok);
    assert!(
        home.body.contains("Welcome to the restyled site"),
        "{}",
        home.body
    );
    login.assert_status(Status::Ok);
    assert!(login.body.contains("name=\"password\""));
    assert_eq!(css.body, "body { color: teal }");
    std::fs::remove_dir_all(dir).unwrap();
}

#[rocket::async_test]
async fn an_unreadable_static_dir_stops_the_launch() {
    let rocket = gatehouse::rocket(
        gatehouse::config::bare_figment(rocket::Config::DEBUG_PROFILE)
            .merge(("log_level", "off"))
            .merge(("secret_key", crate::helpers::random_secret_key()))
            .merge(("database_url", "sqlite::memory:"))
            .merge(("static_dir", "/nonexistent/gatehouse/static")),
    );
    let error = rocket.ignite().await.expect_err("the launch is stopped");
    assert!(matches!(
        error.kind(),
        rocket::error::ErrorKind::FailedFairings(_)
    ));
}
