//! wireloom-conformance: the conformance corpus runner and the engine behind
//! the `wireloom-conformance` command line.
//!
//! [`http::run`] feeds raw bytes, in any split, through wireloom-core's HTTP
//! server or client connection and returns the event transcript as JSON
//! values, exactly as the CLI prints them:
//!
//! ```
//! use wireloom_conformance::http::{run, Options, Role};
//! let out = run(&Options::new(Role::Server), [&b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..]]);
//! assert_eq!(out[0]["event"], "request");
//! assert_eq!(out[1]["event"], "end");
//! ```
//!
//! The same from the command line (`cargo run -p wireloom-conformance --
//! --help` lists the subcommands: `http`, `smtp-server`, `mail-render`,
//! `smtp-reply`):
//!
//! ```text
//! $ printf 'GET / HTTP/1.1\r\nHost: a\r\n\r\n' | wireloom-conformance http --role server
//! {"event":"request","method":"GET","target":"/","version":"HTTP/1.1","headers":[["Host","a"]]}
//! {"event":"end","trailers":[]}
//! ```
//!
//! ## The wireloom crates
//!
//! | crate | what it is |
//! |---|---|
//! | [wireloom-core](https://docs.rs/wireloom-core) | the sans-IO protocol core: HTTP/1.1, MIME, SMTP state machines and codecs, no IO |
//! | [wireloom-io](https://docs.rs/wireloom-io) | what the adapters share: TLS pump, mmap file cache, router, tracing, the async engine |
//! | [wireloom-blocking](https://docs.rs/wireloom-blocking) | the toolkit on `std::net` sockets and threads |
//! | [wireloom-tokio](https://docs.rs/wireloom-tokio) | the toolkit on tokio |
//! | [wireloom-async-std](https://docs.rs/wireloom-async-std) | the toolkit on async-std and smol |
//! | **wireloom-conformance** (this one) | the conformance corpus and the `wireloom-conformance` CLI |
//! | [wireloom-testkit](https://docs.rs/wireloom-testkit) | test support: real peers, PKI, scenarios (not published) |
//!
//! Pick the adapter of your runtime (blocking, tokio, async-std/smol); each
//! re-exports the core as `core`.

pub mod http;

/// The code blocks of README.md, compiled and run as doctests (here, where
/// the dev-dependencies hold every adapter its quick starts use).
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
