//! `gatehouse`: see `gatehouse::cli` for the commands.

use std::process::ExitCode;

/// A request allocates and frees many small objects across threads (the
/// SQLite worker threads, Tokio's): mimalloc's thread-local free lists
/// spend much less time on them than glibc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[rocket::main]
async fn main() -> ExitCode {
    gatehouse::cli::run(std::env::args().skip(1).collect()).await
}
