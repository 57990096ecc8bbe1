//! The async adapters' `demo` application, written once over
//! `wireloom_io::rt::Runtime` and included with `#[path]` by the tokio and
//! async-std demos (next to the shared command line, `cli/demo.rs`, which
//! it expects as the sibling module `cli`): the routes, the request log,
//! and the server built from the command line. Each demo only picks its
//! runtime and runs the server on it.
//!
//! Routes: `GET /plaintext` (`Hello, World!`), `POST /api/echo` (the body
//! back with its content type), `GET /api/headers` (request headers as
//! JSON), `GET /ws/echo` (WebSocket: every message echoed unchanged,
//! permessage-deflate when offered, 16 MiB message limit), `GET /ws/chat`
//! (WebSocket: every message goes to every connected client, through the
//! broadcast hub), everything else from `--root` (static files through the
//! mmap file cache, looked up on the runtime's blocking pool). Both
//! WebSocket routes take browsers from the same host only
//! (`OriginPolicy::SameHost`; clients sending no `Origin` are accepted).

use std::process::ExitCode;
use std::time::Instant;

use wireloom_core::http::{Method, StatusCode};
use wireloom_io::aio::server::{handler, BoxHandler, Next, Request, Response, Server, StaticFiles};
use wireloom_io::aio::ws::{upgrade, WebSocket};
use wireloom_io::cache::{CacheConfig, FileCache};
use wireloom_io::core::ws::OriginPolicy;
use wireloom_io::router::{RouteError, Router};
use wireloom_io::rt::Runtime;
use wireloom_io::static_files::StaticDir;
use wireloom_io::ws::{Hub, WsConfig};

use crate::cli;

/// The demo's routes, static files from `dir` looked up on `rt`.
fn routes<R: Runtime>(rt: R, dir: StaticDir) -> Result<Router<BoxHandler>, RouteError> {
    let mut r: Router<BoxHandler> = Router::new();
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
    let mut ws = WsConfig::default();
    ws.server.origin = OriginPolicy::SameHost;
    r.route(
        Method::GET,
        "/ws/echo",
        upgrade(rt.clone(), ws.clone(), |mut ws: WebSocket<R>| async move {
            while let Some(m) = ws.recv().await {
                if ws.send(m).await.is_err() {
                    break;
                }
            }
        }),
    )?;
    let hub = Hub::new();
    r.route(
        Method::GET,
        "/ws/chat",
        upgrade(rt.clone(), ws, move |mut ws: WebSocket<R>| {
            let hub = hub.clone();
            async move {
                let _member = hub.join(ws.handle());
                while let Some(m) = ws.recv().await {
                    hub.broadcast(&m);
                }
            }
        }),
    )?;
    r.any("/{*path}", handler(StaticFiles::new(rt, dir)))?;
    Ok(r)
}

/// Middleware: the request log (`cli::log`).
async fn log_requests(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let line = format!("{} {}", req.method(), req.head().target);
    let res = next.run(req).await;
    cli::log(&line, res.status().as_u16(), started);
    res
}

/// The demo server on `rt` as `args` ask for, bound (not yet running);
/// prints where it listens. `Err`: the exit code, the reason printed.
pub fn server<R: Runtime>(rt: R, args: &cli::Args) -> Result<Server<R>, ExitCode> {
    let dir = StaticDir::new(&args.root, FileCache::new(CacheConfig::default()))
        .map_err(|e| cli::exit(2, format!("--root {}: {e}", args.root.display())))?;
    let router = routes(rt.clone(), dir).map_err(|e| cli::exit(1, e))?;
    let addr = args.addr.as_str();
    let mut builder = Server::builder_on(rt)
        .bind(addr)
        .map_err(|e| cli::exit(2, format!("cannot resolve {addr}: {e}")))?;
    let tls = args.tls()?;
    let https = tls.is_some();
    if let Some(tls) = tls {
        builder = builder.tls(tls);
    }
    let server = builder
        .router(router)
        .middleware(log_requests)
        .build()
        .map_err(|e| cli::exit(1, format!("cannot listen on {addr}: {e}")))?;
    cli::listening(https, server.local_addrs(), &args.root);
    Ok(server)
}
