//! The `gatehouse` binary as it is deployed: copied alone into an empty
//! folder (no source tree, no Rocket.toml), served on a loopback port,
//! logging JSON, and stopped with SIGTERM.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::Client;

use crate::helpers::{PASSWORD, extract_csrf};

/// A copy of the binary, alone in a fresh folder, serving on a free port.
struct Deployed {
    dir: PathBuf,
    port: u16,
    child: Child,
    /// Lines of the server's standard output, as they come.
    stdout: mpsc::Receiver<String>,
}

impl Deployed {
    fn start(env: &[(&str, &str)]) -> Deployed {
        let dir = std::env::temp_dir().join(format!("gatehouse-deploy-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let binary = dir.join("gatehouse");
        std::fs::copy(env!("CARGO_BIN_EXE_gatehouse"), &binary).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(&binary);
        command
            .current_dir(&dir)
            .env_clear()
            .env("ROCKET_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let (lines, stdout) = mpsc::channel();
        let output = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(output).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let deployed = Deployed {
            dir,
            port,
            child,
            stdout,
        };
        deployed.wait_until_listening();
        deployed
    }

    fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "the server did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn wait_for_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "still running after {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every line written so far (waiting briefly for stragglers).
    fn output_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.stdout.recv_timeout(Duration::from_millis(300)) {
            lines.push(line);
        }
        lines
    }
}

impl Drop for Deployed {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn sign_up(server: &Deployed, http: &Client, username: &str) {
    let page = http.get(server.url("/signup")).send().await.unwrap();
    let token = extract_csrf(&page.text().await.unwrap()).expect("a CSRF token");
    let email = format!("{username}@example.com");
    let response = http
        .post(server.url("/signup"))
        .form(&[
            ("username", username),
            ("email", &email),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
}

#[rocket::async_test]
async fn a_copy_of_the_binary_alone_serves_every_page_and_the_stylesheet() {
    let server = Deployed::start(&[]);
    let http = browser();
    let mut stylesheet = None;
    for (path, status) in [
        ("/", 200),
        ("/login", 200),
        ("/signup", 200),
        ("/nowhere", 404),
    ] {
        let response = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), status, "GET {path}");
        assert!(response.headers().contains_key("x-request-id"));
        let body = response.text().await.unwrap();
        assert!(body.contains("<h1"), "GET {path}: {body}");
        stylesheet = body
            .split("rel=\"stylesheet\" href=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(str::to_owned);
    }
    sign_up(&server, &http, "deployed").await;
    for path in [
        "/account",
        "/account/sessions",
        "/account/2fa",
        "/account/api-keys",
        "/account/linked",
        "/account/security",
    ] {
        let response = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        assert!(
            response.text().await.unwrap().contains("deployed"),
            "GET {path}"
        );
    }
    let members = http.get(server.url("/members")).send().await.unwrap();
    assert_eq!(members.status(), 403);
    assert!(members.text().await.unwrap().contains("<h1"));

    let css = http
        .get(server.url(&stylesheet.expect("a stylesheet link")))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert!(css.text().await.unwrap().contains("body"));
    assert!(server.dir.join("data/gatehouse.db").exists());
}

#[rocket::async_test]
async fn json_logs_are_one_object_per_line_with_the_request_id() {
    let server = Deployed::start(&[("ROCKET_LOG_FORMAT", "json")]);
    let http = browser();
    sign_up(&server, &http, "logged").await;
    let response = http.get(server.url("/account")).send().await.unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let lines = server.output_lines();

    let entries: Vec<serde_json::Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let entry = entries
        .iter()
        .find(|entry| entry["request_id"] == id.as_str())
        .unwrap_or_else(|| panic!("no line for {id} in {lines:#?}"));
    assert_eq!(entry["level"], "INFO");
    assert_eq!(entry["route"], "/account");
    assert_eq!(entry["method"], "GET");
    assert_eq!(entry["status"], 200);
    assert!(entry["duration_ms"].as_f64().unwrap() >= 0.0);
    assert!(entry["user_id"].as_i64().unwrap() > 0);
    assert!(entry["timestamp"].as_str().unwrap().contains('T'));
    let sign_up = entries
        .iter()
        .find(|entry| entry["route"] == "/signup" && entry["method"] == "POST")
        .expect("the sign-up's line");
    assert_eq!(sign_up["status"], 303);
    let all = lines.join("\n");
    assert!(!all.contains(PASSWORD), "a password was logged");
    assert!(
        !all.to_lowercase().contains("cookie"),
        "a cookie was logged"
    );
}

#[rocket::async_test]
async fn sigterm_lets_the_request_in_flight_finish_and_exits_0() {
    let mut server = Deployed::start(&[]);
    // A request whose body is still on its way when the signal comes.
    let mut in_flight = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let body = "login=nobody&password=x";
    write!(
        in_flight,
        "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\nlogin=",
        body.len()
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));

    server.terminate();
    std::thread::sleep(Duration::from_millis(300));
    in_flight.write_all(&body.as_bytes()[6..]).unwrap();
    let mut answer = String::new();
    in_flight
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    in_flight.read_to_string(&mut answer).unwrap();

    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    let status = server.wait_for_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0));
    assert!(TcpStream::connect(("127.0.0.1", server.port)).is_err());
}

#[rocket::async_test]
async fn a_refused_form_is_logged_with_who_from_where_and_what() {
    let server = Deployed::start(&[("ROCKET_LOG_FORMAT", "json")]);
    let http = browser();
    sign_up(&server, &http, "refused").await;
    let forged = http
        .post(server.url("/account/password"))
        .form(&[("current_password", PASSWORD), ("new_password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    // A refused reset link is logged by its route, never with the secret.
    let secret = "S3cretResetTokenS3cretResetTokenS3cretReset";
    let link = http
        .post(server.url(&format!("/password/reset/{secret}")))
        .form(&[("new_password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(link.status(), 403);

    let lines = server.output_lines();
    assert!(
        lines.iter().all(|line| !line.contains(secret)),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line.contains(r#""path":"/password/reset/<token>""#)),
        "{lines:#?}"
    );
    let refusal = lines
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|entry| entry["message"] == "refused")
        .unwrap_or_else(|| panic!("no refusal in {lines:#?}"));
    assert_eq!(refusal["level"], "WARN");
    assert_eq!(refusal["status"], 403);
    assert_eq!(refusal["method"], "POST");
    assert_eq!(refusal["path"], "/account/password");
    assert_eq!(refusal["address"], "127.0.0.1");
    assert!(refusal["user_id"].as_i64().unwrap() > 0, "{refusal}");
    assert!(
        refusal["reason"]
            .as_str()
            .unwrap()
            .contains("did not come from this site")
    );
}
