//! The tokio-tungstenite contestant of `bench/ws.sh`: a WebSocket echo
//! server written the way its README shows, with its default
//! configuration (`accept_async`, `WebSocketConfig::default()`), one task
//! per connection on a current-thread tokio runtime (the flavour every
//! contestant of `bench/ws.sh` runs).
//!
//! ```text
//! tungstenite_ws [--addr 127.0.0.1:0]
//! ```
//!
//! Every path upgrades; text and binary messages are echoed unchanged;
//! pings are answered and a close is completed by tungstenite itself.
//! Prints `listening on ws://ADDR` once bound, then serves until killed.

use std::process::ExitCode;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};

async fn echo(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    while let Some(Ok(msg)) = ws.next().await {
        if (msg.is_binary() || msg.is_text()) && ws.send(msg).await.is_err() {
            return;
        }
    }
}

fn main() -> ExitCode {
    let addr = match wireloom_bench::ws_args("tungstenite_ws") {
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
            tokio::spawn(echo(stream));
        }
        #[allow(unreachable_code)]
        Ok::<(), std::io::Error>(())
    });
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tungstenite_ws: {e}");
            ExitCode::FAILURE
        }
    }
}
