//! wireloom-blocking: attaches [`wireloom_core`] to `std::net` sockets, with
//! TLS (rustls) and a memory-mapped file cache: an HTTP [`server`] and
//! [`client`], and an SMTP client ([`smtp`]).
//!
//! Serve and fetch (a server on a free port, a request to it):
//!
//! ```
//! use wireloom_blocking::client::Agent;
//! use wireloom_blocking::core::http::{Method, StatusCode};
//! use wireloom_blocking::router::Router;
//! use wireloom_blocking::server::{Request, Response, Server};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut router = Router::new();
//! router.route(
//!     Method::GET,
//!     "/hello/{name}",
//!     Server::handler(|req: &mut Request<'_>| {
//!         let name = req.param("name").unwrap_or("?").to_string();
//!         Response::text(StatusCode::OK, format!("Hello, {name}!"))
//!     }),
//! )?;
//! let server = Server::builder().bind("127.0.0.1:0")?.router(router).build()?;
//! let url = format!("http://{}/hello/loom", server.local_addrs()[0]);
//! let handle = server.spawn()?;
//!
//! let res = Agent::new().get(&url).send()?;
//! assert_eq!(res.status(), StatusCode::OK);
//! assert_eq!(res.into_string(1 << 20)?, "Hello, loom!");
//! handle.shutdown();
//! # Ok(()) }
//! ```
//!
//! Send mail (STARTTLS and AUTH; the message from the core's MIME builder):
//!
//! ```no_run
//! use wireloom_blocking::core::mime::Message;
//! use wireloom_blocking::core::smtp::auth::Credentials;
//! use wireloom_blocking::smtp::{Security, SmtpClient, StartTls};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let message = Message::builder()
//!     .from("alice@example.com")
//!     .to("bob@example.org")
//!     .subject("hi")
//!     .date(std::time::SystemTime::now())
//!     .text("Hello!")
//!     .build()?;
//! let client = SmtpClient::builder("smtp.example.com:587")
//!     .security(Security::StartTls(StartTls::Required))
//!     .credentials(Credentials::password("alice", "secret"))
//!     .build()?;
//! let delivery = client.send_message(&message)?;
//! println!("{}", delivery.reply);
//! # Ok(()) }
//! ```
//!
//! The runtime-neutral pieces it shares with the async adapters (TLS
//! configuration and byte pump, the mmap [`FileCache`](cache::FileCache),
//! the [`router`]) live in [`wireloom_io`] and are re-exported here. With a
//! `tracing` subscriber installed, the server and clients log connections,
//! requests, errors and SMTP replies ([`wireloom_io::trace`]).
//!
//! Errors: an HTTP request fails with [`client::ClientError`], an SMTP
//! session with [`smtp::Error`] (which carries core's SMTP
//! [`ClientError`](wireloom_core::smtp::client::ClientError) when the
//! session failed as core reports it); a server reports nothing to the
//! caller (a failed connection closes).
//!
//! ## The wireloom crates
//!
//! | crate | what it is |
//! |---|---|
//! | [wireloom-core](https://docs.rs/wireloom-core) | the sans-IO protocol core: HTTP/1.1, MIME, SMTP state machines and codecs, no IO |
//! | [wireloom-io](https://docs.rs/wireloom-io) | what the adapters share: TLS pump, mmap file cache, router, tracing, the async engine |
//! | **wireloom-blocking** (this one) | the toolkit on `std::net` sockets and threads |
//! | [wireloom-tokio](https://docs.rs/wireloom-tokio) | the toolkit on tokio |
//! | [wireloom-async-std](https://docs.rs/wireloom-async-std) | the toolkit on async-std and smol |
//! | [wireloom-conformance](https://docs.rs/wireloom-conformance) | the conformance corpus and the `wireloom-conformance` CLI |
//! | [wireloom-testkit](https://docs.rs/wireloom-testkit) | test support: real peers, PKI, scenarios (not published) |
//!
//! Pick the adapter of your runtime (blocking, tokio, async-std/smol); it
//! re-exports the core as `core`.

pub use wireloom_core as core;

pub use wireloom_io::cache;
pub mod client;
pub mod driver;
pub use wireloom_io::router;
pub mod server;
pub mod smtp;
pub mod static_files;
pub mod tls;
pub mod ws;
