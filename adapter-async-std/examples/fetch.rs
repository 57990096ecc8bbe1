//! A small curl on smol: fetches a URL with the async client. The same
//! flags as `wireloom-blocking`'s `fetch` (the command line is shared).
//!
//! ```text
//! cargo run -p wireloom-async-std --example fetch -- URL [-X METHOD] [-H 'Name: value']...
//!     [-d DATA] [--follow] [--ca PEM] [-i]
//! ```
//!
//! Prints the body (with `-i`, the status line and headers first). Exits 1
//! on transport errors, 2 on usage errors. The agent runs on smol's global
//! executor (the default [`AsyncRuntime`]).

#[path = "../../adapter-blocking/examples/cli/fetch.rs"]
mod cli;

use std::process::ExitCode;

use wireloom_async_std::client::{Agent, AgentConfig};
use wireloom_async_std::AsyncRuntime;

fn main() -> ExitCode {
    let args = match cli::Args::from_env() {
        Ok(a) => a,
        Err(code) => return code,
    };
    let tls = match args.tls() {
        Ok(t) => t,
        Err(code) => return code,
    };
    AsyncRuntime::default().block_on(fetch(args, tls))
}

async fn fetch(args: cli::Args, tls: wireloom_async_std::tls::ClientTlsConfig) -> ExitCode {
    let agent = Agent::with_config(AgentConfig {
        max_redirects: args.max_redirects(),
        tls: Some(tls),
        ..AgentConfig::default()
    });
    let mut req = agent.request(args.method.clone(), &args.url);
    for (n, v) in &args.headers {
        req = req.header(n, v);
    }
    if let Some(d) = &args.data {
        req = req.body(d.clone());
    }
    let mut res = match req.send().await {
        Ok(r) => r,
        Err(e) => return cli::failed(e),
    };
    let mut out = cli::Output::new(&args, res.head());
    loop {
        if let Some(code) = out.piece(res.chunk().await) {
            return code;
        }
    }
}
