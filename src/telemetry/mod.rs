//! What an operator sees of a running Gatehouse: a request id on every
//! response (`X-Request-Id`, taken from a trusted proxy or generated), one
//! log line per request (request id, method, route template, status,
//! duration, user id when known; never a path, which may hold a token),
//! the Prometheus metrics (`metrics`), and the log output (`logs`).
//!
//! Foundation level: it reads `config` and nothing else of Gatehouse, so
//! any module may report into it (`note_user`, `metrics::*`).

pub mod logs;
pub mod metrics;

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::{Data, Request, Response};

use crate::config::AppConfig;

/// The header that carries the request id, in and out.
pub const REQUEST_ID: &str = "X-Request-Id";

/// What the telemetry fairing keeps for one request.
struct RequestContext {
    id: String,
    started: Instant,
    /// The signed-in user's id, 0 until someone is known.
    user_id: AtomicI64,
}

impl RequestContext {
    fn new(id: String) -> RequestContext {
        RequestContext {
            id,
            started: Instant::now(),
            user_id: AtomicI64::new(0),
        }
    }
}

/// Records who the request turned out to be from, for its log line.
pub fn note_user(req: &Request<'_>, user_id: i32) {
    context(req)
        .user_id
        .store(i64::from(user_id), Ordering::Relaxed);
}

/// Who the request was noted to be from, if anyone.
pub fn noted_user(req: &Request<'_>) -> Option<i32> {
    let id = context(req).user_id.load(Ordering::Relaxed);
    i32::try_from(id).ok().filter(|&id| id != 0)
}

/// This request's id.
pub fn request_id<'r>(req: &'r Request<'_>) -> &'r str {
    &context(req).id
}

fn context<'r>(req: &'r Request<'_>) -> &'r RequestContext {
    req.local_cache(|| RequestContext::new(generate_id()))
}

/// 128 random bits in hex.
fn generate_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// A request id a proxy may hand us: short, and nothing a log line or a
/// header could be confused by.
fn acceptable_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b))
}

/// The proxy's id when the socket peer is a trusted proxy and sent one.
fn forwarded_id(req: &Request<'_>) -> Option<String> {
    let config = req.rocket().state::<AppConfig>()?;
    let peer = req.remote()?.ip();
    if !config.trusted_proxies.iter().any(|net| net.contains(&peer)) {
        return None;
    }
    let id = req.headers().get_one(REQUEST_ID)?;
    acceptable_id(id).then(|| id.to_owned())
}

/// Gives every request an id, and on the way out sets `X-Request-Id`,
/// counts the request and logs it.
pub struct Telemetry;

#[rocket::async_trait]
impl Fairing for Telemetry {
    fn info(&self) -> Info {
        Info {
            name: "Request ids, metrics and request logs",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        let id = forwarded_id(req).unwrap_or_else(generate_id);
        req.local_cache(|| RequestContext::new(id));
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let context = context(req);
        let elapsed = context.started.elapsed();
        res.set_header(Header::new(REQUEST_ID, context.id.clone()));
        let route = req.route().map_or("unmatched", |route| route.uri.path());
        let method = req.method().as_str();
        let status = res.status().code;
        metrics::request(method, route, status, elapsed);
        let duration_ms = elapsed.as_secs_f64() * 1000.0;
        match context.user_id.load(Ordering::Relaxed) {
            0 => tracing::info!(
                request_id = %context.id, method, route, status, duration_ms, "request"
            ),
            user_id => tracing::info!(
                request_id = %context.id, method, route, status, duration_ms, user_id, "request"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::acceptable_id;

    #[test]
    fn only_plain_request_ids_are_taken_from_proxies() {
        assert!(acceptable_id("3f2a-91c0.abc:1"));
        assert!(!acceptable_id(""));
        assert!(!acceptable_id("two words"));
        assert!(!acceptable_id("line\nbreak"));
        assert!(!acceptable_id(&"x".repeat(129)));
    }
}
