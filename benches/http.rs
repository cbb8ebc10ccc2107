//! Gatehouse's hot paths against a bare Rocket app, side by side in one
//! run on this machine: `cargo bench --bench http`.
//!
//! Starts the release `gatehouse` binary (SQLite in a temporary directory,
//! rate limits off, its default request log sent to /dev/null) and, from
//! this same bench binary, a bare Rocket 0.5 server whose `GET /page`
//! answers a fixed HTML page as large as Gatehouse's `/account`. A
//! loopback load generator written here (HTTP/1.1 keep-alive, 64
//! connections, a bounded time and request count per phase) drives each
//! endpoint; the server's CPU time comes from /proc/<pid>/stat. Printed:
//! requests per second and server CPU microseconds per request for the
//! signed-in `GET /account` and for `GET /api/v1/me` with a bearer token
//! and with an API key, each as a ratio to bare Rocket's.
//!
//! Settings (env): BENCH_SECONDS (per phase, default 5), BENCH_CONNECTIONS
//! (default 64), BENCH_RUST_LOG (Gatehouse's RUST_LOG; default its own),
//! BENCH_RATE_LIMITS (set to anything: Gatehouse's rate limits stay on, as
//! by default, instead of off).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rocket::tokio;
use rocket::tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use rocket::tokio::net::TcpStream;

/// Set in the environment of the child that serves the bare Rocket app.
const BARE_ROLE: &str = "GATEHOUSE_BENCH_BARE_PAGE_BYTES";
const PASSWORD: &str = "correct horse battery staple";
/// No phase sends more than this many requests, whatever its time.
const MAX_REQUESTS: u64 = 5_000_000;

fn main() {
    if let Ok(bytes) = std::env::var(BARE_ROLE) {
        return serve_bare(bytes.parse().expect("a page size"));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run());
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------- servers

/// A child process serving on a loopback port; killed when dropped.
struct Server {
    child: Child,
    port: u16,
    dir: Option<std::path::PathBuf>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Server {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// User plus system CPU time the server has used so far.
    fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("/proc/<pid>/stat (Linux)");
        // Fields after the command name: state is the first, utime the 12th.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .expect("a stat line")
            .1
            .split_whitespace()
            .collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second())
    }

    async fn wait_until_up(&self, path: &str) {
        for _ in 0..400 {
            if reqwest::get(format!("{}{path}", self.base()))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server on port {} did not come up", self.port);
    }
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

async fn start_gatehouse() -> Server {
    let dir = std::env::temp_dir().join(format!("gatehouse-http-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let port = free_port();
    let secret: String = rand::random::<[u8; 32]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command
        .current_dir(&dir)
        .env("ROCKET_PROFILE", "release")
        .env("ROCKET_PORT", port.to_string())
        .env("ROCKET_SECRET_KEY", secret)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if std::env::var_os("BENCH_RATE_LIMITS").is_none() {
        command.env("ROCKET_RATE_LIMITS", "{enabled=false}");
    }
    if let Ok(filter) = std::env::var("BENCH_RUST_LOG") {
        command.env("RUST_LOG", filter);
    }
    let server = Server {
        child: command.spawn().expect("gatehouse starts"),
        port,
        dir: Some(dir),
    };
    server.wait_until_up("/health").await;
    server
}

async fn start_bare(page_bytes: usize) -> Server {
    let port = free_port();
    let child = Command::new(std::env::current_exe().expect("this bench binary"))
        .env(BARE_ROLE, page_bytes.to_string())
        // Rocket's release profile refuses to start without a key.
        .env("ROCKET_SECRET_KEY", "ab".repeat(32))
        .env("ROCKET_PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the bare server starts");
    let server = Server {
        child,
        port,
        dir: None,
    };
    server.wait_until_up("/page").await;
    server
}

/// The peer: Rocket 0.5 with one route answering a fixed page.
fn serve_bare(page_bytes: usize) {
    #[rocket::get("/page")]
    fn page(body: &rocket::State<String>) -> rocket::response::content::RawHtml<&str> {
        rocket::response::content::RawHtml(body.as_str())
    }
    let mut body = String::from("<!doctype html><html lang=\"en\"><body><h1>Page</h1><p>");
    while body.len() + 20 < page_bytes {
        body.push_str("lorem ipsum dolor. ");
    }
    body.push_str("</p></body></html>");
    let figment = rocket::Config::figment()
        .merge(("log_level", "off"))
        .merge(("address", "127.0.0.1"));
    rocket::execute(
        rocket::custom(figment)
            .manage(body)
            .mount("/", rocket::routes![page])
            .launch(),
    )
    .expect("the bare server runs");
}

// ------------------------------------------------------------------ setup

/// What the load needs to call Gatehouse as a signed-in user.
struct Credentials {
    cookie: String,
    bearer: String,
    api_key: String,
    account_page_bytes: usize,
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start}")) + start.len();
    let to = text[from..].find(end).expect("the end marker");
    &text[from..from + to]
}

async fn sign_up(base: &str) -> Credentials {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let http = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let form_token = |html: &str| between(html, r#"name="csrf_token" value=""#, "\"").to_owned();
    let page = http.get(format!("{base}/signup")).send().await.unwrap();
    let token = form_token(&page.text().await.unwrap());
    let signed_up = http
        .post(format!("{base}/signup"))
        .form(&[
            ("username", "bench"),
            ("email", "bench@example.com"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 303, "sign-up");
    let account = http.get(format!("{base}/account")).send().await.unwrap();
    assert_eq!(account.status(), 200);
    let account_page = account.text().await.unwrap();
    let keys_page = http
        .get(format!("{base}/account/api-keys"))
        .send()
        .await
        .unwrap();
    let token = form_token(&keys_page.text().await.unwrap());
    let created = http
        .post(format!("{base}/account/api-keys"))
        .form(&[
            ("name", "bench"),
            ("scopes", "read"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    // The new key is shown once, on the page the POST redirects to.
    assert_eq!(created.status(), 303, "creating the API key");
    let created = http
        .get(format!("{base}/account/api-keys"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let api_key = between(&created, "id=\"new-api-key\"", "</")
        .rsplit('>')
        .next()
        .expect("the key")
        .trim()
        .to_owned();
    let issued = http
        .post(format!("{base}/api/v1/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "bench"),
            ("password", PASSWORD),
            ("scope", "read"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let issued: serde_json::Value = serde_json::from_str(&issued).expect("a token response");
    let url = reqwest::Url::parse(base).unwrap();
    use reqwest::cookie::CookieStore as _;
    let cookie = jar.cookies(&url).expect("session cookies");
    Credentials {
        cookie: cookie.to_str().unwrap().to_owned(),
        bearer: issued["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned(),
        api_key,
        account_page_bytes: account_page.len(),
    }
}

// ------------------------------------------------------------------- load

struct Measured {
    requests: u64,
    elapsed: Duration,
    cpu: Duration,
}

impl Measured {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn cpu_micros_per_request(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.requests.max(1) as f64
    }
}

/// One connection's loop: send, read the whole response, check 200, again.
async fn connection(port: u16, request: Arc<Vec<u8>>, stop: Arc<AtomicBool>, done: Arc<AtomicU64>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("a connection");
    stream.set_nodelay(true).ok();
    let mut buffer = vec![0u8; 256 * 1024];
    while !stop.load(Ordering::Relaxed) {
        stream.write_all(&request).await.expect("a request sent");
        let mut filled = 0;
        let body_end = loop {
            let read = stream
                .read(&mut buffer[filled..])
                .await
                .expect("a response");
            assert!(read > 0, "the server closed the connection");
            filled += read;
            if let Some(end) = response_end(&buffer[..filled]) {
                break end;
            }
        };
        assert_eq!(
            &buffer[9..12],
            b"200",
            "{}",
            String::from_utf8_lossy(&buffer[..filled])
        );
        assert_eq!(body_end, filled, "one response at a time");
        if done.fetch_add(1, Ordering::Relaxed) + 1 >= MAX_REQUESTS {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

/// Where the response in `data` ends, once it is all there.
fn response_end(data: &[u8]) -> Option<usize> {
    let head_end = data.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&data[..head_end]).expect("an ASCII head");
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .expect("a Content-Length");
    (data.len() >= head_end + length).then_some(head_end + length)
}

async fn load(server: &Server, path: &str, headers: &[(&str, &str)]) -> Measured {
    let connections = env_number("BENCH_CONNECTIONS", 64);
    let seconds = env_number("BENCH_SECONDS", 5);
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let request = Arc::new(request.into_bytes());
    // Warm up (connections, caches), then measure.
    for (phase, time) in [
        (false, Duration::from_secs(1)),
        (true, Duration::from_secs(seconds)),
    ] {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let cpu_before = server.cpu_time();
        let started = Instant::now();
        let tasks: Vec<_> = (0..connections)
            .map(|_| {
                tokio::spawn(connection(
                    server.port,
                    request.clone(),
                    stop.clone(),
                    done.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(time).await;
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            task.await.expect("a connection ran");
        }
        if phase {
            return Measured {
                requests: done.load(Ordering::Relaxed),
                elapsed: started.elapsed(),
                cpu: server.cpu_time() - cpu_before,
            };
        }
    }
    unreachable!("the measured phase returns")
}

async fn run() {
    let gatehouse = start_gatehouse().await;
    let credentials = sign_up(&gatehouse.base()).await;
    let bare = start_bare(credentials.account_page_bytes).await;
    println!(
        "gatehouse http bench: {} connections, {} s per phase, /account page {} bytes, {} cores",
        env_number("BENCH_CONNECTIONS", 64),
        env_number("BENCH_SECONDS", 5),
        credentials.account_page_bytes,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    // Bare Rocket before and after Gatehouse's phases, averaged, so a
    // change in the machine's load during the run touches both sides.
    let bare_first = load(&bare, "/page", &[]).await;
    let bearer = format!("Bearer {}", credentials.bearer);
    let phases = [
        (
            "GET /account (signed in)",
            load(&gatehouse, "/account", &[("Cookie", &credentials.cookie)]).await,
        ),
        (
            "GET /api/v1/me (bearer)",
            load(&gatehouse, "/api/v1/me", &[("Authorization", &bearer)]).await,
        ),
        (
            "GET /api/v1/me (API key)",
            load(
                &gatehouse,
                "/api/v1/me",
                &[("X-API-Key", &credentials.api_key)],
            )
            .await,
        ),
    ];
    let bare_last = load(&bare, "/page", &[]).await;
    let bare_rate = (bare_first.per_second() + bare_last.per_second()) / 2.0;
    let bare_cpu = (bare_first.cpu_micros_per_request() + bare_last.cpu_micros_per_request()) / 2.0;
    println!(
        "{:<28} {:>10} {:>12} {:>14} {:>12}",
        "endpoint", "req/s", "CPU µs/req", "req/s ratio", "CPU ratio"
    );
    println!(
        "{:<28} {:>10.0} {:>12.1} {:>14} {:>12}",
        "bare Rocket GET /page", bare_rate, bare_cpu, "1.00", "1.0×"
    );
    for (name, measured) in &phases {
        println!(
            "{:<28} {:>10.0} {:>12.1} {:>14.2} {:>11.1}×",
            name,
            measured.per_second(),
            measured.cpu_micros_per_request(),
            measured.per_second() / bare_rate,
            measured.cpu_micros_per_request() / bare_cpu,
        );
    }
    println!(
        "(bare Rocket: {:.0} req/s before, {:.0} after)",
        bare_first.per_second(),
        bare_last.per_second()
    );
}
