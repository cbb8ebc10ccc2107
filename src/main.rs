//! `gatehouse`: see `gatehouse::cli` for the commands.

use std::process::ExitCode;

#[rocket::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,gatehouse=info".into()),
        )
        .with_target(false)
        .init();
    gatehouse::cli::run(std::env::args().skip(1).collect()).await
}
