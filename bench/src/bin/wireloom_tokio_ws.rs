//! The wireloom-tokio contestant of `bench/ws.sh`: wireloom-tokio's server
//! with one route, `GET /` upgraded to WebSocket ([`upgrade`]), echoing
//! every text and binary message unchanged (default [`WsConfig`]:
//! permessage-deflate when offered, which `ws_load` does not; 16 MiB
//! message limit), on a current-thread tokio runtime like the other
//! contestants.
//!
//! ```text
//! wireloom_tokio_ws [--addr 127.0.0.1:0]
//! ```
//!
//! Prints `listening on ws://ADDR` once bound, then serves until killed.
//! The server's connection limit is raised to 20,000 (the memory part
//! opens 10,000 connections).

use std::process::ExitCode;

use wireloom_core::http::Method;
use wireloom_tokio::router::Router;
use wireloom_tokio::server::Server;
use wireloom_tokio::ws::{upgrade, WebSocket, WsConfig};

fn main() -> ExitCode {
    let addr = match wireloom_bench::ws_args("wireloom_tokio_ws") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let mut router = Router::new();
    let echo = upgrade(WsConfig::default(), |mut ws: WebSocket| async move {
        while let Some(m) = ws.recv().await {
            if ws.send(m).await.is_err() {
                break;
            }
        }
    });
    if let Err(e) = router.route(Method::GET, "/", echo) {
        eprintln!("wireloom_tokio_ws: {e}");
        return ExitCode::FAILURE;
    }
    let server = match Server::builder()
        .bind(addr.as_str())
        .and_then(|b| b.router(router).max_connections(20_000).build())
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("wireloom_tokio_ws: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    for a in server.local_addrs() {
        println!("listening on ws://{a}");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if let Err(e) = rt.block_on(server.run()) {
        eprintln!("wireloom_tokio_ws: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
