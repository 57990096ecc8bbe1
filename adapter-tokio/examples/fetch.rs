//! A small curl on tokio: fetches a URL with the async client. The same
//! flags as `wireloom-blocking`'s `fetch` (the command line is shared).
//!
//! ```text
//! cargo run -p wireloom-tokio --example fetch -- URL [-X METHOD] [-H 'Name: value']...
//!     [-d DATA] [--follow] [--ca PEM] [-i] [-s]
//! ```
//!
//! Prints the body (with `-i`, the status line and headers first); a body
//! over 1 MiB shows a progress bar on stderr when stderr is a terminal
//! (`-s`/`--silent`: none). Exits 1 on transport errors, 2 on usage errors. The command line is every
//! adapter's (`adapter-blocking/examples/cli/fetch.rs`), the request the
//! async adapters' (`cli/async_fetch.rs` there): this file picks the
//! runtime.

#[path = "../../adapter-blocking/examples/cli/fetch.rs"]
mod cli;

#[path = "../../adapter-blocking/examples/cli/async_fetch.rs"]
mod app;

use std::process::ExitCode;

use wireloom_tokio::TokioRuntime;

fn main() -> ExitCode {
    app::main(TokioRuntime, |run| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(rt.block_on(run))
    })
}
