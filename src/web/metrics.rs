//! `GET /metrics`: the Prometheus metrics (see `telemetry::metrics`), for
//! `metrics_allow` addresses only; anyone else gets the ordinary 404. The
//! address is the client's as `ClientInfo` finds it, so behind a trusted
//! proxy on the same host the proxy's loopback address does not count.

use rocket::http::ContentType;
use rocket::{State, get, routes};
use sea_orm::DatabaseConnection;

use crate::client::ClientInfo;
use crate::config::AppConfig;
use crate::telemetry::metrics::{self, PoolState};

pub fn routes() -> Vec<rocket::Route> {
    routes![scrape]
}

#[get("/metrics")]
fn scrape(
    client: ClientInfo,
    config: &State<AppConfig>,
    db: &State<DatabaseConnection>,
) -> Option<(ContentType, String)> {
    let ip = client.ip?;
    if !config.metrics_allow.iter().any(|net| net.contains(&ip)) {
        return None;
    }
    let content_type = ContentType::parse_flexible(metrics::CONTENT_TYPE)?;
    Some((content_type, metrics::encode(pool_state(db))))
}

fn pool_state(db: &DatabaseConnection) -> Option<PoolState> {
    fn of<DB: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<DB>) -> PoolState {
        PoolState {
            size: pool.size(),
            idle: pool.num_idle(),
            max: pool.options().get_max_connections(),
        }
    }
    match db.get_database_backend() {
        sea_orm::DatabaseBackend::Sqlite => Some(of(db.get_sqlite_connection_pool())),
        sea_orm::DatabaseBackend::Postgres => Some(of(db.get_postgres_connection_pool())),
        _ => None,
    }
}
