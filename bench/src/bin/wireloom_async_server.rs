//! The wireloom-async-std contestant of `bench/load.sh`: `GET /plaintext`
//! (`Hello, World!`, text/plain) and static files under `--root` through
//! the mmap file cache, with no logging middleware. The same flags and
//! routes as `wireloom_tokio_server`, plus `--executor`.
//!
//! ```text
//! wireloom_async_server [--addr 127.0.0.1:0] [--root DIR] [--threads N]
//!                       [--max-connections N] [--idle-timeout SECS]
//!                       [--executor smol|async-std]
//! ```
//!
//! `--executor smol` (the default) runs an executor of its own
//! (`smol::Executor`, i.e. `async_executor::Executor`, through
//! `AsyncRuntime::shared`) on `--threads N` threads (default 1):
//! N-1 helper threads run the executor alone and the main thread runs it
//! together with the accept loop, so `--threads 1` is single-threaded (one
//! thread polls every task and the `async-io` reactor; the `blocking` pool
//! used for file lookups is separate, as tokio's is), the configuration
//! `load.sh` compares with hyper on a current-thread tokio runtime.
//! `--executor async-std` runs on async-std's global executor with
//! `ASYNC_STD_THREAD_COUNT=N` (async-std has no single-threaded mode
//! besides that; its reactor thread is async-io's). `--max-connections`
//! and `--idle-timeout` as in `wireloom_tokio_server`. Prints `listening
//! on http://ADDR` once bound, then serves until killed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use wireloom_async_std::cache::{CacheConfig, FileCache};
use wireloom_async_std::router::Router;
use wireloom_async_std::server::{handler, Request, Response, Server, StaticFiles};
use wireloom_async_std::static_files::StaticDir;
use wireloom_async_std::AsyncRuntime;
use wireloom_core::http::{Method, ServerConfig, StatusCode};

const USAGE: &str = "usage: wireloom_async_server [--addr HOST:PORT] [--root DIR] [--threads N] \
                     [--max-connections N] [--idle-timeout SECS] [--executor smol|async-std]";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Exec {
    Smol,
    AsyncStd,
}

fn main() -> ExitCode {
    let mut addr = "127.0.0.1:0".to_string();
    let mut root = None;
    let mut threads = 1usize;
    let mut max_connections = None;
    let mut config = ServerConfig::default();
    let mut exec = Exec::Smol;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next();
        match (a.as_str(), v) {
            ("--addr", Some(v)) => addr = v,
            ("--root", Some(v)) => root = Some(PathBuf::from(v)),
            ("--threads", Some(v)) => match v.parse() {
                Ok(n) if n > 0 => threads = n,
                _ => return usage(&format!("bad --threads {v}")),
            },
            ("--max-connections", Some(v)) => match v.parse() {
                Ok(n) => max_connections = Some(n),
                Err(_) => return usage(&format!("bad --max-connections {v}")),
            },
            ("--idle-timeout", Some(v)) => match v.parse() {
                Ok(secs) => config.idle_timeout = Duration::from_secs(secs),
                Err(_) => return usage(&format!("bad --idle-timeout {v}")),
            },
            ("--executor", Some(v)) => match v.as_str() {
                "smol" => exec = Exec::Smol,
                "async-std" => exec = Exec::AsyncStd,
                _ => return usage(&format!("bad --executor {v} (smol or async-std)")),
            },
            (other, _) => return usage(&format!("unknown or incomplete argument {other}")),
        }
    }
    let executor = Arc::new(smol::Executor::new());
    let rt = match exec {
        Exec::Smol => AsyncRuntime::shared(Arc::clone(&executor)),
        Exec::AsyncStd => {
            // Read by async-std when its executor starts (first spawn, below).
            std::env::set_var("ASYNC_STD_THREAD_COUNT", threads.to_string());
            AsyncRuntime::async_std()
        }
    };
    let mut router = Router::new();
    if let Err(e) = router.route(
        Method::GET,
        "/plaintext",
        handler(|_: Request| async { Response::text(StatusCode::OK, "Hello, World!") }),
    ) {
        eprintln!("wireloom_async_server: {e}");
        return ExitCode::FAILURE;
    }
    if let Some(root) = root {
        let dir = match StaticDir::new(&root, FileCache::new(CacheConfig::default())) {
            Ok(d) => d,
            Err(e) => return usage(&format!("--root {}: {e}", root.display())),
        };
        if let Err(e) = router.any("/{*path}", handler(StaticFiles::new(rt.clone(), dir))) {
            eprintln!("wireloom_async_server: {e}");
            return ExitCode::FAILURE;
        }
    }
    let server = match Server::builder_on(rt.clone())
        .bind(addr.as_str())
        .and_then(|b| {
            let b = b.router(router).config(config);
            match max_connections {
                Some(n) => b.max_connections(n),
                None => b,
            }
            .build()
        }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("wireloom_async_server: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    for a in server.local_addrs() {
        println!("listening on http://{a}");
    }
    let r = match exec {
        // The accept loop is one of async-std's tasks; this thread waits.
        Exec::AsyncStd => async_std::task::block_on(async_std::task::spawn(server.run())),
        Exec::Smol => {
            // Closed (the helpers return) when the accept loop ends.
            let (stop, done) = smol::channel::bounded::<()>(1);
            let helpers: Vec<_> = (1..threads)
                .map(|i| {
                    let ex = Arc::clone(&executor);
                    let done = done.clone();
                    std::thread::Builder::new()
                        .name(format!("executor-{i}"))
                        .spawn(move || smol::block_on(ex.run(done.recv())))
                })
                .collect();
            // This thread runs the executor too, with the accept loop.
            let r = rt.block_on(server.run());
            drop(stop);
            for h in helpers.into_iter().flatten() {
                let _ = h.join();
            }
            r
        }
    };
    if let Err(e) = r {
        eprintln!("wireloom_async_server: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("wireloom_async_server: {msg}\n{USAGE}");
    ExitCode::from(2)
}
