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

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use wireloom_async_std::cache::{CacheConfig, FileCache};
use wireloom_async_std::router::Router;
use wireloom_async_std::server::{
    handler, BoxHandler, Next, Request, Response, Server, StaticFiles,
};
use wireloom_async_std::static_files::StaticDir;
use wireloom_async_std::tls::ServerTlsConfig;
use wireloom_async_std::AsyncRuntime;
use wireloom_core::http::{Method, StatusCode};

const USAGE: &str = "usage: demo [--addr HOST:PORT] [--root DIR] [--tls-cert PEM --tls-key PEM] \
                     [--threads N] [--executor async-std|smol]";

/// Which executor `--executor` asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Exec {
    AsyncStd,
    Smol,
}

fn main() -> ExitCode {
    let mut addr = "127.0.0.1:8080".to_string();
    let mut root = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../adapter-blocking/examples/site"
    ));
    let mut cert = None;
    let mut key = None;
    let mut threads = None;
    let mut exec = Exec::Smol;
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
            "--executor" => value().and_then(|v| match v.as_str() {
                "async-std" => {
                    exec = Exec::AsyncStd;
                    Ok(())
                }
                "smol" => {
                    exec = Exec::Smol;
                    Ok(())
                }
                _ => Err(format!("bad --executor {v} (async-std or smol)")),
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
    let api = |r: &mut Router<BoxHandler>| -> Result<(), wireloom_async_std::router::RouteError> {
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
    let dir = match StaticDir::new(&root, FileCache::new(CacheConfig::default())) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("demo: --root {}: {e}", root.display());
            return ExitCode::from(2);
        }
    };
    if let Err(e) = router.any("/{*path}", handler(StaticFiles::new(rt.clone(), dir))) {
        eprintln!("demo: {e}");
        return ExitCode::FAILURE;
    }

    let mut builder = match Server::builder_on(rt.clone()).bind(addr.as_str()) {
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
