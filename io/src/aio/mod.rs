//! The async engine: written once against [`Runtime`](crate::rt::Runtime),
//! run by `wireloom-tokio` and `wireloom-async-std` (and so by smol).
//!
//! - [`driver`]: the one generic async driver of any core dialogue;
//! - [`conn`]: plain TCP or TLS (the [`TlsPump`](crate::tls::TlsPump)) as
//!   `futures-io` streams;
//! - [`server`]: the HTTP/1.1 server (router, async handlers and
//!   middleware, error pages, streaming bodies, static files, upgrades);
//! - [`client`]: the HTTP/1.1 client agent (pool, redirects, timeouts,
//!   HTTPS, streaming bodies);
//! - [`smtp`]: the SMTP client (implicit TLS, STARTTLS, AUTH, PIPELINING);
//! - [`body`]: request and response bodies.

pub mod body;
pub mod client;
pub mod conn;
pub mod driver;
mod scratch;
pub mod server;
pub mod smtp;
pub mod ws;
