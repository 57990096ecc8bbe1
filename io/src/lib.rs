//! wireloom-io: the runtime-neutral IO pieces every wireloom adapter shares.
//!
//! - [`tls`]: rustls configuration loading and the sans-IO byte pump that
//!   drives any core [`Dialogue`](wireloom_core::Dialogue) over TLS;
//! - [`cache`]: the mmap [`FileCache`](cache::FileCache) and its checked
//!   range cursor;
//! - [`router`]: method + path-pattern + regex route matching;
//! - [`date`]: the `Date` header value, formatted once per second;
//! - [`http`] and [`static_files`]: the server's application surface and
//!   decisions shared by every adapter (responses, error pages, files);
//! - [`http_client`] and [`smtp`]: what the blocking and async HTTP and
//!   SMTP clients share apart from IO (origins, request heads, the
//!   redirect walk, typed errors, the SMTP builder and session);
//! - [`rt`] and [`aio`]: the async engine (driver, server, client, SMTP)
//!   written once against a small runtime trait that `wireloom-tokio` and
//!   `wireloom-async-std` implement;
//! - [`trace`]: the `tracing` spans and events every adapter emits;
//! - [`ws`]: WebSocket pieces every adapter shares (mailbox, session,
//!   broadcast hub);
//! - `tower` (feature `tower`): any tower `Service` over `http` types
//!   (an axum `Router`) served by that engine.
//!
//! Nothing here owns a socket, a thread or a timer: the blocking, tokio and
//! async-std adapters put those around these pieces.
//!
//! ```
//! use wireloom_io::router::{Found, Router};
//! use wireloom_core::http::Method;
//!
//! let mut r = Router::new();
//! r.route(Method::GET, "/users/{id}", "user").unwrap();
//! let Found::Route(h, params) = r.find(&Method::GET, "/users/42") else { panic!() };
//! assert_eq!((*h, params.get("id")), ("user", Some("42")));
//! ```
//!
//! ## The wireloom crates
//!
//! | crate | what it is |
//! |---|---|
//! | [wireloom-core](https://docs.rs/wireloom-core) | the sans-IO protocol core: HTTP/1.1, MIME, SMTP state machines and codecs, no IO |
//! | **wireloom-io** (this one) | what the adapters share: TLS pump, mmap file cache, router, tracing, the async engine |
//! | [wireloom-blocking](https://docs.rs/wireloom-blocking) | the toolkit on `std::net` sockets and threads |
//! | [wireloom-tokio](https://docs.rs/wireloom-tokio) | the toolkit on tokio |
//! | [wireloom-async-std](https://docs.rs/wireloom-async-std) | the toolkit on async-std and smol |
//! | [wireloom-conformance](https://docs.rs/wireloom-conformance) | the conformance corpus and the `wireloom-conformance` CLI |
//! | [wireloom-testkit](https://docs.rs/wireloom-testkit) | test support: real peers, PKI, scenarios (not published) |
//!
//! Pick the adapter of your runtime (blocking, tokio, async-std/smol); each
//! re-exports the core as `core`.

pub use wireloom_core as core;

pub mod aio;
pub mod cache;
pub mod date;
pub mod http;
pub mod http_client;
pub mod net;
pub mod router;
pub mod rt;
pub mod smtp;
pub mod static_files;
pub mod tls;
#[cfg(feature = "tower")]
pub mod tower;
pub mod trace;
pub mod ws;
