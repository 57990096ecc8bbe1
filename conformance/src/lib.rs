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

pub mod http;
