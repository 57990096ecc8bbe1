//! The wireloom-tokio contestant of `bench/load.sh`: `GET /plaintext`
//! (`Hello, World!`, text/plain) and static files under `--root` through
//! the mmap file cache, with no logging middleware.
//!
//! ```text
//! wireloom_tokio_server [--addr 127.0.0.1:0] [--root DIR] [--threads N]
//!                       [--max-connections N] [--idle-timeout SECS]
//! ```
//!
//! `--threads 1` (the default) runs a current-thread runtime, as hyper's
//! contestant does; more runs a multi-thread runtime with that many
//! workers. `--max-connections` (default: the server's, 10,000) bounds the
//! connections served at once, more are answered 503; `--idle-timeout`
//! (default: the server's, 60 s) is how long a keep-alive connection may
//! wait for its next request (`load.sh --part memory` raises both). Prints
//! `listening on http://ADDR` once bound, then serves until killed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use wireloom_core::http::{Method, ServerConfig, StatusCode};
use wireloom_tokio::cache::{CacheConfig, FileCache};
use wireloom_tokio::router::Router;
use wireloom_tokio::server::{handler, Request, Response, Server, StaticFiles};
use wireloom_tokio::static_files::StaticDir;
use wireloom_tokio::TokioRuntime;

fn main() -> ExitCode {
    let mut addr = "127.0.0.1:0".to_string();
    let mut root = None;
    let mut threads = 1usize;
    let mut max_connections = None;
    let mut config = ServerConfig::default();
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
            (other, _) => return usage(&format!("unknown or incomplete argument {other}")),
        }
    }
    let mut router = Router::new();
    if let Err(e) = router.route(
        Method::GET,
        "/plaintext",
        handler(|_: Request| async {
            Response::bytes(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                bytes::Bytes::from_static(b"Hello, World!"),
            )
        }),
    ) {
        eprintln!("wireloom_tokio_server: {e}");
        return ExitCode::FAILURE;
    }
    if let Some(root) = root {
        let dir = match StaticDir::new(&root, FileCache::new(CacheConfig::default())) {
            Ok(d) => d,
            Err(e) => return usage(&format!("--root {}: {e}", root.display())),
        };
        if let Err(e) = router.any("/{*path}", handler(StaticFiles::new(TokioRuntime, dir))) {
            eprintln!("wireloom_tokio_server: {e}");
            return ExitCode::FAILURE;
        }
    }
    let server = match Server::builder().bind(addr.as_str()).and_then(|b| {
        let b = b.router(router).config(config);
        match max_connections {
            Some(n) => b.max_connections(n),
            None => b,
        }
        .build()
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("wireloom_tokio_server: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    for a in server.local_addrs() {
        println!("listening on http://{a}");
    }
    let rt = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    };
    let r = match rt {
        Ok(rt) => rt.block_on(server.run()),
        Err(e) => Err(e),
    };
    if let Err(e) = r {
        eprintln!("wireloom_tokio_server: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("wireloom_tokio_server: {msg}\nusage: wireloom_tokio_server [--addr HOST:PORT] [--root DIR] [--threads N] [--max-connections N] [--idle-timeout SECS]");
    ExitCode::from(2)
}
