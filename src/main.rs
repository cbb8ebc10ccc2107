//! `gatehouse`: see `gatehouse::cli` for the commands.

use std::process::ExitCode;

#[rocket::main]
async fn main() -> ExitCode {
    gatehouse::cli::run(std::env::args().skip(1).collect()).await
}
