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

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use wireloom_core::http::{Method, StatusCode};
use wireloom_tokio::cache::{CacheConfig, FileCache};
use wireloom_tokio::router::Router;
use wireloom_tokio::server::{handler, BoxHandler, Next, Request, Response, Server, StaticFiles};
use wireloom_tokio::static_files::StaticDir;
use wireloom_tokio::tls::ServerTlsConfig;
use wireloom_tokio::TokioRuntime;

const USAGE: &str =
    "usage: demo [--addr HOST:PORT] [--root DIR] [--tls-cert PEM --tls-key PEM] [--threads N]";

fn main() -> ExitCode {
    let mut addr = "127.0.0.1:8080".to_string();
    let mut root = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../adapter-blocking/examples/site"
    ));
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
            "--threads" => value().and_then(|v| match v.parse::<usize>() {
                Ok(n) if n > 0 => {
                    threads = Some(n);
                    Ok(())
                }
                _ => Err(format!("bad --threads {v}")),
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

    let mut router: Router<BoxHandler> = Router::new();
    let api = |r: &mut Router<BoxHandler>| -> Result<(), wireloom_tokio::router::RouteError> {
        r.route(
            Method::GET,
            "/plaintext",
            handler(|_: Request| async { Response::text(StatusCode::OK, "Hello, World!") }),
        )?;
        r.route(
            Method::POST,
            "/api/echo",
            handler(|mut req: Request| async move {
                let ct = req
                    .header("content-type")
                    .unwrap_or("application/octet-stream")
                    .to_string();
                match req.read_body(16 << 20).await {
                    Ok(body) => Response::bytes(StatusCode::OK, &ct, body),
                    Err(_) => Response::text(StatusCode::CONTENT_TOO_LARGE, "body too large\n"),
                }
            }),
        )?;
        r.route(
            Method::GET,
            "/api/headers",
            handler(|req: Request| async move {
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
    let dir = match StaticDir::new(&root, FileCache::new(CacheConfig::default())) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("demo: --root {}: {e}", root.display());
            return ExitCode::from(2);
        }
    };
    if let Err(e) = router.any("/{*path}", handler(StaticFiles::new(TokioRuntime, dir))) {
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
    let scheme = match (cert, key) {
        (Some(c), Some(k)) => match ServerTlsConfig::from_pem_files(&c, &k) {
            Ok(tls) => {
                builder = builder.tls(tls);
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
    let rt = match threads {
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
        Err(e) => {
            eprintln!("demo: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = rt.block_on(server.run()) {
        eprintln!("demo: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Middleware: one line per request on stderr, with the time it took.
async fn log_requests(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let line = format!("{} {}", req.method(), req.head().target);
    let res = next.run(req).await;
    if std::env::var_os("WIRELOOM_QUIET").is_none() {
        eprintln!(
            "{line} -> {} ({:?})",
            res.status().as_u16(),
            started.elapsed()
        );
    }
    res
}
