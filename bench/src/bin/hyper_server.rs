//! The hyper 1 contestant of `bench/load.sh` (see
//! [`wireloom_bench::hyper_peer`] for how it serves).
//!
//! ```text
//! hyper_server [--addr 127.0.0.1:0] [--root DIR] [--threads N] [--files memory|fs]
//!              [--pipeline-flush on|off]
//! ```
//!
//! `--files memory` (the default) reads the files directly under `--root`
//! once at start-up and serves them from memory (hyper's best case);
//! `--files fs` reads the file with `tokio::fs::read` on every request.
//! `--threads 1` (the default) runs a current-thread runtime; more runs a
//! multi-thread runtime with that many workers. `--pipeline-flush on` (the
//! default) sets `http1::Builder::pipeline_flush(true)`, which writes the
//! answers to pipelined requests already read together: the reference
//! configuration for the pipelined scenario; `off` is hyper's own default.
//!
//! Prints `listening on http://ADDR` once bound, then serves until killed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use wireloom_bench::hyper_peer::{serve_with, ConnOptions, Files, State};

fn main() -> ExitCode {
    let mut addr = "127.0.0.1:0".to_string();
    let mut root = None;
    let mut threads = 1usize;
    let mut files = Files::Memory;
    let mut options = ConnOptions {
        pipeline_flush: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next();
        match (a.as_str(), v.as_deref()) {
            ("--addr", Some(v)) => addr = v.to_string(),
            ("--root", Some(v)) => root = Some(PathBuf::from(v)),
            ("--threads", Some(v)) => match v.parse() {
                Ok(n) if n > 0 => threads = n,
                _ => return usage(&format!("bad --threads {v}")),
            },
            ("--files", Some("memory")) => files = Files::Memory,
            ("--files", Some("fs")) => files = Files::Fs,
            ("--pipeline-flush", Some("on")) => options.pipeline_flush = true,
            ("--pipeline-flush", Some("off")) => options.pipeline_flush = false,
            (other, _) => return usage(&format!("unknown or incomplete argument {other}")),
        }
    }
    let state = match State::new(root, files) {
        Ok(s) => Arc::new(s),
        Err(e) => return usage(&format!("--root: {e}")),
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
            eprintln!("hyper_server: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let r = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr.as_str()).await?;
        println!("listening on http://{}", listener.local_addr()?);
        serve_with(listener, state, options).await;
        Ok::<(), std::io::Error>(())
    });
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hyper_server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage(msg: &str) -> ExitCode {
    eprintln!(
        "hyper_server: {msg}\nusage: hyper_server [--addr HOST:PORT] [--root DIR] [--threads N] [--files memory|fs] [--pipeline-flush on|off]"
    );
    ExitCode::from(2)
}
