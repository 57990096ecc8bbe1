//! The demo server: static files from a directory (through the mmap file
//! cache) plus a small JSON API.
//!
//! ```text
//! cargo run --release -p wireloom-blocking --example demo -- [--addr HOST:PORT] [--root DIR]
//!     [--tls-cert PEM --tls-key PEM] [--threads N]
//! ```
//!
//! Routes: `GET /plaintext` (`Hello, World!`), `POST /api/echo` (the body
//! back with its content type), `GET /api/headers` (request headers as
//! JSON), everything else from `--root` (default: the sample site shipped in
//! `adapter-blocking/examples/site`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use wireloom_blocking::cache::{CacheConfig, FileCache};
use wireloom_blocking::router::Router;
use wireloom_blocking::server::{Request, Response, Server};
use wireloom_blocking::static_files::StaticFiles;
use wireloom_blocking::tls::ServerTlsConfig;
use wireloom_core::http::{Method, StatusCode};

const USAGE: &str =
    "usage: demo [--addr HOST:PORT] [--root DIR] [--tls-cert PEM --tls-key PEM] [--threads N]";

fn main() -> ExitCode {
    let mut addr = "127.0.0.1:8080".to_string();
    let mut root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/site"));
    let mut cert = None;
    let mut key = None;
    let mut threads = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        let r: Result<(), String> = match a.as_str() {
            "--addr" => value().map(|v| addr = v),
            "--root" => value().map(|v| root = PathBuf::from(v)),
            "--tls-cert" => value().map(|v| cert = Some(v)),
            "--tls-key" => value().map(|v| key = Some(v)),
            "--threads" => value().and_then(|v| {
                v.parse()
                    .map(|n| threads = Some(n))
                    .map_err(|_| format!("bad --threads {v}"))
            }),
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => Err(format!("unknown argument {other}")),
        };
        if let Err(e) = r {
            eprintln!("demo: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    }

    let mut router = Router::new();
    let api = |r: &mut Router<_>| -> Result<(), wireloom_blocking::router::RouteError> {
        r.route(
            Method::GET,
            "/plaintext",
            Server::handler(|_: &mut Request<'_>| Response::text(StatusCode::OK, "Hello, World!")),
        )?;
        r.route(
            Method::POST,
            "/api/echo",
            Server::handler(|req: &mut Request<'_>| {
                let ct = req
                    .header("content-type")
                    .unwrap_or("application/octet-stream")
                    .to_string();
                match req.read_body(16 << 20) {
                    Ok(body) => Response::bytes(StatusCode::OK, &ct, body),
                    Err(_) => Response::text(StatusCode::CONTENT_TOO_LARGE, "body too large\n"),
                }
            }),
        )?;
        r.route(
            Method::GET,
            "/api/headers",
            Server::handler(|req: &mut Request<'_>| {
                let map: Vec<serde_json::Value> = req
                    .headers()
                    .iter()
                    .map(|(n, v)| {
                        serde_json::json!([n.as_str(), String::from_utf8_lossy(v.as_bytes())])
                    })
                    .collect();
                Response::json(StatusCode::OK, serde_json::Value::Array(map).to_string())
            }),
        )?;
        Ok(())
    };
    if let Err(e) = api(&mut router) {
        eprintln!("demo: {e}");
        return ExitCode::FAILURE;
    }
    let cache = FileCache::new(CacheConfig::default());
    let files = match StaticFiles::new(&root, cache) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("demo: --root {}: {e}", root.display());
            return ExitCode::from(2);
        }
    };
    if let Err(e) = router.any("/{*path}", Arc::new(files)) {
        eprintln!("demo: {e}");
        return ExitCode::FAILURE;
    }

    let mut builder = match Server::builder().bind(addr.as_str()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("demo: cannot resolve {addr}: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(n) = threads {
        builder = builder.threads(n);
    }
    let scheme = match (cert, key) {
        (Some(c), Some(k)) => match ServerTlsConfig::from_pem_files(&c, &k) {
            Ok(tls) => {
                builder = builder.acceptor(wireloom_blocking::tls::acceptor(tls));
                "https"
            }
            Err(e) => {
                eprintln!("demo: TLS: {e}");
                return ExitCode::from(2);
            }
        },
        (None, None) => "http",
        _ => {
            eprintln!("demo: --tls-cert and --tls-key go together\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let server = match builder.router(router).middleware(log_requests).build() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("demo: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    for a in server.local_addrs() {
        println!(
            "wireloom demo listening on {scheme}://{a}/ (root {})",
            root.display()
        );
    }
    if let Err(e) = server.run() {
        eprintln!("demo: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Middleware: one line per request on stderr, with the time it took.
fn log_requests(req: &mut Request<'_>, next: &dyn Fn(&mut Request<'_>) -> Response) -> Response {
    let started = Instant::now();
    let line = format!("{} {}", req.method(), req.head().target);
    let res = next(req);
    if std::env::var_os("WIRELOOM_QUIET").is_none() {
        eprintln!(
            "{line} -> {} ({:?})",
            res.status().as_u16(),
            started.elapsed()
        );
    }
    res
}
