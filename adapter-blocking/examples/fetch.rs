//! A small curl: fetches a URL with the blocking client.
//!
//! ```text
//! cargo run -p wireloom-blocking --example fetch -- URL [-X METHOD] [-H 'Name: value']...
//!     [-d DATA] [--follow] [--ca PEM] [-i] [-s]
//! ```
//!
//! Prints the body (with `-i`, the status line and headers first); a body
//! over 1 MiB shows a progress bar on stderr when stderr is a terminal
//! (`-s`/`--silent`: none). Exits 1 on transport errors, 2 on usage errors. The command line is shared with
//! the async adapters' `fetch` (`cli/fetch.rs`).

#[path = "cli/fetch.rs"]
mod cli;

use std::process::ExitCode;
use std::sync::Arc;

use wireloom_blocking::client::{Agent, AgentConfig};

fn main() -> ExitCode {
    let (args, tls) = match cli::setup() {
        Ok(v) => v,
        Err(code) => return code,
    };
    let agent = Agent::with_config(AgentConfig {
        max_redirects: args.max_redirects(),
        tls: Some(Arc::new(tls)),
        ..AgentConfig::default()
    });
    let mut req = agent.request(args.method.clone(), &args.url);
    for (n, v) in &args.headers {
        req = req.header(n, v);
    }
    if let Some(d) = &args.data {
        req = req.body(d.clone());
    }
    let mut res = match req.send() {
        Ok(r) => r,
        Err(e) => return cli::failed(e),
    };
    let mut out = cli::Output::new(&args, res.head());
    loop {
        if let Some(code) = out.piece(res.read_chunk()) {
            return code;
        }
    }
}
