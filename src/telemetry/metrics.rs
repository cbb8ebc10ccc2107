//! The Prometheus metrics of this process, in one registry that any layer
//! may count into (it imports nothing of Gatehouse): requests by route
//! template and status, their latency, sign-ins and failures by method,
//! rate-limit refusals, sessions created and ended, and the database pool.
//! `encode` writes the text exposition that `GET /metrics` serves.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The media type of [`encode`]'s output (OpenMetrics text, which
/// Prometheus reads natively).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily<RouteLabels>,
    sign_ins: Family<MethodLabels, Counter>,
    sign_in_failures: Family<MethodLabels, Counter>,
    rate_limit_refusals: Family<RouteLabels, Counter>,
    sessions_created: Family<KindLabels, Counter>,
    sessions_ended: Family<KindLabels, Counter>,
    pool_connections: Family<PoolLabels, Gauge>,
    pool_max: Gauge,
    pool_slow_acquires: Counter,
    password_hashes_refused: Counter,
}

/// 0.5 ms to about 8 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("gatehouse");
    let metrics = Metrics {
        requests: Family::default(),
        latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
        sign_ins: Family::default(),
        sign_in_failures: Family::default(),
        rate_limit_refusals: Family::default(),
        sessions_created: Family::default(),
        sessions_ended: Family::default(),
        pool_connections: Family::default(),
        pool_max: Gauge::default(),
        pool_slow_acquires: Counter::default(),
        password_hashes_refused: Counter::default(),
        registry: Registry::default(),
    };
    registry.register(
        "http_requests",
        "HTTP requests answered, by method, route template and status",
        metrics.requests.clone(),
    );
    registry.register_with_unit(
        "http_request_duration",
        "Time from request to response, by route template",
        prometheus_client::registry::Unit::Seconds,
        metrics.latency.clone(),
    );
    registry.register(
        "sign_ins",
        "Successful sign-ins, by method",
        metrics.sign_ins.clone(),
    );
    registry.register(
        "sign_in_failures",
        "Failed sign-in attempts, by method",
        metrics.sign_in_failures.clone(),
    );
    registry.register(
        "rate_limit_refusals",
        "Requests refused with 429 by a rate limit, by route template",
        metrics.rate_limit_refusals.clone(),
    );
    registry.register(
        "sessions_created",
        "Sessions started, by kind (browser or api)",
        metrics.sessions_created.clone(),
    );
    registry.register(
        "sessions_ended",
        "Sessions ended before their time, by how (sign_out, session_revoked, ...)",
        metrics.sessions_ended.clone(),
    );
    registry.register(
        "db_pool_connections",
        "Database pool connections, idle or in use",
        metrics.pool_connections.clone(),
    );
    registry.register(
        "db_pool_max_connections",
        "The database pool's size limit",
        metrics.pool_max.clone(),
    );
    registry.register(
        "db_pool_slow_acquires",
        "Waits for a database connection longer than 100 ms",
        metrics.pool_slow_acquires.clone(),
    );
    registry.register(
        "password_hashes_refused",
        "Sign-ins, sign-ups and confirmations answered 503 because the hashing queue was full",
        metrics.password_hashes_refused.clone(),
    );
    Metrics {
        registry,
        ..metrics
    }
});

/// One answered request. `route` is the matched route's template
/// (`/account/sessions/<id>/revoke`), never the path, which may hold a
/// token.
pub fn request(method: &'static str, route: &str, status: u16, elapsed: Duration) {
    let metrics = &*METRICS;
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route: route.to_owned(),
            status,
        })
        .inc();
    let route = RouteLabels {
        route: route.to_owned(),
    };
    metrics
        .latency
        .get_or_create(&route)
        .observe(elapsed.as_secs_f64());
    if status == 429 {
        metrics.rate_limit_refusals.get_or_create(&route).inc();
    }
}

/// A security event as the security log records it (`sign_in`,
/// `sign_in_failed`, `sign_out`, ...), with its method when it has one.
pub fn security_event(kind: &'static str, method: Option<&str>) {
    let metrics = &*METRICS;
    let method = || MethodLabels {
        method: method.unwrap_or("unknown").to_owned(),
    };
    match kind {
        "sign_in" => metrics.sign_ins.get_or_create(&method()).inc(),
        "sign_in_failed" => metrics.sign_in_failures.get_or_create(&method()).inc(),
        "sign_out" | "session_revoked" | "other_sessions_revoked" | "all_sessions_revoked" => {
            metrics
                .sessions_ended
                .get_or_create(&KindLabels { kind })
                .inc()
        }
        _ => 0,
    };
}

/// A session was started.
pub fn session_created(kind: &'static str) {
    METRICS
        .sessions_created
        .get_or_create(&KindLabels { kind })
        .inc();
}

/// A wait for a database connection went past the slow threshold.
pub fn slow_pool_acquire() {
    METRICS.pool_slow_acquires.inc();
}

/// A password hash or verification was refused: the hashing queue was full.
pub fn password_hash_refused() {
    METRICS.password_hashes_refused.inc();
}

/// The database pool as it is now.
#[derive(Clone, Copy, Debug)]
pub struct PoolState {
    pub size: u32,
    pub idle: usize,
    pub max: u32,
}

/// The metrics in the text exposition format, with `pool` as it is now.
pub fn encode(pool: Option<PoolState>) -> String {
    let metrics = &*METRICS;
    if let Some(pool) = pool {
        let idle = i64::try_from(pool.idle).unwrap_or(i64::MAX);
        let in_use = i64::from(pool.size) - idle;
        let set = |state, value| {
            metrics
                .pool_connections
                .get_or_create(&PoolLabels { state })
                .set(value)
        };
        set("idle", idle);
        set("in_use", in_use.max(0));
        metrics.pool_max.set(i64::from(pool.max));
    }
    let mut text = String::new();
    // Writing to a String cannot fail.
    prometheus_client::encoding::text::encode(&mut text, &metrics.registry).ok();
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_requests_appear_in_the_exposition() {
        request("GET", "/metrics-unit-test", 200, Duration::from_millis(3));
        security_event("sign_in_failed", Some("password"));
        password_hash_refused();
        let text = encode(Some(PoolState {
            size: 3,
            idle: 1,
            max: 10,
        }));
        assert!(text.contains(
            r#"gatehouse_http_requests_total{method="GET",route="/metrics-unit-test",status="200"} 1"#
        ));
        assert!(text.contains(r#"gatehouse_db_pool_connections{state="in_use"} 2"#));
        assert!(text.contains("gatehouse_http_request_duration_seconds_bucket"));
        assert!(text.contains("gatehouse_password_hashes_refused_total"));
        assert!(text.ends_with("# EOF\n"));
    }
}
