//! The demo server on async-std or smol: static files from a directory
//! (through the mmap file cache, looked up on the `blocking` pool) plus a
//! small JSON API. The same flags and routes as `wireloom-blocking`'s demo,
//! plus `--executor`.
//!
//! ```text
//! cargo run --release -p wireloom-async-std --example demo -- [--addr HOST:PORT] [--root DIR]
//!     [--tls-cert PEM --tls-key PEM] [--threads N] [--executor async-std|smol]
//! ```
//!
//! `--executor smol` (the default) runs a `smol::Executor` of the demo's
//! own on `--threads N` threads (default: one per core): N-1 threads run
//! the executor alone and the main thread runs it together with the accept
//! loop, so `--threads 1` is a single-threaded server. `--executor
//! async-std` runs on async-std's global executor with `--threads N`
//! passed as `ASYNC_STD_THREAD_COUNT` (default: async-std's, one per core);
//! the accept loop is one of its tasks, the main thread only waits.
//!
//! Routes: `GET /plaintext` (`Hello, World!`), `POST /api/echo` (the body
//! back with its content type), `GET /api/headers` (request headers as
//! JSON), everything else from `--root` (default: the sample site shipped in
//! `adapter-blocking/examples/site`).
//!
//! The command line is every adapter's (`adapter-blocking/examples/cli/demo.rs`,
//! plus `--executor` here); the application is the async adapters'
//! (`cli/async_demo.rs` there, written once over
//! `wireloom_io::rt::Runtime`): this file picks the executor.

#[path = "../../adapter-blocking/examples/cli/demo.rs"]
mod cli;

#[path = "../../adapter-blocking/examples/cli/async_demo.rs"]
mod app;

use std::process::ExitCode;
use std::sync::Arc;

use wireloom_async_std::AsyncRuntime;

/// Which executor `--executor` asked for.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Exec {
    /// async-std's global executor.
    AsyncStd,
    /// A `smol::Executor` of the demo's own.
    Smol,
}

/// The flag of this demo's own.
#[derive(clap::Args)]
struct ExecutorFlag {
    /// The executor to run on.
    #[arg(long, value_enum, default_value = "smol")]
    executor: Exec,
}

fn main() -> ExitCode {
    let site = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../adapter-blocking/examples/site"
    );
    let usage = " [--executor async-std|smol]";
    let (args, ExecutorFlag { executor: exec }) =
        match cli::Args::parse_with::<ExecutorFlag>(site, usage, 1) {
            Ok(a) => a,
            Err(code) => return code,
        };
    cli::init_logging();
    let threads = args.threads;
    // The executor first: the static files handler and the server take it.
    let smol_threads = threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let smol_executor = Arc::new(smol::Executor::new());
    let rt = match exec {
        Exec::AsyncStd => {
            if let Some(n) = threads {
                // Read by async-std when its executor starts (first use, below).
                std::env::set_var("ASYNC_STD_THREAD_COUNT", n.to_string());
            }
            AsyncRuntime::async_std()
        }
        Exec::Smol => AsyncRuntime::shared(Arc::clone(&smol_executor)),
    };
    let server = match app::server(rt.clone(), &args) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let served = match exec {
        // The accept loop is a task too; this thread only waits for it.
        Exec::AsyncStd => async_std::task::block_on(async_std::task::spawn(server.run())),
        Exec::Smol => {
            let stop = smol::channel::bounded::<()>(1);
            let helpers: Vec<_> = (1..smol_threads)
                .map(|i| {
                    let ex = Arc::clone(&smol_executor);
                    let done = stop.1.clone();
                    std::thread::Builder::new()
                        .name(format!("smol-{i}"))
                        .spawn(move || smol::block_on(ex.run(done.recv())))
                })
                .collect();
            // This thread is an executor thread as well, running the accept loop.
            let r = rt.block_on(server.run());
            drop(stop.0);
            for h in helpers.into_iter().flatten() {
                let _ = h.join();
            }
            r
        }
    };
    if let Err(e) = served {
        return cli::exit(1, e);
    }
    ExitCode::SUCCESS
}
