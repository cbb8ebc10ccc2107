//! The process's log output: `log_format = "text"` (the default) for people
//! at a terminal, `"json"` for log shippers: one JSON object per line with
//! `timestamp`, `level`, `target`, the message and its fields at the top
//! level. `RUST_LOG` chooses what is logged (default: warnings, and
//! Gatehouse's own information lines such as one per request). Rocket's
//! own lines pass through the same subscriber; by default without its
//! per-request details ("Request guard `CurrentUser` failed", "Responding
//! with registered catcher"), which the request's own line already tells:
//! two lines per refused request were most of the log during a flood.

use std::io::{BufWriter, IsTerminal as _};

use rocket::figment::Figment;
use tracing::Subscriber;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::ConfigError;

/// The log thread writes at most this much at once.
const BATCH_BYTES: usize = 64 * 1024;

/// Where sqlx reports a connection that took long to get from the pool.
pub const SLOW_ACQUIRE_TARGET: &str = "sqlx::pool::acquire";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// The `log_format` key: `"text"` (default) or `"json"`.
    pub fn from_figment(figment: &Figment) -> Result<LogFormat, ConfigError> {
        match figment.extract_inner::<String>("log_format") {
            Err(e) if e.missing() => Ok(LogFormat::Text),
            Err(e) => Err(e.into()),
            Ok(value) => match value.as_str() {
                "text" => Ok(LogFormat::Text),
                "json" => Ok(LogFormat::Json),
                _ => Err(ConfigError::new(
                    "log_format",
                    "must be \"text\" or \"json\"",
                )),
            },
        }
    }
}

/// Installs the process-wide subscriber (once; later calls do nothing).
/// Lines are written to standard output by a thread of their own, in
/// batches: a request only formats its line and hands it over, never
/// taking the stdout lock or waiting for a write (5-8 % of a request's
/// CPU on the http bench). While the process runs nothing is dropped: a
/// full queue makes the logger wait. Keep the returned guard until the
/// process ends: dropping it writes what is queued, waiting up to a second
/// (tracing-appender's limit) for a slow standard output.
pub fn init(format: LogFormat) -> Option<WorkerGuard> {
    let stdout = std::io::stdout();
    let ansi = stdout.is_terminal();
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("gatehouse-logs")
        .finish(BufWriter::with_capacity(BATCH_BYTES, stdout));
    let (filter, quiet) = match EnvFilter::try_from_default_env() {
        Ok(filter) => (filter, false),
        Err(_) => (EnvFilter::new("warn,gatehouse=info"), true),
    };
    let details = quiet.then(|| filter_fn(|meta| !is_rocket_detail(meta.target())));
    let output = match format {
        // Colours only for a person at a terminal: in a file or a journal
        // the escape codes are noise, and they were a third of the cost of
        // each request's line.
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_target(false)
            .with_ansi(ansi)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(details)
        .with(output)
        .with(SlowAcquires)
        .try_init()
        .ok()
        .map(|()| guard)
}

/// Rocket's indented continuation lines, logged under `<module>::_`.
fn is_rocket_detail(target: &str) -> bool {
    target == "_" || target.ends_with("::_")
}

/// Counts sqlx's slow-acquire warnings into the pool metrics.
struct SlowAcquires;

impl<S: Subscriber> Layer<S> for SlowAcquires {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() == SLOW_ACQUIRE_TARGET {
            super::metrics::slow_pool_acquire();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::figment::providers::Serialized;

    #[test]
    fn log_format_is_text_json_or_a_named_error() {
        let with = |value: &str| Figment::new().merge(Serialized::global("log_format", value));
        assert_eq!(
            LogFormat::from_figment(&Figment::new()),
            Ok(LogFormat::Text)
        );
        assert_eq!(LogFormat::from_figment(&with("json")), Ok(LogFormat::Json));
        assert_eq!(
            LogFormat::from_figment(&with("xml")).unwrap_err().key,
            "log_format"
        );
    }
}
