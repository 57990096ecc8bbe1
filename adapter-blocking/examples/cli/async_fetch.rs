//! The async adapters' `fetch`, written once over
//! `wireloom_io::rt::Runtime` and included with `#[path]` by the tokio and
//! async-std examples (next to the shared command line, `cli/fetch.rs`,
//! which it expects as the sibling module `cli`): each example only picks
//! its runtime.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;

use wireloom_io::aio::client::{Agent, AgentConfig};
use wireloom_io::rt::Runtime;
use wireloom_io::tls::ClientTlsConfig;

use crate::cli;

/// The whole program on `rt`: the command line, then the request, run to
/// completion by `block_on` (the example's way of running a future on its
/// runtime, started only once the flags are good; an error starting the
/// runtime exits 1); the exit code.
pub fn main<R: Runtime>(
    rt: R,
    block_on: impl FnOnce(Pin<Box<dyn Future<Output = ExitCode>>>) -> std::io::Result<ExitCode>,
) -> ExitCode {
    match cli::setup() {
        Ok((args, tls)) => block_on(Box::pin(fetch(rt, args, tls))).unwrap_or_else(cli::failed),
        Err(code) => code,
    }
}

/// Sends the request `args` ask for with an agent on `rt` (trusting
/// `tls`) and prints the response; the exit code.
pub async fn fetch<R: Runtime>(rt: R, args: cli::Args, tls: ClientTlsConfig) -> ExitCode {
    let agent = Agent::with_runtime(
        rt,
        AgentConfig {
            max_redirects: args.max_redirects(),
            tls: Some(tls),
            ..AgentConfig::default()
        },
    );
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
