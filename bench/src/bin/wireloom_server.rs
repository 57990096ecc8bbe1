//! The wireloom-blocking contestant of `bench/load.sh`: `GET /plaintext`
//! (`Hello, World!`, text/plain) and static files under `--root` through
//! the mmap file cache, with no logging middleware.
//!
//! ```text
//! wireloom_server [--addr 127.0.0.1:0] [--root DIR] [--threads N]
//! ```
//!
//! Prints `listening on http://ADDR` once bound, then serves until killed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use wireloom_blocking::cache::{CacheConfig, FileCache};
use wireloom_blocking::router::Router;
use wireloom_blocking::server::{Request, Response, Server};
use wireloom_blocking::static_files::StaticFiles;
use wireloom_core::http::{Method, StatusCode};

fn main() -> ExitCode {
    let mut addr = "127.0.0.1:0".to_string();
    let mut root = None;
    let mut threads = 64usize;
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
            (other, _) => return usage(&format!("unknown or incomplete argument {other}")),
        }
    }

    let mut router = Router::new();
    if let Err(e) = router.route(
        Method::GET,
        "/plaintext",
        Server::handler(|_: &mut Request<'_>| Response::text(StatusCode::OK, "Hello, World!")),
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
    let server = match Server::builder()
        .bind(addr.as_str())
        .and_then(|b| b.threads(threads).router(router).build())
    {
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
    eprintln!("wireloom_server: {msg}\nusage: wireloom_server [--addr HOST:PORT] [--root DIR] [--threads N]");
    ExitCode::from(2)
}
