//! A small WebDriver client for Debian's Chromium through `chromedriver`,
//! over the reqwest the tests already use. (fantoccini's TLS features pull
//! in a C toolchain build of aws-lc; talking to a loopback chromedriver
//! needs neither TLS nor more than these few commands.)

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Client;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where the tests look for axe-core: `AXE_CORE_JS`, else what
/// `npm install --prefix target/axe axe-core` put there.
pub fn axe_path() -> PathBuf {
    std::env::var_os("AXE_CORE_JS").map_or_else(
        || {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target/axe/node_modules/axe-core/axe.min.js")
        },
        PathBuf::from,
    )
}

/// Why the browser tests cannot run here, if they cannot.
pub fn missing() -> Option<String> {
    let mut missing = Vec::new();
    for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        if !Path::new(path).exists() {
            missing.push(format!("{path} (apt-get install {package})"));
        }
    }
    let axe = axe_path();
    if !axe.exists() {
        missing.push(format!(
            "{} (npm install --prefix target/axe axe-core)",
            axe.display()
        ));
    }
    (!missing.is_empty()).then(|| missing.join(", "))
}

/// A headless Chromium with its own chromedriver and profile, closed when
/// dropped.
pub struct Chrome {
    http: Client,
    base: String,
    session: String,
    port: u16,
    driver: Child,
    profile: PathBuf,
}

impl Drop for Chrome {
    fn drop(&mut self) {
        // Blocking, since Drop cannot await: ask chromedriver to close the
        // browser, then stop chromedriver itself.
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                let _ = std::io::Read::read(&mut stream, &mut [0u8; 512]);
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Chrome {
    /// Starts chromedriver and a browser `width` px wide.
    pub async fn start(width: u32) -> Chrome {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = Client::new();
        for _ in 0..100 {
            if let Ok(status) = http.get(format!("{base}/status")).send().await
                && status.status().is_success()
            {
                break;
            }
            rocket::tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile =
            std::env::temp_dir().join(format!("gatehouse-chromium-{}", uuid::Uuid::new_v4()));
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--window-size={width},900"),
        ];
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        }}});
        let mut chrome = Chrome {
            http,
            base,
            session: String::new(),
            port,
            driver,
            profile,
        };
        let created = chrome.call("POST", "/session", capabilities).await;
        chrome.session = created["sessionId"]
            .as_str()
            .expect("a WebDriver session")
            .to_owned();
        chrome.set_width(width).await;
        chrome
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self
                .http
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_string()),
        };
        let response = request.send().await.expect("chromedriver answers");
        let status = response.status();
        let text = response.text().await.expect("chromedriver answers");
        let body: Value = serde_json::from_str(&text).expect("chromedriver speaks JSON");
        assert!(status.is_success(), "WebDriver {method} {path}: {body}");
        body["value"].clone()
    }

    async fn session_call(&self, method: &str, path: &str, body: Value) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    /// Sets the viewport to `width` CSS pixels. Not as a "mobile" device:
    /// that would let Chromium zoom out to fit a page that is too wide,
    /// hiding the very sideways scrolling the tests look for.
    pub async fn set_width(&self, width: u32) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": 900, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await;
    }

    /// Runs a Chrome DevTools Protocol command.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.session_call(
            "POST",
            "/goog/cdp/execute",
            json!({ "cmd": cmd, "params": params }),
        )
        .await
    }

    pub async fn goto(&self, url: &str) {
        self.session_call("POST", "/url", json!({ "url": url }))
            .await;
    }

    pub async fn url(&self) -> String {
        self.session_call("GET", "/url", Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn find(&self, css: &str) -> String {
        self.find_by("css selector", css).await
    }

    async fn find_by(&self, using: &str, value: &str) -> String {
        let found = self
            .session_call(
                "POST",
                "/element",
                json!({ "using": using, "value": value }),
            )
            .await;
        found[ELEMENT].as_str().expect("an element").to_owned()
    }

    /// Clicks the `tag` element whose text contains `text`, e.g. a
    /// `<summary>` that opens a second step.
    pub async fn click_text(&self, tag: &str, text: &str) {
        let element = self
            .find_by("xpath", &format!("//{tag}[contains(., '{text}')]"))
            .await;
        self.session_call("POST", &format!("/element/{element}/click"), json!({}))
            .await;
    }

    /// Types `text` into the field `css` selects, as a person would.
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.session_call("POST", &format!("/element/{element}/clear"), json!({}))
            .await;
        self.session_call(
            "POST",
            &format!("/element/{element}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.session_call("POST", &format!("/element/{element}/click"), json!({}))
            .await;
    }

    /// Clicks the button `css` selects and waits for the page its form
    /// leads to.
    pub async fn submit(&self, css: &str) {
        self.run("window.__before_submit = true;", json!([])).await;
        self.click(css).await;
        for _ in 0..200 {
            let loaded = self
                .run(
                    "return window.__before_submit === undefined && document.readyState === 'complete';",
                    json!([]),
                )
                .await;
            if loaded.as_bool() == Some(true) {
                return;
            }
            rocket::tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("submitting {css} led nowhere");
    }

    /// Gives the browser a virtual platform authenticator (the W3C
    /// WebAuthn WebDriver extension) that holds discoverable credentials
    /// and verifies its user at once; answers its id.
    pub async fn add_virtual_authenticator(&self) -> String {
        let added = self
            .session_call(
                "POST",
                "/webauthn/authenticator",
                json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                }),
            )
            .await;
        added.as_str().expect("an authenticator id").to_owned()
    }

    /// How many credentials the virtual authenticator `id` holds.
    pub async fn virtual_credentials(&self, id: &str) -> usize {
        self.session_call(
            "GET",
            &format!("/webauthn/authenticator/{id}/credentials"),
            Value::Null,
        )
        .await
        .as_array()
        .map_or(0, Vec::len)
    }

    /// Waits until `script` (a function body) returns true.
    pub async fn wait_for(&self, script: &str) {
        for _ in 0..200 {
            if self.run(script, json!([])).await.as_bool() == Some(true) {
                return;
            }
            rocket::tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("waited in vain for: {script}");
    }

    /// Runs `script` (a function body; `arguments` holds `args`).
    pub async fn run(&self, script: &str, args: Value) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            json!({ "script": script, "args": args }),
        )
        .await
    }

    pub async fn text(&self, css: &str) -> String {
        self.run(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;",
            json!([css]),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// How many px the page is wider than the screen (0 when it fits).
    pub async fn overflow(&self) -> i64 {
        self.run(
            "const d = document.documentElement; return d.scrollWidth - d.clientWidth;",
            json!([]),
        )
        .await
        .as_i64()
        .unwrap_or(i64::MAX)
    }

    /// axe-core's violations on this page, one line each.
    pub async fn axe_violations(&self) -> Vec<String> {
        let source = std::fs::read_to_string(axe_path()).expect("read axe-core");
        self.run(
            &format!("{source}\n;window.axe = axe; return true;"),
            json!([]),
        )
        .await;
        self.session_call("POST", "/timeouts", json!({ "script": 30_000 }))
            .await;
        let found = self
            .session_call(
                "POST",
                "/execute/async",
                json!({ "script": r#"
const done = arguments[arguments.length - 1];
window.axe.run(document, { resultTypes: ['violations'] }).then(
  r => done(r.violations.map(v => v.id + ': ' + v.help + ' at ' +
    v.nodes.map(n => n.target.join(' ')).join(', ') + ' (' +
    v.nodes.map(n => n.failureSummary).join(' | ') + ')')),
  e => done(['axe failed: ' + e]));
"#, "args": [] }),
            )
            .await;
        found
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Saves the whole page, at the current width, as a PNG at `path`.
    pub async fn screenshot(&self, path: &Path) {
        let height = self
            .run(
                "return Math.ceil(document.documentElement.scrollHeight);",
                json!([]),
            )
            .await
            .as_u64()
            .unwrap_or(900);
        let width = self
            .run("return window.innerWidth;", json!([]))
            .await
            .as_u64()
            .unwrap_or(1280);
        let shot = self
            .cdp(
                "Page.captureScreenshot",
                json!({ "format": "png", "captureBeyondViewport": true,
                        "clip": { "x": 0, "y": 0, "width": width, "height": height.max(1), "scale": 1 } }),
            )
            .await;
        let png = STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64 screenshot");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}
