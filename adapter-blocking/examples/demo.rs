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
//! JSON), `GET /ws/echo` (WebSocket: every message echoed unchanged,
//! permessage-deflate when offered, 16 MiB message limit), `GET /ws/chat`
//! (WebSocket: every message to every connected client, through the
//! broadcast hub), everything else from `--root` (default: the sample site
//! shipped in `adapter-blocking/examples/site`). Both WebSocket routes take
//! browsers from the same host only (`OriginPolicy::SameHost`). Each
//! WebSocket connection holds one worker thread while it is open.
//!
//! The command line and the console output are shared with the async
//! adapters' demos (`cli/demo.rs`).

#[path = "cli/demo.rs"]
mod cli;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use wireloom_blocking::cache::{CacheConfig, FileCache};
use wireloom_blocking::router::Router;
use wireloom_blocking::server::{Request, Response, Server};
use wireloom_blocking::static_files::StaticFiles;
use wireloom_blocking::ws::{upgrade, Hub, WsConfig};
use wireloom_core::http::{Method, StatusCode};
use wireloom_core::ws::OriginPolicy;

fn main() -> ExitCode {
    let site = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/site");
    // `--threads 0` means one worker, as `ServerBuilder::threads` has it.
    let args = match cli::Args::parse(site, 0) {
        Ok(a) => a,
        Err(code) => return code,
    };
    cli::init_logging();

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
        let mut ws = WsConfig::default();
        ws.server.origin = OriginPolicy::SameHost;
        r.route(
            Method::GET,
            "/ws/echo",
            upgrade(ws.clone(), |mut ws| {
                while let Some(m) = ws.recv() {
                    if ws.send(m).is_err() {
                        break;
                    }
                }
            }),
        )?;
        let hub = Hub::new();
        r.route(
            Method::GET,
            "/ws/chat",
            upgrade(ws, move |mut ws| {
                let _member = hub.join(ws.handle());
                while let Some(m) = ws.recv() {
                    hub.broadcast(&m);
                }
            }),
        )?;
        Ok(())
    };
    if let Err(e) = api(&mut router) {
        return cli::exit(1, e);
    }
    let cache = FileCache::new(CacheConfig::default());
    let files = match StaticFiles::new(&args.root, cache) {
        Ok(f) => f,
        Err(e) => return cli::exit(2, format!("--root {}: {e}", args.root.display())),
    };
    if let Err(e) = router.any("/{*path}", Arc::new(files)) {
        return cli::exit(1, e);
    }

    let addr = args.addr.as_str();
    let mut builder = match Server::builder().bind(addr) {
        Ok(b) => b,
        Err(e) => return cli::exit(2, format!("cannot resolve {addr}: {e}")),
    };
    if let Some(n) = args.threads {
        builder = builder.threads(n);
    }
    let tls = match args.tls() {
        Ok(t) => t,
        Err(code) => return code,
    };
    let https = tls.is_some();
    if let Some(tls) = tls {
        builder = builder.acceptor(wireloom_blocking::tls::acceptor(tls));
    }
    let server = match builder.router(router).middleware(log_requests).build() {
        Ok(s) => s,
        Err(e) => return cli::exit(1, format!("cannot listen on {addr}: {e}")),
    };
    cli::listening(https, &server.local_addrs(), &args.root);
    if let Err(e) = server.run() {
        return cli::exit(1, e);
    }
    ExitCode::SUCCESS
}

/// Middleware: the request log (`cli::log`).
fn log_requests(req: &mut Request<'_>, next: &dyn Fn(&mut Request<'_>) -> Response) -> Response {
    let started = Instant::now();
    let line = format!("{} {}", req.method(), req.head().target);
    let res = next(req);
    cli::log(&line, res.status().as_u16(), started);
    res
}
