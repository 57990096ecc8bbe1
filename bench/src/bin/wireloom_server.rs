//! The wireloom-blocking contestant of `bench/load.sh`: `GET /plaintext`
//! (`Hello, World!`, text/plain) and static files under `--root` through
//! the mmap file cache, with no logging middleware.
//!
//! ```text
//! wireloom_server [--addr 127.0.0.1:0] [--root DIR] [--threads N] [--max-connections N]
//!                 [--idle-timeout SECS]
//! ```
//!
//! `--threads` (default 64) is the worker pool: the server is thread per
//! connection, so it serves that many connections at once. `--max-connections`
//! (default: the server's, 1024) bounds the connections accepted, served or
//! waiting for a worker; more are answered 503 (`load.sh --part memory` raises
//! both to the number of connections it holds open). `--idle-timeout`
//! (default: the server's, 60 s) is how long a keep-alive connection may
//! wait for its next request.
//!
//! Prints `listening on http://ADDR` once bound, then serves until killed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use wireloom_blocking::cache::{CacheConfig, FileCache};
use wireloom_blocking::router::Router;
use wireloom_blocking::server::{Request, Response, Server};
use wireloom_blocking::static_files::StaticFiles;
use wireloom_core::http::{Method, ServerConfig, StatusCode};

fn main() -> ExitCode {
    let mut addr = "127.0.0.1:0".to_string();
    let mut root = None;
    let mut threads = 64usize;
    let mut max_connections = None;
    let mut config = ServerConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next();
        match (a.as_str(), v) {
            ("--addr", Some(v)) => addr = v,
            ("--root", Some(v)) => root = Some(PathBuf::from(v)),
            ("--threads", Some(v)) => match v.parse() {
                Ok(n) => threads = n,
                Err(_) => return usage(&format!("bad --threads {v}")),
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
        Server::handler(|_: &mut Request<'_>| {
            Response::bytes(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                bytes::Bytes::from_static(b"Hello, World!"),
            )
        }),
    ) {
        eprintln!("wireloom_server: {e}");
        return ExitCode::FAILURE;
    }
    if let Some(root) = root {
        let files = match StaticFiles::new(&root, FileCache::new(CacheConfig::default())) {
            Ok(f) => f,
            Err(e) => return usage(&format!("--root {}: {e}", root.display())),
        };
        if let Err(e) = router.any("/{*path}", Arc::new(files)) {
            eprintln!("wireloom_server: {e}");
            return ExitCode::FAILURE;
        }
    }
    let server = match Server::builder().bind(addr.as_str()).and_then(|b| {
        let b = b.threads(threads).config(config).router(router);
        match max_connections {
            Some(n) => b.max_connections(n),
            None => b,
        }
        .build()
    }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("wireloom_server: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    for a in server.local_addrs() {
        println!("listening on http://{a}");
    }
    if let Err(e) = server.run() {
        eprintln!("wireloom_server: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("wireloom_server: {msg}\nusage: wireloom_server [--addr HOST:PORT] [--root DIR] [--threads N] [--max-connections N] [--idle-timeout SECS]");
    ExitCode::from(2)
}
