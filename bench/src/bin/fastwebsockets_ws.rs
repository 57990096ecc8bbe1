//! The fastwebsockets contestant of `bench/ws.sh`: its echo server example
//! (hyper 1 `http1` connection `with_upgrades`, `fastwebsockets::upgrade`,
//! a `FragmentCollector`, the connection task run `unconstrained` as the
//! example does), on a current-thread tokio runtime. fastwebsockets
//! answers pings and closes by itself (`auto_pong`, `auto_close` default
//! on).
//!
//! ```text
//! fastwebsockets_ws [--addr 127.0.0.1:0]
//! ```
//!
//! Every path upgrades; text and binary messages are echoed unchanged.
//! Prints `listening on ws://ADDR` once bound, then serves until killed.

use std::process::ExitCode;

use fastwebsockets::{upgrade, FragmentCollector, OpCode, WebSocketError};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

async fn echo(fut: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = FragmentCollector::new(fut.await?);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}

async fn upgrade_request(
    mut req: Request<Incoming>,
) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let (response, fut) = upgrade::upgrade(&mut req)?;
    tokio::spawn(async move {
        let _ = tokio::task::unconstrained(echo(fut)).await;
    });
    Ok(response)
}

fn main() -> ExitCode {
    let addr = match wireloom_bench::ws_args("fastwebsockets_ws") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let r = rt.block_on(async move {
        let listener = TcpListener::bind(addr.as_str()).await?;
        println!("listening on ws://{}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let conn = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(upgrade_request))
                    .with_upgrades();
                let _ = conn.await;
            });
        }
        #[allow(unreachable_code)]
        Ok::<(), std::io::Error>(())
    });
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fastwebsockets_ws: {e}");
            ExitCode::FAILURE
        }
    }
}
