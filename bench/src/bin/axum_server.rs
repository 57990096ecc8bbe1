//! The axum contestants of `bench/load.sh`: one axum `Router` served by
//! wireloom-tokio (`wireloom_tokio::serve`) or by `axum::serve` (hyper).
//!
//! ```text
//! axum_server --engine wireloom|hyper [--addr 127.0.0.1:0] [--threads N]
//! ```
//!
//! Routes: `GET /plaintext` (`Hello, World!`, `text/plain; charset=utf-8`)
//! and `GET /json` (`{"message":"Hello, World!"}` through `axum::Json`).
//! `--threads 1` (the default) runs a current-thread tokio runtime; more
//! runs a multi-thread runtime with that many workers. Prints
//! `listening on http://ADDR` once bound, then serves until killed.

use std::process::ExitCode;

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

fn app() -> Router {
    Router::new()
        .route("/plaintext", get(|| async { "Hello, World!" }))
        .route(
            "/json",
            get(|| async {
                Json(Message {
                    message: "Hello, World!",
                })
            }),
        )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Engine {
    Wireloom,
    Hyper,
}

fn usage(why: &str) -> ExitCode {
    eprintln!("axum_server: {why}");
    eprintln!("usage: axum_server --engine wireloom|hyper [--addr 127.0.0.1:0] [--threads N]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut addr = "127.0.0.1:0".to_string();
    let mut threads = 1usize;
    let mut engine = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next();
        match (a.as_str(), v.as_deref()) {
            ("--addr", Some(v)) => addr = v.to_string(),
            ("--threads", Some(v)) => match v.parse() {
                Ok(n) if n > 0 => threads = n,
                _ => return usage(&format!("bad --threads {v}")),
            },
            ("--engine", Some("wireloom")) => engine = Some(Engine::Wireloom),
            ("--engine", Some("hyper")) => engine = Some(Engine::Hyper),
            (other, _) => return usage(&format!("unknown or incomplete argument {other}")),
        }
    }
    let Some(engine) = engine else {
        return usage("--engine is required");
    };
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
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("axum_server: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let r = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr.as_str()).await?;
        println!("listening on http://{}", listener.local_addr()?);
        match engine {
            Engine::Wireloom => wireloom_tokio::serve(listener, app()).await,
            Engine::Hyper => axum::serve(listener, app()).await,
        }
    });
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("axum_server: {e}");
            ExitCode::FAILURE
        }
    }
}
