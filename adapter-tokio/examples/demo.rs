//! The demo server on tokio: static files from a directory (through the
//! mmap file cache, looked up on tokio's blocking pool) plus a small JSON
//! API. The same flags and routes as `wireloom-blocking`'s demo.
//!
//! ```text
//! cargo run --release -p wireloom-tokio --example demo -- [--addr HOST:PORT] [--root DIR]
//!     [--tls-cert PEM --tls-key PEM] [--threads N]
//! ```
//!
//! `--threads 1` runs a current-thread runtime; more (default: one per
//! core) a multi-thread runtime with that many workers.
//!
//! Routes: `GET /plaintext` (`Hello, World!`), `POST /api/echo` (the body
//! back with its content type), `GET /api/headers` (request headers as
//! JSON), everything else from `--root` (default: the sample site shipped in
//! `adapter-blocking/examples/site`).
//!
//! The command line is every adapter's (`adapter-blocking/examples/cli/demo.rs`);
//! the application is the async adapters' (`cli/async_demo.rs` there,
//! written once over `wireloom_io::rt::Runtime`): this file picks the
//! runtime.

#[path = "../../adapter-blocking/examples/cli/demo.rs"]
mod cli;

#[path = "../../adapter-blocking/examples/cli/async_demo.rs"]
mod app;

use std::process::ExitCode;

use wireloom_tokio::TokioRuntime;

fn main() -> ExitCode {
    let site = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../adapter-blocking/examples/site"
    );
    let args = match cli::Args::parse(site, 1) {
        Ok(a) => a,
        Err(code) => return code,
    };
    cli::init_logging();
    let server = match app::server(TokioRuntime, &args) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let rt = match args.threads {
        Some(1) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => return cli::exit(1, format!("runtime: {e}")),
    };
    if let Err(e) = rt.block_on(server.run()) {
        return cli::exit(1, e);
    }
    ExitCode::SUCCESS
}
