//! A sign-in flood against the real server, over HTTP: how many sign-ins a
//! second it completes against what the cores allow (cores ÷ one argon2
//! verify, measured in this run), the server's peak and settled memory, and
//! the p99 of a signed-in page fetched while the flood runs.
//! `cargo bench --bench sign_in_flood` (builds and starts the release binary
//! with SQLite in a temporary directory, rate limits off).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gatehouse::config::Argon2Settings;
use reqwest::Client;
use rocket::tokio;

const USERNAME: &str = "flood";
const PASSWORD: &str = "correct horse battery staple";
/// Each concurrency level runs this long.
const PHASE: Duration = Duration::from_secs(6);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run());
}

struct Server {
    child: Child,
    base: String,
    _dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed when dropped.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn server_command(dir: &std::path::Path, port: u16, secret: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("ROCKET_PROFILE", "release")
        .env("ROCKET_PORT", port.to_string())
        .env("ROCKET_SECRET_KEY", secret)
        .env(
            "ROCKET_DATABASE_URL",
            format!("sqlite://{}/flood.db?mode=rwc", dir.display()),
        )
        .env("ROCKET_RATE_LIMITS", "{enabled=false}")
        .env("ROCKET_LOG_LEVEL", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

async fn start_server() -> Server {
    let dir = std::env::temp_dir().join(format!("gatehouse-flood-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let dir = TempDir(dir);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let secret: String = rand::random::<[u8; 32]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let created = server_command(&dir.0, port, &secret)
        .args(["createsuperuser", "--username", USERNAME])
        .args(["--email", "flood@example.com"])
        .env("GATEHOUSE_PASSWORD", PASSWORD)
        .status()
        .expect("createsuperuser runs");
    assert!(created.success(), "createsuperuser failed");
    let child = server_command(&dir.0, port, &secret)
        .spawn()
        .expect("the server starts");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let probe = Client::new();
    for _ in 0..200 {
        if probe
            .get(format!("{}/health", server.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not come up");
}

/// One HTTP client for every simulated browser: each keeps its cookies in
/// a [`Visit`], so the flood costs the benchmark no TLS set-up per browser.
fn http_client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

/// A browser's cookies (as one `Cookie` header) and its form token.
struct Visit {
    cookies: String,
    token: String,
}

fn csrf_token(html: &str) -> String {
    let marker = r#"name="csrf_token" value=""#;
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    let end = html[start..].find('"').expect("the end of the token");
    html[start..start + end].to_owned()
}

fn cookies_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A new browser loading the sign-in page.
async fn at_login_page(http: &Client, base: &str) -> Visit {
    let response = http
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("GET /login");
    let cookies = cookies_of(&response);
    let token = csrf_token(&response.text().await.expect("a page"));
    Visit { cookies, token }
}

enum Outcome {
    SignedIn,
    Busy,
    Other,
}

/// Posts the sign-in form; a signed-in browser keeps its session cookie.
async fn sign_in(http: &Client, base: &str, visit: &mut Visit) -> Outcome {
    let response = http
        .post(format!("{base}/login"))
        .header(reqwest::header::COOKIE, visit.cookies.as_str())
        .form(&[
            ("csrf_token", visit.token.as_str()),
            ("login", USERNAME),
            ("password", PASSWORD),
        ])
        .send()
        .await;
    match response {
        Ok(response) if response.status() == 303 => {
            visit.cookies = cookies_of(&response);
            Outcome::SignedIn
        }
        Ok(response) if response.status() == 503 => Outcome::Busy,
        _ => Outcome::Other,
    }
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            line.strip_prefix(field)?
                .trim_start_matches(':')
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// Starts VmHWM afresh, so each phase reports its own peak.
fn reset_peak_memory(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

struct Phase {
    concurrency: usize,
    signed_in: u64,
    busy: u64,
    other: u64,
    seconds: f64,
    peak_mib: f64,
    settled_mib: f64,
    page_p99_ms: f64,
    page_count: usize,
}

async fn flood(server: &Server, concurrency: usize) -> Phase {
    let pid = server.child.id();
    let http = http_client();
    // The reader signs in before the flood and then only reads a page.
    let mut reader = at_login_page(&http, &server.base).await;
    assert!(matches!(
        sign_in(&http, &server.base, &mut reader).await,
        Outcome::SignedIn
    ));

    reset_peak_memory(pid);
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (stop, counts, base, http) = (
            stop.clone(),
            counts.clone(),
            server.base.clone(),
            http.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                // A sign-in gives the browser a new form token: each round
                // is a new browser, as in a flood.
                let mut visit = at_login_page(&http, &base).await;
                let slot = match sign_in(&http, &base, &mut visit).await {
                    Outcome::SignedIn => 0,
                    Outcome::Busy => 1,
                    Outcome::Other => 2,
                };
                counts[slot].fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let page = {
        let (stop, base) = (stop.clone(), server.base.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let asked = Instant::now();
                let status = http
                    .get(format!("{base}/account"))
                    .header(reqwest::header::COOKIE, reader.cookies.as_str())
                    .send()
                    .await
                    .map(|r| r.status().as_u16());
                assert_eq!(status.ok(), Some(200), "the page stays signed in");
                latencies.push(asked.elapsed().as_secs_f64() * 1000.0);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            latencies
        })
    };
    tokio::time::sleep(PHASE).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.expect("a signer");
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut latencies = page.await.expect("the reader");
    let peak_mib = proc_status_kib(pid, "VmHWM") as f64 / 1024.0;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let settled_mib = proc_status_kib(pid, "VmRSS") as f64 / 1024.0;
    latencies.sort_by(f64::total_cmp);
    let p99_index = (latencies.len() * 99).div_ceil(100).saturating_sub(1);
    Phase {
        concurrency,
        signed_in: counts[0].load(Ordering::Relaxed),
        busy: counts[1].load(Ordering::Relaxed),
        other: counts[2].load(Ordering::Relaxed),
        seconds,
        peak_mib,
        settled_mib,
        page_p99_ms: latencies.get(p99_index).copied().unwrap_or(f64::NAN),
        page_count: latencies.len(),
    }
}

/// One argon2 verify with the default parameters, straight from the argon2
/// crate on this thread at normal priority: the cost the cores divide.
fn verify_seconds() -> f64 {
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
    let settings = Argon2Settings::default();
    let params = argon2::Params::new(
        settings.memory_kib,
        settings.iterations,
        settings.parallelism,
        None,
    )
    .expect("valid parameters");
    let argon2 = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let hash = argon2.hash_password(PASSWORD.as_bytes()).expect("a hash");
    let rounds = 20;
    let started = Instant::now();
    for _ in 0..rounds {
        assert!(argon2.verify_password(PASSWORD.as_bytes(), &hash).is_ok());
    }
    started.elapsed().as_secs_f64() / f64::from(rounds)
}

async fn run() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let verify = verify_seconds();
    let ceiling = cores as f64 / verify;
    println!(
        "one argon2id verify (m=19456 KiB, t=2, p=1): {:.2} ms; {cores} cores allow {ceiling:.0} sign-ins/s",
        verify * 1000.0
    );
    let server = start_server().await;
    println!(
        "server started: {:.1} MiB resident",
        proc_status_kib(server.child.id(), "VmRSS") as f64 / 1024.0
    );
    println!(
        "{:>11} {:>10} {:>8} {:>9} {:>6} {:>9} {:>10} {:>12}",
        "concurrent",
        "sign-ins/s",
        "of cores",
        "503s",
        "other",
        "peak MiB",
        "2 s after",
        "page p99 ms"
    );
    for concurrency in [2, 64, 96] {
        let phase = flood(&server, concurrency).await;
        let rate = phase.signed_in as f64 / phase.seconds;
        println!(
            "{:>11} {:>10.1} {:>7.0}% {:>9} {:>6} {:>9.1} {:>10.1} {:>12.2}  ({} page loads)",
            phase.concurrency,
            rate,
            100.0 * rate / ceiling,
            phase.busy,
            phase.other,
            phase.peak_mib,
            phase.settled_mib,
            phase.page_p99_ms,
            phase.page_count,
        );
    }
}
